package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"pushstart/api"
)

// traceEvent writes one "trace" event of a stream and flushes it.
func traceEvent(t *testing.T, w io.Writer, ev api.TraceEvent) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "event: trace\ndata: %s\n\n", b)
	w.(http.Flusher).Flush()
}

func TestFollowTraceStreams(t *testing.T) {
	// The server sends the second step only once the client has seen the
	// first: the client must read the steps as they come.
	seen := make(chan api.TraceEvent, 10)
	var got struct {
		method, uri, accept, contentType string
		body                             api.FlowTraceRequest
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.uri, got.accept, got.contentType = r.Method, r.RequestURI, r.Header.Get("Accept"), r.Header.Get("Content-Type")
		json.NewDecoder(r.Body).Decode(&got.body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		traceEvent(t, w, api.TraceEvent{Seq: 1, Actor: api.ActorServer, Step: api.StepPayload, Title: "Payload", OK: true})
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Error("the client did not see the first step before the stream went on")
			return
		}
		io.WriteString(w, ": keep-alive\n\nevent: other\ndata: {}\n\n")
		traceEvent(t, w, api.TraceEvent{Seq: 2, Actor: api.ActorPushService, To: api.ActorBrowser, Step: api.StepDeliver, Title: "Deliver", OK: true,
			Fields: []api.TraceField{{Name: "frame", Value: "notification"}}})
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, srv.Client())
	req := api.FlowTraceRequest{Endpoint: "https://push.example/wpush/secret-token", Auth: "auth-secret"}
	opened := 0
	var steps []string
	err := c.followTrace(t.Context(), req, func() { opened++ }, func(ev api.TraceEvent) {
		steps = append(steps, fmt.Sprintf("%d %s %s", ev.Seq, ev.Actor, ev.Step))
		seen <- ev
	})
	if !errors.Is(err, errTraceEnded) {
		t.Errorf("err = %v, want errTraceEnded once the server closed the stream", err)
	}
	if want := []string{"1 server payload", "2 push-service deliver"}; !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
	if opened != 1 {
		t.Errorf("onOpen called %d times, want 1", opened)
	}
	if got.method != http.MethodPost || got.uri != api.PathFlowTrace || got.accept != "text/event-stream" || got.contentType != "application/json" {
		t.Errorf("request %+v", got)
	}
	if got.body != req {
		t.Errorf("body %+v, want the endpoint and auth secret %+v", got.body, req)
	}
	if strings.Contains(got.uri, "secret") {
		t.Errorf("the URL %q names the subscription", got.uri)
	}
}

func TestFollowTraceFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
		opened  bool
	}{
		{
			name: "the server does not know the subscription",
			handler: func(w http.ResponseWriter, r *http.Request) {
				reply(w, http.StatusNotFound, api.Error{Error: "subscription not found"})
			},
			check: func(err error) bool {
				var ae *apiError
				return errors.As(err, &ae) && ae.Status == 404 && strings.Contains(err.Error(), "subscription not found")
			},
		},
		{
			name: "a step that is not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "event: trace\ndata: {oops\n\n")
			},
			check:  func(err error) bool { return err != nil && strings.Contains(err.Error(), "reading a trace event") },
			opened: true,
		},
		{
			name:    "the stream ends at once",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			check:   func(err error) bool { return errors.Is(err, errTraceEnded) },
			opened:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := newAPIClient(srv.URL, srv.Client())
			opened := false
			err := c.followTrace(t.Context(), api.FlowTraceRequest{Endpoint: "https://push.example/x", Auth: "a"}, func() { opened = true }, func(api.TraceEvent) {})
			if !tt.check(err) {
				t.Errorf("err = %v", err)
			}
			if opened != tt.opened {
				t.Errorf("opened %v, want %v", opened, tt.opened)
			}
		})
	}
}

// traceEnv is a page that is subscribed, stored, and served by a kit in
// local mode whose trace stream is handler.
func traceEnv(t *testing.T, handler http.HandlerFunc) *flowEnv {
	t.Helper()
	b := newFakeBrowser(PermissionGranted)
	b.addSubscription(keyA)
	e := newFlowEnv(t, b, keyA)
	e.kit.flow = api.FlowInfo{Local: true, Breaks: []string{api.BreakExpire, api.BreakThrottle, api.BreakError, api.BreakWrongKey, api.BreakOffline}}
	e.kit.trace = handler
	e.flows.traceRetry = time.Millisecond
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	return e
}

// entriesOf lists the log's entries of actor as "step title".
func entriesOf(s pageState, actor string) []string {
	var out []string
	for _, e := range s.Entries {
		if e.Actor == actor {
			out = append(out, e.Step+" "+e.Title)
		}
	}
	return out
}

