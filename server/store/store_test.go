package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"pushstart/internal/pgtest"
	"pushstart/push"
)

// The tests in this file and in broadcasts_test.go are the Store contract:
// each runs on every backend, as a subtest named after it.

// backend is a database the store runs on.
type backend struct {
	name string
	// fresh returns where a new, empty database is, for open.
	fresh func(t testing.TB) string
	open  func(t testing.TB, where string) *DB
}

// backends runs test once per backend: SQLite in a temporary directory, and
// PostgreSQL in a database of its own (see package pgtest: skipped when no
// server is configured, except in CI).
func backends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

func allBackends() []backend {
	return []backend{
		{
			name:  "sqlite",
			fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "kit.db") },
			open: func(t testing.TB, path string) *DB {
				t.Helper()
				s, err := OpenSQLite(path)
				if err != nil {
					t.Fatalf("OpenSQLite: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			},
		},
		{
			name:  "postgres",
			fresh: func(t testing.TB) string { return pgtest.URL(t) },
			open: func(t testing.TB, url string) *DB {
				t.Helper()
				s, err := OpenPostgres(context.Background(), url)
				if err != nil {
					t.Fatalf("OpenPostgres: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			},
		},
	}
}

// clock is a fake time source that moves on by one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// advance moves the clock on by d.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTest opens a fresh database of backend b whose clock is fake, in a
// non-UTC zone, and moves on by a second at each reading.
func newTest(t testing.TB, b backend) *DB {
	t.Helper()
	s, _ := newTestClock(t, b)
	return s
}

func newTestClock(t testing.TB, b backend) (*DB, *clock) {
	t.Helper()
	s := b.open(t, b.fresh(t))
	c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}
	s.now = c.now
	return s, c
}

func ptr(v int64) *int64 { return &v }

func sub(endpoint string) Subscription {
	return Subscription{Endpoint: endpoint, P256dh: "p-" + endpoint, Auth: "a-" + endpoint, UserAgent: "ua"}
}

func mustUpsert(t testing.TB, s *DB, subs ...Subscription) {
	t.Helper()
	for _, sub := range subs {
		if _, err := s.Upsert(context.Background(), sub); err != nil {
			t.Fatalf("Upsert(%q): %v", sub.Endpoint, err)
		}
	}
}

func mustGet(t testing.TB, s *DB, endpoint string) Subscription {
	t.Helper()
	got, err := s.Get(context.Background(), endpoint)
	if err != nil {
		t.Fatalf("Get(%q): %v", endpoint, err)
	}
	return got
}

func TestUpsert(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)

		created, err := s.Upsert(ctx, Subscription{Endpoint: "e1", P256dh: "k1", Auth: "a1", UserAgent: "Firefox"})
		if err != nil || !created {
			t.Fatalf("first Upsert = %v, %v; want created", created, err)
		}
		first := mustGet(t, s, "e1")
		if first.ID <= 0 {
			t.Errorf("ID = %d, want positive", first.ID)
		}
		if first.CreatedAt.Location() != time.UTC || !first.CreatedAt.Equal(first.UpdatedAt) {
			t.Errorf("new row: CreatedAt %v, UpdatedAt %v; want equal, in UTC", first.CreatedAt, first.UpdatedAt)
		}

		created, err = s.Upsert(ctx, Subscription{ID: 999, Endpoint: "e1", P256dh: "k2", Auth: "a2", ExpirationTime: ptr(42), UserAgent: "Chromium"})
		if err != nil || created {
			t.Fatalf("second Upsert = %v, %v; want not created", created, err)
		}
		got := mustGet(t, s, "e1")
		if got.P256dh != "k2" || got.Auth != "a2" || got.UserAgent != "Chromium" || got.ExpirationTime == nil || *got.ExpirationTime != 42 {
			t.Errorf("after update: %+v", got)
		}
		if got.ID != first.ID {
			t.Errorf("ID changed from %d to %d", first.ID, got.ID)
		}
		if !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("CreatedAt changed from %v to %v", first.CreatedAt, got.CreatedAt)
		}
		if !got.UpdatedAt.After(first.UpdatedAt) {
			t.Errorf("UpdatedAt %v not after %v", got.UpdatedAt, first.UpdatedAt)
		}
		if n, _ := s.Count(ctx); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}

		if _, err := s.Upsert(ctx, Subscription{P256dh: "k", Auth: "a"}); err == nil {
			t.Error("Upsert with empty endpoint succeeded")
		}
	})
}

