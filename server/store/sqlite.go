package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

const (
	// maxDeliveries is how many delivery-log rows are kept: the newest by
	// time. Older rows are pruned every pruneEvery inserts and at open, so
	// the table holds at most maxDeliveries+pruneEvery rows.
	maxDeliveries = 10000
	pruneEvery    = 100

	// busyTimeout is how long a connection waits for a lock held by
	// another connection (or process) before SQLITE_BUSY.
	busyTimeout = 5 * time.Second

	// readConns is the size of the read pool; WAL lets readers run beside
	// the single writer.
	readConns = 4
)

// SQLite is the Store kept in one SQLite file, through modernc.org/sqlite
// (no cgo).
//
// Writes go through a pool of one connection whose transactions begin
// IMMEDIATE, so concurrent writers in this process queue in Go instead of
// failing with SQLITE_BUSY; reads use a separate small read-only pool that WAL
// lets run beside the writer. The delivery log keeps the newest 10,000 rows.
type SQLite struct {
	w, r *sql.DB

	maxDeliveries int // rows kept in deliveries
	pruneEvery    int64
	inserts       atomic.Int64 // RecordDelivery calls, to schedule pruning

	now func() time.Time
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the database at path, creating its
// parent directory (mode 0700) when missing, keeps the database files the
// owner's alone (mode 0600), and brings its schema up to date. *SQLite
// implements Store.
func OpenSQLite(path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: create database directory: %w", err)
	}
	if err := restrictFiles(abs); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}

	s := &SQLite{
		maxDeliveries: maxDeliveries,
		pruneEvery:    pruneEvery,
		now:           time.Now,
	}
	ctx := context.Background()

	s.w, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	s.r, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	if err := s.prune(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	return s, nil
}

// restrictFiles makes the database at path, and the files SQLite keeps
// beside it, readable and writable by the owner only: they hold every
// subscription's endpoint and keys, and the directory may be one other users
// can list. SQLite would create a missing database with mode 0644 less the
// umask, and its unix VFS gives the -wal, -shm and -journal files it creates
// the database file's mode; so the database is created here, 0600, before
// SQLite opens it. Files an earlier version left more open are narrowed to
// the owner; the companions are among them when a crash kept them past close.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restrict database file: %w", err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&^0o077); err != nil {
				return fmt.Errorf("restrict database file: %w", err)
			}
		}
	}
	return nil
}

// dsn builds a file: URI for path (escaped, so names with '?' or '#' work)
// with the pragmas every connection needs.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		// journal_mode is a property of the file, set by the writer.
		q.Set("_query_only", "1")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Take the write lock at BEGIN: a deferred transaction that
		// upgrades from read to write can fail with SQLITE_BUSY at once,
		// whatever the busy timeout, when another process writes.
		q.Set("_txlock", "immediate")
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	u := url.URL{Scheme: "file", Path: p, OmitHost: true, RawQuery: q.Encode()}
	return u.String()
}

// Close closes both connection pools.
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

const subscriptionColumns = `endpoint, p256dh, auth, expiration_time, user_agent, created_at, updated_at`

// Upsert adds s or updates the known subscription with its endpoint.
func (s *SQLite) Upsert(ctx context.Context, sub Subscription) (created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		created, err = s.upsertTx(ctx, tx, sub)
		return err
	})
	return created, err
}

