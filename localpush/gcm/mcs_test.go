package gcm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// loggedIn checks a device in, logs a client in on MCS and returns the
// client and the server's Conn for it.
func (e *env) loggedIn(t *testing.T) (aid, tok uint64, c *client, conn *Conn) {
	t.Helper()
	aid, tok = e.newDevice(t)
	c = e.dial(t)
	c.login(aid, tok)
	ev := e.rec.expect(t, "connected")
	if ev.aid != strconv.FormatUint(aid, 10) {
		t.Fatalf("Connected(%s), want %d", ev.aid, aid)
	}
	return aid, tok, c, ev.conn
}

func randomBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMCSLoginDeliverAck(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)
	token := e.subscribe(t, aid, tok, testSubtype, testSender)

	c := e.dial(t)
	before := time.Now().UnixMilli()
	resp := c.login(aid, tok)
	if got := resp.str(t, 1); got != "chrome-156.0.8078.79" {
		t.Errorf("LoginResponse id %q, want the request's", got)
	}
	if len(resp[3]) != 0 {
		t.Errorf("LoginResponse carries an error: %v", resp[3])
	}
	if got := resp.varint(t, 6); got != 1 {
		t.Errorf("LoginResponse last_stream_id_received %d, want 1 (the login)", got)
	}
	if got := int64(resp.varint(t, 8)); got < before || got > time.Now().UnixMilli() {
		t.Errorf("server_timestamp %d, want now in ms", got)
	}
	conn := e.rec.expect(t, "connected").conn

	// A push for a known token: subtype, sender and category come from the
	// registration.
	body := randomBody(t, 3000)
	sent := time.Unix(1_750_000_000, 0)
	if err := conn.Send(Message{ID: "0:1750000000000001%7031b2e6", Token: token, Body: body, TTL: 60, Sent: sent}); err != nil {
		t.Fatal(err)
	}
	m := c.readTag(8)
	checkStanza(t, m, stanzaWant{
		id: "0:1750000000000001%7031b2e6", from: testSender, category: "org.chromium.linux",
		subtype: testSubtype, body: body, ttl: 60, sent: sent.Unix(), stream: 2, lastIn: 1,
	})

	// The browser acknowledges with a StreamAck IqStanza whose
	// last_stream_id_received covers the message.
	c.send(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 13).raw(2, nil)).varint(10, 2))
	if ev := e.rec.expect(t, "acked"); !slices.Equal(ev.ids, []string{"0:1750000000000001%7031b2e6"}) {
		t.Errorf("Acked(%v)", ev.ids)
	}
	iq := c.readTag(7)
	if iq.varint(t, 2) != 1 || iq.varint(t, 10) != 2 {
		t.Errorf("server's StreamAck: type %d, last_stream_id_received %d; want 1 (SET), 2", iq.varint(t, 2), iq.varint(t, 10))
	}
	if ext := decodeMsg(t, iq.one(t, 7, protowire.BytesType).b); ext.varint(t, 1) != 13 {
		t.Errorf("server's IqStanza extension %d, want 13 (StreamAck)", ext.varint(t, 1))
	}

	// A push given subtype and sender for a token this server does not know
	// goes out with Debian Chromium's category.
	body2 := randomBody(t, 100)
	if err := conn.Send(Message{ID: "p2", Token: "elsewhere", Subtype: "wp:x#y-V2", Sender: "BKey", Body: body2, TTL: 0, Sent: sent}); err != nil {
		t.Fatal(err)
	}
	checkStanza(t, c.readTag(8), stanzaWant{
		id: "p2", from: "BKey", category: "org.chromium.linux", subtype: "wp:x#y-V2",
		body: body2, ttl: 0, sent: sent.Unix(), stream: 4, lastIn: 2,
	})

	// A SelectiveAck names the ids.
	sel := pb{}.str(1, "p2")
	c.send(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, sel)))
	if ev := e.rec.expect(t, "acked"); !slices.Equal(ev.ids, []string{"p2"}) {
		t.Errorf("Acked(%v), want [p2]", ev.ids)
	}

	// Any frame's last_stream_id_received acknowledges, a heartbeat too; the
	// server answers the ping.
	if err := conn.Send(Message{ID: "p3", Token: token, Body: []byte{1}, TTL: 5, Sent: sent}); err != nil {
		t.Fatal(err)
	}
	c.readTag(8)
	c.send(0, pb{}.varint(2, 5))
	if ev := e.rec.expect(t, "acked"); !slices.Equal(ev.ids, []string{"p3"}) {
		t.Errorf("Acked(%v), want [p3]", ev.ids)
	}
	if ack := c.readTag(1); ack.varint(t, 2) != 4 {
		t.Errorf("HeartbeatAck last_stream_id_received %d, want 4 (frames received)", ack.varint(t, 2))
	}
	// An acknowledgement repeated does not report the ids twice.
	c.send(1, pb{}.varint(2, 5))
	e.rec.expectNone(t)
}

