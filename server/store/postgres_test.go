package store

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"pushstart/internal/pgtest"
)

// The tests in this file are PostgreSQL's own: several processes migrating
// one database, and what the queue is handed.

// TestPostgresOpenTogether: kit processes started at once on an empty
// database migrate it once, one after another, and all open it.
func TestPostgresOpenTogether(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	const n = 6
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s, err := OpenPostgres(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()

	s, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var versions, maxVersion int
	if err := s.pg.QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if want := len(postgresMigrations()); versions != want || maxVersion != want {
		t.Errorf("schema_migrations has %d rows up to %d, want %d", versions, maxVersion, want)
	}

	if _, err := s.pg.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, len(postgresMigrations())+1); err != nil {
		t.Fatal(err)
	}
	if s2, err := OpenPostgres(ctx, url); err == nil {
		s2.Close()
		t.Error("OpenPostgres accepted a database from a newer schema")
	}
}

// TestPostgresMigrateHosts: the step that adds subscriptions.host fills it
// for the rows there are.
func TestPostgresMigrateHosts(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	stmts := append([]string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`}, postgresMigrations()[0]...)
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for i, e := range hostsBeforeMigration {
		if _, err := conn.Exec(ctx, `INSERT INTO subscriptions (endpoint, p256dh, auth, created_at, updated_at)
			VALUES ($1, 'p', 'a', $2, $2)`, e, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkMigratedHosts(t, s)
}

// TestPostgresPools: the queue gets the store's pool, and enqueue a pgx
// transaction on it.
func TestPostgresPools(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != "postgres" || s.SQLite() != nil || s.Postgres() == nil {
		t.Fatalf("Dialect %q, SQLite %v, Postgres %v", s.Dialect(), s.SQLite(), s.Postgres())
	}
	_, err = s.CreateBroadcast(ctx, Broadcast{ID: "b"}, func(ctx context.Context, tx Tx) error {
		ptx, ok := tx.Native().(pgx.Tx)
		if !ok {
			t.Fatalf("Native() is %T, want pgx.Tx", tx.Native())
		}
		// The broadcast is visible inside the transaction only.
		var n int
		if err := ptx.QueryRow(ctx, `SELECT COUNT(*) FROM broadcasts WHERE id = 'b'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("inside the transaction: %d broadcasts, %v; want 1", n, err)
		}
		if err := s.Postgres().QueryRow(ctx, `SELECT COUNT(*) FROM broadcasts WHERE id = 'b'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("outside the transaction: %d broadcasts, %v; want 0", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
