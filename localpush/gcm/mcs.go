package gcm

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"pushstart/push"

	"google.golang.org/protobuf/encoding/protowire"
)

// The MCS stream, as Chromium speaks it (google_apis/gcm/engine/
// connection_handler_impl.cc and mcs_client.cc):
//
//   - The client opens TLS and sends a version byte (41), then frames: a tag
//     byte naming the message, its length as a varint, the protobuf.
//   - Its first frame is a LoginRequest; the server answers with its own
//     version byte and a LoginResponse.
//   - Neither side puts stream ids on the wire any more: each counts the
//     frames it has received (the login frame is 1) and acknowledges them
//     by sending that count as last_stream_id_received in later frames.
//     That is also how the browser acknowledges push messages; a message
//     with immediate_ack set makes it answer at once with a StreamAck
//     IqStanza. Ids it received on an earlier connection come back in the
//     next LoginRequest's received_persistent_id.
//   - Either side may send a HeartbeatPing; the other answers HeartbeatAck.
const (
	mcsVersion    = 41
	mcsMinVersion = 38 // the oldest version Chromium itself still accepts

	// maxFrameSize bounds one frame in either direction. Chromium's own
	// frames are far smaller; a push body is at most 4 KiB.
	maxFrameSize = 256 << 10
	// maxBodySize bounds Message.Body, leaving room for the other fields.
	maxBodySize = maxFrameSize - 16<<10

	// defaultCategory is Debian Chromium's product category, used when a
	// message's token is not a registration of this server.
	defaultCategory = "org.chromium.linux"
)

// errClientClose ends a connection whose client sent Close.
var errClientClose = errors.New("client sent Close")