type stanzaWant struct {
	id, from, category, subtype string
	body                        []byte
	ttl                         uint64
	sent                        int64
	stream, lastIn              uint64
}

func checkStanza(t *testing.T, m msg, w stanzaWant) {
	t.Helper()
	if got := m.str(t, 2); got != w.id {
		t.Errorf("id %q, want %q", got, w.id)
	}
	if got := m.str(t, 9); got != w.id {
		t.Errorf("persistent_id %q, want %q", got, w.id)
	}
	if got := m.str(t, 3); got != w.from {
		t.Errorf("from %q, want %q", got, w.from)
	}
	if got := m.str(t, 5); got != w.category {
		t.Errorf("category %q, want %q", got, w.category)
	}
	var appData []string
	for _, v := range m[7] {
		kv := decodeMsg(t, v.b)
		appData = append(appData, kv.str(t, 1)+"="+kv.str(t, 2))
	}
	if want := []string{"subtype=" + w.subtype, "content-encoding=aes128gcm"}; !slices.Equal(appData, want) {
		t.Errorf("app_data %q, want %q", appData, want)
	}
	if got := m.one(t, 21, protowire.BytesType).b; !bytes.Equal(got, w.body) {
		t.Errorf("raw_data differs from the body (%d bytes, want %d)", len(got), len(w.body))
	}
	if got := m.varint(t, 17); got != w.ttl {
		t.Errorf("ttl %d, want %d", got, w.ttl)
	}
	if got := int64(m.varint(t, 18)); got != w.sent {
		t.Errorf("sent %d, want %d", got, w.sent)
	}
	if got := m.varint(t, 10); got != w.stream {
		t.Errorf("stream_id %d, want %d", got, w.stream)
	}
	if got := m.varint(t, 11); got != w.lastIn {
		t.Errorf("last_stream_id_received %d, want %d", got, w.lastIn)
	}
	if got := m.varint(t, 24); got != 1 {
		t.Errorf("immediate_ack %d, want 1", got)
	}
}

func TestMCSServerPings(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.pingInterval = 100 * time.Millisecond
		s.ackTimeout = 2 * time.Second
	})
	_, _, c, _ := e.loggedIn(t)

	if ping := c.readTag(0); ping.varint(t, 2) != 1 {
		t.Errorf("first ping last_stream_id_received %d, want 1", ping.varint(t, 2))
	}
	c.send(1, pb{}.varint(2, 2))
	if ping := c.readTag(0); ping.varint(t, 2) != 2 {
		t.Errorf("second ping last_stream_id_received %d, want 2", ping.varint(t, 2))
	}
}

func TestMCSSilentClientDropped(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.pingInterval = 50 * time.Millisecond
		s.ackTimeout = 150 * time.Millisecond
	})
	_, _, c, conn := e.loggedIn(t)
	start := time.Now()
	c.expectClosed() // the client reads the pings but never answers
	if ev := e.rec.expect(t, "disconnected"); ev.conn != conn {
		t.Error("Disconnected for another connection")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("dropped after %v, want about 200ms", d)
	}
}

