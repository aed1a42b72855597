package gcm

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The MCS port takes TLS connections from anything that can reach it; after
// the handshake every byte is the client's. FuzzMCSStream reads arbitrary
// bytes as the stream a client sends and hands each frame to the code that
// handles it on a live connection; FuzzMCSMessage decodes arbitrary bytes as
// every message the server parses. Seeds: f.Add below and
// testdata/fuzz/<target>/.

// ackHooks is a Hooks that keeps the ids reported acknowledged.
type ackHooks struct{ acked []string }

func (h *ackHooks) Registered(Registration) error { return nil }
func (h *ackHooks) Unregistered(string, string)   {}
func (h *ackHooks) Connected(string, *Conn)       {}
func (h *ackHooks) Disconnected(string, *Conn)    {}
func (h *ackHooks) Acked(_ string, persistentIDs []string) {
	h.acked = append(h.acked, persistentIDs...)
}

// tlsPipe returns the server's end of a TLS connection over net.Pipe whose
// client reads and drops everything, so that frames the server answers with
// cost no socket and never block.
func tlsPipe(f *testing.F, s *Server) (raw net.Conn, tc *tls.Conn) {
	f.Helper()
	sc, cc := net.Pipe()
	f.Cleanup(func() { sc.Close(); cc.Close() })
	go func() {
		client := tls.Client(cc, &tls.Config{InsecureSkipVerify: true})
		if client.Handshake() == nil {
			_, _ = io.Copy(io.Discard, client)
		}
	}()
	tc = tls.Server(sc, s.tls)
	if err := tc.Handshake(); err != nil {
		f.Fatal(err)
	}
	return sc, tc
}

// fuzzPending is what the fuzzed connection has sent and not yet seen
// acknowledged: persistent ids by the stream id of their frame.
var fuzzPending = []pendingSend{{stream: 2, id: "0:1750000000000001%7031b2e6"}, {stream: 3, id: "p2"}, {stream: 5, id: "p3"}}

// FuzzMCSStream reads the input as a client's stream after TLS: the version
// byte, the LoginRequest frame, then frames that go to Conn.handle as
// readLoop hands them on, until one ends the connection. It checks the
// framing (what a frame consumed, a truncated frame never passing for a
// clean end of stream, the size limit) and that acknowledgements forget
// exactly the pushes they report.
func FuzzMCSStream(f *testing.F) {
	login := append([]byte{41}, frame(2, loginRequestPB(4242424242, 987654321))...)
	streamAck := frame(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 13).raw(2, nil)).varint(10, 2))
	selectiveAck := frame(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, pb{}.str(1, "p2"))))
	ping := frame(0, pb{}.varint(2, 5))
	heartbeatAck := frame(1, pb{}.varint(2, 5))
	dataFromClient := frame(8, pb{}.str(3, "sender").str(5, "org.chromium.linux").raw(7, pb{}.str(1, "k").str(2, "v")).varint(11, 3))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, s := range [][]byte{
		login,
		cat(login, streamAck, selectiveAck, ping, heartbeatAck),
		cat(login, dataFromClient, frame(4, nil)),
		cat(login, frame(9, nil)),
		cat(login, protowire.AppendVarint([]byte{8}, maxFrameSize+1)),
		cat(login, frame(0, []byte{0x10})),
		cat(login, frame(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, []byte{0x0a, 0x05})))),
		cat(login, frame(2, loginRequestPB(4242424242, 987654321))),
		cat(login, frame(10, nil)),
		cat(login, []byte{7, 10, 1, 2}),
		append([]byte{37}, login[1:]...),
		append([]byte{41}, frame(0, nil)...),
		protowire.AppendVarint([]byte{41, 2}, 1<<20),
		{41, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		append([]byte{41}, frame(2, []byte{0x0a, 0x10, 'a'})...),
		append([]byte{41}, frame(2, pb{}.varint(3, 7))...),
	} {
		f.Add(s)
	}
	hooks := &ackHooks{}
	s, err := New(hooks, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		f.Fatal(err)
	}
	raw, tc := tlsPipe(f, s)

	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Conn{s: s, raw: raw, tc: tc, log: s.log, androidID: "4242424242",
			quit: make(chan struct{}), done: make(chan struct{}),
			outID: 5, inID: 1, pending: slices.Clone(fuzzPending)}
		in := bytes.NewReader(data)
		br := bufio.NewReader(in)
		consumed := func() int { return len(data) - in.Len() - br.Buffered() }
		if _, err := br.ReadByte(); err != nil {
			return
		}
		for n := 0; ; n++ {
			start := consumed()
			tag, body, err := readFrame(br)
			if err != nil {
				checkFrameError(t, data[start:], err)
				return
			}
			checkFrame(t, data[start:consumed()], tag, body)
			if n == 0 {
				// login: the first frame must be a LoginRequest.
				if tag != tagLoginRequest {
					return
				}
				if _, err := parseLoginRequest(body); err != nil {
					return
				}
				continue
			}
			c.mu.Lock()
			c.inID++
			c.mu.Unlock()
			if err := checkHandle(t, c, hooks, tag, body); err != nil {
				return
			}
		}
	})
}

