//go:build !wasm

package server

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"pushstart/api"
	"pushstart/internal/sse"
	"pushstart/internal/testserve"
	"pushstart/localpush"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// trace is an open trace stream read over real HTTP.
type trace struct {
	res    *http.Response
	ready  api.FlowInfo
	events chan api.TraceEvent
	mu     sync.Mutex
	raw    bytes.Buffer // every byte of the stream
	done   chan struct{}
}

// postJSON posts body to url over real HTTP, with the header pairs hdr.
func postJSON(t *testing.T, ctx context.Context, url string, body any, hdr ...string) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// openTrace opens a trace stream of endpoint at the server base, as the page
// does, and waits for its ready event. The stream closes when the test ends.
func openTrace(t *testing.T, base, endpoint, auth string) *trace {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	res := postJSON(t, ctx, base+api.PathFlowTrace, api.FlowTraceRequest{Endpoint: endpoint, Auth: auth})
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("trace stream: %d %s", res.StatusCode, b)
	}
	tr := &trace{res: res, events: make(chan api.TraceEvent, 256), done: make(chan struct{})}
	ready := make(chan api.FlowInfo, 1)
	go func() {
		defer close(tr.done)
		defer res.Body.Close()
		sse.Read(io.TeeReader(res.Body, writerFunc(func(p []byte) (int, error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return tr.raw.Write(p)
		})), func(e sse.Event) error {
			switch e.Type {
			case "ready":
				var info api.FlowInfo
				json.Unmarshal(e.Data, &info)
				ready <- info
			case "trace":
				var ev api.TraceEvent
				if err := json.Unmarshal(e.Data, &ev); err != nil {
					return err
				}
				tr.events <- ev
			}
			return nil
		})
	}()
	select {
	case tr.ready = <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("no ready event")
	}
	return tr
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// until reads steps until one that stop accepts, failing the test after 10 s.
func (tr *trace) until(t *testing.T, stop func(api.TraceEvent) bool) []api.TraceEvent {
	t.Helper()
	var got []api.TraceEvent
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-tr.events:
			got = append(got, ev)
			if stop(ev) {
				return got
			}
		case <-timeout:
			t.Fatalf("the awaited step did not come; got %s", stepList(got))
		}
	}
}

// untilSteps reads until every step in want has come, in any order.
func (tr *trace) untilSteps(t *testing.T, want ...string) []api.TraceEvent {
	t.Helper()
	seen := map[string]bool{}
	return tr.until(t, func(ev api.TraceEvent) bool {
		seen[ev.Step] = true
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	})
}

func (tr *trace) bytes() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.raw.String()
}

func stepList(evs []api.TraceEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Actor+":"+e.Step)
	}
	return strings.Join(s, " ")
}

func isStep(step string) func(api.TraceEvent) bool {
	return func(ev api.TraceEvent) bool { return ev.Step == step }
}

// traceField is ev's field name ("" without it).
func traceField(ev api.TraceEvent, name string) string {
	for _, f := range ev.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// first returns the first event of step in evs, failing without one.
func first(t *testing.T, evs []api.TraceEvent, step string) api.TraceEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.Step == step {
			return ev
		}
	}
	t.Fatalf("no %s step in %s", step, stepList(evs))
	return api.TraceEvent{}
}

// index is the position of the first event of step in evs, -1 without one.
func index(evs []api.TraceEvent, step string) int {
	return slices.IndexFunc(evs, isStep(step))
}

// authOf is the auth secret of a subscription made by newSubscription.
func authOf(sub map[string]any) string { return sub["keys"].(map[string]string)["auth"] }