func TestUserAndTags(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		s := newTest(t, b)
		with := func(user string, tags []string) Subscription {
			x := sub("e")
			x.UserID, x.Tags = user, tags
			return x
		}
		steps := []struct {
			name     string
			upsert   Subscription
			wantUser string
			wantTags []string
		}{
			{"new with both", with("alice", []string{"news", "alerts", "news"}), "alice", []string{"alerts", "news"}},
			{"empty user and nil tags keep", with("", nil), "alice", []string{"alerts", "news"}},
			{"new user and tags replace", with("bob", []string{"sport"}), "bob", []string{"sport"}},
			{"empty tags clear", with("", []string{}), "bob", nil},
			{"tags again", with("", []string{"z", "a"}), "bob", []string{"a", "z"}},
		}
		for _, st := range steps {
			mustUpsert(t, s, st.upsert)
			got := mustGet(t, s, "e")
			if got.UserID != st.wantUser || !slices.Equal(got.Tags, st.wantTags) {
				t.Errorf("%s: user %q, tags %q; want %q, %q", st.name, got.UserID, got.Tags, st.wantUser, st.wantTags)
			}
		}
		list, err := s.List(context.Background())
		if err != nil || len(list) != 1 || list[0].UserID != "bob" || !slices.Equal(list[0].Tags, []string{"a", "z"}) {
			t.Errorf("List = %+v, %v", list, err)
		}
	})
}

func TestReplace(t *testing.T) {
	tests := []struct {
		name        string
		existing    []string
		old, new    string
		wantCreated bool
		wantLeft    []string
	}{
		{name: "old present", existing: []string{"old", "other"}, old: "old", new: "new", wantCreated: true, wantLeft: []string{"new", "other"}},
		{name: "old absent", existing: []string{"other"}, old: "old", new: "new", wantCreated: true, wantLeft: []string{"new", "other"}},
		{name: "no old", existing: []string{"other"}, old: "", new: "new", wantCreated: true, wantLeft: []string{"new", "other"}},
		{name: "new already known", existing: []string{"old", "new"}, old: "old", new: "new", wantCreated: false, wantLeft: []string{"new"}},
		{name: "old equals new", existing: []string{"same"}, old: "same", new: "same", wantCreated: false, wantLeft: []string{"same"}},
	}
	backends(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := newTest(t, b)
				for _, e := range tt.existing {
					mustUpsert(t, s, sub(e))
				}
				created, err := s.Replace(ctx, tt.old, Subscription{Endpoint: tt.new, P256dh: "fresh", Auth: "fresh"})
				if err != nil {
					t.Fatal(err)
				}
				if created != tt.wantCreated {
					t.Errorf("created = %v, want %v", created, tt.wantCreated)
				}
				list, err := s.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var left []string
				for _, l := range list {
					left = append(left, l.Endpoint)
				}
				slices.Sort(left)
				if !slices.Equal(left, tt.wantLeft) {
					t.Errorf("left %v, want %v", left, tt.wantLeft)
				}
				if got := mustGet(t, s, tt.new); got.P256dh != "fresh" {
					t.Errorf("Get(new) = %+v; want the replacement keys", got)
				}
			})
		}
	})
}

