package app

import (
	"testing"
	"time"

	"pushstart/api"
)

func TestAdminStateFollowsTheSession(t *testing.T) {
	var s adminState
	if s.Session != sessionChecking {
		t.Fatal("the console starts by checking the session")
	}
	s.signedIn(api.AdminSession{ExpiresAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)})
	if s.Session != sessionSignedIn || s.Tab != tabCompose {
		t.Fatalf("signed in: %+v, want the Compose tab", s)
	}
	s.Tab = tabDeliveries
	s.signedOut("Your session has ended: sign in again.")
	if s.Session != sessionSignedOut || s.Alert == "" || s.Notice != "" {
		t.Fatalf("signed out: %+v", s)
	}
	s.signedIn(api.AdminSession{})
	if s.Tab != tabCompose || s.Alert != "" {
		t.Fatalf("signed in again: %+v, want a fresh console", s)
	}
}

func TestAdminStateAfterSending(t *testing.T) {
	st := api.BroadcastStatus{ID: "b7", Status: api.StatusQueued, Audience: "everyone", Total: 3}
	tests := []struct {
		name string
		toMe bool
		tab  adminTab
	}{
		{"send follows it on Broadcasts", false, tabBroadcasts},
		{"send to me stays on Compose", true, tabCompose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s adminState
			s.signedIn(api.AdminSession{})
			s.sent(st, tt.toMe)
			if s.Tab != tt.tab {
				t.Errorf("tab %q, want %q", s.Tab, tt.tab)
			}
			if want := "Broadcast b7 accepted: queued, to everyone (3 subscriptions for now)."; s.Notice != want {
				t.Errorf("notice %q, want %q", s.Notice, want)
			}
		})
	}
}

func TestAcceptedTextOfAScheduledBroadcast(t *testing.T) {
	at := time.Date(2026, 12, 24, 18, 0, 0, 0, time.Local)
	st := api.BroadcastStatus{ID: "b8", Status: api.StatusScheduled, SendAt: &at, Audience: "tags: news", Total: 1}
	want := "Broadcast b8 accepted: scheduled for Thu 24 Dec 2026 18:00, to tags: news (1 subscription for now)."
	if got := acceptedText(st); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
