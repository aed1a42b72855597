package sender

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/api"
	"pushstart/internal/ecetest"
	"pushstart/internal/vapidverify"
	"pushstart/push"
)

// recordTracer follows the endpoints in watch and keeps every step published.
type recordTracer struct {
	mu     sync.Mutex
	watch  map[string]bool
	asked  int
	events []api.TraceEvent
}

func newRecordTracer(endpoints ...string) *recordTracer {
	r := &recordTracer{watch: map[string]bool{}}
	for _, e := range endpoints {
		r.watch[e] = true
	}
	return r
}

func (r *recordTracer) Watching(endpoint string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	return r.watch[endpoint]
}

func (r *recordTracer) Publish(endpoint string, ev api.TraceEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.watch[endpoint] {
		panic("a step published for an endpoint nobody follows")
	}
	r.events = append(r.events, ev)
}

func (r *recordTracer) all() []api.TraceEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.TraceEvent(nil), r.events...)
}

// steps lists the events' steps, in order.
func steps(evs []api.TraceEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Step)
	}
	return strings.Join(s, " ")
}

// field returns the value of ev's field name, failing the test without it.
func field(t *testing.T, ev api.TraceEvent, name string) string {
	t.Helper()
	for _, f := range ev.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	t.Fatalf("step %s has no field %q: %+v", ev.Step, name, ev.Fields)
	return ""
}

