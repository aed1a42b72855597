package gcm

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/internal/testserve"

	"google.golang.org/protobuf/encoding/protowire"
)

// The helpers here speak the protocol from the client's side. They build and
// read protobuf with literal field numbers (from Chromium's mcs.proto and
// checkin.proto) and share no code with the package's own codec, so a wrong
// field number on either side shows.

// pb builds a protobuf message.
type pb []byte

func (p pb) str(n int, s string) pb {
	p = protowire.AppendTag(p, protowire.Number(n), protowire.BytesType)
	return protowire.AppendString(p, s)
}

func (p pb) raw(n int, b []byte) pb {
	p = protowire.AppendTag(p, protowire.Number(n), protowire.BytesType)
	return protowire.AppendBytes(p, b)
}

func (p pb) varint(n int, v uint64) pb {
	p = protowire.AppendTag(p, protowire.Number(n), protowire.VarintType)
	return protowire.AppendVarint(p, v)
}

func (p pb) fixed64(n int, v uint64) pb {
	p = protowire.AppendTag(p, protowire.Number(n), protowire.Fixed64Type)
	return protowire.AppendFixed64(p, v)
}

// wireValue is one field value as read off the wire.
type wireValue struct {
	typ protowire.Type
	u   uint64
	b   []byte
}

// msg is a decoded protobuf message: field number to values, in order.
type msg map[int][]wireValue