// checkFrame checks one frame readFrame returned against the bytes it
// consumed: the tag, a varint of at most five bytes holding the body's
// length, the body; and that the server's own encoding reads back alike.
func checkFrame(t *testing.T, wire []byte, tag byte, body []byte) {
	t.Helper()
	if len(body) > maxFrameSize {
		t.Fatalf("frame of %d bytes read, over the %d limit", len(body), maxFrameSize)
	}
	size, n := protowire.ConsumeVarint(wire[1:])
	if wire[0] != tag || n < 1 || n > 5 || size != uint64(len(body)) || !bytes.Equal(wire[1+n:], body) {
		t.Fatalf("frame tag %d with %d bytes read from % x", tag, len(body), wire)
	}
	tag2, body2, err := readFrame(bufio.NewReader(bytes.NewReader(appendFrame(nil, tag, body))))
	if err != nil || tag2 != tag || !bytes.Equal(body2, body) {
		t.Fatalf("re-encoded frame reads back as tag %d, %d bytes, %v", tag2, len(body2), err)
	}
}

// checkFrameError checks why readFrame stopped at the start of rest. A clean
// end of stream (io.EOF, which serve logs as a disconnection) is only one
// between frames.
func checkFrameError(t *testing.T, rest []byte, err error) {
	t.Helper()
	if errors.Is(err, io.EOF) && len(rest) > 0 {
		t.Fatalf("io.EOF inside a frame (% x): a truncated frame must read as io.ErrUnexpectedEOF", rest)
	}
	if errors.Is(err, errFrameTooLarge) {
		if size, n := protowire.ConsumeVarint(rest[1:]); n < 0 || size <= maxFrameSize {
			t.Fatalf("frame of declared size %d (n=%d) refused as too large", size, n)
		}
	}
}

// checkHandle hands one frame to c.handle and checks the error against what
// the frame holds, and the acknowledgements against what is pending.
func checkHandle(t *testing.T, c *Conn, hooks *ackHooks, tag byte, body []byte) error {
	t.Helper()
	c.mu.Lock()
	before := slices.Clone(c.pending)
	c.mu.Unlock()
	hooks.acked = hooks.acked[:0]

	err := c.handle(tag, body)

	var parseErr error
	switch tag {
	case tagHeartbeatPing, tagHeartbeatAck:
		_, parseErr = parseHeartbeat(body)
	case tagIqStanza:
		var iq iqStanza
		iq, parseErr = parseIqStanza(body)
		if parseErr == nil && iq.Extension != nil && iq.Extension.ID == extSelectiveAck {
			_, parseErr = parseSelectiveAck(iq.Extension.Data)
		}
	case tagDataMessageStanza:
		_, parseErr = parseDataMessage(body)
	case tagClose:
		if !errors.Is(err, errClientClose) {
			t.Fatalf("Close frame: handle returned %v", err)
		}
	default:
		if err == nil {
			t.Fatalf("frame with tag %d accepted after login", tag)
		}
	}
	switch tag {
	case tagHeartbeatPing, tagHeartbeatAck, tagIqStanza, tagDataMessageStanza:
		if (err != nil) != (parseErr != nil) {
			t.Fatalf("tag %d: handle returned %v, the message parses with %v", tag, err, parseErr)
		}
	}

	c.mu.Lock()
	after := slices.Clone(c.pending)
	c.mu.Unlock()
	// What is still pending is what was, in order, less what was reported.
	i := 0
	for _, p := range before {
		if i < len(after) && after[i] == p {
			i++
			continue
		}
		if !slices.Contains(hooks.acked, p.id) {
			t.Fatalf("push %q forgotten without being reported acknowledged", p.id)
		}
	}
	if i != len(after) {
		t.Fatalf("pending %v became %v", before, after)
	}
	for _, p := range after {
		if slices.Contains(hooks.acked, p.id) {
			t.Fatalf("push %q reported acknowledged but still pending", p.id)
		}
	}
	return err
}

