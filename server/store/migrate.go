package store

import (
	"context"
	"fmt"
	"time"
)

// sqliteMigrations returns the SQLite schema as numbered steps: step i (from
// 0) brings the database to version i+1. Steps are only ever appended, never
// edited, since existing databases have already run the old ones.
//
// Times are milliseconds since the Unix epoch (UTC).
func sqliteMigrations() [][]string {
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
		{ // 2: subscription ids, users and tags; broadcasts; settings
			// Subscriptions get an id that broadcasts cut into ranges,
			// given in the order they were stored. AUTOINCREMENT: an id
			// is never reused, even the highest one after its row is
			// deleted, since broadcast outcomes are keyed by it.
			`CREATE TABLE subscriptions_v2 (
				id              INTEGER PRIMARY KEY AUTOINCREMENT,
				endpoint        TEXT NOT NULL UNIQUE,
				p256dh          TEXT NOT NULL,
				auth            TEXT NOT NULL,
				expiration_time BIGINT,
				user_agent      TEXT NOT NULL DEFAULT '',
				user_id         TEXT NOT NULL DEFAULT '',
				created_at      BIGINT NOT NULL,
				updated_at      BIGINT NOT NULL
			)`,
			`INSERT INTO subscriptions_v2 (endpoint, p256dh, auth, expiration_time, user_agent, created_at, updated_at)
				SELECT endpoint, p256dh, auth, expiration_time, user_agent, created_at, updated_at
				FROM subscriptions ORDER BY created_at, endpoint`,
			`DROP TABLE subscriptions`,
			`ALTER TABLE subscriptions_v2 RENAME TO subscriptions`,
			`CREATE INDEX subscriptions_user ON subscriptions (user_id)`,
			`CREATE TABLE subscription_tags (
				subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
				tag             TEXT NOT NULL,
				PRIMARY KEY (tag, subscription_id)
			)`,
			// For the cascade on delete, and for loading a page's tags.
			`CREATE INDEX subscription_tags_subscription ON subscription_tags (subscription_id)`,
			`CREATE TABLE broadcasts (
				id                  TEXT PRIMARY KEY,
				status              TEXT NOT NULL,
				title               TEXT NOT NULL DEFAULT '',
				payload             BLOB NOT NULL,
				ttl                 INTEGER NOT NULL,
				urgency             TEXT NOT NULL DEFAULT '',
				topic               TEXT NOT NULL DEFAULT '',
				audience            TEXT NOT NULL,
				send_at             BIGINT,
				total               INTEGER NOT NULL DEFAULT 0,
				sent                INTEGER NOT NULL DEFAULT 0,
				failed              INTEGER NOT NULL DEFAULT 0,
				pruned              INTEGER NOT NULL DEFAULT 0,
				skipped             INTEGER NOT NULL DEFAULT 0,
				chunks              INTEGER NOT NULL DEFAULT 0,
				max_subscription_id BIGINT NOT NULL DEFAULT 0,
				created_at          BIGINT NOT NULL,
				started_at          BIGINT,
				finished_at         BIGINT
			)`,
			`CREATE INDEX broadcasts_created ON broadcasts (created_at, id)`,
			`CREATE TABLE broadcast_chunks (
				broadcast_id TEXT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
				seq          INTEGER NOT NULL,
				first_id     BIGINT NOT NULL,
				last_id      BIGINT NOT NULL,
				done_at      BIGINT,
				PRIMARY KEY (broadcast_id, seq)
			)`,
			// A test send has no broadcast (NULL, so the unique index
			// leaves it alone); a broadcast's outcome is recorded once per
			// subscription, which the unique index enforces and Pending's
			// NOT EXISTS looks up.
			`ALTER TABLE deliveries ADD COLUMN broadcast_id TEXT`,
			`ALTER TABLE deliveries ADD COLUMN subscription_id BIGINT NOT NULL DEFAULT 0`,
			`ALTER TABLE deliveries ADD COLUMN host TEXT NOT NULL DEFAULT ''`,
			`CREATE UNIQUE INDEX deliveries_outcome ON deliveries (broadcast_id, subscription_id)`,
			// Time order is kept for the bounded log of test sends only:
			// an index over every outcome would cost each push of a
			// broadcast one more write.
			`DROP INDEX deliveries_at`,
			`CREATE INDEX deliveries_tests_at ON deliveries (at, id) WHERE broadcast_id IS NULL`,
			`CREATE TABLE settings (
				name  TEXT PRIMARY KEY,
				value TEXT NOT NULL
			)`,
		},
		{ // 3: the admin console: sessions, push service hosts, the funnel
			// A session is kept as a keyed hash of its cookie (see
			// server/session.go), so that reading the database does not
			// sign anyone in.
			`CREATE TABLE admin_sessions (
				id_hash    TEXT PRIMARY KEY,
				created_at BIGINT NOT NULL,
				expires_at BIGINT NOT NULL
			)`,
			`CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at)`,
			// The endpoint's host, for counting subscriptions by push
			// service: set on every write (EndpointHost), and here for the
			// rows there are. Unlike EndpointHost, this keeps a default
			// port written out (":443"), which no push service puts in its
			// endpoints; the next save of such a row corrects it.
			`ALTER TABLE subscriptions ADD COLUMN host TEXT NOT NULL DEFAULT ''`,
			`UPDATE subscriptions SET host = lower(substr(rest, 1, instr(rest || '/', '/') - 1))
				FROM (SELECT id AS rid, substr(endpoint, instr(endpoint, '://') + 3) AS rest FROM subscriptions)
				WHERE id = rid`,
			// A subscription's last success and failure, for the admin's
			// page of subscriptions.
			`CREATE INDEX deliveries_subscription ON deliveries (subscription_id, at)`,
			// What the service worker reported of each broadcast's push:
			// once per (broadcast, type, subscription).
			`CREATE TABLE events (
				broadcast_id    TEXT NOT NULL,
				type            TEXT NOT NULL,
				subscription_id BIGINT NOT NULL,
				action          TEXT NOT NULL DEFAULT '',
				browser         TEXT NOT NULL DEFAULT '',
				at              BIGINT NOT NULL,
				PRIMARY KEY (broadcast_id, type, subscription_id)
			)`,
		},
	}
}