func decodeMsg(t *testing.T, b []byte) msg {
	t.Helper()
	m := msg{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		v := wireValue{typ: typ}
		switch typ {
		case protowire.VarintType:
			v.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			v.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v.b, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("bad protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		m[int(num)] = append(m[int(num)], v)
	}
	return m
}

func (m msg) one(t *testing.T, n int, typ protowire.Type) wireValue {
	t.Helper()
	vs := m[n]
	if len(vs) != 1 {
		t.Fatalf("field %d present %d times, want once", n, len(vs))
	}
	if vs[0].typ != typ {
		t.Fatalf("field %d has wire type %d, want %d", n, vs[0].typ, typ)
	}
	return vs[0]
}

func (m msg) str(t *testing.T, n int) string {
	t.Helper()
	return string(m.one(t, n, protowire.BytesType).b)
}

func (m msg) varint(t *testing.T, n int) uint64 {
	t.Helper()
	return m.one(t, n, protowire.VarintType).u
}

func (m msg) fixed64(t *testing.T, n int) uint64 {
	t.Helper()
	return m.one(t, n, protowire.Fixed64Type).u
}

// event is one Hooks call.
type event struct {
	kind  string // "registered", "unregistered", "connected", "disconnected", "acked"
	aid   string
	token string
	reg   Registration
	conn  *Conn
	ids   []string
}

// recorder is a Hooks that queues every call as an event.
type recorder struct {
	events chan event
	mu     sync.Mutex
	regErr error
}

func newRecorder() *recorder { return &recorder{events: make(chan event, 256)} }

func (r *recorder) Registered(reg Registration) error {
	r.mu.Lock()
	err := r.regErr
	r.mu.Unlock()
	if err == nil {
		r.events <- event{kind: "registered", aid: reg.AndroidID, token: reg.Token, reg: reg}
	}
	return err
}

func (r *recorder) Unregistered(aid, token string) {
	r.events <- event{kind: "unregistered", aid: aid, token: token}
}

func (r *recorder) Connected(aid string, c *Conn) {
	r.events <- event{kind: "connected", aid: aid, conn: c}
}

func (r *recorder) Disconnected(aid string, c *Conn) {
	r.events <- event{kind: "disconnected", aid: aid, conn: c}
}

func (r *recorder) Acked(aid string, ids []string) {
	r.events <- event{kind: "acked", aid: aid, ids: append([]string(nil), ids...)}
}

func (r *recorder) setRegErr(err error) {
	r.mu.Lock()
	r.regErr = err
	r.mu.Unlock()
}

// expect returns the next hook call, which must be of the given kind.
func (r *recorder) expect(t *testing.T, kind string) event {
	t.Helper()
	select {
	case e := <-r.events:
		if e.kind != kind {
			t.Fatalf("hook %q called (%+v), want %q", e.kind, e, kind)
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q hook call within 5s", kind)
	}
	return event{}
}

// expectNone checks that no hook is called for a short while.
func (r *recorder) expectNone(t *testing.T) {
	t.Helper()
	select {
	case e := <-r.events:
		t.Fatalf("unexpected hook call %q: %+v", e.kind, e)
	case <-time.After(100 * time.Millisecond):
	}
}

// env is a running Server with its HTTP and MCS listeners.
type env struct {
	s       *Server
	rec     *recorder
	http    *httptest.Server
	mcsAddr string
}

func newEnv(t *testing.T, tune func(s *Server)) *env {
	t.Helper()
	return newEnvWrapped(t, tune, nil)
}

// newEnvWrapped is newEnv with the HTTP handler wrapped by wrap, if not nil.
func newEnvWrapped(t *testing.T, tune func(s *Server), wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return newEnvHooks(t, tune, wrap, nil)
}

// newEnvHooks is newEnvWrapped with the recorder wrapped by hooks, if not
// nil, for Hooks that implement the optional extensions.
func newEnvHooks(t *testing.T, tune func(s *Server), wrap func(http.Handler) http.Handler, hooks func(*recorder) Hooks) *env {
	t.Helper()
	rec := newRecorder()
	var h0 Hooks = rec
	if hooks != nil {
		h0 = hooks(rec)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(h0, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(s)
	}
	h := s.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testserve.Start(t, func() error { return s.ServeMCS(l) }, func() error { hs.Close(); return s.Close() })
	return &env{s: s, rec: rec, http: hs, mcsAddr: l.Addr().String()}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkin posts an AndroidCheckinRequest and returns the status and the
// decoded AndroidCheckinResponse (nil unless 200).
func (e *env) checkin(t *testing.T, body []byte) (int, msg) {
	t.Helper()
	resp, err := http.Post(e.http.URL+"/checkin", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		t.Errorf("check-in Content-Type %q, want application/x-protobuf", ct)
	}
	return resp.StatusCode, decodeMsg(t, b)
}

// newDevice checks in for the first time, as Chromium does on its first run,
// and returns the android id and security token.
func (e *env) newDevice(t *testing.T) (aid, tok uint64) {
	t.Helper()
	status, m := e.checkin(t, pb{}.varint(14, 3)) // version 3, no id yet
	if status != http.StatusOK {
		t.Fatalf("check-in status %d", status)
	}
	return m.fixed64(t, 7), m.fixed64(t, 8)
}

// register posts a registration form with "AidLogin aid:tok" and returns
// the status and body.
func (e *env) register(t *testing.T, auth string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", e.http.URL+"/c2dm/register3", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func aidLogin(aid, tok uint64) string {
	return "AidLogin " + strconv.FormatUint(aid, 10) + ":" + strconv.FormatUint(tok, 10)
}

// webPushForm is the form Chromium posts for PushManager.subscribe().
func webPushForm(aid uint64, subtype, sender string) url.Values {
	return url.Values{
		"app":       {"org.chromium.linux"},
		"X-subtype": {subtype},
		"device":    {strconv.FormatUint(aid, 10)},
		"scope":     {"GCM"},
		"X-scope":   {"GCM"},
		"gmsv":      {"156"},
		"appid":     {"fZ1pAbC2dEf"},
		"sender":    {sender},
	}
}

// subscribe registers a web push subscription and returns its token.
func (e *env) subscribe(t *testing.T, aid, tok uint64, subtype, sender string) string {
	t.Helper()
	status, body := e.register(t, aidLogin(aid, tok), webPushForm(aid, subtype, sender))
	token, ok := strings.CutPrefix(body, "token=")
	if status != http.StatusOK || !ok || token == "" {
		t.Fatalf("registration: %d %q", status, body)
	}
	e.rec.expect(t, "registered")
	return token
}

// client is an MCS client as Chromium's: TLS, a version byte, frames.
type client struct {
	t    *testing.T
	conn *tls.Conn
	br   *bufio.Reader
}

func (e *env) dial(t *testing.T) *client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", e.mcsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

func frame(tag byte, body []byte) []byte {
	b := []byte{tag}
	b = protowire.AppendVarint(b, uint64(len(body)))
	return append(b, body...)
}

func (c *client) send(tag byte, body pb) {
	c.t.Helper()
	c.write(frame(tag, body))
}

// read returns the next frame from the server.
func (c *client) read() (byte, msg) {
	c.t.Helper()
	tag, err := c.br.ReadByte()
	if err != nil {
		c.t.Fatalf("client read tag: %v", err)
	}
	size, err := protowireReadVarint(c.br)
	if err != nil {
		c.t.Fatalf("client read size: %v", err)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c.br, body); err != nil {
		c.t.Fatalf("client read body: %v", err)
	}
	return tag, decodeMsg(c.t, body)
}

// readTag returns the next frame, which must carry tag.
func (c *client) readTag(tag byte) msg {
	c.t.Helper()
	got, m := c.read()
	if got != tag {
		c.t.Fatalf("server sent tag %d (%v), want %d", got, m, tag)
	}
	return m
}

// expectClosed checks that the server closes the connection, after any
// frames it still had to send.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("server did not close the connection within 5s")
	}
}

func protowireReadVarint(r io.ByteReader) (uint64, error) {
	var b []byte
	for {
		x, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		b = append(b, x)
		if x < 0x80 {
			break
		}
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	return v, nil
}

// loginRequest builds a LoginRequest as Chromium's BuildLoginRequest does.
func loginRequestPB(aid, tok uint64, received ...string) pb {
	id := strconv.FormatUint(aid, 10)
	p := pb{}.
		str(1, "chrome-156.0.8078.79").
		str(2, "mcs.android.com").
		str(3, id).
		str(4, id).
		str(5, strconv.FormatUint(tok, 10)).
		str(6, "android-"+strconv.FormatUint(aid, 16)).
		raw(8, pb{}.str(1, "new_vc").str(2, "1")).
		varint(12, 0)
	for _, r := range received {
		p = p.str(10, r)
	}
	return p.varint(14, 1).varint(16, 2).varint(17, 1)
}

// login sends the version byte and a LoginRequest and returns the
// LoginResponse.
func (c *client) login(aid, tok uint64, received ...string) msg {
	c.t.Helper()
	c.write(append([]byte{41}, frame(2, loginRequestPB(aid, tok, received...))...))
	v, err := c.br.ReadByte()
	if err != nil {
		c.t.Fatalf("reading version: %v", err)
	}
	if v != 41 {
		c.t.Fatalf("server version %d, want 41", v)
	}
	return c.readTag(3)
}
