package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/internal/ecetest"
	"pushstart/internal/vapidverify"
	"pushstart/push"
	"pushstart/server/store"
)

func notification(t testing.TB) []byte {
	t.Helper()
	n := push.Notification{
		Title: "Deploy finished",
		Body:  "pushstart 1.2 is live — 3 services restarted",
		Tag:   "deploy",
		Data:  json.RawMessage(`{"url":"/deploys/42"}`),
	}
	origin, err := push.ParseOrigin("https://deploys.example")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Marshal(origin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withSpareCapacity returns a copy of b in a larger array whose unused tail
// is filled with 0xAA, and that tail, to detect writes past len(b).
func withSpareCapacity(b []byte) (msg, tail []byte) {
	buf := make([]byte, len(b), len(b)+4096)
	copy(buf, b)
	tail = buf[len(b):cap(buf)]
	for i := range tail {
		tail[i] = 0xAA
	}
	return buf, tail
}

func untouched(tail []byte) bool {
	for _, c := range tail {
		if c != 0xAA {
			return false
		}
	}
	return true
}

// The decisive test: what the sender puts on the wire is decrypted by an
// independent RFC 8291 implementation to exactly the payload, with the
// headers and VAPID token a push service requires.
func TestSendDeliversWhatTheBrowserCanDecrypt(t *testing.T) {
	checkGoroutines(t)
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	f := newFixture(t, Options{})
	b := newBrowser(t, ps.URL+"/wpush/v2/gAAAAABn")
	b.sub.ID = 7
	f.store.add(b.sub)
	want := notification(t)
	msg, tail := withSpareCapacity(want)

	res := f.s.Send(context.Background(), b.sub, push.Message{Payload: msg, TTL: 3600, Urgency: "high", Topic: "deploy-42"})

	if res.Outcome != push.Sent || res.Status != http.StatusCreated || res.Attempts != 1 || res.Err != nil || res.Pruned {
		t.Fatalf("Send = %+v, want sent 201 in 1 attempt", res)
	}
	reqs := ps.requests()
	if len(reqs) != 1 {
		t.Fatalf("push service got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/wpush/v2/gAAAAABn" {
		t.Errorf("request path %q", r.Path)
	}
	for h, v := range map[string]string{"TTL": "3600", "Urgency": "high", "Topic": "deploy-42", "Content-Encoding": "aes128gcm"} {
		if got := r.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	got, err := ecetest.Decrypt(r.Body, b.priv, b.auth)
	if err != nil {
		t.Fatalf("the body does not decrypt: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("decrypted payload differs:\n got %q\nwant %q", got, want)
	}
	claims, err := vapidverify.Verify(r.Header.Get("Authorization"), vapidverify.Expect{Endpoint: b.sub.Endpoint, Key: f.pubKey, Subject: testSubject})
	if err != nil {
		t.Fatalf("VAPID header: %v", err)
	}
	if claims.Audience != ps.URL {
		t.Errorf("aud = %q, want the push service's origin %q", claims.Audience, ps.URL)
	}
	if !untouched(tail) {
		t.Error("the sender wrote into the spare capacity of the caller's payload")
	}
	d, _ := f.store.Deliveries(context.Background(), 0)
	if len(d) != 1 || d[0].Outcome != "sent" || d[0].Status != 201 || d[0].Attempts != 1 ||
		d[0].EndpointHash != push.Fingerprint(b.sub.Endpoint) || d[0].Error != "" ||
		d[0].Host != ps.Listener.Addr().String() || d[0].SubscriptionID != 7 || d[0].BroadcastID != "" {
		t.Errorf("delivery log = %+v", d)
	}
}

func TestSendOmitsOptionalHeaders(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{Subject: "https://example.org/contact"})
	b := newBrowser(t, ps.URL+"/p/1")
	res := f.s.Send(context.Background(), b.sub, push.Message{Payload: []byte(`{"title":"x"}`)})
	if res.Outcome != push.Sent {
		t.Fatalf("Send = %+v", res)
	}
	r := ps.requests()[0]
	if r.Header.Get("TTL") != "0" {
		t.Errorf("TTL = %q, want 0", r.Header.Get("TTL"))
	}
	for _, h := range []string{"Urgency", "Topic"} {
		if v, ok := r.Header[h]; ok {
			t.Errorf("header %s sent as %q though the message had none", h, v)
		}
	}
	if _, err := vapidverify.Verify(r.Header.Get("Authorization"), vapidverify.Expect{Endpoint: b.sub.Endpoint, Key: f.pubKey, Subject: "https://example.org/contact"}); err != nil {
		t.Errorf("https subject: %v", err)
	}
}

// The largest payload the kit allows still fits the 4096-byte record the
// library pads to, and arrives intact.
func TestSendLargestPayload(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{})
	b := newBrowser(t, ps.URL+"/p/1")
	big := bytes.Repeat([]byte("z"), push.MaxPlaintext)
	if res := f.s.Send(context.Background(), b.sub, push.Message{Payload: big, TTL: 60}); res.Outcome != push.Sent {
		t.Fatalf("Send of %d bytes = %+v", len(big), res)
	}
	r := ps.requests()[0]
	if len(r.Body) != 4096 {
		t.Errorf("body is %d bytes, want one 4096-byte record", len(r.Body))
	}
	got, err := ecetest.Decrypt(r.Body, b.priv, b.auth)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Decrypt: %v (equal %v)", err, bytes.Equal(got, big))
	}
}

func TestSendStatuses(t *testing.T) {
	checkGoroutines(t)
	const base = 100 * time.Millisecond
	tests := []struct {
		name       string
		answers    []int // the push service's statuses in turn; the last repeats
		retryAfter string
		maxDelay   time.Duration

		want         push.Outcome
		wantStatus   int
		wantAttempts int
		wantPruned   bool
		wantWaits    []time.Duration // exact; nil with waitsBounded to check bounds only
		waitsBounded int             // number of backoff waits, each within the backoff ceiling
	}{
		{name: "201 created", answers: []int{201}, want: push.Sent, wantStatus: 201, wantAttempts: 1},
		{name: "202 accepted", answers: []int{202}, want: push.Sent, wantStatus: 202, wantAttempts: 1},
		{name: "404 not found prunes", answers: []int{404}, want: push.Gone, wantStatus: 404, wantAttempts: 1, wantPruned: true},
		{name: "410 gone prunes", answers: []int{410}, want: push.Gone, wantStatus: 410, wantAttempts: 1, wantPruned: true},
		{name: "413 too large is not retried", answers: []int{413, 201}, want: push.Rejected, wantStatus: 413, wantAttempts: 1},
		{name: "400 bad request is not retried", answers: []int{400, 201}, want: push.Rejected, wantStatus: 400, wantAttempts: 1},
		{name: "302 is not followed", answers: []int{302, 201}, want: push.Rejected, wantStatus: 302, wantAttempts: 1},
		{name: "401 is a configuration fault", answers: []int{401, 201}, want: push.Unauthorized, wantStatus: 401, wantAttempts: 1},
		{name: "403 is a configuration fault", answers: []int{403, 201}, want: push.Unauthorized, wantStatus: 403, wantAttempts: 1},
		{name: "429 honours Retry-After seconds", answers: []int{429, 201}, retryAfter: "7", want: push.Sent, wantStatus: 201, wantAttempts: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 Retry-After beyond MaxDelay gives up rather than retry early", answers: []int{429, 201}, retryAfter: "600", maxDelay: 20 * time.Second, want: push.Failed, wantStatus: 429, wantAttempts: 1},
		{name: "429 without Retry-After backs off", answers: []int{429, 201}, want: push.Sent, wantStatus: 201, wantAttempts: 2, waitsBounded: 1},
		{name: "503 honours Retry-After seconds", answers: []int{503, 201}, retryAfter: "7", want: push.Sent, wantStatus: 201, wantAttempts: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 until attempts run out", answers: []int{429}, retryAfter: "1", want: push.Failed, wantStatus: 429, wantAttempts: 4, wantWaits: []time.Duration{time.Second, time.Second, time.Second}},
		{name: "500 then 201", answers: []int{500, 201}, want: push.Sent, wantStatus: 201, wantAttempts: 2, waitsBounded: 1},
		{name: "503 twice then 201", answers: []int{503, 503, 201}, want: push.Sent, wantStatus: 201, wantAttempts: 3, waitsBounded: 2},
		{name: "500 always fails after MaxAttempts", answers: []int{500}, want: push.Failed, wantStatus: 500, wantAttempts: 4, waitsBounded: 3},
		{name: "502 then 410 prunes", answers: []int{502, 410}, want: push.Gone, wantStatus: 410, wantAttempts: 2, wantPruned: true, waitsBounded: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPushService(t, func(n int, w http.ResponseWriter, r *http.Request) {
				code := tc.answers[min(n, len(tc.answers))-1]
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if code == 302 {
					http.Redirect(w, r, "/elsewhere", code)
					return
				}
				w.WriteHeader(code)
				if code >= 400 {
					fmt.Fprint(w, `{"code":`, code, `,"errno":999,"error":"Whatever","message":"from the push service"}`)
				}
			})
			f := newFixture(t, Options{BaseDelay: base, MaxDelay: tc.maxDelay})
			b := newBrowser(t, ps.URL+"/push/"+strings.ReplaceAll(tc.name, " ", "-"))
			f.store.add(b.sub)

			res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})

			if res.Outcome != tc.want || res.Status != tc.wantStatus || res.Attempts != tc.wantAttempts || res.Pruned != tc.wantPruned {
				t.Fatalf("Send = {%s %d attempts=%d pruned=%v err=%v}, want {%s %d attempts=%d pruned=%v}",
					res.Outcome, res.Status, res.Attempts, res.Pruned, res.Err, tc.want, tc.wantStatus, tc.wantAttempts, tc.wantPruned)
			}
			if (res.Err == nil) != (tc.want == push.Sent) {
				t.Errorf("Err = %v for outcome %s", res.Err, res.Outcome)
			}
			if res.Interrupted {
				t.Errorf("Interrupted set on %+v, though the context never ended", res)
			}
			if n := len(ps.requests()); n != tc.wantAttempts {
				t.Errorf("push service got %d requests, want %d", n, tc.wantAttempts)
			}
			if kept := f.store.has(b.sub.Endpoint); kept == tc.wantPruned {
				t.Errorf("subscription still stored = %v, want %v", kept, !tc.wantPruned)
			}

			waits := f.clock.all()
			switch {
			case tc.wantWaits != nil:
				if fmt.Sprint(waits) != fmt.Sprint(tc.wantWaits) {
					t.Errorf("waits = %v, want %v", waits, tc.wantWaits)
				}
			default:
				if len(waits) != tc.waitsBounded {
					t.Fatalf("waits = %v, want %d backoff waits", waits, tc.waitsBounded)
				}
				for i, w := range waits {
					if ceiling := base << i; w < 0 || w > ceiling {
						t.Errorf("wait %d = %v, outside [0, %v]", i+1, w, ceiling)
					}
				}
			}

			d, _ := f.store.Deliveries(context.Background(), 0)
			if len(d) != 1 {
				t.Fatalf("delivery log has %d entries, want 1", len(d))
			}
			if d[0].Outcome != string(tc.want) || d[0].Status != tc.wantStatus || d[0].Attempts != tc.wantAttempts ||
				d[0].EndpointHash != push.Fingerprint(b.sub.Endpoint) || (d[0].Error == "") != (tc.want == push.Sent) {
				t.Errorf("delivery = %+v", d[0])
			}
			if tc.want == push.Unauthorized {
				logs := f.log.String()
				if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "VAPID") {
					t.Errorf("no ERROR about the VAPID configuration in the log:\n%s", logs)
				}
			}
		})
	}
}

func TestSendHangingPushServiceTimesOut(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	ps := newPushService(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	client := NewHTTPClient(nil)
	client.Timeout = 150 * time.Millisecond
	f := newFixture(t, Options{Client: client, MaxAttempts: 3})
	b := newBrowser(t, ps.URL+"/push/hang")
	f.store.add(b.sub)

	res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})

	if res.Outcome != push.Failed || res.Status != 0 || res.Attempts != 3 || res.Interrupted {
		t.Fatalf("Send = %+v, want failed (not interrupted) after 3 attempts with no status", res)
	}
	if !strings.Contains(res.Err.Error(), "Timeout") {
		t.Errorf("Err = %v, want a client timeout", res.Err)
	}
	if n := len(f.clock.all()); n != 2 {
		t.Errorf("%d waits between 3 attempts", n)
	}
	if !f.store.has(b.sub.Endpoint) {
		t.Error("a timeout deleted the subscription")
	}

	closed := make(chan struct{})
	go func() { ps.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the push service did not close: a request is still held open")
	}
	if n := len(ps.requests()); n != 3 {
		t.Errorf("push service saw %d requests, want 3", n)
	}
}

