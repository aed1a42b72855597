package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations returns the schema as numbered steps: step i (from 0) brings
// the database to version i+1. Steps are only ever appended, never edited,
// since existing databases have already run the old ones.
//
// The SQL is kept portable; the one SQLite-specific choice is
// "id INTEGER PRIMARY KEY" (an alias of the rowid), which PostgreSQL would
// spell "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY". Times are
// milliseconds since the Unix epoch (UTC).
func migrations() [][]string {
	return [][]string{
		{ // 1: subscriptions and the delivery log
			`CREATE TABLE subscriptions (
				endpoint        TEXT PRIMARY KEY,
				p256dh          TEXT NOT NULL,
				auth            TEXT NOT NULL,
				expiration_time BIGINT,
				user_agent      TEXT NOT NULL DEFAULT '',
				created_at      BIGINT NOT NULL,
				updated_at      BIGINT NOT NULL
			)`,
			`CREATE TABLE deliveries (
				id            INTEGER PRIMARY KEY,
				endpoint_hash TEXT NOT NULL,
				outcome       TEXT NOT NULL,
				status        INTEGER NOT NULL,
				attempts      INTEGER NOT NULL,
				error         TEXT NOT NULL DEFAULT '',
				at            BIGINT NOT NULL
			)`,
			`CREATE INDEX deliveries_at ON deliveries (at)`,
		},
	}
}

// migrate applies the steps the database has not run yet, all in one
// transaction, recording each in schema_migrations. Reopening an up-to-date
// database changes nothing; a database from a newer build is refused.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	steps := migrations()
	if current > len(steps) {
		return fmt.Errorf("migrate: database schema version %d is newer than this build knows (%d)", current, len(steps))
	}
	for i := current; i < len(steps); i++ {
		version := i + 1
		for _, stmt := range steps[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate: version %d: %w", version, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			version, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate: version %d: %w", version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