// FuzzMCSMessage decodes the input as each message the server reads from a
// client (LoginRequest, HeartbeatPing/Ack, IqStanza, SelectiveAck,
// DataMessageStanza). Whatever decodes must encode and decode back to the
// same message: the server writes heartbeats, IqStanzas and
// DataMessageStanzas with the same codec Chromium reads them with.
func FuzzMCSMessage(f *testing.F) {
	for _, b := range [][]byte{
		loginRequestPB(4242424242, 987654321, "0:1750000000000001%7031b2e6", "p2"),
		pb{}.str(1, "chrome-156").str(2, "mcs.android.com").str(3, "chrome").str(4, "chrome").str(5, "1"),
		pb{}.varint(2, 5),
		pb{}.varint(1, 3).varint(2, 0xffffffffffffffff).varint(3, 1),
		pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 13).raw(2, nil)).varint(10, 2),
		pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, pb{}.str(1, "p2").str(1, "p3"))),
		pb{}.str(1, "p2"),
		dataMessage{ID: "0:1750000000000001%7031b2e6", From: testSender, Category: "org.chromium.linux",
			AppData:      []appData{{Key: "subtype", Value: testSubtype}, {Key: "content-encoding", Value: "aes128gcm"}},
			PersistentID: "0:1750000000000001%7031b2e6", StreamID: 2, LastStreamIDReceived: 1, TTL: 60,
			Sent: 1750000000, RawData: []byte{1, 2, 3}, ImmediateAck: true}.marshal(),
		{0x0a, 0x10, 'a'},
		{0x10},
		{0x0a, 0x05},
		pb{}.varint(3, 7),
		pb{}.fixed64(13, 987654321).varint(2, 4242424242),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := parseLoginRequest(body); err == nil {
			if back, err := parseLoginRequest(loginRequestWire(m)); err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("LoginRequest %+v encodes and decodes as %+v, %v", m, back, err)
			}
		}
		if m, err := parseHeartbeat(body); err == nil {
			if back, err := parseHeartbeat(m.marshal()); err != nil || back != m {
				t.Fatalf("heartbeat %+v round-trips as %+v, %v", m, back, err)
			}
		}
		if m, err := parseIqStanza(body); err == nil {
			if back, err := parseIqStanza(m.marshal()); err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("IqStanza %+v round-trips as %+v, %v", m, back, err)
			}
		}
		if ids, err := parseSelectiveAck(body); err == nil {
			var wire pb
			for _, id := range ids {
				wire = wire.str(1, id)
			}
			if back, err := parseSelectiveAck(wire); err != nil || !slices.Equal(back, ids) {
				t.Fatalf("SelectiveAck %q round-trips as %q, %v", ids, back, err)
			}
		}
		if m, err := parseDataMessage(body); err == nil {
			if back, err := parseDataMessage(m.marshal()); err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("DataMessageStanza %+v round-trips as %+v, %v", m, back, err)
			}
		}
		if m, err := parseCheckinRequest(body); err == nil {
			wire := pb{}.varint(2, m.ID).fixed64(13, m.SecurityToken)
			if back, err := parseCheckinRequest(wire); err != nil || back != m {
				t.Fatalf("AndroidCheckinRequest %+v round-trips as %+v, %v", m, back, err)
			}
		}
	})
}

// loginRequestWire encodes a LoginRequest with the client-side builder of
// the wire tests (mcs.proto's field numbers), not the package's codec.
func loginRequestWire(m loginRequest) []byte {
	p := pb{}.str(1, m.ID).str(2, m.Domain).str(3, m.User).str(4, m.Resource).str(5, m.AuthToken).str(6, m.DeviceID)
	for _, s := range m.Settings {
		p = p.raw(8, pb{}.str(1, s.Name).str(2, s.Value))
	}
	for _, id := range m.ReceivedPersistentIDs {
		p = p.str(10, id)
	}
	return p
}
