package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// sessionRows counts the admin_sessions rows, ended ones included.
func sessionRows(t *testing.T, s *DB) int {
	t.Helper()
	var n int
	if err := s.r.queryRow(context.Background(), `SELECT COUNT(*) FROM admin_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSessions: a session is found until it ends, by every instance sharing
// the database; signing out ends it at once; ended sessions are deleted as
// new ones are created.
func TestSessions(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		where := b.fresh(t)
		s := b.open(t, where)
		c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}
		s.now = c.now
		other := b.open(t, where)
		other.now = c.now

		start := c.now()
		expires := start.Add(time.Hour + 1500*time.Microsecond) // kept to the millisecond
		if err := s.CreateSession(ctx, "h1", expires); err != nil {
			t.Fatal(err)
		}
		want := expires.Truncate(time.Millisecond).UTC()
		for name, st := range map[string]*DB{"same store": s, "other instance": other} {
			got, err := st.SessionExpiry(ctx, "h1")
			if err != nil || !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("%s: SessionExpiry = %v, %v; want %v in UTC", name, got, err, want)
			}
		}
		if _, err := s.SessionExpiry(ctx, "nosuch"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("unknown hash: %v, want ErrSessionNotFound", err)
		}

		c.advance(time.Hour)
		if _, err := s.SessionExpiry(ctx, "h1"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("after its end: %v, want ErrSessionNotFound", err)
		}

		// The ended session's row goes when the next session is created.
		if n := sessionRows(t, s); n != 1 {
			t.Fatalf("%d rows before the next sign-in, want the ended one", n)
		}
		if err := s.CreateSession(ctx, "h2", c.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, "h3", c.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n := sessionRows(t, s); n != 2 {
			t.Errorf("%d rows, want the 2 live sessions only", n)
		}

		if err := other.DeleteSession(ctx, "h2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionExpiry(ctx, "h2"); !errors.Is(err, ErrSessionNotFound) {
			t.Errorf("after DeleteSession: %v, want ErrSessionNotFound", err)
		}
		if _, err := s.SessionExpiry(ctx, "h3"); err != nil {
			t.Errorf("another session was ended with it: %v", err)
		}
		if err := s.DeleteSession(ctx, "h2"); err != nil {
			t.Errorf("DeleteSession of a session already gone: %v", err)
		}
	})
}
