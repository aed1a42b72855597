package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pushstart/push"
)

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

func openTest(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newTest opens a fresh database whose clock is fake, in a non-UTC zone, and
// moves on by a second at each reading.
func newTest(t *testing.T) *SQLite {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "kit.db"))
	c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}
	s.now = c.now
	return s
}

func ptr(v int64) *int64 { return &v }

func sub(endpoint string) Subscription {
	return Subscription{Endpoint: endpoint, P256dh: "p-" + endpoint, Auth: "a-" + endpoint, UserAgent: "ua"}
}

func TestUpsert(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)

	created, err := s.Upsert(ctx, Subscription{Endpoint: "e1", P256dh: "k1", Auth: "a1", UserAgent: "Firefox"})
	if err != nil || !created {
		t.Fatalf("first Upsert = %v, %v; want created", created, err)
	}
	first, err := s.Get(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if first.CreatedAt.Location() != time.UTC || !first.CreatedAt.Equal(first.UpdatedAt) {
		t.Errorf("new row: CreatedAt %v, UpdatedAt %v; want equal, in UTC", first.CreatedAt, first.UpdatedAt)
	}

	created, err = s.Upsert(ctx, Subscription{Endpoint: "e1", P256dh: "k2", Auth: "a2", ExpirationTime: ptr(42), UserAgent: "Chromium"})
	if err != nil || created {
		t.Fatalf("second Upsert = %v, %v; want not created", created, err)
	}
	got, err := s.Get(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if got.P256dh != "k2" || got.Auth != "a2" || got.UserAgent != "Chromium" || got.ExpirationTime == nil || *got.ExpirationTime != 42 {
		t.Errorf("after update: %+v", got)
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTest(t)
			for _, e := range tt.existing {
				if _, err := s.Upsert(ctx, sub(e)); err != nil {
					t.Fatal(err)
				}
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
			left := map[string]bool{}
			for _, l := range list {
				left[l.Endpoint] = true
			}
			if len(left) != len(tt.wantLeft) {
				t.Errorf("left %v, want %v", left, tt.wantLeft)
			}
			for _, w := range tt.wantLeft {
				if !left[w] {
					t.Errorf("left %v, want %v", left, tt.wantLeft)
				}
			}
			got, err := s.Get(ctx, tt.new)
			if err != nil || got.P256dh != "fresh" {
				t.Errorf("Get(new) = %+v, %v; want the replacement keys", got, err)
			}
		})
	}
}

func TestReplaceRollsBack(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	if _, err := s.Upsert(ctx, sub("old")); err != nil {
		t.Fatal(err)
	}
	// An invalid replacement must not leave the old row deleted.
	if _, err := s.Replace(ctx, "old", Subscription{}); err == nil {
		t.Fatal("Replace with an empty endpoint succeeded")
	}
	if _, err := s.Get(ctx, "old"); err != nil {
		t.Errorf("old subscription lost after failed Replace: %v", err)
	}
}

func TestGetDeleteListCount(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)

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
		if _, err := s.Upsert(ctx, sub(e)); err != nil {
			t.Fatal(err)
		}
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
	if list[1].P256dh != "p-a" || list[1].Auth != "a-a" || list[1].UserAgent != "ua" {
		t.Errorf("List row = %+v", list[1])
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
	ctx := context.Background()
	s := newTest(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each row goes through value -> tt.exp, so null is really written.
			s2 := sub(tt.name)
			s2.ExpirationTime = ptr(7)
			if _, err := s.Upsert(ctx, s2); err != nil {
				t.Fatal(err)
			}
			s2.ExpirationTime = tt.exp
			if _, err := s.Upsert(ctx, s2); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.exp == nil && got.ExpirationTime != nil:
				t.Errorf("ExpirationTime = %d, want nil", *got.ExpirationTime)
			case tt.exp != nil && (got.ExpirationTime == nil || *got.ExpirationTime != *tt.exp):
				t.Errorf("ExpirationTime = %v, want %d", got.ExpirationTime, *tt.exp)
			}
		})
	}
}