func TestMCSReconnectReplaces(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok, a, connA := e.loggedIn(t)
	token := e.subscribe(t, aid, tok, testSubtype, testSender)

	if err := connA.Send(Message{ID: "p1", Token: token, Body: []byte("x"), TTL: 60}); err != nil {
		t.Fatal(err)
	}
	a.readTag(8) // received, but the acknowledgement never goes out

	// The browser reconnects (say after a network change) and reports p1
	// among the ids it received.
	b := e.dial(t)
	resp := b.login(aid, tok, "p1")
	if got := resp.varint(t, 6); got != 1 {
		t.Errorf("last_stream_id_received %d, want 1: it confirms the login's acknowledgements", got)
	}
	if ev := e.rec.expect(t, "disconnected"); ev.conn != connA {
		t.Error("Disconnected for another connection")
	}
	if ev := e.rec.expect(t, "acked"); !slices.Equal(ev.ids, []string{"p1"}) {
		t.Errorf("Acked(%v), want [p1]", ev.ids)
	}
	connB := e.rec.expect(t, "connected").conn
	if connB == connA {
		t.Fatal("the new login got the old Conn")
	}
	a.expectClosed()
	if err := connA.Send(Message{ID: "p2", Token: token, Body: []byte("y")}); err == nil {
		t.Error("Send on the replaced connection succeeded")
	}
	if err := connB.Send(Message{ID: "p2", Token: token, Body: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if got := b.readTag(8).str(t, 9); got != "p2" {
		t.Errorf("new connection got %q", got)
	}
}

func TestMCSLoginCredentials(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)

	tests := []struct {
		name string
		user string
		tok  string
	}{
		{"wrong security token", strconv.FormatUint(aid, 10), strconv.FormatUint(tok+1, 10)},
		{"user not a number", "chrome", strconv.FormatUint(tok, 10)},
		{"zero android id", "0", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t)
			req := pb{}.str(1, "chrome-156").str(2, "mcs.android.com").str(3, tt.user).str(4, tt.user).str(5, tt.tok)
			c.write(append([]byte{41}, frame(2, req)...))
			if v, err := c.br.ReadByte(); err != nil || v != 41 {
				t.Fatalf("version %d, %v", v, err)
			}
			resp := c.readTag(3)
			if errInfo := decodeMsg(t, resp.one(t, 3, protowire.BytesType).b); errInfo.varint(t, 1) == 0 {
				t.Error("LoginResponse error code 0: Chromium would treat the login as good")
			}
			c.expectClosed()
			e.rec.expectNone(t)
		})
	}

	t.Run("unknown device is taken over", func(t *testing.T) {
		// A browser that checked in with an earlier run logs in directly.
		const oldAid, oldTok = 5555555555, 7777777
		c := e.dial(t)
		resp := c.login(oldAid, oldTok)
		if len(resp[3]) != 0 {
			t.Fatal("login refused")
		}
		e.rec.expect(t, "connected")
		e.subscribe(t, oldAid, oldTok, testSubtype, testSender)
	})
}