func TestSendStopsWaitingWhenContextEnds(t *testing.T) {
	checkGoroutines(t)
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	f := newFixture(t, Options{MaxDelay: 2 * time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var asked atomic.Int64
	f.s.sleep = func(ctx context.Context, d time.Duration) error {
		asked.Store(int64(d))
		cancel() // the caller gives up while the sender waits
		return sleepContext(ctx, d)
	}
	b := newBrowser(t, ps.URL+"/push/slow")

	done := make(chan Result, 1)
	go func() { done <- f.s.Send(ctx, b.sub, push.Message{Payload: notification(t)}) }()
	var res Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send kept waiting out Retry-After after its context was cancelled")
	}
	if time.Duration(asked.Load()) != time.Hour {
		t.Errorf("asked to wait %v, want the 1h of Retry-After", time.Duration(asked.Load()))
	}
	if res.Outcome != push.Failed || res.Attempts != 1 || res.Status != 429 || !errors.Is(res.Err, context.Canceled) || !res.Interrupted {
		t.Fatalf("Send = %+v, want interrupted after 1 attempt with context.Canceled", res)
	}
	if d, _ := f.store.Deliveries(context.Background(), 0); len(d) != 1 || d[0].Outcome != "failed" {
		t.Errorf("delivery log = %+v; a cancelled send is still recorded", d)
	}

	// Already cancelled: nothing is sent.
	res = f.s.Send(ctx, b.sub, push.Message{Payload: notification(t)})
	if res.Outcome != push.Failed || res.Attempts != 0 || !res.Interrupted || len(ps.requests()) != 1 {
		t.Fatalf("Send with a cancelled context = %+v after %d requests", res, len(ps.requests()))
	}
}

func TestSendRejectsInvalidInput(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{})
	good := newBrowser(t, ps.URL+"/push/1").sub
	msg := push.Message{Payload: notification(t), TTL: 60}
	sub := func(mod func(*store.Subscription)) store.Subscription {
		s := good
		mod(&s)
		return s
	}
	offCurve := "BA" + strings.Repeat("A", 85) // 0x04 and 64 zero bytes
	tests := []struct {
		name      string
		sub       store.Subscription
		msg       push.Message
		wantField string
	}{
		{name: "negative TTL", sub: good, msg: push.Message{TTL: -1}, wantField: "ttl"},
		{name: "TTL over 28 days", sub: good, msg: push.Message{TTL: push.MaxTTL + 1}, wantField: "ttl"},
		{name: "unknown urgency", sub: good, msg: push.Message{Urgency: "urgent"}, wantField: "urgency"},
		{name: "urgency in capitals", sub: good, msg: push.Message{Urgency: "HIGH"}, wantField: "urgency"},
		{name: "topic of 33 characters", sub: good, msg: push.Message{Topic: strings.Repeat("a", 33)}, wantField: "topic"},
		{name: "topic with a space", sub: good, msg: push.Message{Topic: "a b"}, wantField: "topic"},
		{name: "topic with padding", sub: good, msg: push.Message{Topic: "abc="}, wantField: "topic"},
		{name: "payload one byte too large", sub: good, msg: push.Message{Payload: make([]byte, push.MaxPlaintext+1)}, wantField: "notification"},
		{name: "ftp endpoint", sub: sub(func(s *store.Subscription) { s.Endpoint = "ftp://push.example/1" }), msg: msg, wantField: "endpoint"},
		{name: "relative endpoint", sub: sub(func(s *store.Subscription) { s.Endpoint = "/push/1" }), msg: msg, wantField: "endpoint"},
		{name: "empty endpoint", sub: sub(func(s *store.Subscription) { s.Endpoint = "" }), msg: msg, wantField: "endpoint"},
		{name: "endpoint with credentials", sub: sub(func(s *store.Subscription) { s.Endpoint = "https://u:p@push.example/1" }), msg: msg, wantField: "endpoint"},
		{name: "p256dh of 64 bytes", sub: sub(func(s *store.Subscription) { s.P256dh = s.P256dh[:85] }), msg: msg, wantField: "keys.p256dh"},
		{name: "p256dh compressed", sub: sub(func(s *store.Subscription) { s.P256dh = "Ag" + s.P256dh[2:44] }), msg: msg, wantField: "keys.p256dh"},
		{name: "p256dh off the curve", sub: sub(func(s *store.Subscription) { s.P256dh = offCurve }), msg: msg, wantField: "keys.p256dh"},
		{name: "p256dh not base64url", sub: sub(func(s *store.Subscription) { s.P256dh = "not a key!" }), msg: msg, wantField: "keys.p256dh"},
		{name: "auth of 8 bytes", sub: sub(func(s *store.Subscription) { s.Auth = "AAAAAAAAAAA" }), msg: msg, wantField: "keys.auth"},
		{name: "auth of 40 bytes", sub: sub(func(s *store.Subscription) { s.Auth = strings.Repeat("A", 54) }), msg: msg, wantField: "keys.auth"},
		{name: "auth empty", sub: sub(func(s *store.Subscription) { s.Auth = "" }), msg: msg, wantField: "keys.auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.s.Send(context.Background(), tc.sub, tc.msg)
			var fe *push.FieldError
			if res.Outcome != push.Rejected || res.Attempts != 0 || !errors.As(res.Err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("Send = %+v, want rejected on field %q before any attempt", res, tc.wantField)
			}
		})
	}
	if n := len(ps.requests()); n != 0 {
		t.Errorf("invalid input reached the push service %d times", n)
	}
	if d, _ := f.store.Deliveries(context.Background(), 0); len(d) != len(tests) || d[0].Outcome != "rejected" {
		t.Errorf("delivery log has %d entries, want %d rejections", len(d), len(tests))
	}
	// Padded base64url keys are the same keys.
	padded := good
	padded.P256dh += "="
	padded.Auth += "=="
	if res := f.s.Send(context.Background(), padded, msg); res.Outcome != push.Sent {
		t.Errorf("padded keys: %+v", res)
	}
}

