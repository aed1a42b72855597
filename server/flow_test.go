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
			if _, stop, err := h.follow(fmt.Sprintf("https://push.example/%d", i/2)); err != nil {
				t.Fatalf("stream %d: %v", i, err)
			} else {
				defer stop()
			}
		}
		_, _, err := h.follow("https://push.example/new")
		if ae, ok := err.(*apiError); !ok || ae.Status != http.StatusTooManyRequests {
			t.Errorf("stream %d: %v, want 429", maxStreams+1, err)
		}
	})
	t.Run("a slow reader loses steps, the sender does not wait", func(t *testing.T) {
		h := NewTraceHub(nil)
		st, stop, _ := h.follow("https://push.example/slow")
		defer stop()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 3 * streamBuffer {
				h.Publish("https://PUSH.example:443/slow", api.TraceEvent{Step: api.StepPayload})
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
	t.Run("nobody follows: nothing is watched", func(t *testing.T) {
		h := NewTraceHub(nil)
		_, stop, _ := h.follow("https://push.example/x")
		if !h.Watching("https://push.example:443/x") || h.Watching("https://push.example/y") {
			t.Error("Watching does not match the followed endpoint canonically")
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

// TestSlowMotion: a slow-motion test send pauses after its payload,
// encryption and VAPID steps, before its request.
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
			gap := first(t, evs, api.StepRequest).At.Sub(first(t, evs, api.StepVAPID).At)
			if index(evs, api.StepVAPID) > index(evs, api.StepRequest) || (slow && gap < e.srv.slowPause) || (!slow && gap >= e.srv.slowPause) {
				t.Errorf("vapid to request: %v (slow motion %v, pause %v)", gap, slow, e.srv.slowPause)
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
	log := slog.New(slog.DiscardHandler)
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
	return &flowEnv{srv: srv, base: hs.URL, store: st, local: local, keys: keys}
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

// TestLocalTraceEvents: the local push service's events become the trace's
// push service and browser steps; its other events are not shown.
func TestLocalTraceEvents(t *testing.T) {
	for _, tt := range []struct {
		e                       localpush.Event
		step, actor, to, detail string
		ok                      bool
	}{
		{e: localpush.Event{Type: localpush.EventPush, Status: 201, Message: "m1", Detail: "queued for 60 s until the browser connects", Headers: map[string]string{"TTL": "60"}},
			step: api.StepQueued, actor: api.ActorPushService, ok: true},
		{e: localpush.Event{Type: localpush.EventReject, Status: 403, Detail: "VAPID: k is not the key"},
			step: api.StepRefused, actor: api.ActorPushService, to: api.ActorServer, detail: "VAPID: k is not the key"},
		{e: localpush.Event{Type: localpush.EventFault, Status: 429, Detail: "injected 429"},
			step: api.StepRefused, actor: api.ActorPushService, to: api.ActorServer, detail: "injected 429"},
		{e: localpush.Event{Type: localpush.EventDrop, Message: "m1", Detail: "TTL 0 and the browser is not connected: not kept"},
			step: api.StepDropped, actor: api.ActorPushService},
		{e: localpush.Event{Type: localpush.EventReplace, Message: "m1"}, step: api.StepReplaced, actor: api.ActorPushService},
		{e: localpush.Event{Type: localpush.EventExpire, Message: "m1"}, step: api.StepExpired, actor: api.ActorPushService},
		{e: localpush.Event{Type: localpush.EventDeliver, Browser: localpush.Chromium, Message: "m1", Frame: "{stanza}"},
			step: api.StepDeliver, actor: api.ActorPushService, to: api.ActorBrowser, detail: "{stanza}", ok: true},
		{e: localpush.Event{Type: localpush.EventAck, Message: "m1", Frame: "{ack}"},
			step: api.StepAck, actor: api.ActorBrowser, to: api.ActorPushService, detail: "{ack}", ok: true},
		{e: localpush.Event{Type: localpush.EventNack, Message: "m1", Frame: "{nack}"},
			step: api.StepAck, actor: api.ActorBrowser, to: api.ActorPushService, detail: "{nack}"},
		{e: localpush.Event{Type: localpush.EventOffline, Detail: "connection dropped"},
			step: api.StepOffline, actor: api.ActorPushService, to: api.ActorBrowser, detail: "connection dropped"},
		{e: localpush.Event{Type: localpush.EventRegister}},
		{e: localpush.Event{Type: localpush.EventDisconnect}},
	} {
		t.Run(tt.e.Type, func(t *testing.T) {
			ev, shown := localTraceEvent(tt.e)
			if shown != (tt.step != "") {
				t.Fatalf("shown %v, want %v", shown, tt.step != "")
			}
			if !shown {
				return
			}
			if ev.Step != tt.step || ev.Actor != tt.actor || ev.To != tt.to || ev.OK != tt.ok || ev.Push != tt.e.Message || ev.Title == "" ||
				(tt.detail != "" && ev.Detail != tt.detail) {
				t.Errorf("%+v, want step %s by %s to %q, ok %v, detail %q", ev, tt.step, tt.actor, tt.to, tt.ok, tt.detail)
			}
			if tt.e.Type == localpush.EventDeliver && traceField(ev, "protocol") != "MCS DataMessageStanza (tag 8) over TLS" {
				t.Errorf("Chromium's protocol: %+v", ev.Fields)
			}
		})
	}
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
	if gap := first(t, evs, api.StepRequest).At.Sub(first(t, evs, api.StepVAPID).At); gap < e.srv.slowPause {
		t.Errorf("vapid to request: %v, want the server's pause %v", gap, e.srv.slowPause)
	}
}