// Replace removes oldEndpoint (if present) and upserts s, in one transaction.
// An empty oldEndpoint, or one equal to s.Endpoint, makes it an Upsert.
func (s *SQLite) Replace(ctx context.Context, oldEndpoint string, sub Subscription) (created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if oldEndpoint != "" && oldEndpoint != sub.Endpoint {
			if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE endpoint = ?`, oldEndpoint); err != nil {
				return fmt.Errorf("store: replace: %w", err)
			}
		}
		created, err = s.upsertTx(ctx, tx, sub)
		return err
	})
	return created, err
}

func (s *SQLite) upsertTx(ctx context.Context, tx *sql.Tx, sub Subscription) (bool, error) {
	if sub.Endpoint == "" {
		return false, errors.New("store: upsert: empty endpoint")
	}
	now := s.now().UnixMilli()
	var exp sql.NullInt64
	if sub.ExpirationTime != nil {
		exp = sql.NullInt64{Int64: *sub.ExpirationTime, Valid: true}
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (endpoint) DO NOTHING`,
		sub.Endpoint, sub.P256dh, sub.Auth, exp, sub.UserAgent, now, now)
	if err != nil {
		return false, fmt.Errorf("store: upsert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("store: upsert: %w", err)
	} else if n == 1 {
		return true, nil
	}
	_, err = tx.ExecContext(ctx,
		`UPDATE subscriptions SET p256dh = ?, auth = ?, expiration_time = ?, user_agent = ?, updated_at = ?
		 WHERE endpoint = ?`,
		sub.P256dh, sub.Auth, exp, sub.UserAgent, now, sub.Endpoint)
	if err != nil {
		return false, fmt.Errorf("store: upsert: %w", err)
	}
	return false, nil
}

// Get returns the subscription with endpoint, or ErrNotFound.
func (s *SQLite) Get(ctx context.Context, endpoint string) (Subscription, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE endpoint = ?`, endpoint)
	sub, err := scanSubscription(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, ErrNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("store: get: %w", err)
	}
	return sub, nil
}

// Delete removes the subscription with endpoint.
func (s *SQLite) Delete(ctx context.Context, endpoint string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM subscriptions WHERE endpoint = ?`, endpoint)
	if err != nil {
		return false, fmt.Errorf("store: delete: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: delete: %w", err)
	}
	return n > 0, nil
}

// List returns every subscription, oldest first.
func (s *SQLite) List(ctx context.Context) ([]Subscription, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions ORDER BY created_at, endpoint`)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer rows.Close()
	var subs []Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list: %w", err)
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	return subs, nil
}

// Count returns the number of subscriptions.
func (s *SQLite) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// RecordDelivery appends d to the delivery log, stamping it with the current
// time when d.At is zero. Every pruneEvery calls it trims the log to the
// newest maxDeliveries rows.
func (s *SQLite) RecordDelivery(ctx context.Context, d Delivery) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO deliveries (endpoint_hash, outcome, status, attempts, error, at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.EndpointHash, d.Outcome, d.Status, d.Attempts, d.Error, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	if s.inserts.Add(1)%s.pruneEvery == 0 {
		return s.prune(ctx)
	}
	return nil
}

// prune deletes all but the newest maxDeliveries rows of the delivery log.
func (s *SQLite) prune(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx,
		`DELETE FROM deliveries WHERE id NOT IN (
		   SELECT id FROM deliveries ORDER BY at DESC, id DESC LIMIT ?)`,
		s.maxDeliveries)
	if err != nil {
		return fmt.Errorf("store: prune deliveries: %w", err)
	}
	return nil
}

// Deliveries returns at most limit entries of the delivery log, newest first
// (all kept entries when limit <= 0).
func (s *SQLite) Deliveries(ctx context.Context, limit int) ([]Delivery, error) {
	q := `SELECT id, endpoint_hash, outcome, status, attempts, error, at FROM deliveries ORDER BY at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rows.Close()
	var ds []Delivery
	for rows.Next() {
		var d Delivery
		var at int64
		if err := rows.Scan(&d.ID, &d.EndpointHash, &d.Outcome, &d.Status, &d.Attempts, &d.Error, &at); err != nil {
			return nil, fmt.Errorf("store: deliveries: %w", err)
		}
		d.At = time.UnixMilli(at).UTC()
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	return ds, nil
}

// inTx runs fn in a write transaction, committing when it returns nil.
func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSubscription(sc scanner) (Subscription, error) {
	var sub Subscription
	var exp sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&sub.Endpoint, &sub.P256dh, &sub.Auth, &exp, &sub.UserAgent, &created, &updated); err != nil {
		return Subscription{}, err
	}
	if exp.Valid {
		v := exp.Int64
		sub.ExpirationTime = &v
	}
	sub.CreatedAt = time.UnixMilli(created).UTC()
	sub.UpdatedAt = time.UnixMilli(updated).UTC()
	return sub, nil
}
