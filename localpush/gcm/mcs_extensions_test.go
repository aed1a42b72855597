package gcm

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// extHooks is a recorder that also implements AckHooks and LoginGate.
type extHooks struct {
	*recorder
	acks chan Ack

	mu    sync.Mutex
	until time.Time       // logins wait until then
	helds []time.Duration // held values LoginWait was called with
}

func (h *extHooks) AckedBy(aid string, a Ack) { h.acks <- a }

func (h *extHooks) LoginWait(aid string, held time.Duration) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.helds = append(h.helds, held)
	return time.Until(h.until)
}

func (h *extHooks) setUntil(t time.Time) {
	h.mu.Lock()
	h.until = t
	h.mu.Unlock()
}

func newExtEnv(t *testing.T, tune func(*Server)) (*env, *extHooks) {
	t.Helper()
	var h *extHooks
	e := newEnvHooks(t, tune, nil, func(r *recorder) Hooks {
		h = &extHooks{recorder: r, acks: make(chan Ack, 16)}
		return h
	})
	return e, h
}

func (h *extHooks) expectAck(t *testing.T) Ack {
	t.Helper()
	select {
	case a := <-h.acks:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no AckedBy call within 5s")
	}
	return Ack{}
}

func TestSendOnWriteAndAckedBy(t *testing.T) {
	e, h := newExtEnv(t, nil)
	aid, tok := e.newDevice(t)
	token := e.subscribe(t, aid, tok, testSubtype, testSender)
	c := e.dial(t)
	c.login(aid, tok)
	conn := e.rec.expect(t, "connected").conn

	var seen []Stanza
	body := randomBody(t, 40)
	sent := time.Unix(1_750_000_000, 0)
	send := func(id string) {
		t.Helper()
		err := conn.Send(Message{ID: id, Token: token, Body: body, TTL: 30, Sent: sent,
			OnWrite: func(s Stanza) { seen = append(seen, s) }})
		if err != nil {
			t.Fatal(err)
		}
	}
	send("m1")
	wire := c.readTag(8)
	if len(seen) != 1 {
		t.Fatalf("OnWrite called %d times, want 1", len(seen))
	}
	st := seen[0]
	if st.ID != "m1" || st.PersistentID != "m1" || st.From != testSender || st.Category != "org.chromium.linux" ||
		st.TTL != 30 || st.Sent != sent.Unix() || !st.ImmediateAck || !slices.Equal(st.RawData, body) ||
		uint64(st.StreamID) != wire.varint(t, 10) || uint64(st.LastStreamIDReceived) != wire.varint(t, 11) {
		t.Errorf("OnWrite stanza %+v does not match the frame written (stream %d, last received %d)",
			st, wire.varint(t, 10), wire.varint(t, 11))
	}
	if !slices.Equal(st.AppData, [][2]string{{"subtype", testSubtype}, {"content-encoding", "aes128gcm"}}) {
		t.Errorf("OnWrite app data %v", st.AppData)
	}

	tests := []struct {
		name      string
		ack       func(stream int32)
		frame     string
		tag       byte
		lastRecvd bool
	}{
		{"StreamAck", func(s int32) {
			c.send(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 13).raw(2, nil)).varint(10, uint64(s)))
		}, "IqStanza StreamAck", 7, true},
		{"SelectiveAck", func(int32) {
			c.send(7, pb{}.varint(2, 1).str(3, "").raw(7, pb{}.varint(1, 12).raw(2, pb{}.str(1, "m2"))))
		}, "IqStanza SelectiveAck", 7, false},
		{"HeartbeatPing", func(s int32) { c.send(0, pb{}.varint(2, uint64(s))) }, "HeartbeatPing", 0, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "m" + strconv.Itoa(i+1)
			if i > 0 {
				send(id)
				c.readTag(8)
			}
			stream := seen[len(seen)-1].StreamID
			tc.ack(stream)
			a := h.expectAck(t)
			if !slices.Equal(a.PersistentIDs, []string{id}) || !slices.Equal(a.StreamIDs, []int32{stream}) || a.Frame != tc.frame || a.Tag != tc.tag {
				t.Errorf("AckedBy %+v, want %s with stream %d by %s", a, id, stream, tc.frame)
			}
			if tc.lastRecvd != (a.LastStreamIDReceived == stream) {
				t.Errorf("LastStreamIDReceived %d (stream %d)", a.LastStreamIDReceived, stream)
			}
			// The server answers a StreamAck and a ping; drain it.
			if tc.frame == "IqStanza StreamAck" {
				c.readTag(7)
			}
			if tc.frame == "HeartbeatPing" {
				c.readTag(1)
			}
		})
	}

	// An id acknowledged at the next login has no stream id: it went out
	// on an earlier connection.
	c2 := e.dial(t)
	c2.login(aid, tok, "m9")
	a := h.expectAck(t)
	if a.Frame != "LoginRequest" || a.Tag != 2 || !slices.Equal(a.PersistentIDs, []string{"m9"}) || !slices.Equal(a.StreamIDs, []int32{0}) {
		t.Errorf("AckedBy at login %+v", a)
	}
}

func TestLoginGateHoldsLogin(t *testing.T) {
	tests := []struct {
		name    string
		hold    time.Duration
		maxHold time.Duration
		admit   bool
	}{
		{"held until the gate opens", 600 * time.Millisecond, time.Minute, true},
		{"closed after the longest hold", time.Hour, 400 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newExtEnv(t, func(s *Server) { s.maxLoginHold = tc.maxHold })
			aid, tok := e.newDevice(t)
			h.setUntil(time.Now().Add(tc.hold))
			c := e.dial(t)
			start := time.Now()
			if !tc.admit {
				c.write(append([]byte{41}, frame(2, loginRequestPB(aid, tok))...))
				c.expectClosed()
				if d := time.Since(start); d < tc.maxHold {
					t.Errorf("closed after %v, want a hold of %v first", d, tc.maxHold)
				}
				e.rec.expectNone(t)
				return
			}
			c.login(aid, tok)
			if d := time.Since(start); d < tc.hold-50*time.Millisecond {
				t.Errorf("LoginResponse after %v, want it held about %v", d, tc.hold)
			}
			e.rec.expect(t, "connected")
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.helds) < 2 || h.helds[0] != 0 || h.helds[len(h.helds)-1] < tc.hold-50*time.Millisecond {
				t.Errorf("LoginWait held values %v: want 0 first, about %v last", h.helds, tc.hold)
			}
		})
	}
}

func TestConnCloseAndForget(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok, c, conn := e.loggedIn(t)
	conn.Close()
	c.expectClosed()
	e.rec.expect(t, "disconnected")

	token := e.subscribe(t, aid, tok, testSubtype, testSender)
	if again := e.subscribe(t, aid, tok, testSubtype, testSender); again != token {
		t.Fatalf("the same subscription registered again got %q, want its token %q", again, token)
	}
	if !e.s.Forget(token) || e.s.Forget(token) {
		t.Fatal("Forget: want true once, then false")
	}
	if again := e.subscribe(t, aid, tok, testSubtype, testSender); again == token {
		t.Fatal("a forgotten registration came back with its old token")
	}
}