// TestTraceShowsTheRealBytes: a followed push is traced step by step with
// what really went on the wire, and nothing of the subscription's secrets.
func TestTraceShowsTheRealBytes(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "http://push.example/m/0123456789abcdefghijkl")
		w.WriteHeader(http.StatusCreated)
	})
	b := newBrowser(t, ps.URL+"/wpush/v2/gAAAAABnSecretToken0123456789")
	tr := newRecordTracer(b.sub.Endpoint)
	f := newFixture(t, Options{Trace: tr})
	f.store.add(b.sub)
	payload := notification(t)

	res := f.s.Send(context.Background(), b.sub, push.Message{Payload: payload, TTL: 300, Urgency: "high", Topic: "deploy"})
	if res.Outcome != push.Sent {
		t.Fatalf("Send = %+v", res)
	}
	evs := tr.all()
	if got, want := steps(evs), "payload encrypt vapid request response outcome"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	wire := ps.requests()[0]
	id := evs[0].Push
	if len(id) < 6 {
		t.Errorf("push id %q is not a short id", id)
	}
	for _, ev := range evs {
		if ev.Push != id {
			t.Errorf("step %s has push id %q, want %q for every step", ev.Step, ev.Push, id)
		}
	}

	t.Run("payload", func(t *testing.T) {
		ev := evs[0]
		if field(t, ev, "bytes") != strconv.Itoa(len(payload)) || !json.Valid([]byte(ev.Detail)) || !strings.Contains(ev.Detail, "\n  ") {
			t.Errorf("payload step %+v, want its length and the JSON indented", ev)
		}
	})
	t.Run("encrypt", func(t *testing.T) {
		ev := evs[1]
		salt, err := base64.RawURLEncoding.DecodeString(field(t, ev, "salt"))
		if err != nil || len(salt) != 16 || !bytes.Equal(salt, wire.Body[:16]) {
			t.Errorf("salt %q: %d bytes (%v), want the 16 on the wire", field(t, ev, "salt"), len(salt), err)
		}
		if field(t, ev, "rs") != "4096" || field(t, ev, "idlen") != "65" {
			t.Errorf("rs %s idlen %s, want 4096 65", field(t, ev, "rs"), field(t, ev, "idlen"))
		}
		keyid, _ := base64.RawURLEncoding.DecodeString(field(t, ev, "keyid"))
		if _, err := ecdh.P256().NewPublicKey(keyid); err != nil || !bytes.Equal(keyid, wire.Body[21:86]) {
			t.Errorf("keyid is not the P-256 point on the wire: %v", err)
		}
		n := func(name string) int {
			v, err := strconv.Atoi(field(t, ev, name))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		plain, ct, pad, body := n("plaintext length"), n("ciphertext length"), n("padding"), n("body length")
		if plain != len(payload) || body != len(wire.Body) || ct != body-86 || pad != ct-16-1-plain || pad <= 0 {
			t.Errorf("plaintext %d ciphertext %d padding %d body %d; the wire has %d bytes for %d of payload", plain, ct, pad, body, len(wire.Body), len(payload))
		}
		if got, err := ecetest.Decrypt(wire.Body, b.priv, b.auth); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("the traced body is not what the browser decrypts: %v", err)
		}
	})
	t.Run("vapid", func(t *testing.T) {
		ev := evs[2]
		if aud := field(t, ev, "aud"); aud != ps.URL {
			t.Errorf("aud %q, want the endpoint's origin %q", aud, ps.URL)
		}
		exp, err := time.Parse(time.RFC3339, strings.Fields(field(t, ev, "exp"))[0])
		if ahead := time.Until(exp); err != nil || ahead <= 0 || ahead > 24*time.Hour {
			t.Errorf("exp %q: %v ahead, want within 24 h", field(t, ev, "exp"), ahead)
		}
		if sub := field(t, ev, "sub"); sub != testSubject {
			t.Errorf("sub %q, want %q", sub, testSubject)
		}
		if k := field(t, ev, "k"); k != f.s.keys.Public {
			t.Errorf("k %q, want the server's public key", k)
		}
		jwt, _ := parseVAPID(wire.Header.Get("Authorization"))
		sig := jwt[strings.LastIndexByte(jwt, '.')+1:]
		if strings.Contains(ev.Detail, sig) || !strings.Contains(ev.Detail, `"aud"`) {
			t.Errorf("the JWT's claims should be decoded and its signature shortened:\n%s", ev.Detail)
		}
	})
	t.Run("request and response", func(t *testing.T) {
		req, resp := evs[3], evs[4]
		u, _ := url.Parse(ps.URL)
		if field(t, req, "host") != u.Host || field(t, req, "path") != "/wpush/v2/gAAA…(29 chars)" ||
			field(t, req, "TTL") != "300" || field(t, req, "Urgency") != "high" || field(t, req, "Topic") != "deploy" ||
			field(t, req, "Content-Encoding") != "aes128gcm" || field(t, req, "Authorization") != "vapid" ||
			field(t, req, "Content-Length") != strconv.Itoa(len(wire.Body)) || req.To != api.ActorPushService {
			t.Errorf("request step %+v", req)
		}
		if field(t, resp, "status") != "201 Created" || field(t, resp, "Location") != "http://push.example/m/0123…(22 chars)" || !resp.OK {
			t.Errorf("response step %+v", resp)
		}
	})
	t.Run("no secrets", func(t *testing.T) {
		all, _ := json.Marshal(evs)
		jwt, _ := parseVAPID(wire.Header.Get("Authorization"))
		for what, secret := range map[string]string{
			"the endpoint": b.sub.Endpoint, "its token": "gAAAAABnSecretToken0123456789", "the auth secret": b.sub.Auth,
			"p256dh": b.sub.P256dh, "the VAPID private key": f.s.keys.Private, "the JWT": jwt,
		} {
			if strings.Contains(string(all), secret) {
				t.Errorf("the trace carries %s", what)
			}
		}
	})
}