// ServeMCS accepts MCS connections on l, a plain TCP listener (the TLS is
// done here), until l is closed; Close closes it too. It returns nil then.
func (s *Server) ServeMCS(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !retryableAccept(err) {
				return fmt.Errorf("gcm: mcs accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("gcm mcs accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if c := s.newConn(nc); c != nil {
			go c.serve()
		}
	}
}

// retryableAccept reports accept errors that pass: running out of file
// descriptors, a connection aborted before it was accepted, a timeout.
func retryableAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// Conn is one browser's MCS connection. Its owner delivers push messages
// with Send.
type Conn struct {
	s         *Server
	raw       net.Conn
	tc        *tls.Conn
	log       *slog.Logger
	androidID string // set by login, before anyone else sees c

	quit      chan struct{} // closed when the connection is closed
	done      chan struct{} // closed when serve has returned
	closeOnce sync.Once
	ready     atomic.Bool // LoginResponse sent: the client parses frames

	wmu   sync.Mutex // one frame at a time, in stream-id order
	outID int32      // frames sent (the LoginResponse is 1); guarded by wmu

	mu      sync.Mutex
	inID    int32         // frames received (the LoginRequest is 1)
	pending []pendingSend // pushes sent and not yet acknowledged, in stream order
}

type pendingSend struct {
	stream int32
	id     string
}

func (s *Server) newConn(nc net.Conn) *Conn {
	c := &Conn{
		s:    s,
		raw:  nc,
		tc:   tls.Server(nc, s.tls),
		log:  s.log.With("remote", nc.RemoteAddr().String()),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

// Send writes m to the browser as a DataMessageStanza. It returns once the
// frame is written; Hooks.Acked reports m.ID when the browser confirms it.
func (c *Conn) Send(m Message) error {
	if m.ID == "" {
		return errors.New("gcm: send: message without ID")
	}
	if len(m.Body) > maxBodySize {
		return fmt.Errorf("gcm: send: body of %d bytes is over %d", len(m.Body), maxBodySize)
	}
	category := defaultCategory
	if reg, ok := c.s.registration(m.Token); ok {
		if reg.AndroidID != c.androidID {
			return errors.New("gcm: send: the token belongs to another browser")
		}
		category = reg.App
		if m.Subtype == "" {
			m.Subtype = reg.Subtype
		}
		if m.Sender == "" {
			m.Sender = reg.Sender
		}
	}
	if m.Subtype == "" || m.Sender == "" {
		return errors.New("gcm: send: message without subtype or sender")
	}
	sent := m.Sent
	if sent.IsZero() {
		sent = time.Now()
	}
	dm := dataMessage{
		ID:       m.ID,
		From:     m.Sender,
		Category: category,
		AppData: []appData{
			{Key: "subtype", Value: m.Subtype},
			{Key: "content-encoding", Value: "aes128gcm"},
		},
		PersistentID: m.ID,
		TTL:          int32(min(max(m.TTL, 0), math.MaxInt32)),
		Sent:         sent.Unix(),
		RawData:      m.Body,
		ImmediateAck: true,
	}
	if dm.RawData == nil {
		dm.RawData = []byte{}
	}
	stream, err := c.write(tagDataMessageStanza, func(stream, in int32) []byte {
		dm.StreamID, dm.LastStreamIDReceived = stream, in
		c.mu.Lock()
		c.pending = append(c.pending, pendingSend{stream: stream, id: m.ID})
		c.mu.Unlock()
		if m.OnWrite != nil {
			m.OnWrite(dm.stanza())
		}
		return dm.marshal()
	})
	if err != nil {
		return fmt.Errorf("gcm: send: %w", err)
	}
	c.log.Debug("gcm mcs push sent", "token_hash", push.Fingerprint(m.Token), "stream_id", stream, "bytes", len(m.Body))
	return nil
}

// stanza describes dm for Message.OnWrite.
func (dm dataMessage) stanza() Stanza {
	st := Stanza{
		ID: dm.ID, From: dm.From, Category: dm.Category, PersistentID: dm.PersistentID,
		StreamID: dm.StreamID, LastStreamIDReceived: dm.LastStreamIDReceived,
		TTL: dm.TTL, Sent: dm.Sent, ImmediateAck: dm.ImmediateAck, RawData: dm.RawData,
	}
	for _, a := range dm.AppData {
		st.AppData = append(st.AppData, [2]string{a.Key, a.Value})
	}
	return st
}

// Close drops the connection at once, without MCS's Close message, as a
// lost network would; Hooks.Disconnected follows.
func (c *Conn) Close() { c.close() }

// write sends one frame. build makes its body from the frame's stream id and
// the count of frames received, which the frame acknowledges.
func (c *Conn) write(tag byte, build func(stream, in int32) []byte) (int32, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.quit:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	in := c.inID
	c.mu.Unlock()
	stream := c.outID + 1
	body := build(stream, in)
	if len(body) > maxFrameSize {
		return 0, fmt.Errorf("%w: %d bytes", errFrameTooLarge, len(body))
	}
	c.outID = stream
	if err := c.writeLocked(appendFrame(nil, tag, body)); err != nil {
		c.close()
		return 0, err
	}
	return stream, nil
}

// writeLocked writes b under the write deadline; the caller holds wmu.
func (c *Conn) writeLocked(b []byte) error {
	if err := c.tc.SetWriteDeadline(time.Now().Add(c.s.writeTimeout)); err != nil {
		return err
	}
	_, err := c.tc.Write(b)
	return err
}

func appendFrame(b []byte, tag byte, body []byte) []byte {
	b = append(b, tag)
	b = protowire.AppendVarint(b, uint64(len(body)))
	return append(b, body...)
}

// close drops the connection at once; the goroutines notice and return.
func (c *Conn) close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		_ = c.raw.Close()
	})
}

// shutdown tells a logged-in client the server is closing (the Close
// message), unless a write is under way, and closes the connection.
func (c *Conn) shutdown() {
	if c.ready.Load() && c.wmu.TryLock() {
		_ = c.tc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.tc.Write(appendFrame(nil, tagClose, nil))
		c.wmu.Unlock()
	}
	c.close()
}