// postgresMigrations returns the PostgreSQL schema as numbered steps, kept
// like sqliteMigrations. It starts at the schema SQLite reached in its step
// 2; the tables are the same, spelled in PostgreSQL's types. The queue that
// shares the database keeps its own river_* tables.
func postgresMigrations() [][]string {
	return [][]string{
		{ // 1: subscriptions, tags, broadcasts, the delivery log, settings
			`CREATE TABLE subscriptions (
				id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				endpoint        TEXT NOT NULL UNIQUE,
				p256dh          TEXT NOT NULL,
				auth            TEXT NOT NULL,
				expiration_time BIGINT,
				user_agent      TEXT NOT NULL DEFAULT '',
				user_id         TEXT NOT NULL DEFAULT '',
				created_at      BIGINT NOT NULL,
				updated_at      BIGINT NOT NULL
			)`,
			`CREATE INDEX subscriptions_user ON subscriptions (user_id)`,
			`CREATE TABLE subscription_tags (
				subscription_id BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
				tag             TEXT NOT NULL,
				PRIMARY KEY (tag, subscription_id)
			)`,
			`CREATE INDEX subscription_tags_subscription ON subscription_tags (subscription_id)`,
			// Byte order for ids ("C"), as SQLite compares them.
			`CREATE TABLE broadcasts (
				id                  TEXT COLLATE "C" PRIMARY KEY,
				status              TEXT NOT NULL,
				title               TEXT NOT NULL DEFAULT '',
				payload             BYTEA NOT NULL,
				ttl                 INTEGER NOT NULL,
				urgency             TEXT NOT NULL DEFAULT '',
				topic               TEXT NOT NULL DEFAULT '',
				audience            TEXT NOT NULL,
				send_at             BIGINT,
				total               INTEGER NOT NULL DEFAULT 0,
				sent                INTEGER NOT NULL DEFAULT 0,
				failed              INTEGER NOT NULL DEFAULT 0,
				pruned              INTEGER NOT NULL DEFAULT 0,
				skipped             INTEGER NOT NULL DEFAULT 0,
				chunks              INTEGER NOT NULL DEFAULT 0,
				max_subscription_id BIGINT NOT NULL DEFAULT 0,
				created_at          BIGINT NOT NULL,
				started_at          BIGINT,
				finished_at         BIGINT
			)`,
			`CREATE INDEX broadcasts_created ON broadcasts (created_at, id)`,
			`CREATE TABLE broadcast_chunks (
				broadcast_id TEXT COLLATE "C" NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
				seq          INTEGER NOT NULL,
				first_id     BIGINT NOT NULL,
				last_id      BIGINT NOT NULL,
				done_at      BIGINT,
				PRIMARY KEY (broadcast_id, seq)
			)`,
			`CREATE TABLE deliveries (
				id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				broadcast_id    TEXT COLLATE "C",
				subscription_id BIGINT NOT NULL DEFAULT 0,
				endpoint_hash   TEXT NOT NULL,
				host            TEXT NOT NULL DEFAULT '',
				outcome         TEXT NOT NULL,
				status          INTEGER NOT NULL,
				attempts        INTEGER NOT NULL,
				error           TEXT NOT NULL DEFAULT '',
				at              BIGINT NOT NULL
			)`,
			`CREATE UNIQUE INDEX deliveries_outcome ON deliveries (broadcast_id, subscription_id)`,
			`CREATE INDEX deliveries_tests_at ON deliveries (at, id) WHERE broadcast_id IS NULL`,
			`CREATE TABLE settings (
				name  TEXT PRIMARY KEY,
				value TEXT NOT NULL
			)`,
		},
		{ // 2: the admin console (see SQLite's step 3)
			`CREATE TABLE admin_sessions (
				id_hash    TEXT PRIMARY KEY,
				created_at BIGINT NOT NULL,
				expires_at BIGINT NOT NULL
			)`,
			`CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at)`,
			`ALTER TABLE subscriptions ADD COLUMN host TEXT NOT NULL DEFAULT ''`,
			`UPDATE subscriptions SET host = lower(split_part(split_part(endpoint, '://', 2), '/', 1))`,
			`CREATE INDEX deliveries_subscription ON deliveries (subscription_id, at)`,
			`CREATE TABLE events (
				broadcast_id    TEXT COLLATE "C" NOT NULL,
				type            TEXT NOT NULL,
				subscription_id BIGINT NOT NULL,
				action          TEXT NOT NULL DEFAULT '',
				browser         TEXT NOT NULL DEFAULT '',
				at              BIGINT NOT NULL,
				PRIMARY KEY (broadcast_id, type, subscription_id)
			)`,
		},
	}
}

// migrationLock is the key of the PostgreSQL advisory lock that migrations
// hold, so that processes starting together migrate one after another: the
// bytes of "pushstar".
const migrationLock = 0x7075736873746172

// migrate applies the steps the database has not run yet, all in one
// transaction, recording each in schema_migrations. Reopening an up-to-date
// database changes nothing; a database from a newer build is refused. On
// SQLite the transaction begins IMMEDIATE, which serialises processes; on
// PostgreSQL it first takes an advisory lock.
func migrate(ctx context.Context, p pool, dialect string) (err error) {
	steps := sqliteMigrations()
	if dialect == dialectPostgres {
		steps = postgresMigrations()
	}
	tx, err := p.begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.rollback(ctx)
		}
	}()

	if dialect == dialectPostgres {
		if _, err := tx.exec(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrationLock)); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(steps) {
		return fmt.Errorf("migrate: database schema version %d is newer than this build knows (%d)", current, len(steps))
	}
	for i := current; i < len(steps); i++ {
		version := i + 1
		for _, stmt := range steps[i] {
			if _, err := tx.exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate: version %d: %w", version, err)
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			version, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate: version %d: %w", version, err)
		}
	}
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