func TestFlowsFollowTraceShowsTheSteps(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := traceEnv(t, func(w http.ResponseWriter, r *http.Request) {
		traceEvent(t, w, api.TraceEvent{Seq: 1, At: at, Push: "p1", Actor: api.ActorServer, To: api.ActorPushService, Step: api.StepRequest,
			Title: "POST to the push service", OK: true, Fields: []api.TraceField{{Name: "TTL", Value: "300"}}, Detail: "POST /wpush/…"})
		traceEvent(t, w, api.TraceEvent{Seq: 2, At: at, Push: "p1", Actor: api.ActorPushService, Step: api.StepRefused, Title: "Refused: 403", OK: false})
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		e.flows.followTrace(ctx, e.ui.now().Sub)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(entriesOf(e.ui.now(), api.ActorPushService)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the trace went on after its context ended (the subscription changed)")
	}
	s := e.ui.now()
	if !s.FlowKnown || !s.Flow.Local {
		t.Errorf("flow info %+v known %v, want local mode known", s.Flow, s.FlowKnown)
	}
	var server, service *flowEntry
	for i := range s.Entries {
		switch s.Entries[i].Step {
		case api.StepRequest:
			server = &s.Entries[i]
		case api.StepRefused:
			service = &s.Entries[i]
		}
	}
	if server == nil || service == nil {
		t.Fatalf("log lacks the trace steps: %+v", s.Entries)
	}
	want := flowEntry{At: at.Local(), Level: flowOK, Actor: api.ActorServer, To: api.ActorPushService, Step: api.StepRequest, Push: "p1",
		Title: "POST to the push service", Fields: []api.TraceField{{Name: "TTL", Value: "300"}}, Detail: "POST /wpush/…"}
	if fmt.Sprint(*server) != fmt.Sprint(want) {
		t.Errorf("entry %+v, want %+v", *server, want)
	}
	if service.Level != flowError {
		t.Errorf("a step that went wrong shows as %q, want an error", service.Level)
	}
	if !hasEntry(s, flowOK, "Following this subscription's pushes live") {
		t.Errorf("the log does not say the trace is open: %q", entriesOf(s, api.ActorServer))
	}
	sub := e.ui.now().Sub
	var body api.FlowTraceRequest
	if err := json.Unmarshal([]byte(e.kit.body(t, "POST "+api.PathFlowTrace)), &body); err != nil || body.Endpoint != sub.Endpoint || body.Auth != sub.Keys.Auth {
		t.Errorf("trace request %+v, %v; want the subscription's endpoint and auth", body, err)
	}
}

func TestFlowsFollowTraceStops(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantOpens int    // trace requests made
		wantTitle string // the last entry
	}{
		{
			name:      "the server does not know the subscription",
			wantOpens: 1,
			wantTitle: "The server does not know this subscription: no live trace",
		},
		{
			name: "the stream keeps dropping",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK) // and closed at once
			},
			wantOpens: traceMaxDrops + 1,
			wantTitle: "Stopped following the live trace",
		},
		{
			name: "the server has too many traces open",
			handler: func(w http.ResponseWriter, r *http.Request) {
				reply(w, http.StatusTooManyRequests, api.Error{Error: "too many live traces from this address"})
			},
			wantOpens: traceMaxDrops + 1,
			wantTitle: "Stopped asking for the live trace",
		},
		{
			name: "the server keeps failing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				reply(w, http.StatusServiceUnavailable, api.Error{Error: "shutting down"})
			},
			wantOpens: traceMaxDrops + 1,
			wantTitle: "Stopped following the live trace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := traceEnv(t, tt.handler)
			done := make(chan struct{})
			go func() {
				e.flows.followTrace(t.Context(), e.ui.now().Sub)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the page never stopped trying")
			}
			opens := 0
			for _, r := range e.kit.routes() {
				if r == "POST "+api.PathFlowTrace {
					opens++
				}
			}
			if opens != tt.wantOpens {
				t.Errorf("%d trace requests, want %d", opens, tt.wantOpens)
			}
			s := e.ui.now()
			if last := s.Entries[len(s.Entries)-1]; last.Title != tt.wantTitle || last.Level != flowError {
				t.Errorf("last entry %q (%s), want %q as an error", last.Title, last.Level, tt.wantTitle)
			}
		})
	}
}

func TestTraceWanted(t *testing.T) {
	sub := api.Subscription{Endpoint: "https://push.example/1"}
	tests := []struct {
		name    string
		state   pageState
		current string
		want    string
	}{
		{name: "not subscribed", state: pageState{}, want: ""},
		{name: "subscribed, not yet stored", state: pageState{Subscribed: true, Sub: sub}, want: ""},
		{name: "stored", state: pageState{Subscribed: true, Saved: true, Sub: sub}, want: sub.Endpoint},
		{name: "pruned: keep following what comes of it", state: pageState{Subscribed: true, Pruned: true, Sub: sub}, current: sub.Endpoint, want: sub.Endpoint},
		{name: "another subscription now", state: pageState{Subscribed: true, Saved: true, Sub: sub}, current: "https://push.example/0", want: sub.Endpoint},
		{name: "disabled", state: pageState{}, current: sub.Endpoint, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.state.traceWanted(tt.current); got != tt.want {
				t.Errorf("traceWanted(%q) = %q, want %q", tt.current, got, tt.want)
			}
		})
	}
}