// serve runs one connection: login, then frames until either side ends it.
func (c *Conn) serve() {
	connected := false
	defer func() {
		c.close()
		c.s.forget(c)
		if connected {
			c.s.hooks.Disconnected(c.androidID, c)
		}
		close(c.done)
		c.s.wg.Done()
	}()

	br, err := c.login()
	if err != nil {
		if errors.Is(err, io.EOF) {
			// Chromium drops its first attempt now and then; it retries.
			c.log.Debug("gcm mcs connection closed before login", "err", err)
		} else {
			c.log.Info("gcm mcs login failed", "err", err)
		}
		return
	}
	c.s.wg.Add(1)
	go c.pinger()

	connected = true
	c.s.hooks.Connected(c.androidID, c)
	c.log.Info("gcm mcs connected")

	err = c.readLoop(br)
	switch {
	case errors.Is(err, errClientClose), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Info("gcm mcs disconnected", "reason", err)
	default:
		c.log.Warn("gcm mcs connection dropped", "err", err)
	}
}

// login runs the TLS handshake and the MCS login under one deadline, and
// makes c the connection of its android id.
func (c *Conn) login() (*bufio.Reader, error) {
	if err := c.raw.SetDeadline(time.Now().Add(c.s.loginTimeout)); err != nil {
		return nil, err
	}
	if err := c.tc.Handshake(); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	br := bufio.NewReader(c.tc)
	v, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("reading version: %w", err)
	}
	if v < mcsMinVersion || v > mcsVersion {
		return nil, fmt.Errorf("unsupported MCS version %d", v)
	}
	tag, body, err := readFrame(br)
	if err != nil {
		return nil, fmt.Errorf("reading login: %w", err)
	}
	if tag != tagLoginRequest {
		return nil, fmt.Errorf("first frame has tag %d, want LoginRequest (%d)", tag, tagLoginRequest)
	}
	req, err := parseLoginRequest(body)
	if err != nil {
		return nil, err
	}
	aid, err1 := strconv.ParseUint(req.User, 10, 64)
	tok, err2 := strconv.ParseUint(req.AuthToken, 10, 64)
	if err1 != nil || err2 != nil || aid == 0 || !c.s.adoptCheckin(aid, tok) {
		// A login error makes Chromium drop the connection and retry later.
		resp := loginResponse{ID: req.ID, Error: &errorInfo{Code: 1, Message: "authentication failed"},
			ServerTimestamp: time.Now().UnixMilli()}
		_ = c.writeLocked(appendFrame([]byte{mcsVersion}, tagLoginResponse, resp.marshal()))
		return nil, fmt.Errorf("login with unknown credentials for android id %q", req.User)
	}
	c.androidID = strconv.FormatUint(aid, 10)
	c.log = c.log.With("android_id", c.androidID)
	if g, ok := c.s.hooks.(LoginGate); ok {
		if err := c.holdLogin(g); err != nil {
			return nil, err
		}
		if err := c.raw.SetDeadline(time.Now().Add(c.s.loginTimeout)); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.inID = 1
	c.mu.Unlock()

	if old, err := c.s.claim(c); err != nil {
		return nil, err
	} else if old != nil {
		c.log.Info("gcm mcs connection replaces the previous one")
		old.close()
		select {
		case <-old.done:
		case <-time.After(c.s.writeTimeout):
			c.log.Warn("gcm mcs previous connection slow to end")
		}
	}
	if len(req.ReceivedPersistentIDs) > 0 {
		c.s.acked(c.androidID, Ack{
			PersistentIDs: req.ReceivedPersistentIDs, StreamIDs: make([]int32, len(req.ReceivedPersistentIDs)),
			Frame: "LoginRequest", Tag: tagLoginRequest,
		})
	}

	// last_stream_id_received 1 confirms the login frame, and with it the
	// ids it acknowledged, so the client can forget them.
	resp := loginResponse{ID: req.ID, LastStreamIDReceived: 1, ServerTimestamp: time.Now().UnixMilli()}
	c.wmu.Lock()
	c.outID = 1
	err = c.writeLocked(appendFrame([]byte{mcsVersion}, tagLoginResponse, resp.marshal()))
	c.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("writing login response: %w", err)
	}
	c.ready.Store(true)
	if err := c.raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	c.log.Debug("gcm mcs login", "version", v, "acked_at_login", len(req.ReceivedPersistentIDs))
	return br, nil
}

