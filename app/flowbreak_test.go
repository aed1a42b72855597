package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"pushstart/api"
	"pushstart/push"
)

// scenario finds the break scenario labelled label.
func scenario(t *testing.T, label string) breakScenario {
	t.Helper()
	for _, sc := range breakScenarios() {
		if sc.Label == label {
			return sc
		}
	}
	t.Fatalf("no scenario %q", label)
	return breakScenario{}
}

// breakIt clicks a scenario's button as the page does.
func (e *flowEnv) breakIt(ctx context.Context, sc breakScenario, slow bool) error {
	sub := e.ui.now().Sub
	return e.click(ctx, func(ctx context.Context) error { return e.flows.breakIt(ctx, sc, sub, slow) })
}

func TestBreakScenarios(t *testing.T) {
	type sent struct {
		Title, Tag, Topic string
		TTL               any // float64 seconds, or nil for the server's default
		Slow              bool
	}
	tests := []struct {
		label       string
		slow        bool
		wantKind    string
		wantSeconds int
		wantSent    []sent
		wantStored  bool // the server still stores the subscription
		wantPruned  bool
		wantLast    string // the last log entry before "What to watch for"
	}{
		{
			label: "Expire the subscription (410)", wantKind: api.BreakExpire,
			wantSent:   []sent{{Title: "Expired subscription", Tag: testTag}},
			wantPruned: true,
			wantLast:   "As expected: The push service answered 410 Gone: the server pruned (deleted) the subscription",
		},
		{
			label: "Throttle (429)", wantKind: api.BreakThrottle, slow: true,
			wantSent:   []sent{{Title: "Throttled, then sent", Tag: testTag, Slow: true}},
			wantStored: true,
			wantLast:   "As expected: Sent after a wait: the server honoured Retry-After and retried",
		},
		{
			label: "Push service error (500)", wantKind: api.BreakError,
			wantSent:   []sent{{Title: "Sent after retries", Tag: testTag}},
			wantStored: true,
			wantLast:   "As expected: Sent after retries: the server backed off after each 500",
		},
		{
			label: "Wrong VAPID key (403)", wantKind: api.BreakWrongKey,
			wantSent:   []sent{{Title: "Signed with the wrong key", Tag: testTag}},
			wantStored: true,
			wantLast:   "As expected: Refused with 403: a configuration fault of the server; the subscription is still stored",
		},
		{
			label: "Offline: TTL 0 vs TTL", wantKind: api.BreakOffline, wantSeconds: api.DefaultOfflineSeconds,
			wantSent: []sent{
				{Title: "TTL 0: dropped while offline", Tag: "flow-ttl-0", TTL: 0.0},
				{Title: "TTL 60: waits for the browser", Tag: "flow-ttl-60", TTL: 60.0},
			},
			wantStored: true,
			wantLast:   "As expected: TTL 60 push accepted (201): it waits at the push service",
		},
		{
			label: "Offline: Topic replacement", wantKind: api.BreakOffline, wantSeconds: api.DefaultOfflineSeconds,
			wantSent: []sent{
				{Title: "Topic flow-demo: first (replaced)", Tag: "flow-topic-1", Topic: "flow-demo", TTL: 60.0},
				{Title: "Topic flow-demo: second (delivered)", Tag: "flow-topic-2", Topic: "flow-demo", TTL: 60.0},
			},
			wantStored: true,
			wantLast:   "As expected: Second push with Topic flow-demo accepted (201): it replaces the first",
		},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			e := traceEnv(t, nil)
			sub := e.ui.now().Sub
			if err := e.breakIt(t.Context(), scenario(t, tt.label), tt.slow); err != nil {
				t.Fatalf("break: %v", err)
			}

			var req api.FlowBreakRequest
			if err := json.Unmarshal([]byte(e.kit.body(t, "POST "+api.PathFlowBreak)), &req); err != nil {
				t.Fatal(err)
			}
			want := api.FlowBreakRequest{Endpoint: sub.Endpoint, Auth: sub.Keys.Auth, Kind: tt.wantKind, Seconds: tt.wantSeconds}
			if req != want {
				t.Errorf("break request %+v, want %+v", req, want)
			}
			routes := e.kit.routes()
			i := slices.Index(routes, "POST "+api.PathFlowBreak)
			tests := slices.Repeat([]string{"POST " + api.PathTestSend}, len(tt.wantSent))
			if i < 0 || !slices.Equal(routes[i+1:], tests) {
				t.Errorf("requests %q, want the switch then %d test send(s)", routes, len(tt.wantSent))
			}

			var got []sent
			for _, b := range e.kit.bodies("POST " + api.PathTestSend) {
				var ts struct {
					Notification push.Notification `json:"notification"`
					TTL          any               `json:"ttl"`
					Topic        string            `json:"topic"`
					SlowMotion   bool              `json:"slowMotion"`
				}
				if err := json.Unmarshal([]byte(b), &ts); err != nil {
					t.Fatal(err)
				}
				got = append(got, sent{Title: ts.Notification.Title, Tag: ts.Notification.Tag, Topic: ts.Topic, TTL: ts.TTL, Slow: ts.SlowMotion})
			}
			if !slices.Equal(got, tt.wantSent) {
				t.Errorf("test sends %+v, want %+v", got, tt.wantSent)
			}

			s := e.ui.now()
			if s.Alert != "" || s.Busy != "" {
				t.Errorf("alert %q, busy %q: an expected outcome is not an error", s.Alert, s.Busy)
			}
			if _, stored := e.kit.stored()[sub.Endpoint]; stored != tt.wantStored {
				t.Errorf("server stores the subscription: %v, want %v", stored, tt.wantStored)
			}
			if s.Saved != tt.wantStored || s.Pruned != tt.wantPruned || !s.Subscribed {
				t.Errorf("page shows saved %v, pruned %v, subscribed %v; want saved %v, pruned %v", s.Saved, s.Pruned, s.Subscribed, tt.wantStored, tt.wantPruned)
			}
			if s.canSubscribeAgain() != tt.wantPruned {
				t.Errorf("Subscribe again offered: %v, want %v", s.canSubscribeAgain(), tt.wantPruned)
			}
			n := len(s.Entries)
			if n < 2 || s.Entries[n-1].Title != "What to watch for" || s.Entries[n-2].Title != tt.wantLast {
				t.Errorf("log ends %q, want %q then What to watch for", titlesOf(s.Entries[max(0, n-2):]), tt.wantLast)
			}
			for _, e := range s.Entries {
				if strings.Contains(e.Detail, sub.Keys.Auth) && strings.HasPrefix(e.Title, "POST "+api.PathFlowBreak) {
					t.Errorf("the switch's log entry shows the auth secret: %q", e.Detail)
				}
			}
		})
	}
}

