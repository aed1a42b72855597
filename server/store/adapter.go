package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

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

type sqlQuerier struct{ r sqlRunner }

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.r.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.r.QueryRowContext(ctx, query, args...)
}

// sqlRows drops Close's error: a failed iteration is reported by Err.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlPool struct {
	sqlQuerier
	db *sql.DB
}

func newSQLPool(db *sql.DB) sqlPool { return sqlPool{sqlQuerier{db}, db} }

func (p sqlPool) begin(ctx context.Context) (txn, error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlQuerier{tx}, tx}, nil
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