// errLoginHeld ends a login that a LoginGate held for maxLoginHold.
var errLoginHeld = errors.New("login held as long as Chromium waits; closed so that it tries again")

// holdStep is the longest a held login waits before asking its LoginGate
// again, so that a gate that opens early (its fault cleared) is noticed.
const holdStep = 250 * time.Millisecond

// holdLogin waits, unanswered, for as long as g says, up to maxLoginHold.
func (c *Conn) holdLogin(g LoginGate) error {
	start := time.Now()
	for first := true; ; first = false {
		held := time.Since(start)
		if first {
			held = 0
		}
		d := g.LoginWait(c.androidID, held)
		if d <= 0 {
			if held > 0 {
				c.log.Info("gcm mcs login released", "held", held.Round(time.Millisecond))
			}
			return nil
		}
		left := c.s.maxLoginHold - held
		if left <= 0 {
			return errLoginHeld
		}
		t := time.NewTimer(min(d, left, holdStep))
		select {
		case <-c.quit:
			t.Stop()
			return net.ErrClosed
		case <-t.C:
		}
	}
}

// acked reports acknowledged messages to the Hooks, through AckedBy when
// they implement AckHooks.
func (s *Server) acked(androidID string, a Ack) {
	if h, ok := s.hooks.(AckHooks); ok {
		h.AckedBy(androidID, a)
		return
	}
	s.hooks.Acked(androidID, a.PersistentIDs)
}

// claim makes c the connection of its android id and returns the one it
// replaces.
func (s *Server) claim(c *Conn) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, net.ErrClosed
	}
	old := s.byID[c.androidID]
	s.byID[c.androidID] = c
	return old, nil
}

// forget removes a finished connection.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.byID[c.androidID] == c {
		delete(s.byID, c.androidID)
	}
}

// readLoop handles the client's frames. A client that sends nothing, not
// even the answer to a ping, for pingInterval+ackTimeout is dropped.
func (c *Conn) readLoop(br *bufio.Reader) error {
	for {
		if err := c.tc.SetReadDeadline(time.Now().Add(c.s.pingInterval + c.s.ackTimeout)); err != nil {
			return err
		}
		tag, body, err := readFrame(br)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.inID++
		in := c.inID
		c.mu.Unlock()
		c.log.Debug("gcm mcs frame received", "tag", tag, "bytes", len(body), "stream_id", in)
		if err := c.handle(tag, body); err != nil {
			return err
		}
	}
}

func (c *Conn) handle(tag byte, body []byte) error {
	switch tag {
	case tagHeartbeatPing:
		hb, err := parseHeartbeat(body)
		if err != nil {
			return err
		}
		c.streamAcked(hb.LastStreamIDReceived, "HeartbeatPing", tag)
		_, err = c.write(tagHeartbeatAck, func(_, in int32) []byte {
			return heartbeat{LastStreamIDReceived: in}.marshal()
		})
		return err
	case tagHeartbeatAck:
		hb, err := parseHeartbeat(body)
		if err != nil {
			return err
		}
		c.streamAcked(hb.LastStreamIDReceived, "HeartbeatAck", tag)
		return nil
	case tagIqStanza:
		iq, err := parseIqStanza(body)
		if err != nil {
			return err
		}
		if iq.Extension != nil {
			c.log.Debug("gcm mcs iq", "type", iq.Type, "extension", iq.Extension.ID, "last_stream_id_received", iq.LastStreamIDReceived)
		}
		frame := "IqStanza"
		if iq.Extension != nil {
			switch iq.Extension.ID {
			case extStreamAck:
				frame = "IqStanza StreamAck"
			case extSelectiveAck:
				frame = "IqStanza SelectiveAck"
			}
		}
		c.streamAcked(iq.LastStreamIDReceived, frame, tag)
		if iq.Extension == nil {
			c.log.Debug("gcm mcs iq without extension", "type", iq.Type)
			return nil
		}
		switch iq.Extension.ID {
		case extSelectiveAck:
			ids, err := parseSelectiveAck(iq.Extension.Data)
			if err != nil {
				return err
			}
			c.selectiveAcked(ids)
		case extStreamAck:
			// Answer in kind, confirming the client's acknowledgement so it
			// need not repeat those ids at its next login.
			_, err = c.write(tagIqStanza, func(_, in int32) []byte {
				return iqStanza{Type: iqSet, Extension: &extension{ID: extStreamAck}, LastStreamIDReceived: in}.marshal()
			})
			return err
		default:
			c.log.Debug("gcm mcs iq with unknown extension", "extension", iq.Extension.ID)
		}
		return nil
	case tagDataMessageStanza:
		dm, err := parseDataMessage(body)
		if err != nil {
			return err
		}
		c.streamAcked(dm.LastStreamIDReceived, "DataMessageStanza", tag)
		c.log.Debug("gcm mcs data message from client", "category", dm.Category, "app_data", len(dm.AppData))
		return nil
	case tagClose:
		return errClientClose
	case tagStreamErrorStanza:
		return errors.New("client sent StreamErrorStanza")
	case tagLoginRequest:
		return errors.New("second LoginRequest")
	default:
		return fmt.Errorf("frame with unknown tag %d", tag)
	}
}