// titlesOf lists the entries' titles.
func titlesOf(es []flowEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Title)
	}
	return out
}

func TestBreakWithAnUnexpectedOutcomeFails(t *testing.T) {
	// The server took the switch but the push went through: the scenario
	// did not show what it promised, and the page says so.
	e := traceEnv(t, nil)
	e.kit.onRequest(func(route string) {
		if route == "POST "+api.PathTestSend {
			clear(e.kit.armed) // under the kit's lock
		}
	})
	err := e.breakIt(t.Context(), scenario(t, "Wrong VAPID key (403)"), false)
	if err == nil || !strings.Contains(err.Error(), `outcome "sent", where this switch should give "unauthorized"`) {
		t.Fatalf("err = %v", err)
	}
	if s := e.ui.now(); s.Alert == "" {
		t.Error("the page shows no error")
	}
}

func TestBreakRefusedByTheServer(t *testing.T) {
	e := traceEnv(t, nil)
	e.kit.flow.Local = false // the server is not in local mode after all
	err := e.breakIt(t.Context(), scenario(t, "Throttle (429)"), false)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want the server's 404", err)
	}
	if slices.Contains(e.kit.routes(), "POST "+api.PathTestSend) {
		t.Error("a test push went out although no switch was armed")
	}
}

func TestSubscribeAgainAfterThePrune(t *testing.T) {
	e := traceEnv(t, nil)
	e.ui.update(func(s *pageState) { s.Flow, s.FlowKnown = e.kit.flow, true }) // as the trace learns it
	old := e.ui.now().Sub
	if err := e.breakIt(t.Context(), scenario(t, "Expire the subscription (410)"), false); err != nil {
		t.Fatalf("break: %v", err)
	}
	if s := e.ui.now(); s.traceWanted(old.Endpoint) != old.Endpoint {
		t.Error("the page stopped following the pruned subscription before the user subscribed again")
	}
	if err := e.click(t.Context(), e.flows.subscribeAgain); err != nil {
		t.Fatalf("subscribe again: %v", err)
	}
	wantCalls(t, e.browser, "unsubscribe "+old.Endpoint, "subscribe "+keyA)
	sub, _ := e.browser.current().JSON()
	if sub.Endpoint == old.Endpoint {
		t.Fatal("the browser kept the dead subscription")
	}
	wantStored(t, e.kit, sub)
	s := e.ui.now()
	wantStoredShown(t, s, sub)
	if s.Pruned || s.canSubscribeAgain() {
		t.Error("Subscribe again is still offered")
	}
	if s.traceWanted(old.Endpoint) != sub.Endpoint {
		t.Errorf("the page follows %q, want the new subscription", s.traceWanted(old.Endpoint))
	}
	if !s.showBreaks() {
		t.Error("the Break it card is gone after subscribing again")
	}
}

func TestBreakCardOffersTheServersSwitches(t *testing.T) {
	tests := []struct {
		name  string
		state pageState
		want  []string
	}{
		{
			name:  "every switch",
			state: pageState{FlowKnown: true, Flow: api.FlowInfo{Local: true, Breaks: []string{api.BreakExpire, api.BreakThrottle, api.BreakError, api.BreakWrongKey, api.BreakOffline}}, Subscribed: true, Saved: true},
			want:  []string{"Expire the subscription (410)", "Throttle (429)", "Push service error (500)", "Wrong VAPID key (403)", "Offline: TTL 0 vs TTL", "Offline: Topic replacement"},
		},
		{
			name:  "only some",
			state: pageState{FlowKnown: true, Flow: api.FlowInfo{Local: true, Breaks: []string{api.BreakOffline, "melt"}}, Subscribed: true, Saved: true},
			want:  []string{"Offline: TTL 0 vs TTL", "Offline: Topic replacement"},
		},
		{name: "not local", state: pageState{FlowKnown: true, Flow: api.FlowInfo{Breaks: []string{api.BreakExpire}}, Subscribed: true, Saved: true}},
		{name: "not stored", state: pageState{FlowKnown: true, Flow: api.FlowInfo{Local: true, Breaks: []string{api.BreakExpire}}, Subscribed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if tt.state.showBreaks() {
				for _, sc := range offeredBreaks(tt.state.Flow.Breaks) {
					got = append(got, sc.Label)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("buttons %q, want %q", got, tt.want)
			}
		})
	}
}