// TestTraceOfTheSendersDecisions: retries, prunes and refusals of the VAPID
// credentials are traced as the sender makes them.
func TestTraceOfTheSendersDecisions(t *testing.T) {
	tests := []struct {
		name       string
		answers    []int
		retryAfter string
		want       string
		wantStore  bool
	}{
		{name: "429 waits as asked", answers: []int{429, 201}, retryAfter: "2",
			want: "payload encrypt vapid request response retry encrypt vapid request response outcome", wantStore: true},
		{name: "500 twice backs off", answers: []int{500, 500, 201},
			want: "payload encrypt vapid request response retry encrypt vapid request response retry encrypt vapid request response outcome", wantStore: true},
		{name: "410 prunes", answers: []int{410}, want: "payload encrypt vapid request response prune outcome"},
		{name: "403 is a configuration fault", answers: []int{403}, want: "payload encrypt vapid request response config-fault outcome", wantStore: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newPushService(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.answers[min(n, len(tt.answers))-1])
			})
			b := newBrowser(t, ps.URL+"/push/1")
			tr := newRecordTracer(b.sub.Endpoint)
			f := newFixture(t, Options{Trace: tr})
			f.store.add(b.sub)
			res := f.s.Deliver(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})
			evs := tr.all()
			if got := steps(evs); got != tt.want {
				t.Fatalf("steps\n%s\nwant\n%s", got, tt.want)
			}
			if f.store.has(b.sub.Endpoint) != tt.wantStore {
				t.Errorf("subscription kept: %v, want %v", !tt.wantStore, tt.wantStore)
			}
			last := evs[len(evs)-1]
			if field(t, last, "outcome") != string(res.Outcome) || field(t, last, "attempts") != strconv.Itoa(res.Attempts) || last.OK != (res.Outcome == push.Sent) {
				t.Errorf("outcome step %+v for %+v", last, res)
			}
			for i, ev := range evs {
				switch ev.Step {
				case api.StepRetry:
					if tt.retryAfter != "" && field(t, ev, "wait") != "2s" {
						t.Errorf("retry waits %s, want Retry-After's 2s", field(t, ev, "wait"))
					}
					if why := field(t, ev, "why"); !strings.HasPrefix(why, strconv.Itoa(tt.answers[0])) {
						t.Errorf("retry because %q", why)
					}
				case api.StepRequest:
					if i > 3 && field(t, ev, "attempt") == "1" {
						t.Errorf("a retry's request says attempt 1")
					}
				case api.StepPrune:
					if field(t, ev, "deleted") != "true" || ev.OK {
						t.Errorf("prune step %+v", ev)
					}
				case api.StepConfigFault:
					if field(t, ev, "deleted") != "false" || !strings.Contains(ev.Detail, "VAPID_PRIVATE_KEY") {
						t.Errorf("config fault step %+v, want nothing deleted and what to check", ev)
					}
				}
			}
		})
	}
}

// TestUnfollowedPushesAreNotTraced: the tracer is asked once per push and
// hears nothing of a subscription nobody follows.
func TestUnfollowedPushesAreNotTraced(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	followed, other := newBrowser(t, ps.URL+"/push/followed"), newBrowser(t, ps.URL+"/push/other")
	tr := newRecordTracer(followed.sub.Endpoint)
	f := newFixture(t, Options{Trace: tr})
	for range 3 {
		if res := f.s.Deliver(context.Background(), other.sub, push.Message{Payload: notification(t), TTL: 60}); res.Outcome != push.Sent {
			t.Fatalf("Deliver = %+v", res)
		}
	}
	if tr.asked != 3 || len(tr.all()) != 0 {
		t.Errorf("asked %d times, %d steps published; want 3 and none", tr.asked, len(tr.all()))
	}
	f.s.Deliver(context.Background(), followed.sub, push.Message{Payload: notification(t), TTL: 60})
	if len(tr.all()) == 0 {
		t.Error("the followed subscription's push was not traced")
	}
}

