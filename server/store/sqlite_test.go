package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"pushstart/push"
)

// The tests in this file are SQLite's own: its file, its pools, and its
// migrations from earlier versions.

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
		if err := s.sqlR.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
			t.Fatal(err)
		}
		if versions != len(sqliteMigrations()) || maxVersion != len(sqliteMigrations()) {
			t.Errorf("reopen %d: schema_migrations has %d rows up to %d, want %d", i+1, versions, maxVersion, len(sqliteMigrations()))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kit.db")
	s := openTest(t, path)
	if _, err := s.sqlW.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(sqliteMigrations())+1); err != nil {
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
	if err := s.sqlW.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
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

// TestMigrateFromV1: a database of the first schema, with rows, is brought
// up to date keeping them: subscriptions get IDs in the order they were
// created, with no user and no tags; the delivery log's rows become test
// sends.
func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kit.db")
	if err := restrictFiles(path); err != nil {
		t.Fatal(err)
	}
	v1, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	stmts := append([]string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`}, sqliteMigrations()[0]...)
	// Created out of endpoint order, two in the same millisecond.
	stmts = append(stmts,
		`INSERT INTO subscriptions VALUES ('https://push.example/c', 'pc', 'ac', NULL, 'ua-c', 1000, 5000)`,
		`INSERT INTO subscriptions VALUES ('https://push.example/a', 'pa', 'aa', 1893456000000, 'ua-a', 3000, 3000)`,
		`INSERT INTO subscriptions VALUES ('https://push.example/b', 'pb', 'ab', NULL, '', 2000, 2000)`,
		`INSERT INTO subscriptions VALUES ('https://push.example/0', 'p0', 'a0', NULL, '', 2000, 2000)`,
		`INSERT INTO deliveries (endpoint_hash, outcome, status, attempts, error, at) VALUES ('h1', 'sent', 201, 1, '', 7000)`,
		`INSERT INTO deliveries (endpoint_hash, outcome, status, attempts, error, at) VALUES ('h2', 'gone', 410, 1, 'gone', 8000)`,
	)
	for _, stmt := range stmts {
		if _, err := v1.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := v1.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path)
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, sub := range list {
		got = append(got, strings.TrimPrefix(sub.Endpoint, "https://push.example/"))
		if sub.ID != int64(i+1) || sub.UserID != "" || sub.Tags != nil {
			t.Errorf("row %d: ID %d, user %q, tags %q; want ID %d, none", i, sub.ID, sub.UserID, sub.Tags, i+1)
		}
	}
	if !slices.Equal(got, []string{"c", "0", "b", "a"}) {
		t.Errorf("migrated subscriptions in ID order %v, want in creation order [c 0 b a]", got)
	}
	a := mustGet(t, s, "https://push.example/a")
	if a.P256dh != "pa" || a.Auth != "aa" || a.UserAgent != "ua-a" || a.ExpirationTime == nil || *a.ExpirationTime != 1893456000000 ||
		!a.CreatedAt.Equal(time.UnixMilli(3000)) || !a.UpdatedAt.Equal(time.UnixMilli(3000)) {
		t.Errorf("migrated row %+v", a)
	}
	if c := mustGet(t, s, "https://push.example/c"); !c.UpdatedAt.Equal(time.UnixMilli(5000)) || c.ExpirationTime != nil || c.Host != "push.example" {
		t.Errorf("migrated row %+v", c)
	}

	ds, err := s.Deliveries(ctx, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Deliveries = %+v, %v; want the two rows", ds, err)
	}
	if d := ds[0]; d.EndpointHash != "h2" || d.Outcome != "gone" || d.Status != 410 || d.Error != "gone" ||
		d.BroadcastID != "" || d.SubscriptionID != 0 || d.Host != "" || !d.At.Equal(time.UnixMilli(8000)) {
		t.Errorf("migrated delivery %+v", d)
	}

	// The new schema works on the migrated rows: new IDs follow, tags
	// cascade, a broadcast reaches the old subscriptions.
	x := sub("https://push.example/new")
	x.Tags = []string{"t"}
	mustUpsert(t, s, x)
	if n := mustGet(t, s, x.Endpoint); n.ID != 5 {
		t.Errorf("next ID %d, want 5", n.ID)
	}
	createBroadcast(t, s, "b", Audience{})
	if chunks := plan(t, s, "b", 2); len(chunks) != 3 || chunks[0].FirstID != 1 {
		t.Errorf("chunks %+v; want 3 from ID 1", chunks)
	}
	if _, err := s.Delete(ctx, x.Endpoint); err != nil {
		t.Fatal(err)
	}
	var tags int
	if err := s.sqlR.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscription_tags`).Scan(&tags); err != nil || tags != 0 {
		t.Errorf("%d tags left after deleting their subscription, %v", tags, err)
	}
}

