// Package pgtest gives a test its own empty PostgreSQL database, created on
// the server that PUSHSTART_TEST_DATABASE_URL names and dropped when the
// test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the URL of a PostgreSQL server
// (and a database on it to connect to) where the tests may create and drop
// databases.
const EnvURL = "PUSHSTART_TEST_DATABASE_URL"

// timeout bounds each statement pgtest runs on the server.
const timeout = 30 * time.Second

// URL returns the URL of a new, empty database for this test, dropped (with
// whatever connections are still open to it) at the test's cleanup. Without
// PUSHSTART_TEST_DATABASE_URL the test is skipped, or fails in CI (CI set),
// where the PostgreSQL tests must run.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		const how = EnvURL + ` is not set: run eval "$(tools/testpg start)" to start a throwaway ` +
			`PostgreSQL server, or set ` + EnvURL + ` to the URL of a server where the tests may create databases`
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL tests must run in CI; " + how)
		}
		t.Skip("PostgreSQL tests skipped; " + how)
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}

	var b [8]byte
	rand.Read(b[:])
	name := "pushstart_test_" + hex.EncodeToString(b[:])
	exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the server at admin, over a connection of its
// own.
func exec(t testing.TB, admin, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("pgtest: %s: %v", stmt, err)
	}
}
