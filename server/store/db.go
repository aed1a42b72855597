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

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

const (
	// maxDeliveries is how many delivery-log rows of test sends are kept:
	// the newest by time. Older ones are pruned every pruneEvery test sends
	// and at open, so they number at most maxDeliveries+pruneEvery.
	maxDeliveries = 10000
	pruneEvery    = 100

	// pruneBatch is how many outcome rows one statement deletes, so that
	// pruning a large broadcast holds SQLite's write lock in short turns.
	pruneBatch = 10000

	// keepOutcomes is how long a broadcast's outcome rows are kept after it
	// finished; while it runs they are what keeps it from sending twice.
	keepOutcomes = 30 * 24 * time.Hour

	// busyTimeout is how long a SQLite connection waits for a lock held by
	// another connection (or process) before SQLITE_BUSY.
	busyTimeout = 5 * time.Second

	// readConns is the size of SQLite's read pool; WAL lets readers run
	// beside the single writer.
	readConns = 4

	// sqliteFile is the name of the database file Open keeps in the data
	// directory.
	sqliteFile = "pushstart.db"
)

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// DB is the Store kept in SQLite (one file, through modernc.org/sqlite, no
// cgo) or in PostgreSQL (through a pgx pool), with the same statements.
//
// On SQLite, writes go through a pool of one connection whose transactions
// begin IMMEDIATE, so concurrent writers in this process queue in Go instead
// of failing with SQLITE_BUSY; reads use a separate small read-only pool
// that WAL lets run beside the writer.
type DB struct {
	dialect string
	w, r    pool // the writer and the readers; the same pool on PostgreSQL

	sqlW, sqlR *sql.DB       // SQLite's pools
	pg         *pgxpool.Pool // PostgreSQL's pool

	maxDeliveries int // test-send rows kept in deliveries
	pruneEvery    int64
	pruneBatch    int          // outcome rows deleted a statement
	testSends     atomic.Int64 // test sends recorded, to schedule pruning

	now func() time.Time
}

var _ Store = (*DB)(nil)

// Open opens the database that DATABASE_URL names: SQLite in
// dataDir/pushstart.db when databaseURL is empty, PostgreSQL for a
// postgres:// or postgresql:// URL.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if databaseURL == "" {
		return OpenSQLite(filepath.Join(dataDir, sqliteFile))
	}
	scheme, _, ok := strings.Cut(databaseURL, "://")
	switch {
	case ok && (scheme == "postgres" || scheme == "postgresql"):
		return OpenPostgres(ctx, databaseURL)
	case ok && !strings.ContainsAny(scheme, "/@:?#"):
		return nil, fmt.Errorf("DATABASE_URL: unsupported scheme %q: want a postgres:// or postgresql:// URL, or empty for SQLite in the data directory", scheme)
	default:
		return nil, errors.New("DATABASE_URL: not a URL: want a postgres:// or postgresql:// URL, or empty for SQLite in the data directory")
	}
}

// OpenSQLite opens (creating if needed) the SQLite database at path,
// creating its parent directory (mode 0700) when missing, keeps the database
// files the owner's alone (mode 0600), and brings its schema up to date.
func OpenSQLite(path string) (*DB, error) {
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

	s := newDB(dialectSQLite)
	ctx := context.Background()
	fail := func(err error) (*DB, error) {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	if s.sqlW, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		return fail(err)
	}
	s.sqlW.SetMaxOpenConns(1)
	s.sqlW.SetMaxIdleConns(1)
	s.sqlW.SetConnMaxLifetime(0)
	s.sqlW.SetConnMaxIdleTime(0)
	w := newSQLPool(s.sqlW)
	s.w = w
	if err := migrate(ctx, s.w, s.dialect); err != nil {
		return fail(err)
	}
	// What a broadcast writes for every few pushes, prepared before any
	// transaction needs it (see stmtCache).
	hot := []string{addOutcomesSQL}
	for _, n := range outcomeBlocks() {
		hot = append(hot, insertOutcomesSQL(n))
	}
	if err := w.stmts.warm(ctx, hot...); err != nil {
		return fail(err)
	}

	if s.sqlR, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return fail(err)
	}
	s.sqlR.SetMaxOpenConns(readConns)
	s.sqlR.SetMaxIdleConns(readConns)
	s.r = newSQLPool(s.sqlR)
	if err := s.sqlR.PingContext(ctx); err != nil {
		return fail(err)
	}
	if err := s.prune(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database at url (a pgx connection
// string) and brings its schema up to date. Errors show the URL without its
// password.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	name := redact(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	s := newDB(dialectPostgres)
	s.pg = p
	s.w = newPGPool(p)
	s.r = s.w
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	if err := migrate(ctx, s.w, s.dialect); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	if err := s.prune(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: open %s: %w", name, err)
	}
	return s, nil
}

func newDB(dialect string) *DB {
	return &DB{
		dialect:       dialect,
		maxDeliveries: maxDeliveries,
		pruneEvery:    pruneEvery,
		pruneBatch:    pruneBatch,
		now:           time.Now,
	}
}

// redact returns a database URL fit for errors and logs: its password
// replaced, or only its scheme when it does not parse.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		scheme, _, ok := strings.Cut(raw, "://")
		if ok && !strings.ContainsAny(scheme, "/@:?#") {
			return scheme + "://…"
		}
		return "database"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Dialect names the database: "sqlite" or "postgres".
func (s *DB) Dialect() string { return s.dialect }

// SQLite returns SQLite's writer pool, of one connection, for a queue that
// keeps its jobs in the same file: sharing it makes the queue's writes and
// the store's wait for each other in Go rather than fail with SQLITE_BUSY.
// It is nil on PostgreSQL.
func (s *DB) SQLite() *sql.DB { return s.sqlW }

// Postgres returns the PostgreSQL pool, for a queue that keeps its jobs in
// the same database. It is nil on SQLite.
func (s *DB) Postgres() *pgxpool.Pool { return s.pg }

// Close closes the database's pools.
func (s *DB) Close() error {
	var errs []error
	if s.sqlR != nil {
		errs = append(errs, s.sqlR.Close())
	}
	if s.sqlW != nil {
		errs = append(errs, s.sqlW.Close())
	}
	if s.pg != nil {
		s.pg.Close()
	}
	return errors.Join(errs...)
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

// inTx runs fn in a write transaction, committing when it returns nil and
// rolling back otherwise, a panic included: on SQLite a transaction left
// open would hold the one writer connection.
func (s *DB) inTx(ctx context.Context, fn func(tx txn) error) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tx.rollback(ctx)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	done = true
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ms is t as the database keeps times: milliseconds since the Unix epoch.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the UTC time of ms milliseconds since the Unix epoch.
func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// optMS is t as a nullable column value.
func optMS(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// fromOptMS is the time of a nullable column value.
func fromOptMS(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := fromMS(*ms)
	return &t
}