func TestSlowMotionRevealsOneAtATime(t *testing.T) {
	step := func(title string) flowEntry {
		return flowEntry{Title: title, Actor: api.ActorServer, Step: api.StepPayload}
	}
	titles := func(es []flowEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Title)
		}
		return out
	}
	var s pageState
	s.reveal(step("a"))
	if got := titles(s.Entries); !slices.Equal(got, []string{"a"}) || len(s.Pending) != 0 {
		t.Fatalf("without slow motion: shown %q, waiting %d; want a at once", got, len(s.Pending))
	}
	s.setSlow(true)
	s.reveal(step("b"))
	s.reveal(step("c"))
	s.addEntry(flowEntry{Title: "page"}) // the page's own step keeps its place after them
	if got := titles(s.Entries); !slices.Equal(got, []string{"a"}) {
		t.Errorf("in slow motion the steps showed at once: %q", got)
	}
	if more := s.revealNext(); !more || !slices.Equal(titles(s.Entries), []string{"a", "b"}) {
		t.Errorf("after one tick: shown %q, more %v", titles(s.Entries), more)
	}
	s.setSlow(false)
	if got := titles(s.Entries); !slices.Equal(got, []string{"a", "b", "c", "page"}) || len(s.Pending) != 0 {
		t.Errorf("turning slow motion off shows %q, %d waiting; want every step, in order", got, len(s.Pending))
	}
	if s.revealNext() {
		t.Error("revealNext reports more with nothing waiting")
	}
	s.setSlow(true)
	for i := range maxFlowEntries + 5 {
		s.reveal(step(fmt.Sprint(i)))
	}
	if len(s.Pending) != maxFlowEntries || s.Pending[0].Title != "5" {
		t.Errorf("%d waiting from %q, want the newest %d", len(s.Pending), s.Pending[0].Title, maxFlowEntries)
	}
}

func TestWorkerStep(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{name: "a push step", text: `{"at":"2026-01-02T03:04:05.000Z","actor":"worker","step":"push","title":"Push event received","fields":[{"name":"payload bytes","value":"120"}],"ok":true}`},
		{name: "not JSON", text: `{oops`, wantErr: "not a trace event"},
		{name: "another actor", text: `{"actor":"server","step":"prune","title":"Pruned"}`, wantErr: `actor "server"`},
		{name: "no step", text: `{"actor":"worker","title":"Hi"}`, wantErr: "without a step"},
		{name: "too many fields", text: `{"actor":"worker","step":"show","title":"Shown","fields":[` + strings.Repeat(`{"name":"x","value":"y"},`, maxWorkerFields) + `{"name":"x","value":"y"}]}`, wantErr: "fields"},
		{name: "too large", text: `{"actor":"worker","step":"show","title":"` + strings.Repeat("x", maxWorkerStep) + `"}`, wantErr: "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := workerStep(tt.text)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				e := traceEntry(ev)
				if e.Actor != api.ActorWorker || e.Step != api.StepPush || e.Level != flowOK || len(e.Fields) != 1 || e.At.Year() != 2026 {
					t.Errorf("entry %+v", e)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestFlowsFollowTraceSaysWhenStepsWereLost(t *testing.T) {
	at := time.Now()
	e := traceEnv(t, func(w http.ResponseWriter, r *http.Request) {
		traceEvent(t, w, api.TraceEvent{Seq: 1, At: at, Actor: api.ActorServer, Step: api.StepPayload, Title: "The payload", OK: true})
		// Steps 2 and 3 were dropped for a slow reader.
		traceEvent(t, w, api.TraceEvent{Seq: 4, At: at, Actor: api.ActorServer, Step: api.StepOutcome, Title: "Sent", OK: true})
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		e.flows.followTrace(ctx, e.ui.now().Sub)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !hasEntry(e.ui.now(), flowOK, "Sent") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	s := e.ui.now()
	if !hasEntry(s, flowError, "2 step(s) of the trace were lost") {
		t.Errorf("the log does not say that steps 2 and 3 were lost: %q", entriesOf(s, api.ActorServer))
	}
	var titles []string
	for _, en := range s.Entries {
		titles = append(titles, en.Title)
	}
	if i, j := slices.Index(titles, "2 step(s) of the trace were lost"), slices.Index(titles, "Sent"); i < 0 || j < i {
		t.Errorf("the loss is not said before the step that follows it: %q", titles)
	}
}