// TestReplaceCarriesOver: a renewed subscription keeps its user and topics
// unless the renewal names its own.
func TestReplaceCarriesOver(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		tags     []string
		wantUser string
		wantTags []string
	}{
		{"none given", "", nil, "alice", []string{"a", "b"}},
		{"own user", "bob", nil, "bob", []string{"a", "b"}},
		{"own tags", "", []string{"c"}, "alice", []string{"c"}},
		{"no tags", "", []string{}, "alice", nil},
	}
	backends(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newTest(t, b)
				old := sub("old")
				old.UserID, old.Tags = "alice", []string{"b", "a"}
				mustUpsert(t, s, old)
				repl := sub("new")
				repl.UserID, repl.Tags = tt.user, tt.tags
				if _, err := s.Replace(context.Background(), "old", repl); err != nil {
					t.Fatal(err)
				}
				got := mustGet(t, s, "new")
				if got.UserID != tt.wantUser || !slices.Equal(got.Tags, tt.wantTags) {
					t.Errorf("user %q, tags %q; want %q, %q", got.UserID, got.Tags, tt.wantUser, tt.wantTags)
				}
				if _, err := s.Get(context.Background(), "old"); !errors.Is(err, ErrNotFound) {
					t.Errorf("old endpoint: %v, want ErrNotFound", err)
				}
			})
		}
	})
}

func TestReplaceRollsBack(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		mustUpsert(t, s, sub("old"))
		// An invalid replacement must not leave the old row deleted.
		if _, err := s.Replace(ctx, "old", Subscription{}); err == nil {
			t.Fatal("Replace with an empty endpoint succeeded")
		}
		if _, err := s.Get(ctx, "old"); err != nil {
			t.Errorf("old subscription lost after failed Replace: %v", err)
		}
	})
}

func TestGetDeleteListCount(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)

		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(unknown) error = %v, want ErrNotFound", err)
		}
		if n, err := s.Count(ctx); err != nil || n != 0 {
			t.Errorf("Count on empty = %d, %v", n, err)
		}
		if list, err := s.List(ctx); err != nil || len(list) != 0 {
			t.Errorf("List on empty = %v, %v", list, err)
		}

		for _, e := range []string{"c", "a", "b"} {
			x := sub(e)
			x.Tags = []string{"t-" + e}
			mustUpsert(t, s, x)
		}
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, l := range list {
			order = append(order, l.Endpoint)
		}
		if fmt.Sprint(order) != "[c a b]" {
			t.Errorf("List order = %v, want oldest first [c a b]", order)
		}
		if l := list[1]; l.P256dh != "p-a" || l.Auth != "a-a" || l.UserAgent != "ua" || !slices.Equal(l.Tags, []string{"t-a"}) {
			t.Errorf("List row = %+v", l)
		}

		tests := []struct {
			name     string
			endpoint string
			want     bool
		}{
			{"known", "a", true},
			{"already deleted", "a", false},
			{"never known", "zzz", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				deleted, err := s.Delete(ctx, tt.endpoint)
				if err != nil || deleted != tt.want {
					t.Errorf("Delete(%q) = %v, %v; want %v", tt.endpoint, deleted, err, tt.want)
				}
				if _, err := s.Get(ctx, tt.endpoint); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get after Delete: %v, want ErrNotFound", err)
				}
			})
		}
		if n, _ := s.Count(ctx); n != 2 {
			t.Errorf("Count = %d, want 2", n)
		}
		// Its tags went with it: stored again, it has none.
		mustUpsert(t, s, sub("a"))
		if got := mustGet(t, s, "a"); got.Tags != nil {
			t.Errorf("tags of a deleted subscription stored again: %q", got.Tags)
		}
	})
}

// TestIDs: IDs grow in the order endpoints are first stored and are never
// given again, even the highest after its row is deleted.
func TestIDs(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		mustUpsert(t, s, sub("a"), sub("b"), sub("a"))
		a, bb := mustGet(t, s, "a"), mustGet(t, s, "b")
		if a.ID >= bb.ID {
			t.Errorf("IDs a=%d b=%d, want a < b", a.ID, bb.ID)
		}
		if _, err := s.Delete(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		mustUpsert(t, s, sub("c"))
		if c := mustGet(t, s, "c"); c.ID <= bb.ID {
			t.Errorf("ID of c = %d, want above the deleted b's %d", c.ID, bb.ID)
		}
	})
}

