package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pushstart/api"
)

func TestButtonsFollowState(t *testing.T) {
	ready := pageState{Checked: true, Permission: PermissionDefault}
	subscribed := pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true}
	tests := []struct {
		name                     string
		s                        pageState
		enable, disable, sendOne bool
	}{
		{name: "still checking", s: pageState{}},
		{name: "unsupported", s: pageState{Checked: true, SupportErr: errors.New("no push")}},
		{name: "ready, not asked yet", s: ready, enable: true},
		{name: "permission denied", s: pageState{Checked: true, Permission: PermissionDenied}},
		{name: "subscribed", s: subscribed, disable: true, sendOne: true},
		{name: "subscribed, action running", s: func() pageState { s := subscribed; s.Busy = "Sending…"; return s }()},
		{name: "subscribed but permission revoked", s: func() pageState { s := subscribed; s.Permission = PermissionDefault; return s }(), disable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.canEnable(); got != tt.enable {
				t.Errorf("Enable notifications enabled = %v, want %v", got, tt.enable)
			}
			if got := tt.s.canDisable(); got != tt.disable {
				t.Errorf("Disable notifications enabled = %v, want %v", got, tt.disable)
			}
			if got := tt.s.canSendTest(); got != tt.sendOne {
				t.Errorf("Send test notification enabled = %v, want %v", got, tt.sendOne)
			}
		})
	}
}

func TestStatusTexts(t *testing.T) {
	tests := []struct {
		name string
		s    pageState
		want []string
	}{
		{
			name: "before the check",
			s:    pageState{},
			want: []string{"Push support: checking…", "Permission: checking…", "Checking subscription…"},
		},
		{
			name: "granted and subscribed",
			s:    pageState{Checked: true, Features: Features{Browser: true}, Permission: PermissionGranted, Subscribed: true, Saved: true},
			want: []string{"Push support: available", "Permission: granted", "Subscribed", "Server: stores this subscription"},
		},
		{
			name: "default, not subscribed",
			s:    pageState{Checked: true, Features: Features{Browser: true}, Permission: PermissionDefault},
			want: []string{"Push support: available", "Permission: default", "Not subscribed"},
		},
		{
			name: "iPhone tab",
			s: pageState{Checked: true, Features: Features{Browser: true, SecureContext: true, AppleMobile: true},
				SupportErr: Features{Browser: true, SecureContext: true, AppleMobile: true}.Err(), Permission: PermissionUnsupported},
			want: []string{"Push support: unavailable until added to the home screen", "Permission: unsupported", "Not subscribed"},
		},
		{
			name: "missing API",
			s: pageState{Checked: true, Features: Features{Browser: true, SecureContext: true, ServiceWorker: true, Notification: true},
				SupportErr: errors.New("x"), Permission: PermissionDefault},
			want: []string{"Push support: unavailable, missing PushManager"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{tt.s.supportText(), tt.s.permissionText(), tt.s.subscriptionText(), tt.s.serverText()}
			joined := strings.Join(got, " | ")
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					if g == w {
						found = true
					}
				}
				if !found {
					t.Errorf("status %q lacks the line %q", joined, w)
				}
			}
		})
	}
}

func TestReenableStepsPutThisBrowserFirst(t *testing.T) {
	tests := []struct {
		name, ua, first string
	}{
		{"Chromium", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "chrome"},
		{"Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", "edge"},
		{"Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0", "firefox"},
		{"Safari on a Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "safari"},
		{"Chrome on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0 Mobile/15E148 Safari/604.1", "safari"},
		{"unknown", "curl/8.0", "chrome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := reenableSteps(tt.ua)
			if len(steps) != 4 {
				t.Fatalf("got %d browsers, want 4", len(steps))
			}
			if steps[0].Family != tt.first {
				t.Fatalf("first instructions are for %q, want %q", steps[0].Family, tt.first)
			}
		})
	}
}

func TestEntriesInTimeOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 30, 41, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var s pageState
	s.addEntry(flowEntry{At: at(0), Title: "payload"})
	s.addEntry(flowEntry{At: at(20), Title: "push event received"}) // from the worker, first to arrive
	s.addEntry(flowEntry{At: at(21), Title: "push decoded"})
	s.addEntry(flowEntry{At: at(10), Title: "handed to the browser"}) // from the server's stream, late
	s.addEntry(flowEntry{At: at(10), Title: "acknowledged"})          // same time: stays after the one before
	var got []string
	for _, e := range s.Entries {
		got = append(got, e.Title)
	}
	want := []string{"payload", "handed to the browser", "acknowledged", "push event received", "push decoded"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log order %q, want %q", got, want)
	}

	// Within one millisecond: the worker's time is whole milliseconds, the
	// server's finer, so the worker's step reads earlier than the server's
	// step that caused it, which arrives late; it still goes first.
	var sameMs pageState
	sameMs.addEntry(flowEntry{At: at(0), Actor: api.ActorPushService, Step: api.StepQueued, Title: "queued"})
	sameMs.addEntry(flowEntry{At: at(30), Actor: api.ActorWorker, Step: api.StepPush, Title: "push event received"})
	sameMs.addEntry(flowEntry{At: at(30), Actor: api.ActorWorker, Step: api.StepDecoded, Title: "push decoded"})
	sameMs.addEntry(flowEntry{At: at(30).Add(648 * time.Microsecond), Actor: api.ActorPushService, Step: api.StepDeliver, Title: "handed to the browser"})
	sameMs.addEntry(flowEntry{At: at(31), Actor: api.ActorWorker, Step: api.StepShow, Title: "notification shown"})
	got = got[:0]
	for _, e := range sameMs.Entries {
		got = append(got, e.Title)
	}
	want = []string{"queued", "handed to the browser", "push event received", "push decoded", "notification shown"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log order within one millisecond %q, want %q", got, want)
	}

	// The page's own steps are logged as they happen: the one it logs for
	// the worker (its registration active) stays before the page's later
	// steps of the same millisecond.
	var own pageState
	own.addEntry(flowEntry{At: at(40).Add(100 * time.Microsecond), Actor: api.ActorWorker, To: api.ActorPage, Title: "Service worker active"})
	own.addEntry(flowEntry{At: at(40).Add(300 * time.Microsecond), Actor: api.ActorPage, To: api.ActorServer, Title: "POST /api/subscriptions answered 500"})
	own.addEntry(flowEntry{At: at(40).Add(400 * time.Microsecond), Actor: api.ActorPage, Title: "POST /api/subscriptions failed"})
	got = got[:0]
	for _, e := range own.Entries {
		got = append(got, e.Title)
	}
	want = []string{"Service worker active", "POST /api/subscriptions answered 500", "POST /api/subscriptions failed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the page's own steps within one millisecond %q, want %q", got, want)
	}

	// A step far older than the last maxReorder entries goes no further back.
	var long pageState
	for i := range maxReorder + 5 {
		long.addEntry(flowEntry{At: at(100 + i), Title: fmt.Sprint(i)})
	}
	long.addEntry(flowEntry{At: at(0), Title: "very late"})
	if i := slices.IndexFunc(long.Entries, func(e flowEntry) bool { return e.Title == "very late" }); i != len(long.Entries)-1-maxReorder {
		t.Errorf("a very late step landed at %d of %d, want %d", i, len(long.Entries), len(long.Entries)-1-maxReorder)
	}
}