// TestWrongKeySwitch: an armed wrong-key switch signs the next push, and
// only it, with a real JWT under a throwaway key pair.
func TestWrongKeySwitch(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	b := newBrowser(t, ps.URL+"/push/1")
	other := newBrowser(t, ps.URL+"/push/2")
	tr := newRecordTracer(b.sub.Endpoint)
	breaks := NewBreaks()
	f := newFixture(t, Options{Trace: tr, Breaks: breaks})
	if f.s.Breaks() != breaks {
		t.Fatal("Breaks() is not the switches given")
	}
	breaks.WrongKey(b.sub.Endpoint)
	msg := push.Message{Payload: notification(t), TTL: 60}
	for _, sub := range []struct{ b browser }{{other}, {b}, {b}} {
		f.s.Deliver(context.Background(), sub.b.sub, msg)
	}
	reqs := ps.requests()
	ours := vapidverify.Expect{Endpoint: b.sub.Endpoint, Key: f.pubKey, Subject: testSubject}
	if _, err := vapidverify.Verify(reqs[0].Header.Get("Authorization"), vapidverify.Expect{Endpoint: other.sub.Endpoint, Key: f.pubKey}); err != nil {
		t.Errorf("another subscription's push was signed with another key: %v", err)
	}
	_, err := vapidverify.Verify(reqs[1].Header.Get("Authorization"), ours)
	var verr *vapidverify.Error
	if !errors.As(err, &verr) || verr.Check != vapidverify.CheckKeyMatch {
		t.Errorf("the switched push: %v; want a valid JWT under another key (check %q)", err, vapidverify.CheckKeyMatch)
	}
	if _, err := vapidverify.Verify(reqs[2].Header.Get("Authorization"), ours); err != nil {
		t.Errorf("the push after it is not signed with the server's key: %v", err)
	}
	var vapids []api.TraceEvent
	for _, ev := range tr.all() {
		if ev.Step == api.StepVAPID {
			vapids = append(vapids, ev)
		}
	}
	if len(vapids) != 2 || field(t, vapids[0], "k") == f.s.keys.Public || field(t, vapids[1], "k") != f.s.keys.Public {
		t.Errorf("vapid steps %+v; want the throwaway k, then the server's", vapids)
	}
}