func TestExpirationTime(t *testing.T) {
	tests := []struct {
		name string
		exp  *int64
	}{
		{"null", nil},
		{"value", ptr(1893456000000)},
		{"zero", ptr(0)},
	}
	backends(t, func(t *testing.T, b backend) {
		s := newTest(t, b)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Each row goes through value -> tt.exp, so null is really written.
				s2 := sub(tt.name)
				s2.ExpirationTime = ptr(7)
				mustUpsert(t, s, s2)
				s2.ExpirationTime = tt.exp
				mustUpsert(t, s, s2)
				got := mustGet(t, s, tt.name)
				switch {
				case tt.exp == nil && got.ExpirationTime != nil:
					t.Errorf("ExpirationTime = %d, want nil", *got.ExpirationTime)
				case tt.exp != nil && (got.ExpirationTime == nil || *got.ExpirationTime != *tt.exp):
					t.Errorf("ExpirationTime = %v, want %d", got.ExpirationTime, *tt.exp)
				}
			})
		}
	})
}

func TestDeliveries(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		base := time.Date(2031, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
		outcomes := []string{"sent", "gone", "failed", "rejected", "unauthorized"}
		for i, o := range outcomes {
			d := Delivery{EndpointHash: push.Fingerprint(o), Host: "push.example", Outcome: o, Status: 200 + i,
				Attempts: i + 1, Error: "err " + o, SubscriptionID: int64(i), At: base.Add(time.Duration(i) * time.Minute)}
			if err := s.RecordDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		// A zero At is stamped with the store's clock (2030, before the rows above).
		if err := s.RecordDelivery(ctx, Delivery{Outcome: "sent", Status: 201, Attempts: 1}); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name  string
			limit int
			want  []string
		}{
			{"limit 3", 3, []string{"unauthorized", "rejected", "failed"}},
			{"limit 1", 1, []string{"unauthorized"}},
			{"all", 0, []string{"unauthorized", "rejected", "failed", "gone", "sent", "sent"}},
			{"limit above count", 100, []string{"unauthorized", "rejected", "failed", "gone", "sent", "sent"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ds, err := s.Deliveries(ctx, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, d := range ds {
					got = append(got, d.Outcome)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("outcomes = %v, want %v", got, tt.want)
				}
			})
		}

		ds, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		top := ds[0]
		want := Delivery{ID: top.ID, SubscriptionID: 4, EndpointHash: push.Fingerprint("unauthorized"), Host: "push.example",
			Outcome: "unauthorized", Status: 204, Attempts: 5, Error: "err unauthorized", At: base.Add(4 * time.Minute)}
		if top != want {
			t.Errorf("newest = %+v, want %+v", top, want)
		}
		if top.At.Location() != time.UTC {
			t.Errorf("At location = %v, want UTC", top.At.Location())
		}
		last := ds[len(ds)-1]
		if last.At.IsZero() || last.At.Year() != 2030 {
			t.Errorf("zero At stored as %v, want the store's current time", last.At)
		}
	})
}

// TestDeliveriesBounded: test sends are kept to the newest maxDeliveries;
// a broadcast's outcomes, whatever their age, are not touched by that bound.
func TestDeliveriesBounded(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		s.maxDeliveries = 5
		s.pruneEvery = 4
		base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

		subs := addSubs(t, s, 3, nil)
		bc := createBroadcast(t, s, "b1", Audience{})
		var outs []Outcome
		for i, sub := range subs {
			outs = append(outs, outcome(bc.ID, sub.ID, "sent", base.Add(-time.Duration(i+1)*time.Hour)))
		}
		if err := s.RecordOutcomes(ctx, outs); err != nil {
			t.Fatal(err)
		}

		for i := range 20 {
			d := Delivery{Outcome: "sent", Attempts: i, At: base.Add(time.Duration(i) * time.Second)}
			if err := s.RecordDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
			ds, err := s.Deliveries(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if bound := s.maxDeliveries + int(s.pruneEvery) + len(outs); len(ds) > bound {
				t.Fatalf("after %d inserts the log holds %d rows, bound is %d", i+1, len(ds), bound)
			}
		}
		ds, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var kept []int
		broadcastRows := 0
		for _, d := range ds {
			if d.BroadcastID != "" {
				broadcastRows++
				continue
			}
			kept = append(kept, d.Attempts)
		}
		if fmt.Sprint(kept) != "[19 18 17 16 15]" {
			t.Errorf("kept %v, want the newest five [19 18 17 16 15]", kept)
		}
		if broadcastRows != len(outs) {
			t.Errorf("%d broadcast outcomes kept, want all %d", broadcastRows, len(outs))
		}
	})
}