func TestMCSFramingErrors(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)
	login := append([]byte{41}, frame(2, loginRequestPB(aid, tok))...)
	hugeLen := protowire.AppendVarint([]byte{41, 2}, 1<<20)

	before := []struct {
		name  string
		bytes []byte
	}{
		{"version 37", append([]byte{37}, login[1:]...)},
		{"version 42", append([]byte{42}, login[1:]...)},
		{"first frame not a login", append([]byte{41}, frame(0, nil)...)},
		{"oversized login", hugeLen},
		{"length varint of 6 bytes", []byte{41, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"login not protobuf", append([]byte{41}, frame(2, []byte{0x0a, 0x10, 'a'})...)},
		{"login with wrong wire type", append([]byte{41}, frame(2, pb{}.varint(3, 7))...)},
	}
	for _, tt := range before {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t)
			c.write(tt.bytes)
			c.expectClosed()
			e.rec.expectNone(t)
		})
	}

	after := []struct {
		name  string
		bytes []byte
	}{
		{"unknown tag", frame(9, nil)},
		{"oversized frame", protowire.AppendVarint([]byte{8}, maxFrameSize+1)},
		{"truncated ping protobuf", frame(0, []byte{0x10})},
		{"bad selective ack", frame(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, []byte{0x0a, 0x05})))},
		{"second login", frame(2, loginRequestPB(aid, tok))},
		{"client Close", frame(4, nil)},
	}
	for _, tt := range after {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t)
			c.login(aid, tok)
			conn := e.rec.expect(t, "connected").conn
			c.write(tt.bytes)
			c.expectClosed()
			if ev := e.rec.expect(t, "disconnected"); ev.conn != conn {
				t.Error("Disconnected for another connection")
			}
		})
	}

	t.Run("connection ends inside a frame", func(t *testing.T) {
		c := e.dial(t)
		c.login(aid, tok)
		e.rec.expect(t, "connected")
		c.write([]byte{7, 10, 1, 2})
		if err := c.conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.expectClosed()
		e.rec.expect(t, "disconnected")
	})

	t.Run("not TLS", func(t *testing.T) {
		c := e.dialPlain(t)
		if _, err := c.Write(login); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				var timeout interface{ Timeout() bool }
				if errors.As(err, &timeout) && timeout.Timeout() {
					t.Fatal("server kept a non-TLS connection open")
				}
				break
			}
		}
		e.rec.expectNone(t)
	})
}

func TestMCSSlowClientDropped(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.writeTimeout = 200 * time.Millisecond })
	aid, tok, _, conn := e.loggedIn(t) // the client never reads again
	token := e.subscribe(t, aid, tok, testSubtype, testSender)
	body := randomBody(t, 200<<10)
	var err error
	start := time.Now()
	for i := 0; i < 1000 && err == nil; i++ {
		err = conn.Send(Message{ID: "p" + strconv.Itoa(i), Token: token, Body: body})
	}
	if err == nil {
		t.Fatal("Send never failed on a client that does not read")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send blocked for %v", d)
	}
	if ev := e.rec.expect(t, "disconnected"); ev.conn != conn {
		t.Error("Disconnected for another connection")
	}
}

func TestSendValidation(t *testing.T) {
	e := newEnv(t, nil)
	_, _, _, conn := e.loggedIn(t)
	otherAid, otherTok := e.newDevice(t)
	otherToken := e.subscribe(t, otherAid, otherTok, testSubtype, testSender)

	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"no id", Message{Subtype: "s", Sender: "k", Body: []byte("x")}, "without ID"},
		{"unknown token, no subtype", Message{ID: "p", Token: "nope", Sender: "k"}, "subtype or sender"},
		{"another browser's token", Message{ID: "p", Token: otherToken, Body: []byte("x")}, "another browser"},
		{"body too large", Message{ID: "p", Subtype: "s", Sender: "k", Body: make([]byte, maxBodySize+1)}, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := conn.Send(tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	e := newEnv(t, nil)
	_, _, c, conn := e.loggedIn(t)
	pending := e.dial(t) // connected, not logged in

	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	c.readTag(4) // Close: the client will reconnect later
	c.expectClosed()
	pending.expectClosed()
	if ev := e.rec.expect(t, "disconnected"); ev.conn != conn {
		t.Error("Disconnected for another connection")
	}
	if err := conn.Send(Message{ID: "p", Subtype: "s", Sender: "k"}); err == nil {
		t.Error("Send after Close succeeded")
	}
	e.rec.expectNone(t)
}

// dialPlain opens a TCP connection to the MCS port without TLS.
func (e *env) dialPlain(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.mcsAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
