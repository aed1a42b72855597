package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The store's SQL is written once, with "?" placeholders, and runs through
// this small adapter over database/sql (SQLite) or pgx (PostgreSQL, where
// the placeholders become $1..$n). Both report a missing row with an error
// that errors.Is matches to sql.ErrNoRows.

// querier runs statements on a pool or inside a transaction.
type querier interface {
	// exec runs a statement and returns the number of rows it changed.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface {
	Scan(dest ...any) error
}

// pool is a querier that can also begin a write transaction.
type pool interface {
	querier
	begin(ctx context.Context) (txn, error)
}

// txn is a write transaction; its Native value is what a queue joins.
type txn interface {
	querier
	Tx
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// database/sql

type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlQuerier runs statements on r, a pool or a transaction of it, through
// statements prepared once per pool: modernc's SQLite parses a statement
// anew at every call otherwise, which costs more than running it.
type sqlQuerier struct {
	r     sqlRunner
	tx    *sql.Tx // when r is a transaction
	stmts *stmtCache
}

// stmtCache holds the pool's prepared statements by their text, up to
// maxCachedStmts (texts that vary, such as IN lists of any length, run
// unprepared once it is full).
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxCachedStmts = 256

// stmt returns the prepared statement for query, or nil to run it as is.
// Inside a transaction (inTx) it only looks: preparing takes a connection
// from the pool, and the writer's only one is the transaction's. The lock
// is not held while preparing, for the same reason.
func (c *stmtCache) stmt(ctx context.Context, query string, inTx bool) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok || inTx || full {
		return st
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the statement's own run reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

// warm prepares queries now, so that transactions find them prepared.
func (c *stmtCache) warm(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if c.stmt(ctx, q, false) != nil {
			continue
		}
		// Not cached: say why.
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		st.Close()
	}
	return nil
}

// runner returns what runs query: its prepared statement (within the
// transaction, when q is one) or q's own runner.
func (q sqlQuerier) runner(ctx context.Context, query string) (sqlRunner, bool) {
	st := q.stmts.stmt(ctx, query, q.tx != nil)
	if st == nil {
		return q.r, false
	}
	if q.tx != nil {
		// Closed with the transaction.
		return stmtRunner{q.tx.StmtContext(ctx, st)}, true
	}
	return stmtRunner{st}, true
}

// stmtRunner runs one prepared statement; the query text it is given is
// that statement's.
type stmtRunner struct{ st *sql.Stmt }

func (r stmtRunner) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return r.st.ExecContext(ctx, args...)
}

func (r stmtRunner) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return r.st.QueryContext(ctx, args...)
}

func (r stmtRunner) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return r.st.QueryRowContext(ctx, args...)
}

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, _ := q.runner(ctx, query)
	res, err := r.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, _ := q.runner(ctx, query)
	rs, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	r, _ := q.runner(ctx, query)
	return r.QueryRowContext(ctx, query, args...)
}

// sqlRows drops Close's error: a failed iteration is reported by Err.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlPool struct {
	sqlQuerier
	db *sql.DB
}

func newSQLPool(db *sql.DB) sqlPool {
	return sqlPool{sqlQuerier{r: db, stmts: &stmtCache{db: db, m: map[string]*sql.Stmt{}}}, db}
}

func (p sqlPool) begin(ctx context.Context) (txn, error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlQuerier{r: tx, tx: tx, stmts: p.stmts}, tx}, nil
}

type sqlTx struct {
	sqlQuerier
	tx *sql.Tx
}

func (t sqlTx) Native() any                    { return t.tx }
func (t sqlTx) commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) rollback(context.Context) error { return t.tx.Rollback() }

// pgx

type pgRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQuerier struct{ r pgRunner }

func (q pgQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.r.Query(ctx, rebind(query), args...)
}

func (q pgQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.r.QueryRow(ctx, rebind(query), args...)
}

type pgPool struct {
	pgQuerier
	p *pgxpool.Pool
}

func newPGPool(p *pgxpool.Pool) pgPool { return pgPool{pgQuerier{p}, p} }

func (p pgPool) begin(ctx context.Context) (txn, error) {
	tx, err := p.p.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{pgQuerier{tx}, tx}, nil
}

type pgTx struct {
	pgQuerier
	tx pgx.Tx
}

func (t pgTx) Native() any                        { return t.tx }
func (t pgTx) commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgTx) rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// rebind turns the "?" placeholders of query into PostgreSQL's $1..$n,
// leaving string literals and quoted identifiers alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