// hostsBeforeMigration are endpoints of every kind stored before the schema
// had subscriptions.host; the migration must fill it in as EndpointHost
// would, which later writes do.
var hostsBeforeMigration = []string{
	"https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
	"https://Updates.Push.Services.Mozilla.com/wpush/v2/gAAAAA",
	"https://web.push.apple.com/QGm-8?x=1",
	"https://wns2-by3p.notify.windows.com/w/?token=BQYAAA",
	"http://127.0.0.1:39541/wpush/tok",
	"https://push.example:8443/p/1",
}

// checkMigratedHosts fails the test unless each of hostsBeforeMigration,
// stored before s migrated, has its host, and the page and the counts by
// host show them.
func checkMigratedHosts(t *testing.T, s *DB) {
	t.Helper()
	ctx := context.Background()
	for _, e := range hostsBeforeMigration {
		if got, want := mustGet(t, s, e).Host, EndpointHost(e); got != want || want == "" {
			t.Errorf("migrated %s: host %q, want %q", e, got, want)
		}
	}
	st, err := s.SubscriptionStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != len(hostsBeforeMigration) || len(st.ByHost) != len(hostsBeforeMigration) {
		t.Errorf("counts after migrating: %+v; want %d hosts of one subscription each", st, len(hostsBeforeMigration))
	}
}

// TestMigrateHosts: the step that adds subscriptions.host fills it for the
// rows there are.
func TestMigrateHosts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kit.db")
	if err := restrictFiles(path); err != nil {
		t.Fatal(err)
	}
	v2, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0), (2, 0)`}
	stmts = append(stmts, sqliteMigrations()[0]...)
	stmts = append(stmts, sqliteMigrations()[1]...)
	for _, stmt := range stmts {
		if _, err := v2.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for i, e := range hostsBeforeMigration {
		if _, err := v2.ExecContext(ctx, `INSERT INTO subscriptions (endpoint, p256dh, auth, created_at, updated_at)
			VALUES (?, 'p', 'a', ?, ?)`, e, i, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := v2.Close(); err != nil {
		t.Fatal(err)
	}
	checkMigratedHosts(t, openTest(t, path))
}

// TestSQLitePools: the writer pool handed to the queue is the store's own,
// of one connection, and the transactions enqueue gets are on it.
func TestSQLitePools(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "kit.db"))
	if s.Dialect() != "sqlite" || s.Postgres() != nil || s.SQLite() == nil {
		t.Fatalf("Dialect %q, Postgres %v, SQLite %v", s.Dialect(), s.Postgres(), s.SQLite())
	}
	if n := s.SQLite().Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool of %d connections, want 1", n)
	}
	_, err := s.CreateBroadcast(ctx, Broadcast{ID: "b"}, func(ctx context.Context, tx Tx) error {
		if _, ok := tx.Native().(*sql.Tx); !ok {
			t.Errorf("Native() is %T, want *sql.Tx", tx.Native())
		}
		if in := s.SQLite().Stats().InUse; in != 1 {
			t.Errorf("%d writer connections in use during enqueue, want the transaction's 1", in)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "pushstart.db")); err != nil || s.Dialect() != "sqlite" {
		t.Errorf("Open with no URL: %s, %v; want SQLite in the data directory", s.Dialect(), err)
	}

	tests := []struct {
		name, url string
		want      string
	}{
		{"other scheme", "mysql://user:hunter2@db/kit", `unsupported scheme "mysql"`},
		{"file path", "/var/lib/kit.db", "not a URL"},
		{"keyword form", "host=db password=hunter2", "not a URL"},
		{"sqlite URL", "sqlite:///var/lib/kit.db", `unsupported scheme "sqlite"`},
		{"postgres, bad port", "postgres://user:hunter2@127.0.0.1:99999/kit", "postgres://user:xxxxx@127.0.0.1:99999/kit"},
		{"postgres, bad escape in password", "postgres://user:hun%zzter2@127.0.0.1/kit", "cannot parse"},
		{"postgres, password in query", "postgresql://user@127.0.0.1:1/kit?password=hunter2&connect_timeout=1", "password=xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.url, dir)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "hunter2") {
				t.Errorf("error %q; want it to say %q and not the password", msg, tt.want)
			}
			if !strings.HasPrefix(tt.url, "postgres") && (!strings.Contains(msg, "DATABASE_URL") || !strings.Contains(msg, "postgres://")) {
				t.Errorf("error %q; want it to name DATABASE_URL and what it accepts", msg)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?password=secret", "postgres://h/db?password=xxxxx"},
		{"postgres://u:sec%zzret@h/db", "postgres://…"},
		{"host=h password=secret", "database"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRebind: placeholders become $n; those in string literals stay.
func TestRebind(t *testing.T) {
	got := rebind(`SELECT '?', "a?" FROM t WHERE a = ? AND b IN (?, ?) AND c = 'it''s ?'`)
	want := `SELECT '?', "a?" FROM t WHERE a = $1 AND b IN ($2, $3) AND c = 'it''s ?'`
	if got != want {
		t.Errorf("rebind = %s\nwant     %s", got, want)
	}
}