// streamAcked handles a client's last_stream_id_received, carried by a
// frame named frame with tag: every push sent in a frame up to that stream
// id has arrived.
func (c *Conn) streamAcked(last int32, frame string, tag byte) {
	if last <= 0 {
		return
	}
	c.mu.Lock()
	n := 0
	for n < len(c.pending) && c.pending[n].stream <= last {
		n++
	}
	a := Ack{PersistentIDs: make([]string, n), StreamIDs: make([]int32, n), Frame: frame, Tag: tag, LastStreamIDReceived: last}
	for i, p := range c.pending[:n] {
		a.PersistentIDs[i], a.StreamIDs[i] = p.id, p.stream
	}
	c.pending = c.pending[n:]
	c.mu.Unlock()
	if n > 0 {
		c.s.acked(c.androidID, a)
	}
}

// selectiveAcked handles a SelectiveAck: the listed persistent ids have
// arrived, whatever their order.
func (c *Conn) selectiveAcked(ids []string) {
	if len(ids) == 0 {
		return
	}
	streams := make(map[string]int32, len(ids))
	for _, id := range ids {
		streams[id] = 0
	}
	c.mu.Lock()
	kept := c.pending[:0]
	for _, p := range c.pending {
		if _, ok := streams[p.id]; ok {
			streams[p.id] = p.stream
		} else {
			kept = append(kept, p)
		}
	}
	c.pending = kept
	c.mu.Unlock()
	a := Ack{PersistentIDs: ids, StreamIDs: make([]int32, len(ids)), Frame: "IqStanza SelectiveAck", Tag: tagIqStanza}
	for i, id := range ids {
		a.StreamIDs[i] = streams[id]
	}
	c.s.acked(c.androidID, a)
}

// pinger sends a HeartbeatPing every pingInterval; the client's answer
// keeps readLoop's deadline from passing, and the ping's
// last_stream_id_received confirms what the client sent.
func (c *Conn) pinger() {
	defer c.s.wg.Done()
	t := time.NewTicker(c.s.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			if _, err := c.write(tagHeartbeatPing, func(_, in int32) []byte {
				return heartbeat{LastStreamIDReceived: in}.marshal()
			}); err != nil {
				c.log.Debug("gcm mcs ping failed", "err", err)
				c.close()
				return
			}
		}
	}
}

// readFrame reads one tag-length-protobuf frame of at most maxFrameSize.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	size, err := readVarint32(r)
	if err != nil {
		return 0, nil, fmt.Errorf("frame size: %w", noEOF(err))
	}
	if size > maxFrameSize {
		return 0, nil, fmt.Errorf("%w: %d bytes (tag %d)", errFrameTooLarge, size, tag)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("frame body: %w", noEOF(err))
	}
	return tag, body, nil
}

// readVarint32 reads a frame length: a varint of at most five bytes.
func readVarint32(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := range 5 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint longer than 5 bytes")
}

// noEOF turns an end of stream inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
