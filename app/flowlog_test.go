package app

import (
	"regexp"
	"strings"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

func TestFlowPanelShowsEachStep(t *testing.T) {
	s := pageState{Checked: true, Entries: []flowEntry{
		{At: time.Now(), Level: flowOK, Actor: api.ActorPage, To: api.ActorServer, Title: "POST /api/subscriptions/test → 200 OK"},
		traceEntry(api.TraceEvent{At: time.Now(), Push: "p1", Actor: api.ActorServer, Step: api.StepEncrypt, Title: "Encrypted (RFC 8291)", OK: true,
			Fields: []api.TraceField{{Name: "salt", Value: "DGv6ra1nlYgDCS1FRnbzlw"}, {Name: "rs", Value: "4096"}}, Detail: "record header"}),
	}}
	html := goapp.HTMLString(newFlowLog(s, nil))
	for _, want := range []string{
		`>Flow<`, `role="log"`, `data-actor="page"`, `data-actor="server"`, `data-step="encrypt"`, `data-push="p1"`,
		`<dt>salt</dt>`, `<code>DGv6ra1nlYgDCS1FRnbzlw</code>`, `<dt>rs</dt>`, `>Kit server<`, `>record header<`,
		`aria-label="Sequence diagram of the push flow"`, `id="slow-motion"`, "Slow motion",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the Flow panel lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(html, "cannot be seen from here") {
		t.Error("the panel says the push service is hidden before the server said so")
	}
	s.FlowKnown = true
	if html := goapp.HTMLString(newFlowLog(s, nil)); strings.Count(html, "cannot be seen from here") != 1 {
		t.Errorf("outside local mode the panel must say once that the push service's part cannot be seen:\n%s", html)
	}
	s.Flow.Local = true
	if html := goapp.HTMLString(newFlowLog(s, nil)); strings.Contains(html, "cannot be seen from here") {
		t.Error("in local mode the panel says the push service is hidden")
	}
}

func TestPageStepsNameTheirActors(t *testing.T) {
	e := newFlowEnv(t, newFakeBrowser(PermissionDefault), keyA)
	if err := e.load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.enable(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, en := range e.ui.now().Entries {
		if _, ok := laneX(en.Actor); !ok {
			t.Errorf("step %q has no actor the diagram draws (%q)", en.Title, en.Actor)
		}
		if strings.HasPrefix(en.Title, "POST ") || strings.HasPrefix(en.Title, "GET ") {
			if en.Actor != api.ActorPage || en.To != api.ActorServer {
				t.Errorf("request %q goes %s → %s, want page → server", en.Title, en.Actor, en.To)
			}
		}
		if en.Title == "Asking for permission" && en.To != api.ActorBrowser {
			t.Errorf("the permission prompt goes to %q, want the browser", en.To)
		}
	}
}

func TestBreakCardAndSubscribeAgain(t *testing.T) {
	local := api.FlowInfo{Local: true, Breaks: []string{api.BreakExpire, api.BreakThrottle, api.BreakError, api.BreakWrongKey, api.BreakOffline}}
	stored := pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true, FlowKnown: true, Flow: local}
	busy := stored
	busy.Busy = "Sending a test notification…"
	pruned := stored
	pruned.Saved, pruned.Pruned = false, true
	button := func(html, name string) (found, disabled bool) {
		m := regexp.MustCompile(`<button[^>]*>` + regexp.QuoteMeta(name) + `</button>`).FindString(html)
		return m != "", strings.Contains(m, " disabled") && !strings.Contains(m, `disabled="false"`)
	}
	tests := []struct {
		name          string
		s             pageState
		wantCard      bool
		wantDisabled  bool
		wantSubscribe bool
	}{
		{name: "local, stored", s: stored, wantCard: true},
		{name: "an action runs", s: busy, wantCard: true, wantDisabled: true},
		{name: "pruned", s: pruned, wantSubscribe: true},
		{name: "not local", s: pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true, FlowKnown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := goapp.HTMLString(&home{state: tt.s})
			if got := strings.Contains(html, `>Break it<`); got != tt.wantCard {
				t.Errorf("Break it card shown %v, want %v", got, tt.wantCard)
			}
			for _, sc := range breakScenarios() {
				found, disabled := button(html, sc.Label)
				if found != tt.wantCard || found && disabled != tt.wantDisabled {
					t.Errorf("button %q found %v disabled %v; want %v, %v", sc.Label, found, disabled, tt.wantCard, tt.wantDisabled)
				}
			}
			if found, disabled := button(html, "Subscribe again"); found != tt.wantSubscribe || disabled {
				t.Errorf("Subscribe again found %v disabled %v, want offered %v", found, disabled, tt.wantSubscribe)
			}
		})
	}
}
