package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"pushstart/api"
)

func mustRecordEvent(t testing.TB, s *DB, e Event) bool {
	t.Helper()
	recorded, err := s.RecordEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("RecordEvent(%+v): %v", e, err)
	}
	return recorded
}

// TestRecordEvent: a report counts once per (broadcast, type,
// subscription); a repeat changes nothing; a broadcast that does not exist
// gets none.
func TestRecordEvent(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 2, nil)
		createBroadcast(t, s, "b1", Audience{})

		click := Event{BroadcastID: "b1", SubscriptionID: subs[0].ID, Type: api.EventClicked, Action: "buy", Browser: "Firefox"}
		steps := []struct {
			name string
			e    Event
			want bool
		}{
			{name: "first click", e: click, want: true},
			{name: "the same click again", e: click, want: false},
			{name: "a second click, another action", e: Event{BroadcastID: "b1", SubscriptionID: subs[0].ID, Type: api.EventClicked, Action: "", Browser: "Chrome"}, want: false},
			{name: "shown, same subscription", e: Event{BroadcastID: "b1", SubscriptionID: subs[0].ID, Type: api.EventShown, Browser: "Firefox"}, want: true},
			{name: "click, another subscription", e: Event{BroadcastID: "b1", SubscriptionID: subs[1].ID, Type: api.EventClicked, Browser: "Chrome"}, want: true},
			// Recorded, but not counted as a close: it was clicked.
			{name: "closed as it was clicked", e: Event{BroadcastID: "b1", SubscriptionID: subs[1].ID, Type: api.EventClosed, Browser: "Chrome"}, want: true},
		}
		for _, st := range steps {
			if got := mustRecordEvent(t, s, st.e); got != st.want {
				t.Errorf("%s: recorded %v, want %v", st.name, got, st.want)
			}
		}
		f, err := s.Funnel(ctx, "b1")
		if err != nil {
			t.Fatal(err)
		}
		want := []ActionCount{{Action: "", Count: 1}, {Action: "buy", Count: 1}}
		if f.Shown != 1 || f.Clicked != 2 || f.Closed != 0 || !reflect.DeepEqual(f.Actions, want) {
			t.Errorf("funnel %+v; want shown 1, clicked 2, closed 0 (closes of clicked ones not counted), actions %v (the first click's action kept)", f, want)
		}

		if _, err := s.RecordEvent(ctx, Event{BroadcastID: "nope", SubscriptionID: subs[0].ID, Type: api.EventShown}); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("event of no broadcast: %v, want ErrBroadcastNotFound", err)
		}
		if f, err := s.Funnel(ctx, "nope"); err != nil || f.Shown != 0 {
			t.Errorf("Funnel of no broadcast: %+v, %v; want zero counts", f, err)
		}
	})
}

// TestFunnel: the counts by type, by browser and by action of one
// broadcast, none of another's.
func TestFunnel(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 5, nil)
		createBroadcast(t, s, "b1", Audience{})
		createBroadcast(t, s, "b2", Audience{})
		browsers := []string{"Chrome", "Firefox", "Chrome", "Safari", "Chrome"}
		for i, sub := range subs {
			mustRecordEvent(t, s, Event{BroadcastID: "b1", SubscriptionID: sub.ID, Type: api.EventShown, Browser: browsers[i]})
			// Every subscription reported on the other broadcast.
			mustRecordEvent(t, s, Event{BroadcastID: "b2", SubscriptionID: sub.ID, Type: api.EventClicked, Action: "other", Browser: browsers[i]})
		}
		for i, action := range []string{"buy", "", "buy"} {
			mustRecordEvent(t, s, Event{BroadcastID: "b1", SubscriptionID: subs[i].ID, Type: api.EventClicked, Action: action, Browser: browsers[i]})
		}
		mustRecordEvent(t, s, Event{BroadcastID: "b1", SubscriptionID: subs[3].ID, Type: api.EventClosed, Browser: browsers[3]})

		got, err := s.Funnel(ctx, "b1")
		if err != nil {
			t.Fatal(err)
		}
		want := FunnelCounts{
			Shown: 5, Clicked: 3, Closed: 1,
			ByBrowser: []BrowserCounts{
				{Browser: "Chrome", Shown: 3, Clicked: 2},
				{Browser: "Firefox", Shown: 1, Clicked: 1},
				{Browser: "Safari", Shown: 1, Closed: 1},
			},
			Actions: []ActionCount{{Action: "buy", Count: 2}, {Action: "", Count: 1}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Funnel(b1) =\n%+v\nwant\n%+v", got, want)
		}
		empty := createBroadcast(t, s, "b3", Audience{})
		if got, err := s.Funnel(ctx, empty.ID); err != nil || !reflect.DeepEqual(got, FunnelCounts{}) {
			t.Errorf("Funnel of a broadcast without events: %+v, %v; want zero counts", got, err)
		}
	})
}

// TestEventsPruned: a broadcast's events go with its outcomes, 30 days
// after it finished; those of one still running stay; a report that comes
// after its broadcast's outcomes were pruned goes at the next prune.
func TestEventsPruned(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, clk := newTestClock(t, b)
		s.pruneBatch = 2 // batches, then the rest
		subs := addSubs(t, s, 5, nil)

		old := createBroadcast(t, s, "old", Audience{})
		chunks := plan(t, s, old.ID, 10)
		recordAll(t, s, old.ID, subs, "sent")
		finish(t, s, chunks...)
		running := createBroadcast(t, s, "running", Audience{})
		plan(t, s, running.ID, 10)
		for _, sub := range subs {
			for _, typ := range []string{api.EventShown, api.EventClosed} {
				mustRecordEvent(t, s, Event{BroadcastID: "old", SubscriptionID: sub.ID, Type: typ})
			}
			mustRecordEvent(t, s, Event{BroadcastID: "running", SubscriptionID: sub.ID, Type: api.EventShown})
		}
		events := func(id string) int {
			t.Helper()
			f, err := s.Funnel(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return f.Shown + f.Clicked + f.Closed
		}
		clk.advance(29 * 24 * time.Hour)
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		if o, r := events("old"), events("running"); o != 10 || r != 5 {
			t.Fatalf("after 29 days: old %d events, running %d; want 10 and 5", o, r)
		}
		clk.advance(2 * 24 * time.Hour)
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		if o, r := events("old"), events("running"); o != 0 || r != 5 {
			t.Errorf("after 31 days: old %d events, running %d; want 0 and 5", o, r)
		}

		mustRecordEvent(t, s, Event{BroadcastID: "old", SubscriptionID: subs[0].ID, Type: api.EventShown})
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		if o := events("old"); o != 0 {
			t.Errorf("a late report outlived the next prune: %d events", o)
		}
	})
}