func TestMessageValidateAcceptsLimits(t *testing.T) {
	for _, m := range []push.Message{
		{},
		{TTL: push.MaxTTL},
		{Urgency: "very-low"}, {Urgency: "low"}, {Urgency: "normal"}, {Urgency: "high"},
		{Topic: strings.Repeat("Az09-_", 5) + "xy"},
		{Payload: make([]byte, push.MaxPlaintext)},
	} {
		if err := m.Validate(); err != nil {
			t.Errorf("Validate(TTL=%d Urgency=%q Topic=%q len=%d) = %v", m.TTL, m.Urgency, m.Topic, len(m.Payload), err)
		}
	}
}

// One response body in every answer must be drained, or each send opens a
// new connection.
func TestSendReusesConnections(t *testing.T) {
	checkGoroutines(t)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, strings.Repeat("x", 8<<10)) // larger than the error detail kept
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f := newFixture(t, Options{})
	ok, bad := newBrowser(t, srv.URL+"/p/ok"), newBrowser(t, srv.URL+"/p/bad")
	for i := range 30 {
		b := ok
		if i%2 == 1 {
			b = bad
		}
		f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t)})
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("30 sequential sends opened %d connections, want 1", n)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	const token = "gAAAAABnSECRETTOKENdoNotLog0123456789"
	ps := newPushService(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "bad subscription http://%s%s (token %s)", r.Host, r.URL.Path, token)
		case 2:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"reason":"BadJwtToken"}`)
		default:
			w.WriteHeader(http.StatusGone)
		}
	})
	f := newFixture(t, Options{MaxAttempts: 2})
	b := newBrowser(t, ps.URL+"/wpush/v2/"+token)
	f.store.add(b.sub)
	for range 3 {
		f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t)})
	}
	// A network error: nothing listens there any more.
	dead := newBrowser(t, "http://"+ps.Listener.Addr().String()+"/wpush/v2/"+token)
	ps.Close()
	if res := f.s.Send(context.Background(), dead.sub, push.Message{Payload: notification(t)}); res.Outcome != push.Failed || res.Status != 0 {
		t.Fatalf("send to a closed port = %+v", res)
	}

	logs := f.log.String()
	d, _ := f.store.Deliveries(context.Background(), 0)
	recorded := fmt.Sprint(d)
	if !strings.Contains(logs, push.Fingerprint(b.sub.Endpoint)) {
		t.Errorf("logs do not name the endpoint by its hash:\n%s", logs)
	}
	if !strings.Contains(recorded, "BadJwtToken") {
		t.Errorf("the push service's reason is not in the delivery log: %s", recorded)
	}
	for name, secret := range map[string]string{
		"endpoint token": token, "p256dh": b.sub.P256dh, "auth": b.sub.Auth,
		"VAPID private key": f.s.keys.Private, "VAPID token": "vapid t=",
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s:\n%s", name, logs)
		}
		if strings.Contains(recorded, secret) {
			t.Errorf("the delivery log contains the %s: %s", name, recorded)
		}
	}
}

func TestNewChecksOptions(t *testing.T) {
	keys, _ := testKeys(t)
	other, _ := testKeys(t)
	mismatched := keys
	mismatched.Private = other.Private
	tests := []struct {
		name string
		o    Options
	}{
		{name: "no keys", o: Options{Subject: testSubject, Store: newMemStore()}},
		{name: "mismatched key pair", o: Options{Keys: mismatched, Subject: testSubject, Store: newMemStore()}},
		{name: "no subject", o: Options{Keys: keys, Store: newMemStore()}},
		{name: "bare address subject", o: Options{Keys: keys, Subject: "ops@example.org", Store: newMemStore()}},
		{name: "no store", o: Options{Keys: keys, Subject: testSubject}},
		{name: "negative MaxPerHost", o: Options{Keys: keys, Subject: testSubject, Store: newMemStore(), MaxPerHost: -1}},
		{name: "negative delay", o: Options{Keys: keys, Subject: testSubject, Store: newMemStore(), BaseDelay: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := New(tc.o); err == nil {
				t.Fatalf("New accepted %s: %+v", tc.name, s)
			}
		})
	}
	s, err := New(Options{Keys: keys, Subject: testSubject, Store: newMemStore(), MaxPerHost: 100})
	if err != nil {
		t.Fatal(err)
	}
	if s.subscriber != "ops@example.org" {
		t.Errorf("subscriber = %q: webpush-go prefixes mailto: itself", s.subscriber)
	}
	tr, ok := s.client.Transport.(*http.Transport)
	if !ok || tr.MaxIdleConnsPerHost != 100 || tr.MaxConnsPerHost != 100 {
		t.Errorf("default client does not keep MaxPerHost 100 connections per host: %+v", s.client.Transport)
	}
	if s.hosts.perHost != 100 {
		t.Errorf("%d requests per host, want MaxPerHost 100", s.hosts.perHost)
	}
	s, err = New(Options{Keys: keys, Subject: testSubject, Store: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	if tr, ok := s.client.Transport.(*http.Transport); !ok || tr.MaxConnsPerHost != DefaultMaxConnsPerHost || s.hosts.perHost != DefaultMaxConnsPerHost {
		t.Errorf("default: %d requests and %d connections per host, want %d", s.hosts.perHost, tr.MaxConnsPerHost, DefaultMaxConnsPerHost)
	}
}

func TestNewHTTPClient(t *testing.T) {
	c := NewHTTPClient(nil)
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", c.Transport)
	}
	if c.Timeout <= 0 || tr.ResponseHeaderTimeout <= 0 || tr.TLSHandshakeTimeout <= 0 || tr.IdleConnTimeout <= 0 {
		t.Errorf("a timeout is missing: client %v, header %v, TLS %v, idle %v",
			c.Timeout, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, tr.IdleConnTimeout)
	}
	if tr.MaxIdleConnsPerHost != DefaultMaxConnsPerHost || tr.MaxConnsPerHost != DefaultMaxConnsPerHost {
		t.Errorf("%d idle and %d connections per host, want %d of each: every request in flight keeps its connection",
			tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, DefaultMaxConnsPerHost)
	}
	rt := http.NewFileTransport(http.Dir(t.TempDir()))
	if NewHTTPClient(rt).Transport != rt {
		t.Error("the given RoundTripper was not used")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"Sun, 01 Mar 2026 12:00:45 GMT", 45 * time.Second},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"-5", -1},
		{"1.5", -1},
		{"soon", -1},
		{"99999999999999999999", -1},
		{"9999999999", 365 * 24 * time.Hour},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBackoffIsBoundedFullJitter(t *testing.T) {
	s := &Sender{baseDelay: 100 * time.Millisecond, maxDelay: 2 * time.Second}
	for attempt := 1; attempt <= 70; attempt++ {
		ceiling := min(s.baseDelay<<min(attempt-1, 20), s.maxDelay)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := s.backoff(attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", attempt, d, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("backoff(%d) took only %d values in 200 draws: not jittered", attempt, len(seen))
		}
	}
}