func TestDeliveries(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	base := time.Date(2031, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	outcomes := []string{"sent", "gone", "failed", "rejected", "unauthorized"}
	for i, o := range outcomes {
		d := Delivery{EndpointHash: push.Fingerprint(o), Outcome: o, Status: 200 + i, Attempts: i + 1, Error: "err " + o, At: base.Add(time.Duration(i) * time.Minute)}
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
	want := Delivery{ID: top.ID, EndpointHash: push.Fingerprint("unauthorized"), Outcome: "unauthorized", Status: 204, Attempts: 5, Error: "err unauthorized", At: base.Add(4 * time.Minute)}
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
}

func TestDeliveriesBounded(t *testing.T) {
	ctx := context.Background()
	s := newTest(t)
	s.maxDeliveries = 5
	s.pruneEvery = 4
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		d := Delivery{Outcome: "sent", Attempts: i, At: base.Add(time.Duration(i) * time.Second)}
		if err := s.RecordDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
		ds, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > s.maxDeliveries+int(s.pruneEvery) {
			t.Fatalf("after %d inserts the log holds %d rows, bound is %d", i+1, len(ds), s.maxDeliveries+int(s.pruneEvery))
		}
	}
	ds, err := s.Deliveries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kept []int
	for _, d := range ds {
		kept = append(kept, d.Attempts)
	}
	if fmt.Sprint(kept) != "[19 18 17 16 15]" {
		t.Errorf("kept %v, want the newest five [19 18 17 16 15]", kept)
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kit.db")

	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Subscription{Endpoint: "https://push.example/1", P256dh: "pk", Auth: "au", ExpirationTime: ptr(99), UserAgent: "ua"}
	if _, err := s.Upsert(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDelivery(ctx, Delivery{EndpointHash: push.Fingerprint(want.Endpoint), Outcome: "sent", Status: 201, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Get(ctx, want.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		s, err := OpenSQLite(path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i+1, err)
		}
		got, err := s.Get(ctx, want.Endpoint)
		if err != nil {
			t.Fatalf("reopen %d: Get: %v", i+1, err)
		}
		if got.P256dh != before.P256dh || got.Auth != before.Auth || *got.ExpirationTime != 99 ||
			!got.CreatedAt.Equal(before.CreatedAt) || !got.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("reopen %d: got %+v, want %+v", i+1, got, before)
		}
		if ds, err := s.Deliveries(ctx, 10); err != nil || len(ds) != 1 {
			t.Errorf("reopen %d: Deliveries = %v, %v; want the one recorded", i+1, ds, err)
		}
		var versions, maxVersion int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
			t.Fatal(err)
		}
		if versions != len(migrations()) || maxVersion != len(migrations()) {
			t.Errorf("reopen %d: schema_migrations has %d rows up to %d, want %d", i+1, versions, maxVersion, len(migrations()))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kit.db")
	s := openTest(t, path)
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations())+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := OpenSQLite(path); err == nil {
		s2.Close()
		t.Fatal("OpenSQLite accepted a database from a newer schema")
	}
}

func TestOpenPaths(t *testing.T) {
	tests := []struct {
		name string
		rel  string
	}{
		{"missing parent directories", "a/b/c/kit.db"},
		{"URI-special characters", "we?ird #name %20.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.rel)
			s := openTest(t, path)
			if _, err := s.Upsert(context.Background(), sub("x")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("database not at %q: %v", path, err)
			}
			if !fi.Mode().IsRegular() {
				t.Errorf("%q is not a file", path)
			}
			di, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(path) != dir && di.Mode().Perm() != 0o700 {
				t.Errorf("created directory mode %v, want 0700", di.Mode().Perm())
			}
		})
	}
	if _, err := OpenSQLite(""); err == nil {
		t.Error(`OpenSQLite("") succeeded`)
	}
}

// TestConcurrent writes from 50 goroutines through two stores on the same
// file (as two server processes would), with reads in between. SQLITE_BUSY
// or any other error fails it.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kit.db")
	stores := []*SQLite{openTest(t, path), openTest(t, path)}

	const workers, rounds = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*6)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%len(stores)]
			own := fmt.Sprintf("https://push.example/%d", i)
			for r := range rounds {
				if _, err := s.Upsert(ctx, sub(own)); err != nil {
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
		}()
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
}

// withUmask runs the rest of the test with the process umask set to mask, as
// a server started from a login shell usually has it.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// checkPrivate fails the test for every file in dir whose name starts with
// prefix and that other users could read or write, and returns the names.
func checkPrivate(t *testing.T, dir, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", e.Name(), perm)
		}
	}
	return names
}

// TestDatabaseFilesPrivate: the database holds every endpoint with its keys,
// so it and the files SQLite keeps beside it are the owner's alone, even in a
// directory other users may list and under a umask that lets them read.
func TestDatabaseFilesPrivate(t *testing.T) {
	withUmask(t, 0o022)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQLite(filepath.Join(dir, "pushstart.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; the test expects the store to use WAL", mode, err)
	}
	if _, err := s.Upsert(ctx, sub("https://push.example/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "https://push.example/1"); err != nil {
		t.Fatal(err)
	}

	names := checkPrivate(t, dir, "pushstart.db")
	for _, want := range []string{"pushstart.db", "pushstart.db-wal", "pushstart.db-shm"} {
		if !slices.Contains(names, want) {
			t.Errorf("while open, %s holds %v; want %s among them", dir, names, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir, "pushstart.db")
}

// TestExistingDatabaseFilesTightened: a database (and companions a crash left
// behind) created by an earlier version with the umask's mode is narrowed to
// the owner when opened.
func TestExistingDatabaseFilesTightened(t *testing.T) {
	withUmask(t, 0o022)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pushstart.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upsert(ctx, sub("https://push.example/1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	// Empty companions are what SQLite treats as no journal and no WAL.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.WriteFile(path+suffix, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s, err = OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkPrivate(t, dir, "pushstart.db")
	if _, err := s.Get(ctx, "https://push.example/1"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}