// TestPace: a paced push pauses before each attempt, after the step that
// leads to it (payload or retry), and stops pausing when its context ends.
func TestPace(t *testing.T) {
	const pace = 1200 * time.Millisecond
	ps := newPushService(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	b := newBrowser(t, ps.URL+"/push/1")
	tr := newRecordTracer(b.sub.Endpoint)
	f := newFixture(t, Options{Trace: tr, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	var waitsAtPayload, waitsAtEncrypt []int
	f.s.tracer = stepHook{tr, func(ev api.TraceEvent) {
		switch ev.Step {
		case api.StepPayload:
			waitsAtPayload = append(waitsAtPayload, len(f.clock.all()))
		case api.StepEncrypt:
			waitsAtEncrypt = append(waitsAtEncrypt, len(f.clock.all()))
		}
	}}

	res := f.s.Deliver(WithPace(context.Background(), pace), b.sub, push.Message{Payload: notification(t), TTL: 60})
	if res.Outcome != push.Sent || res.Attempts != 2 {
		t.Fatalf("Deliver = %+v", res)
	}
	waits := f.clock.all()
	if len(waits) != 3 || waits[0] != pace || waits[2] != pace {
		t.Errorf("waits %v, want the pace, the backoff, the pace", waits)
	}
	// The pause comes after the payload step, before the attempt's
	// encryption is traced.
	if len(waitsAtPayload) != 1 || waitsAtPayload[0] != 0 || len(waitsAtEncrypt) != 2 || waitsAtEncrypt[0] != 1 || waitsAtEncrypt[1] != 3 {
		t.Errorf("waits done at the payload step %v, at each encrypt step %v; want [0] and [1 3]", waitsAtPayload, waitsAtEncrypt)
	}

	t.Run("unfollowed pushes are paced too", func(t *testing.T) {
		f := newFixture(t, Options{})
		f.s.Deliver(WithPace(context.Background(), pace), b.sub, push.Message{Payload: notification(t), TTL: 60})
		if waits := f.clock.all(); len(waits) != 1 || waits[0] != pace {
			t.Errorf("waits %v, want one pace", waits)
		}
	})
	t.Run("an ended context ends the pause", func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The caller goes away once the payload is traced, before the pause.
		f.s.tracer = stepHook{tr, func(ev api.TraceEvent) {
			if ev.Step == api.StepPayload {
				cancel()
			}
		}}
		before := len(ps.requests())
		res := f.s.Deliver(WithPace(ctx, pace), b.sub, push.Message{Payload: notification(t), TTL: 60})
		if !res.Interrupted || len(ps.requests()) != before {
			t.Errorf("Deliver = %+v and %d requests sent; want interrupted before any", res, len(ps.requests())-before)
		}
	})
}

// stepHook is a Tracer that calls hook with each step before recording it.
type stepHook struct {
	*recordTracer
	hook func(api.TraceEvent)
}

func (s stepHook) Publish(endpoint string, ev api.TraceEvent) {
	s.hook(ev)
	s.recordTracer.Publish(endpoint, ev)
}

func TestShortPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://updates.push.services.mozilla.com/wpush/v2/gAAAAABnReallyLongToken", "/wpush/v2/gAAA…(23 chars)"},
		{"https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bHun4MxP5egoKMwt2KZFBaFUH", "/fcm/send/dGVz…(37 chars)"},
		{"https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB", "/w/?…(13 chars)"},
		{"http://127.0.0.1:8080/push/1", "/push/1"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			u, _ := url.Parse(tt.in)
			if got := shortPath(u); got != tt.want {
				t.Errorf("shortPath = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPaceHoldsNoSlot: slow motion's pause holds none of the host's request
// slots, so that a paced push does not hold back another push to the same
// push service.
func TestPaceHoldsNoSlot(t *testing.T) {
	const pace = 1200 * time.Millisecond
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	slow, other := newBrowser(t, ps.URL+"/push/slow"), newBrowser(t, ps.URL+"/push/other")
	f := newFixture(t, Options{MaxPerHost: 1})
	pausing, release := make(chan struct{}), make(chan struct{})
	f.s.sleep = func(ctx context.Context, d time.Duration) error {
		if d == pace {
			close(pausing)
			<-release
		}
		return ctx.Err()
	}
	done := make(chan Result, 1)
	go func() {
		done <- f.s.Deliver(WithPace(context.Background(), pace), slow.sub, push.Message{Payload: notification(t), TTL: 60})
	}()
	<-pausing
	sent := make(chan Result, 1)
	go func() {
		sent <- f.s.Deliver(context.Background(), other.sub, push.Message{Payload: notification(t), TTL: 60})
	}()
	select {
	case res := <-sent:
		if res.Outcome != push.Sent {
			t.Errorf("the other push: %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Error("the other push waited for the paced one's pause: the pause holds the host's only slot")
		close(release)
		<-sent
		<-done
		return
	}
	close(release)
	if res := <-done; res.Outcome != push.Sent {
		t.Errorf("the paced push: %+v", res)
	}
}

// TestWrongKeyRefusalLogs: a refusal the wrong-key switch caused is logged
// as such at Info and leaves the once-per-host error for a real refusal of
// the server's credentials.
func TestWrongKeyRefusalLogs(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
	b := newBrowser(t, ps.URL+"/push/1")
	breaks := NewBreaks()
	f := newFixture(t, Options{Breaks: breaks})
	f.store.add(b.sub)
	msg := push.Message{Payload: notification(t), TTL: 60}
	for _, wrongKey := range []bool{true, false} {
		if wrongKey {
			breaks.WrongKey(b.sub.Endpoint)
		}
		if res := f.s.Deliver(context.Background(), b.sub, msg); res.Outcome != push.Unauthorized {
			t.Fatalf("Deliver = %+v, want unauthorized", res)
		}
	}
	var levels []string
	for line := range strings.SplitSeq(strings.TrimSpace(f.log.String()), "\n") {
		var rec struct{ Level, Msg string }
		json.Unmarshal([]byte(line), &rec)
		if strings.Contains(rec.Msg, "VAPID") {
			levels = append(levels, rec.Level)
		}
	}
	if len(levels) != 2 || levels[0] != "INFO" || levels[1] != "ERROR" {
		t.Errorf("VAPID refusals logged at %v, want INFO for the switch's, then ERROR for the real one", levels)
	}
}