// TestOutcomesPruned: a broadcast's outcomes go 30 days after it finished,
// not before; those of one still running stay.
func TestOutcomesPruned(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, clk := newTestClock(t, b)
		s.pruneBatch = 3 // one batch, then the rest
		subs := addSubs(t, s, 4, nil)

		old := createBroadcast(t, s, "old", Audience{})
		chunks := plan(t, s, old.ID, 10)
		recordAll(t, s, old.ID, subs, "sent")
		if got := finish(t, s, chunks...); got.Status != StatusDone {
			t.Fatalf("status %q, want done", got.Status)
		}
		running := createBroadcast(t, s, "running", Audience{})
		plan(t, s, running.ID, 10)
		recordAll(t, s, running.ID, subs[:2], "sent")

		count := func() map[string]int {
			t.Helper()
			ds, err := s.Deliveries(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, d := range ds {
				n[d.BroadcastID]++
			}
			return n
		}
		clk.advance(29 * 24 * time.Hour)
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n["old"] != 4 || n["running"] != 2 {
			t.Fatalf("after 29 days: %v; want old 4, running 2", n)
		}
		clk.advance(2 * 24 * time.Hour)
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n["old"] != 0 || n["running"] != 2 {
			t.Errorf("after 31 days: %v; want old 0, running 2", n)
		}
		if got, err := s.GetBroadcast(ctx, "old"); err != nil || got.Sent != 4 {
			t.Errorf("the broadcast itself: %+v, %v; want kept with its counts", got, err)
		}
	})
}

// TestConcurrent writes from 50 goroutines through two stores on the same
// database (as two server processes would), with reads in between.
// SQLITE_BUSY or any other error fails it.
func TestConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		where := b.fresh(t)
		stores := []*DB{b.open(t, where), b.open(t, where)}

		const workers, rounds = 50, 4
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*6)
		for i := range workers {
			wg.Go(func() {
				s := stores[i%len(stores)]
				own := fmt.Sprintf("https://push.example/%d", i)
				for r := range rounds {
					x := sub(own)
					x.Tags = []string{fmt.Sprint(r)}
					if _, err := s.Upsert(ctx, x); err != nil {
						errs <- fmt.Errorf("upsert: %w", err)
					}
					if _, err := s.Upsert(ctx, sub("https://push.example/shared")); err != nil {
						errs <- fmt.Errorf("upsert shared: %w", err)
					}
					if _, err := s.Replace(ctx, own+"/old", sub(own)); err != nil {
						errs <- fmt.Errorf("replace: %w", err)
					}
					if err := s.RecordDelivery(ctx, Delivery{EndpointHash: push.Fingerprint(own), Outcome: "sent", Status: 201, Attempts: r + 1}); err != nil {
						errs <- fmt.Errorf("record delivery: %w", err)
					}
					if _, err := s.Get(ctx, own); err != nil {
						errs <- fmt.Errorf("get: %w", err)
					}
					if _, err := s.List(ctx); err != nil {
						errs <- fmt.Errorf("list: %w", err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n, err := stores[0].Count(ctx); err != nil || n != workers+1 {
			t.Errorf("Count = %d, %v; want %d", n, err, workers+1)
		}
		if ds, err := stores[1].Deliveries(ctx, 0); err != nil || len(ds) != workers*rounds {
			t.Errorf("Deliveries = %d rows, %v; want %d", len(ds), err, workers*rounds)
		}
	})
}