func TestFlowInfo(t *testing.T) {
	for _, tt := range []struct {
		name string
		h    http.Handler
		want string
	}{
		{"real push services", newTestEnv(t).h, `{"local":false,"breaks":[]}`},
		{"local mode", newLocalEnv(t).h, `{"local":true,"breaks":["expire","throttle","error","wrong-key","offline"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest("GET", api.PathFlow, nil))
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != 200 || got != tt.want {
				t.Errorf("GET %s: %d %s, want %s", api.PathFlow, rec.Code, got, tt.want)
			}
		})
	}
}

// TestFlowTraceOwnership: a trace is only for the browser that proves it
// owns the subscription, and an endpoint without its secret reveals nothing.
func TestFlowTraceOwnership(t *testing.T) {
	e := newTestEnv(t)
	sub := newSubscription(t, e.push.URL+"/push/owned")
	e.do(t, "POST", "/api/subscriptions", sub)
	other := newSubscription(t, e.push.URL+"/push/other")
	for _, tt := range []struct {
		name   string
		body   any
		hdr    []string
		status int
		field  string
	}{
		{"another subscription's auth", api.FlowTraceRequest{Endpoint: sub["endpoint"].(string), Auth: authOf(other)}, nil, 404, "endpoint"},
		{"an unknown endpoint", api.FlowTraceRequest{Endpoint: e.push.URL + "/push/unknown", Auth: authOf(sub)}, nil, 404, "endpoint"},
		{"no auth", api.FlowTraceRequest{Endpoint: sub["endpoint"].(string)}, nil, 400, "auth"},
		{"auth not base64url", api.FlowTraceRequest{Endpoint: sub["endpoint"].(string), Auth: "not base64!"}, nil, 400, "auth"},
		{"no endpoint", api.FlowTraceRequest{Auth: authOf(sub)}, nil, 400, "endpoint"},
		{"an endpoint too long", api.FlowTraceRequest{Endpoint: e.push.URL + "/" + strings.Repeat("x", 2048), Auth: authOf(sub)}, nil, 400, "endpoint"},
		{"an unknown field", `{"endpoint":"x","auth":"y","p256dh":"z"}`, nil, 400, "p256dh"},
		{"cross-origin", api.FlowTraceRequest{Endpoint: sub["endpoint"].(string), Auth: authOf(sub)},
			[]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", api.PathFlowTrace, tt.body, tt.hdr...)
			if res.StatusCode != tt.status || out["field"] != nilIfEmpty(tt.field) {
				t.Errorf("%d %v, want %d naming %q", res.StatusCode, out, tt.status, tt.field)
			}
			if tt.status == 404 && out["error"] != "unknown subscription" {
				t.Errorf("error %q, want the same answer for both", out["error"])
			}
		})
	}
}

// TestFlowTraceOfATestSend: a followed test send streams every server step
// with its real data, and nothing of the subscription's secrets.
func TestFlowTraceOfATestSend(t *testing.T) {
	e := newTestEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	sub := newSubscription(t, e.push.URL+"/push/follow-me-0123456789")
	e.do(t, "POST", "/api/subscriptions", sub)
	endpoint := sub["endpoint"].(string)
	// With padding, as some browsers write it.
	tr := openTrace(t, srv.URL, endpoint, authOf(sub)+"==")
	if h := tr.res.Header; h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-store" || h.Get("X-Accel-Buffering") != "no" {
		t.Errorf("stream headers %v", h)
	}
	if tr.ready.Local || len(tr.ready.Breaks) != 0 {
		t.Errorf("ready %+v, want no local mode, no breaks", tr.ready)
	}

	res, out := e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note})
	if res.StatusCode != 200 {
		t.Fatalf("test send: %d %v", res.StatusCode, out)
	}
	evs := tr.until(t, isStep(api.StepOutcome))
	if got, want := stepList(evs), "server:payload server:encrypt server:vapid server:request push-service:response server:outcome"; got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.At.IsZero() || ev.Push != evs[0].Push {
			t.Errorf("step %d: seq %d at %v push %q; want seq %d, a time, one push id", i, ev.Seq, ev.At, ev.Push, i+1)
		}
	}
	enc := first(t, evs, api.StepEncrypt)
	salt, _ := base64.RawURLEncoding.DecodeString(traceField(enc, "salt"))
	keyid, _ := base64.RawURLEncoding.DecodeString(traceField(enc, "keyid"))
	if _, err := ecdh.P256().NewPublicKey(keyid); len(salt) != 16 || traceField(enc, "rs") != "4096" || err != nil {
		t.Errorf("encrypt step %+v: salt %d bytes, keyid %v", enc.Fields, len(salt), err)
	}
	v := first(t, evs, api.StepVAPID)
	if traceField(v, "aud") != e.push.URL || traceField(v, "sub") != "mailto:ops@example.com" {
		t.Errorf("vapid step %+v, want aud %s", v.Fields, e.push.URL)
	}
	if r := first(t, evs, api.StepResponse); traceField(r, "status") != "201 Created" {
		t.Errorf("response %+v", r.Fields)
	}
	raw := tr.bytes()
	for what, secret := range map[string]string{"the endpoint": endpoint, "its token": "follow-me-0123456789",
		"the auth secret": authOf(sub), "p256dh": sub["keys"].(map[string]string)["p256dh"]} {
		if strings.Contains(raw, secret) {
			t.Errorf("the stream carries %s", what)
		}
	}
}

// TestFlowTracesAreSeparate: a stream carries its own subscription's steps
// and never another's.
func TestFlowTracesAreSeparate(t *testing.T) {
	e := newTestEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	a, b := newSubscription(t, e.push.URL+"/push/a"), newSubscription(t, e.push.URL+"/push/b")
	e.do(t, "POST", "/api/subscriptions", a)
	e.do(t, "POST", "/api/subscriptions", b)
	trA := openTrace(t, srv.URL, a["endpoint"].(string), authOf(a))
	trB := openTrace(t, srv.URL, b["endpoint"].(string), authOf(b))
	for _, s := range []map[string]any{b, a} {
		if res, out := e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": s["endpoint"], "notification": note}); res.StatusCode != 200 {
			t.Fatalf("test send: %d %v", res.StatusCode, out)
		}
	}
	evsB := trB.until(t, isStep(api.StepOutcome))
	evsA := trA.until(t, isStep(api.StepOutcome))
	if evsA[0].Seq != 1 || evsA[0].Step != api.StepPayload || evsA[0].Push == evsB[0].Push {
		t.Errorf("A's stream begins with %+v; want A's own push, not B's (%s)", evsA[0], evsB[0].Push)
	}
	if n := len(evsA); n != 6 {
		t.Errorf("A's stream has %d steps for one push: %s", n, stepList(evsA))
	}
}

// TestFlowTraceOfAnotherSpelling: an endpoint spelled another way, saved
// with someone else's keys, is another subscription: its stream sees
// nothing of the pushes to the original, their payload least of all.
func TestFlowTraceOfAnotherSpelling(t *testing.T) {
	e := newTestEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	victim := newSubscription(t, e.push.URL+"/push/victim-0123456789")
	e.do(t, "POST", "/api/subscriptions", victim)
	ve := victim["endpoint"].(string)
	for _, spelling := range []string{"HTTP" + strings.TrimPrefix(ve, "http"), "Http" + strings.TrimPrefix(ve, "http")} {
		t.Run(spelling[:4], func(t *testing.T) {
			// The attacker knows the endpoint, not its auth secret.
			evil := newSubscription(t, spelling)
			if res, out := e.do(t, "POST", "/api/subscriptions", evil); res.StatusCode != http.StatusCreated {
				t.Fatalf("subscribe %s: %d %v", spelling, res.StatusCode, out)
			}
			tr := openTrace(t, srv.URL, spelling, authOf(evil))
			secret := map[string]any{"title": "zebra title", "body": "zebra body"}
			if res, out := e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": ve, "notification": secret}); res.StatusCode != 200 {
				t.Fatalf("the victim's test send: %d %v", res.StatusCode, out)
			}
			// The attacker's own push marks the end: its stream must begin
			// with it.
			if res, out := e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": spelling, "notification": note}); res.StatusCode != 200 {
				t.Fatalf("the attacker's test send: %d %v", res.StatusCode, out)
			}
			evs := tr.until(t, isStep(api.StepOutcome))
			if evs[0].Seq != 1 || evs[0].Push != evs[len(evs)-1].Push || len(evs) != 6 {
				t.Errorf("the other spelling's stream: %s; want its own push alone", stepList(evs))
			}
			if strings.Contains(tr.bytes(), "zebra") {
				t.Errorf("the other spelling's stream carries the victim's payload: %s", tr.bytes())
			}
		})
	}
}

// TestFlowStreamsPerAddress: one client address holds at most 8 trace
// streams, whatever subscriptions they follow; the 9th is refused with
// Retry-After, and another address is not.
func TestFlowStreamsPerAddress(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate, c.TrustedProxyHeader = 0, "X-Forwarded-For" })
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	open := func(sub map[string]any, addr string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		res := postJSON(t, ctx, srv.URL+api.PathFlowTrace, api.FlowTraceRequest{Endpoint: sub["endpoint"].(string), Auth: authOf(sub)},
			"X-Forwarded-For", addr)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	var subs []map[string]any
	for i := range 3 {
		sub := newSubscription(t, fmt.Sprintf("%s/push/tab-%d", e.push.URL, i))
		e.do(t, "POST", "/api/subscriptions", sub)
		subs = append(subs, sub)
	}
	for i := range maxStreamsPerAddress {
		if res := open(subs[i/maxStreamsPerSubscription], "198.51.100.7"); res.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, res.StatusCode)
		}
	}
	res := open(subs[2], "198.51.100.7")
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "address") {
		t.Errorf("stream %d from one address: %d %s (Retry-After %q), want 429 saying why, with Retry-After",
			maxStreamsPerAddress+1, res.StatusCode, b, res.Header.Get("Retry-After"))
	}
	if res := open(subs[2], "198.51.100.8"); res.StatusCode != http.StatusOK {
		t.Errorf("a stream from another address: %d", res.StatusCode)
	}
}

// TestFlowStreamLifetime: a stream ends by itself after its lifetime, with
// an "end" event, and frees its place.
func TestFlowStreamLifetime(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate = 0 })
	e.srv.streamLifetime = 300 * time.Millisecond
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	sub := newSubscription(t, e.push.URL+"/push/long")
	e.do(t, "POST", "/api/subscriptions", sub)
	tr := openTrace(t, srv.URL, sub["endpoint"].(string), authOf(sub))
	select {
	case <-tr.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived its lifetime")
	}
	if raw := tr.bytes(); !strings.HasSuffix(raw, "event: end\ndata: {}\n\n") {
		t.Errorf("the stream ended with %q, want an end event", raw[max(0, len(raw)-60):])
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.trace.streams.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.srv.trace.streams.Load(); n != 0 {
		t.Errorf("%d streams still counted after the lifetime", n)
	}
}

// TestFlowStreamLimits: at most 4 streams follow one subscription; one that
// closes makes room; a stream ends when the server shuts down.
func TestFlowStreamLimits(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate = 0 })
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	sub := newSubscription(t, e.push.URL+"/push/tabs")
	e.do(t, "POST", "/api/subscriptions", sub)
	endpoint := sub["endpoint"].(string)
	var open []*trace
	for range maxStreamsPerSubscription {
		open = append(open, openTrace(t, srv.URL, endpoint, authOf(sub)))
	}
	res := postJSON(t, context.Background(), srv.URL+api.PathFlowTrace, api.FlowTraceRequest{Endpoint: endpoint, Auth: authOf(sub)})
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "trace streams") || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a fifth stream: %d %s, want 429 saying why", res.StatusCode, b)
	}
	open[0].res.Body.Close()
	<-open[0].done
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.trace.streams.Load() >= maxStreamsPerSubscription && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	open = append(open, openTrace(t, srv.URL, endpoint, authOf(sub)))

	e.srv.EndStreams()
	for _, tr := range open[1:] {
		select {
		case <-tr.done:
		case <-time.After(5 * time.Second):
			t.Fatal("a stream outlived the server's shutdown")
		}
	}
}

func TestTraceHubBounds(t *testing.T) {
	t.Run("256 streams in all", func(t *testing.T) {
		h := NewTraceHub(nil)
		for i := range maxStreams {
			if _, stop, err := h.follow(fmt.Sprintf("https://push.example/%d", i/2), fmt.Sprint("10.0.0.", i/4)); err != nil {
				t.Fatalf("stream %d: %v", i, err)
			} else {
				defer stop()
			}
		}
		_, _, err := h.follow("https://push.example/new", "10.0.1.1")
		if ae, ok := err.(*apiError); !ok || ae.Status != http.StatusTooManyRequests || ae.RetryAfter <= 0 {
			t.Errorf("stream %d: %v, want 429 with a Retry-After", maxStreams+1, err)
		}
	})
	t.Run("8 streams per client address", func(t *testing.T) {
		h := NewTraceHub(nil)
		var stops []func()
		for i := range maxStreamsPerAddress {
			_, stop, err := h.follow(fmt.Sprintf("https://push.example/%d", i), "192.0.2.1")
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			stops = append(stops, stop)
		}
		_, _, err := h.follow("https://push.example/another", "192.0.2.1")
		if ae, ok := err.(*apiError); !ok || ae.Status != http.StatusTooManyRequests || ae.RetryAfter <= 0 || !strings.Contains(ae.Message, "address") {
			t.Errorf("stream %d from one address: %v, want 429 saying why, with a Retry-After", maxStreamsPerAddress+1, err)
		}
		if _, stop, err := h.follow("https://push.example/another", "192.0.2.2"); err != nil {
			t.Errorf("a stream from another address: %v", err)
		} else {
			stop()
		}
		stops[0]()
		if _, stop, err := h.follow("https://push.example/another", "192.0.2.1"); err != nil {
			t.Errorf("a stream once one of the address's closed: %v", err)
		} else {
			stop()
		}
		for _, stop := range stops[1:] {
			stop()
		}
		if len(h.byAddr) != 0 || len(h.subs) != 0 {
			t.Errorf("after every stream closed: %v by address, %d subscriptions followed", h.byAddr, len(h.subs))
		}
	})
	t.Run("a slow reader loses steps, the sender does not wait", func(t *testing.T) {
		h := NewTraceHub(nil)
		st, stop, _ := h.follow("https://push.example/slow", "192.0.2.1")
		defer stop()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 3 * streamBuffer {
				h.Publish("https://push.example/slow", api.TraceEvent{Step: api.StepPayload})
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Publish blocked on a stream nobody reads")
		}
		if len(st.events) != streamBuffer {
			t.Errorf("%d steps buffered, want %d", len(st.events), streamBuffer)
		}
		h.Publish("https://push.example/slow", api.TraceEvent{Step: api.StepOutcome})
		for range streamBuffer {
			<-st.events
		}
		h.Publish("https://push.example/slow", api.TraceEvent{Step: api.StepOutcome})
		if ev := <-st.events; ev.Seq != 3*streamBuffer+2 {
			t.Errorf("seq %d after the loss, want %d: the gap tells the reader", ev.Seq, 3*streamBuffer+2)
		}
	})
	t.Run("an endpoint is followed exactly as stored", func(t *testing.T) {
		h := NewTraceHub(nil)
		st, stop, _ := h.follow("https://push.example/x", "192.0.2.1")
		// Spellings a push service may read as one endpoint are each
		// another subscription, saved by whoever saved it.
		for _, other := range []string{"https://push.example:443/x", "https://PUSH.example/x", "HTTPS://push.example/x", "https://push.example/y"} {
			if h.Watching(other) {
				t.Errorf("%s is watched", other)
			}
			h.Publish(other, api.TraceEvent{Step: api.StepPayload})
		}
		if len(st.events) != 0 || !h.Watching("https://push.example/x") {
			t.Errorf("%d steps of other spellings reached the stream", len(st.events))
		}
		stop()
		stop()
		if h.Watching("https://push.example/x") || h.streams.Load() != 0 {
			t.Error("a closed stream is still followed")
		}
	})
}

// TestTestSendDeliveryOptions: a test send takes its TTL and Topic, checked
// by the push package's rules.
func TestTestSendDeliveryOptions(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(ps.Close)
	e := newTestEnv(t, func(c *Config) { c.PushAllowedHosts = []string{strings.TrimPrefix(ps.URL, "http://")} })
	sub := newSubscription(t, ps.URL+"/push/opts")
	e.do(t, "POST", "/api/subscriptions", sub)
	for _, tt := range []struct {
		name      string
		ttl       any
		topic     string
		status    int
		field     string
		wantTTL   string
		wantTopic string
	}{
		{name: "default TTL", ttl: nil, status: 200, wantTTL: "300"},
		{name: "TTL 0 and a Topic", ttl: 0, topic: "flow-topic_1", status: 200, wantTTL: "0", wantTopic: "flow-topic_1"},
		{name: "negative TTL", ttl: -1, status: 400, field: "ttl"},
		{name: "TTL beyond 28 days", ttl: 2419201, status: 400, field: "ttl"},
		{name: "TTL not a number", ttl: "60", status: 400, field: "ttl"},
		{name: "Topic outside base64url", ttl: 60, topic: "no spaces", status: 400, field: "topic"},
		{name: "Topic too long", ttl: 60, topic: strings.Repeat("a", 33), status: 400, field: "topic"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			body := map[string]any{"endpoint": sub["endpoint"], "notification": note}
			if tt.ttl != nil {
				body["ttl"] = tt.ttl
			}
			if tt.topic != "" {
				body["topic"] = tt.topic
			}
			res, out := e.do(t, "POST", api.PathTestSend, body)
			if res.StatusCode != tt.status || out["field"] != nilIfEmpty(tt.field) {
				t.Fatalf("%d %v, want %d naming %q", res.StatusCode, out, tt.status, tt.field)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.status != 200 {
				if got != nil {
					t.Error("a refused test send reached the push service")
				}
				return
			}
			if got.Get("TTL") != tt.wantTTL || got.Get("Topic") != tt.wantTopic {
				t.Errorf("sent TTL %q Topic %q, want %q %q", got.Get("TTL"), got.Get("Topic"), tt.wantTTL, tt.wantTopic)
			}
		})
	}
}

// TestSlowMotion: a slow-motion test send pauses after its payload step,
// before its attempt is encrypted and signed.
func TestSlowMotion(t *testing.T) {
	e := newTestEnv(t)
	e.srv.slowPause = 100 * time.Millisecond
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	sub := newSubscription(t, e.push.URL+"/push/slow")
	e.do(t, "POST", "/api/subscriptions", sub)
	tr := openTrace(t, srv.URL, sub["endpoint"].(string), authOf(sub))
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprint("slowMotion ", slow), func(t *testing.T) {
			res, out := e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": sub["endpoint"], "notification": note, "slowMotion": slow})
			if res.StatusCode != 200 {
				t.Fatalf("%d %v", res.StatusCode, out)
			}
			evs := tr.until(t, isStep(api.StepOutcome))
			gap := first(t, evs, api.StepEncrypt).At.Sub(first(t, evs, api.StepPayload).At)
			if index(evs, api.StepPayload) > index(evs, api.StepEncrypt) || (slow && gap < e.srv.slowPause) || (!slow && gap >= e.srv.slowPause) {
				t.Errorf("payload to encrypt: %v (slow motion %v, pause %v)", gap, slow, e.srv.slowPause)
			}
		})
	}
}

// firefox plays Firefox's side of Mozilla's push protocol against the
// local push service, acknowledging every notification.
type firefox struct {
	local    *localpush.Service
	ws       *websocket.Conn
	uaid     string
	mu       sync.Mutex
	versions []string // the notifications received
}

func dialFirefox(t *testing.T, local *localpush.Service) *firefox {
	t.Helper()
	f := &firefox{local: local}
	f.connect(t, 5*time.Second)
	return f
}

// connect opens the WebSocket and says hello, as Firefox does at start-up
// and after losing its connection, waiting up to wait for the answer.
func (f *firefox) connect(t *testing.T, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, f.local.Browser().FirefoxPrefs["dom.push.serverURL"].(string),
		&websocket.DialOptions{Subprotocols: []string{"push-notification"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	f.ws = ws
	hello := map[string]any{"messageType": "hello", "broadcasts": map[string]any{}, "use_webpush": true}
	if f.uaid != "" {
		hello["uaid"] = f.uaid
	}
	f.send(t, hello)
	_, b, err := ws.Read(ctx)
	var r map[string]any
	json.Unmarshal(b, &r)
	if err != nil || r["messageType"] != "hello" {
		t.Fatalf("hello: %v %v", r, err)
	}
	f.uaid = r["uaid"].(string)
}

func (f *firefox) send(t *testing.T, v any) {
	b, _ := json.Marshal(v)
	if err := f.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Errorf("write: %v", err)
	}
}

func (f *firefox) read(t *testing.T) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := f.ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// subscribe registers a channel for the server's key and returns the
// subscription a page would post: the endpoint, and keys of its own.
func (f *firefox) subscribe(t *testing.T, serverKey string) map[string]any {
	t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(serverKey)
	channel := fmt.Sprintf("%x-0000-4000-8000-000000000000", time.Now().UnixNano()&0xffffffff)
	f.send(t, map[string]any{"messageType": "register", "channelID": channel, "key": base64.URLEncoding.EncodeToString(raw)})
	r := f.read(t)
	if r["status"] != 200.0 {
		t.Fatalf("register: %v", r)
	}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	return map[string]any{"endpoint": r["pushEndpoint"], "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		"auth":   base64.RawURLEncoding.EncodeToString(auth),
	}}
}

// ackAll acknowledges every notification until the connection ends.
func (f *firefox) ackAll() {
	ws := f.ws
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			if m["messageType"] != "notification" {
				continue
			}
			f.mu.Lock()
			f.versions = append(f.versions, m["version"].(string))
			f.mu.Unlock()
			ack, _ := json.Marshal(map[string]any{"messageType": "ack", "updates": []any{
				map[string]any{"channelID": m["channelID"], "version": m["version"], "code": 100}}})
			ws.Write(context.Background(), websocket.MessageText, ack)
		}
	}()
}

// flowEnv is the kit in local mode as Run builds it: the local push
// service serving, the sender routed to it with its break switches and the
// trace hub, the server over real HTTP.
type flowEnv struct {
	srv   *Server
	base  string
	store *store.DB
	local *localpush.Service
	keys  vapid.Keys
	logs  *syncBuffer // the server's and the sender's log, from Debug up
}

func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	local, err := localpush.New(localpush.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	testserve.Start(t, func() error { return local.Serve(ctx) }, func() error { cancel(); return local.Close() })
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := vapid.Generate()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := DefaultConfig()
	cfg.SubscribeRate, cfg.TestSendRate, cfg.TestSendEndpointRate = 0, 0, 0
	allow := cfg.Allowlist(local)
	hub := NewTraceHub(local)
	snd, err := sender.New(sender.Options{Keys: keys, Subject: "mailto:ops@example.com", Store: st, Log: log,
		Client: sender.NewHTTPClient(local.Transport(sender.NewTransport(0))), CheckEndpoint: allow.Check,
		BaseDelay: 10 * time.Millisecond, Trace: hub, Breaks: sender.NewBreaks()})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, Deps{Store: st, Sender: snd, Keys: keys, AdminToken: testAdminToken, Local: local, Allowlist: allow, Trace: hub, Log: log})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &flowEnv{srv: srv, base: hs.URL, store: st, local: local, keys: keys, logs: logs}
}

// post posts body to path and returns the status and decoded answer.
func (e *flowEnv) post(t *testing.T, path string, body any, hdr ...string) (int, map[string]any) {
	t.Helper()
	res := postJSON(t, context.Background(), e.base+path, body, hdr...)
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// subscribed returns a Firefox subscribed through the page's API, acking
// every notification, and its subscription.
func (e *flowEnv) subscribed(t *testing.T) (*firefox, map[string]any) {
	t.Helper()
	ff := dialFirefox(t, e.local)
	sub := ff.subscribe(t, e.keys.Public)
	if status, out := e.post(t, api.PathSubscriptions, sub); status != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", status, out)
	}
	ff.ackAll()
	return ff, sub
}

// TestFlowLocalMode: in local mode the trace follows the message through
// the local push service to the browser and back.
func TestFlowLocalMode(t *testing.T) {
	e := newFlowEnv(t)
	ff, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	tr := openTrace(t, e.base, endpoint, authOf(sub))
	if !tr.ready.Local || len(tr.ready.Breaks) != 5 {
		t.Errorf("ready %+v", tr.ready)
	}
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note}); status != 200 {
		t.Fatalf("test send: %d %v", status, out)
	}
	evs := tr.untilSteps(t, api.StepOutcome, api.StepAck)
	for _, order := range [][2]string{{api.StepRequest, api.StepQueued}, {api.StepQueued, api.StepDeliver}, {api.StepDeliver, api.StepAck}, {api.StepRequest, api.StepResponse}} {
		if i, j := index(evs, order[0]), index(evs, order[1]); i < 0 || j < 0 || i > j {
			t.Errorf("%s should come before %s: %s", order[0], order[1], stepList(evs))
		}
	}
	q, d, a := first(t, evs, api.StepQueued), first(t, evs, api.StepDeliver), first(t, evs, api.StepAck)
	ff.mu.Lock()
	version := ff.versions[0]
	ff.mu.Unlock()
	if q.Actor != api.ActorPushService || q.Push != version || d.Push != version || a.Push != version {
		t.Errorf("push service steps name message %q, %q, %q; want the delivered %q", q.Push, d.Push, a.Push, version)
	}
	if d.To != api.ActorBrowser || traceField(d, "protocol") != "Mozilla WebSocket push protocol, notification message" || traceField(d, "bytes") == "" {
		t.Errorf("deliver step %+v", d)
	}
	if !strings.Contains(d.Detail, `"messageType": "notification"`) || !strings.Contains(d.Detail, version) {
		t.Errorf("deliver step's detail %q, want the notification frame", d.Detail)
	}
	if a.Actor != api.ActorBrowser || !a.OK || !strings.Contains(a.Detail, `"messageType": "ack"`) {
		t.Errorf("ack step %+v, want the browser's ack frame", a)
	}
	resp := first(t, evs, api.StepResponse)
	if loc := traceField(resp, "Location"); !strings.HasPrefix(loc, e.local.URL()+"/m/"+version[:4]+"…") {
		t.Errorf("Location %q, want the message's, shortened", loc)
	}
	if raw := tr.bytes(); strings.Contains(raw, endpoint) || strings.Contains(raw, authOf(sub)) {
		t.Error("the stream carries the endpoint or the auth secret")
	}
}

// TestFlowBreaks: each switch makes the next push fail its documented way,
// and the trace shows what the kit did about it.
func TestFlowBreaks(t *testing.T) {
	tests := []struct {
		kind        string
		wantStatus  int // of the test send
		wantSteps   []string
		wantOutcome string
		wantKept    bool
		check       func(t *testing.T, evs []api.TraceEvent)
	}{
		{kind: api.BreakThrottle, wantStatus: 200, wantOutcome: "sent", wantKept: true,
			wantSteps: []string{api.StepBreak, api.StepPayload, api.StepRefused, api.StepResponse, api.StepRetry, api.StepQueued, api.StepOutcome},
			check: func(t *testing.T, evs []api.TraceEvent) {
				if r := first(t, evs, api.StepResponse); traceField(r, "status") != "429 Too Many Requests" || traceField(r, "Retry-After") != "2" {
					t.Errorf("first answer %+v, want 429 with Retry-After 2", r.Fields)
				}
				if r := first(t, evs, api.StepRetry); traceField(r, "wait") != "2s" {
					t.Errorf("retry %+v, want a 2s wait", r.Fields)
				}
			}},
		{kind: api.BreakError, wantStatus: 200, wantOutcome: "sent", wantKept: true,
			wantSteps: []string{api.StepBreak, api.StepRefused, api.StepRetry, api.StepQueued, api.StepOutcome},
			check: func(t *testing.T, evs []api.TraceEvent) {
				n := 0
				for _, ev := range evs {
					if ev.Step == api.StepRetry {
						n++
					}
				}
				if o := first(t, evs, api.StepOutcome); n != 2 || traceField(o, "attempts") != "3" {
					t.Errorf("%d retries, %s attempts; want 2 and 3", n, traceField(o, "attempts"))
				}
			}},
		{kind: api.BreakWrongKey, wantStatus: http.StatusBadGateway, wantOutcome: "unauthorized", wantKept: true,
			wantSteps: []string{api.StepBreak, api.StepVAPID, api.StepRefused, api.StepResponse, api.StepConfigFault, api.StepOutcome},
			check: func(t *testing.T, evs []api.TraceEvent) {
				if r := first(t, evs, api.StepResponse); traceField(r, "status") != "403 Forbidden" {
					t.Errorf("answer %+v, want 403", r.Fields)
				}
			}},
		{kind: api.BreakExpire, wantStatus: http.StatusGone, wantOutcome: "gone", wantKept: false,
			wantSteps: []string{api.StepBreak, api.StepRefused, api.StepPrune, api.StepOutcome}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			e := newFlowEnv(t)
			_, sub := e.subscribed(t)
			endpoint := sub["endpoint"].(string)
			tr := openTrace(t, e.base, endpoint, authOf(sub))
			if status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: tt.kind}); status != http.StatusNoContent {
				t.Fatalf("break: %d %v", status, out)
			}
			status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note})
			if status != tt.wantStatus || out["outcome"] != tt.wantOutcome {
				t.Errorf("test send: %d %v, want %d %s", status, out, tt.wantStatus, tt.wantOutcome)
			}
			evs := tr.untilSteps(t, tt.wantSteps...)
			if b := evs[0]; b.Step != api.StepBreak || traceField(b, "kind") != tt.kind {
				t.Errorf("the stream begins with %+v, want the armed switch", b)
			}
			if tt.check != nil {
				tt.check(t, evs)
			}
			_, err := e.store.Get(context.Background(), endpoint)
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("subscription kept: %v (%v), want %v", kept, err, tt.wantKept)
			}
		})
	}
}

// TestFlowBreakOffline: with the browser away, a push with TTL 0 is
// dropped, and of two with one Topic only the newer waits, to arrive when
// the browser is back.
func TestFlowBreakOffline(t *testing.T) {
	e := newFlowEnv(t)
	ff, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	tr := openTrace(t, e.base, endpoint, authOf(sub))
	brk := api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: api.BreakOffline, Seconds: api.MinOfflineSeconds}
	if status, out := e.post(t, api.PathFlowBreak, brk); status != http.StatusNoContent {
		t.Fatalf("break: %d %v", status, out)
	}
	tr.untilSteps(t, api.StepBreak, api.StepOffline)
	for _, body := range []map[string]any{
		{"endpoint": endpoint, "notification": note, "ttl": 0},
		{"endpoint": endpoint, "notification": note, "ttl": 60, "topic": "flow"},
		{"endpoint": endpoint, "notification": note, "ttl": 60, "topic": "flow"},
	} {
		if status, out := e.post(t, api.PathTestSend, body); status != 200 {
			t.Fatalf("test send: %d %v", status, out)
		}
	}
	evs := tr.untilSteps(t, api.StepDropped, api.StepReplaced)
	var queued []api.TraceEvent
	for _, ev := range evs {
		if ev.Step == api.StepQueued {
			queued = append(queued, ev)
		}
	}
	if len(queued) != 3 || first(t, evs, api.StepDropped).Push != queued[0].Push || first(t, evs, api.StepReplaced).Push != queued[1].Push {
		t.Fatalf("the TTL 0 push should be dropped and the first of the Topic replaced: %s", stepList(evs))
	}

	// Firefox reconnects at once; the push service holds it until the
	// switch ends, then hands over the one message that waited.
	ff.connect(t, 10*time.Second)
	ff.ackAll()
	evs = tr.untilSteps(t, api.StepOnline, api.StepAck)
	if d := first(t, evs, api.StepDeliver); d.Push != queued[2].Push || index(evs, api.StepOnline) > index(evs, api.StepDeliver) {
		t.Errorf("after reconnecting: %s; want online, then the newer message %s delivered", stepList(evs), queued[2].Push)
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if len(ff.versions) != 1 || ff.versions[0] != queued[2].Push {
		t.Errorf("the browser got %v, want only the newer message %s", ff.versions, queued[2].Push)
	}
}

// TestFlowOnlineIsTheFollowedBrowsers: while a followed browser is kept
// offline, another browser's connection is not shown as it coming back,
// and no connection step carries a browser instance's id (a uaid can take
// over a Mozilla connection).
func TestFlowOnlineIsTheFollowedBrowsers(t *testing.T) {
	e := newFlowEnv(t)
	ff, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	tr := openTrace(t, e.base, endpoint, authOf(sub))
	brk := api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: api.BreakOffline, Seconds: api.MinOfflineSeconds}
	if status, out := e.post(t, api.PathFlowBreak, brk); status != http.StatusNoContent {
		t.Fatalf("break: %d %v", status, out)
	}
	tr.untilSteps(t, api.StepBreak, api.StepOffline)

	// Another visitor's Firefox connects, and is known to have.
	events, stop := e.local.Watch()
	defer stop()
	other := dialFirefox(t, e.local)
	for ev := range events {
		if ev.Type == localpush.EventConnect && strings.Contains(ev.Detail, other.uaid) {
			break
		}
	}
	// A push to the followed browser, which is still away, marks the
	// moment: nothing of the other's connection may come before it.
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note, "ttl": 60}); status != 200 {
		t.Fatalf("test send: %d %v", status, out)
	}
	evs := tr.untilSteps(t, api.StepQueued)
	if i := index(evs, api.StepOnline); i >= 0 {
		t.Errorf("another browser's connection shown as this one's: %+v", evs[i])
	}

	// The followed browser itself comes back: that is shown, without its
	// uaid.
	ff.connect(t, 10*time.Second)
	ff.ackAll()
	evs = tr.untilSteps(t, api.StepOnline, api.StepAck)
	on := first(t, evs, api.StepOnline)
	if on.Detail != "" || traceField(on, "browser") != localpush.Firefox {
		t.Errorf("online step %+v, want the browser named, no detail", on)
	}
	for what, id := range map[string]string{"the other's uaid": other.uaid, "the followed browser's uaid": ff.uaid} {
		if strings.Contains(tr.bytes(), id) {
			t.Errorf("the stream carries %s", what)
		}
	}
}

// TestFlowBreakOfAnotherSpelling: an endpoint that ends in a subscription's
// token but is not the local push service's (another host, another case)
// follows none of its push service steps and breaks nothing, whoever saved
// it with their own auth secret.
func TestFlowBreakOfAnotherSpelling(t *testing.T) {
	e := newFlowEnv(t)
	_, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	token, _ := localpush.Token(endpoint)
	victim := openTrace(t, e.base, endpoint, authOf(sub))
	for _, tt := range []struct {
		spelling string
		want     map[string]int // the break route's answer, by kind
	}{
		// Not the local push service's: no switch for it.
		{"https://updates.push.services.mozilla.com/wpush/" + token, map[string]int{
			api.BreakExpire: 400, api.BreakOffline: 400, api.BreakThrottle: 400, api.BreakError: 400, api.BreakWrongKey: 400}},
		// Rerouted to the local push service, but Chromium's path: a
		// subscription of its own, which the service does not know, and
		// the switches armed for it never meet the Firefox one.
		{"https://fcm.googleapis.com/fcm/send/" + token, map[string]int{
			api.BreakExpire: 404, api.BreakOffline: 404, api.BreakThrottle: 204, api.BreakError: 204, api.BreakWrongKey: 204}},
	} {
		spelling := tt.spelling
		t.Run(spelling[8:20], func(t *testing.T) {
			evil := newSubscription(t, spelling)
			if status, out := e.post(t, api.PathSubscriptions, evil); status != http.StatusCreated {
				t.Fatalf("subscribe %s: %d %v", spelling, status, out)
			}
			tr := openTrace(t, e.base, spelling, authOf(evil))
			if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note}); status != 200 {
				t.Fatalf("the victim's test send: %d %v", status, out)
			}
			victim.untilSteps(t, api.StepOutcome, api.StepAck)
			for _, kind := range []string{api.BreakExpire, api.BreakOffline, api.BreakThrottle, api.BreakError, api.BreakWrongKey} {
				status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: spelling, Auth: authOf(evil), Kind: kind})
				if status != tt.want[kind] || (status != http.StatusNoContent && out["field"] != "endpoint") {
					t.Errorf("%s through %s: %d %v, want %d", kind, spelling, status, out, tt.want[kind])
				}
			}
			// Nothing was armed: the victim's next push goes through, at once.
			if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note}); status != 200 {
				t.Fatalf("the victim's next test send: %d %v", status, out)
			}
			evs := victim.untilSteps(t, api.StepOutcome, api.StepAck)
			if i := index(evs, api.StepRefused); i >= 0 || evs[0].Step == api.StepBreak {
				t.Errorf("the victim's push after the refused breaks: %s", stepList(evs))
			}
			// Its own stream shows its own switches, and nothing else.
			for {
				select {
				case ev := <-tr.events:
					if ev.Step != api.StepBreak {
						t.Errorf("the other spelling's stream got %s:%s %q", ev.Actor, ev.Step, ev.Title)
					}
					continue
				case <-time.After(300 * time.Millisecond):
				}
				break
			}
		})
	}
}

// TestFlowBreakOfAForgottenSubscription: a break for a subscription the
// server keeps but the local push service no longer knows (expired, or the
// service restarted) is answered 404, and is no server error.
func TestFlowBreakOfAForgottenSubscription(t *testing.T) {
	e := newFlowEnv(t)
	_, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	if status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: api.BreakExpire}); status != http.StatusNoContent {
		t.Fatalf("expire: %d %v", status, out)
	}
	for _, kind := range []string{api.BreakExpire, api.BreakOffline} {
		status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: kind})
		if status != http.StatusNotFound || out["field"] != "endpoint" || out["error"] != "unknown subscription" {
			t.Errorf("%s of a forgotten subscription: %d %v, want 404 unknown subscription", kind, status, out)
		}
	}
	// Slow motion for it is no fault either; the push says it is gone.
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note, "slowMotion": true}); status != http.StatusGone {
		t.Errorf("slow-motion test send: %d %v, want 410", status, out)
	}
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
			t.Errorf("logged: %s", line)
		}
	}
}

// TestFlowSlowMotionRefused: a slow-motion push the push service refuses
// takes no latency with it, and leaves none for the next push.
func TestFlowSlowMotionRefused(t *testing.T) {
	e := newFlowEnv(t)
	e.srv.slowPause, e.srv.slowLatency = time.Millisecond, 3*time.Second
	_, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	tr := openTrace(t, e.base, endpoint, authOf(sub))
	if status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: api.BreakWrongKey}); status != http.StatusNoContent {
		t.Fatalf("break: %d %v", status, out)
	}
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note, "slowMotion": true}); status != http.StatusBadGateway {
		t.Fatalf("slow-motion test send with the wrong key: %d %v, want 502", status, out)
	}
	tr.untilSteps(t, api.StepOutcome)
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note}); status != 200 {
		t.Fatalf("test send: %d %v", status, out)
	}
	evs := tr.untilSteps(t, api.StepQueued, api.StepDeliver)
	q, d := first(t, evs, api.StepQueued), first(t, evs, api.StepDeliver)
	if gap := d.At.Sub(q.At); gap >= e.srv.slowLatency/2 {
		t.Errorf("the next push was held %v at the push service: the refused one's latency was left armed", gap)
	}
}

// feed collects a local push service's events as it records them.
type feed struct {
	mu     sync.Mutex
	events []localpush.Event
}

func watchFeed(t *testing.T, local *localpush.Service) *feed {
	f := &feed{}
	events, stop := local.Watch()
	t.Cleanup(stop)
	go func() {
		for e := range events {
			f.mu.Lock()
			f.events = append(f.events, e)
			f.mu.Unlock()
		}
	}()
	return f
}

// find waits up to 10 s for an event of type typ that ok accepts.
func (f *feed) find(t *testing.T, typ string, ok func(localpush.Event) bool) localpush.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, e := range f.events {
			if e.Type == typ && ok(e) {
				f.mu.Unlock()
				return e
			}
		}
		f.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s event as expected", typ)
	return localpush.Event{}
}

// TestLocalTraceEvents: the events a running local push service records
// become the trace's push service and browser steps, built from their
// structured fields; its other events are not shown.
func TestLocalTraceEvents(t *testing.T) {
	e := newFlowEnv(t)
	e.srv.slowPause, e.srv.slowLatency = time.Millisecond, 50*time.Millisecond
	f := watchFeed(t, e.local)
	ff, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	auth := authOf(sub)
	send := func(body map[string]any, want int) {
		t.Helper()
		body["endpoint"], body["notification"] = endpoint, note
		if status, out := e.post(t, api.PathTestSend, body); status != want {
			t.Fatalf("test send %v: %d %v, want %d", body, status, out, want)
		}
	}
	brk := func(kind string, seconds int) {
		t.Helper()
		if status, out := e.post(t, api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: kind, Seconds: seconds}); status != http.StatusNoContent {
			t.Fatalf("break %s: %d %v", kind, status, out)
		}
	}
	every := func(localpush.Event) bool { return true }
	pushed := func(ok func(localpush.Event) bool) localpush.Event {
		t.Helper()
		return f.find(t, localpush.EventPush, ok)
	}
	type want struct {
		step, actor, to, title string
		ok                     bool
		fields                 map[string]string
	}
	var cases []struct {
		name string
		e    localpush.Event
		want *want // nil: not shown
	}
	add := func(name string, e localpush.Event, w *want) {
		cases = append(cases, struct {
			name string
			e    localpush.Event
			want *want
		}{name, e, w})
	}

	add("register", f.find(t, localpush.EventRegister, every), nil)
	send(map[string]any{"ttl": 60}, 200)
	now := pushed(func(e localpush.Event) bool { return e.Handed && e.DelayMs == 0 })
	add("push handed over at once", now, &want{api.StepQueued, api.ActorPushService, "", "Accepted: handing it to the browser now", true,
		map[string]string{"TTL": "60", "status": "201", "message id": now.Message}})
	add("deliver", f.find(t, localpush.EventDeliver, func(e localpush.Event) bool { return e.Message == now.Message }),
		&want{api.StepDeliver, api.ActorPushService, api.ActorBrowser, "Handed to the browser over its own connection: Mozilla WebSocket push protocol, notification message", true,
			map[string]string{"protocol": "Mozilla WebSocket push protocol, notification message"}})
	add("ack", f.find(t, localpush.EventAck, func(e localpush.Event) bool { return e.Message == now.Message }),
		&want{api.StepAck, api.ActorBrowser, api.ActorPushService, "The browser acknowledged the message: the push service forgets it", true,
			map[string]string{"result": "code 100: delivered"}})

	send(map[string]any{"ttl": 60, "slowMotion": true}, 200)
	add("push in slow motion", pushed(func(e localpush.Event) bool { return e.DelayMs > 0 }),
		&want{api.StepQueued, api.ActorPushService, "", "Accepted: handing it to the browser after a pause of 50 ms (slow motion)", true, nil})

	brk(api.BreakWrongKey, 0)
	send(map[string]any{}, http.StatusBadGateway)
	add("refused", f.find(t, localpush.EventReject, every),
		&want{api.StepRefused, api.ActorPushService, api.ActorServer, "Refused with 403 Forbidden", false, map[string]string{"status": "403"}})
	brk(api.BreakThrottle, 0)
	send(map[string]any{}, 200)
	add("fault", f.find(t, localpush.EventFault, every),
		&want{api.StepRefused, api.ActorPushService, api.ActorServer, "Answered 429 Too Many Requests: a fault armed on purpose", false, map[string]string{"status": "429"}})

	brk(api.BreakOffline, api.MinOfflineSeconds)
	add("offline", f.find(t, localpush.EventOffline, func(e localpush.Event) bool { return !e.Held }),
		&want{api.StepOffline, api.ActorPushService, api.ActorBrowser, "The browser's connection was dropped: the push service cannot reach it for now", false, nil})
	add("disconnect", f.find(t, localpush.EventDisconnect, every), nil)
	send(map[string]any{"ttl": 0}, 200)
	dropped := pushed(func(e localpush.Event) bool { return !e.Handed && e.TTL == 0 })
	add("push not kept", dropped, &want{api.StepQueued, api.ActorPushService, "", "Accepted, but not kept: TTL 0 and the browser is not connected", true,
		map[string]string{"TTL": "0"}})
	drop := f.find(t, localpush.EventDrop, func(e localpush.Event) bool { return e.Message == dropped.Message })
	add("drop", drop, &want{api.StepDropped, api.ActorPushService, "", "Dropped: " + drop.Detail, false, nil})
	send(map[string]any{"ttl": 1}, 200)
	brief := pushed(func(e localpush.Event) bool { return e.TTL == 1 })
	add("push waiting", brief, &want{api.StepQueued, api.ActorPushService, "", "Accepted: waiting for the browser for 1 s (its TTL)", true, nil})
	send(map[string]any{"ttl": 60, "topic": "flow"}, 200)
	send(map[string]any{"ttl": 60, "topic": "flow"}, 200)
	add("replace", f.find(t, localpush.EventReplace, every),
		&want{api.StepReplaced, api.ActorPushService, "", "Replaced: a newer message with the same Topic takes this waiting one's place", false,
			map[string]string{"Topic": "flow"}})
	add("expire", f.find(t, localpush.EventExpire, func(e localpush.Event) bool { return e.Message == brief.Message }),
		&want{api.StepExpired, api.ActorPushService, "", "Expired: its TTL ran out before the browser came to take it", false,
			map[string]string{"TTL": "1"}})
	ff.connect(t, 10*time.Second)
	ff.ackAll()
	add("reconnection held", f.find(t, localpush.EventOffline, func(e localpush.Event) bool { return e.Held }),
		&want{api.StepOffline, api.ActorPushService, api.ActorBrowser, "The browser tried to connect again: held unanswered until the offline switch ends", false, nil})
	add("connect ending the switch", f.find(t, localpush.EventConnect, func(e localpush.Event) bool { return e.Endpoint == endpoint }),
		&want{api.StepOnline, api.ActorBrowser, api.ActorPushService, "The browser is connected to the push service again: what waited for it is handed over now", true,
			map[string]string{"browser": localpush.Firefox}})

	// A nack, from a browser that does not acknowledge.
	other := dialFirefox(t, e.local)
	osub := other.subscribe(t, e.keys.Public)
	if status, out := e.post(t, api.PathSubscriptions, osub); status != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", status, out)
	}
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": osub["endpoint"], "notification": note}); status != 200 {
		t.Fatalf("test send: %d %v", status, out)
	}
	m := other.read(t)
	other.send(t, map[string]any{"messageType": "nack", "version": m["version"], "code": 301})
	add("nack", f.find(t, localpush.EventNack, every),
		&want{api.StepAck, api.ActorBrowser, api.ActorPushService, "The browser reported that the service worker's push handler failed", false, nil})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, shown := localTraceEvent(c.e)
			if shown != (c.want != nil) {
				t.Fatalf("%+v shown %v, want %v", c.e, shown, c.want != nil)
			}
			if !shown {
				return
			}
			w := c.want
			if ev.Step != w.step || ev.Actor != w.actor || ev.To != w.to || ev.OK != w.ok || ev.Push != c.e.Message || ev.Title != w.title {
				t.Errorf("from %+v:\n got %+v\nwant %+v", c.e, ev, *w)
			}
			for name, value := range w.fields {
				if got := traceField(ev, name); got != value {
					t.Errorf("field %s = %q, want %q", name, got, value)
				}
			}
			switch c.e.Type {
			case localpush.EventDeliver, localpush.EventAck, localpush.EventNack:
				if ev.Detail != c.e.Frame || ev.Detail == "" {
					t.Errorf("detail %q, want the frame", ev.Detail)
				}
			case localpush.EventConnect:
				if ev.Detail != "" {
					t.Errorf("detail %q: a connection's detail names the browser instance", ev.Detail)
				}
			}
		})
	}
	t.Run("Chromium's deliver", func(t *testing.T) {
		ev, _ := localTraceEvent(localpush.Event{Type: localpush.EventDeliver, Browser: localpush.Chromium, Message: "m1", Frame: "{}"})
		if traceField(ev, "protocol") != "MCS DataMessageStanza (tag 8) over TLS" {
			t.Errorf("Chromium's protocol: %+v", ev.Fields)
		}
	})
}

func TestFlowBreakValidation(t *testing.T) {
	t.Run("outside local mode", func(t *testing.T) {
		e := newTestEnv(t)
		sub := newSubscription(t, e.push.URL+"/push/b")
		e.do(t, "POST", "/api/subscriptions", sub)
		res, out := e.do(t, "POST", api.PathFlowBreak, api.FlowBreakRequest{Endpoint: sub["endpoint"].(string), Auth: authOf(sub), Kind: api.BreakExpire})
		if res.StatusCode != http.StatusNotFound || !strings.Contains(fmt.Sprint(out["error"]), "PUSH_SERVICE=local") {
			t.Errorf("%d %v, want 404 naming local mode", res.StatusCode, out)
		}
	})
	e := newFlowEnv(t)
	_, sub := e.subscribed(t)
	endpoint, auth := sub["endpoint"].(string), authOf(sub)
	for _, tt := range []struct {
		name   string
		req    api.FlowBreakRequest
		hdr    []string
		status int
		field  string
	}{
		{"an unknown kind", api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: "meteor"}, nil, 400, "kind"},
		{"seconds for another kind", api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: api.BreakExpire, Seconds: 10}, nil, 400, "seconds"},
		{"offline too short", api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: api.BreakOffline, Seconds: api.MinOfflineSeconds - 1}, nil, 400, "seconds"},
		{"offline too long", api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: api.BreakOffline, Seconds: api.MaxOfflineSeconds + 1}, nil, 400, "seconds"},
		{"a wrong auth", api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(newSubscription(t, endpoint)), Kind: api.BreakExpire}, nil, 404, "endpoint"},
		{"an unknown endpoint", api.FlowBreakRequest{Endpoint: endpoint + "x", Auth: auth, Kind: api.BreakExpire}, nil, 404, "endpoint"},
		{"cross-origin", api.FlowBreakRequest{Endpoint: endpoint, Auth: auth, Kind: api.BreakExpire},
			[]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, out := e.post(t, api.PathFlowBreak, tt.req, tt.hdr...)
			if status != tt.status || out["field"] != nilIfEmpty(tt.field) {
				t.Errorf("%d %v, want %d naming %q", status, out, tt.status, tt.field)
			}
		})
	}
	if _, err := e.store.Get(context.Background(), endpoint); err != nil {
		t.Errorf("a refused break changed the subscription: %v", err)
	}
	// Nothing was armed: the next push is delivered.
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note}); status != 200 {
		t.Errorf("test send after refused breaks: %d %v", status, out)
	}
}

// TestFlowSlowMotionLocal: in local mode slow motion also holds the message
// at the push service before it is handed to the browser.
func TestFlowSlowMotionLocal(t *testing.T) {
	e := newFlowEnv(t)
	e.srv.slowPause, e.srv.slowLatency = 50*time.Millisecond, 300*time.Millisecond
	_, sub := e.subscribed(t)
	endpoint := sub["endpoint"].(string)
	tr := openTrace(t, e.base, endpoint, authOf(sub))
	if status, out := e.post(t, api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note, "slowMotion": true}); status != 200 {
		t.Fatalf("test send: %d %v", status, out)
	}
	evs := tr.untilSteps(t, api.StepAck, api.StepOutcome)
	if gap := first(t, evs, api.StepDeliver).At.Sub(first(t, evs, api.StepQueued).At); gap < e.srv.slowLatency {
		t.Errorf("queued to deliver: %v, want the push service to hold it %v", gap, e.srv.slowLatency)
	}
	if gap := first(t, evs, api.StepEncrypt).At.Sub(first(t, evs, api.StepPayload).At); gap < e.srv.slowPause {
		t.Errorf("payload to encrypt: %v, want the server's pause %v", gap, e.srv.slowPause)
	}
}
