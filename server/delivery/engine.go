// Package delivery is the kit's delivery engine: it turns an accepted
// broadcast into pushes, durably, on a River queue kept in the kit's own
// database (SQLite through riversqlite, PostgreSQL through riverpgxv5).
//
// How a broadcast flows:
//
//  1. Accepted: Submit stores the broadcast and inserts its plan job in the
//     same transaction, so a broadcast that was answered 202 has a job, and
//     a job always has its broadcast. A broadcast with a SendAt in the
//     future is scheduled: its plan job waits for that time.
//  2. Planned: the plan job cuts the audience into chunks of at most
//     ChunkSize subscriptions by ID range (found by query: nothing is loaded
//     into memory) and inserts one chunk job per chunk, again in one
//     transaction. A million subscriptions are two thousand jobs.
//  3. Sent: a chunk job pages through its subscriptions that have no
//     outcome yet and pushes to them, Concurrency at a time. Several chunk
//     jobs run at once, in this process and in every other process on the
//     same PostgreSQL database.
//  4. Recorded: each outcome is written before the worker that sent it
//     takes the next subscription (outcomes are committed in groups), once
//     per (broadcast, subscription).
//
// What is guaranteed: every subscription of the audience is pushed to at
// least once. A process killed at any moment leaves its chunk jobs
// "running"; River rescues them after RescueAfter and another run (in this
// process after a restart, or in another process) resumes each chunk where
// its recorded outcomes end, so only the pushes in flight at the kill, at
// most Concurrency per running chunk, can be sent twice. There is no order
// between subscriptions.
package delivery

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"pushstart/server/sender"
	"pushstart/server/store"
)

// Defaults for Options.
const (
	DefaultChunkSize   = 500
	DefaultConcurrency = 16
	DefaultJobs        = 4
	DefaultRescueAfter = 5 * time.Minute
)

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	DB     *store.DB      // the store, whose database also holds the queue
	Sender *sender.Sender // sends each push
	Log    *slog.Logger

	ChunkSize   int // subscriptions per chunk job
	Concurrency int // pushes in flight per running chunk job
	Jobs        int // chunk jobs running at once in this process
	// RescueAfter is how long a chunk job may look running before River
	// hands it to another run: after a crash, the time before the
	// broadcast resumes. Each run of a chunk stops taking new
	// subscriptions after a quarter of it (at most 30 s), and is canceled
	// after two thirds, so a live run is never rescued.
	RescueAfter time.Duration
	// MessageID, when set, issues the message id that each push of a
	// broadcast carries in its payload (push.WithMessageID), for the
	// service worker's reports: (*messageid.Signer).Sign. Nil sends the
	// broadcast's payload as it is.
	MessageID func(broadcastID string, subscriptionID int64) string
}

// Engine accepts broadcasts and sends them from its queue's jobs.
type Engine struct {
	db          *store.DB
	sender      *sender.Sender
	log         *slog.Logger
	q           queue
	chunkSize   int
	concurrency int
	slice       time.Duration // a chunk run stops taking subscriptions after this
	now         func() time.Time
	// messageID issues each push's message id; nil: none.
	messageID func(broadcastID string, subscriptionID int64) string
	// tasks feeds the engine's senders: Jobs x Concurrency goroutines that
	// live as long as the engine, so that their stacks, grown deep by
	// encryption and HTTP, are not grown again for every chunk.
	tasks    chan func()
	stopping chan struct{} // closed by Stop: chunk runs start no more pushes
	stopOnce sync.Once
}

// queue is the part of River the engine uses, whatever the database: River's
// client is generic over the driver's transaction type.
type queue interface {
	insert(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error
	insertMany(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type riverQueue[TTx any] struct{ client *river.Client[TTx] }

func (q riverQueue[TTx]) insert(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := q.client.InsertTx(ctx, tx.Native().(TTx), args, opts)
	return err
}

func (q riverQueue[TTx]) insertMany(ctx context.Context, tx store.Tx, params []river.InsertManyParams) error {
	_, err := q.client.InsertManyTx(ctx, tx.Native().(TTx), params)
	return err
}

func (q riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }

// stop waits, for as long as ctx allows, for running jobs to end (the
// engine has told its chunk runs to stop between pushes), then cancels
// them.
func (q riverQueue[TTx]) stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, q.client.StopAndCancel(hard))
}

// New migrates the queue's tables in o.DB and returns an engine ready to
// Start.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.DB == nil || o.Sender == nil {
		return nil, errors.New("delivery: Options.DB and Options.Sender are required")
	}
	for name, v := range map[string]int64{"ChunkSize": int64(o.ChunkSize), "Concurrency": int64(o.Concurrency),
		"Jobs": int64(o.Jobs), "RescueAfter": int64(o.RescueAfter)} {
		if v < 0 {
			return nil, fmt.Errorf("delivery: Options.%s must not be negative", name)
		}
	}
	rescue := cmp.Or(o.RescueAfter, DefaultRescueAfter)
	e := &Engine{
		db:          o.DB,
		sender:      o.Sender,
		log:         cmp.Or(o.Log, slog.New(slog.DiscardHandler)),
		chunkSize:   cmp.Or(o.ChunkSize, DefaultChunkSize),
		concurrency: cmp.Or(o.Concurrency, DefaultConcurrency),
		slice:       min(30*time.Second, rescue/4),
		messageID:   o.MessageID,
		now:         time.Now,
	}
	jobs := cmp.Or(o.Jobs, DefaultJobs)
	e.tasks = make(chan func())
	e.stopping = make(chan struct{})
	for range jobs * e.concurrency {
		go func() {
			for task := range e.tasks {
				task()
			}
		}()
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &planWorker{e: e})
	river.AddWorker(workers, &chunkWorker{e: e})
	cfg := &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: jobs}},
		Workers:              workers,
		JobTimeout:           rescue * 2 / 3,
		RescueStuckJobsAfter: rescue,
		FetchCooldown:        10 * time.Millisecond,
		FetchPollInterval:    100 * time.Millisecond,
		Logger:               e.log.With("component", "queue"),
	}

	var err error
	switch {
	case o.DB.SQLite() != nil:
		drv := riversqlite.New(o.DB.SQLite())
		if err := migrateQueue(ctx, drv, nil); err != nil {
			close(e.tasks)
			return nil, err
		}
		var c *river.Client[*sql.Tx]
		c, err = river.NewClient(drv, cfg)
		e.q = riverQueue[*sql.Tx]{c}
	case o.DB.Postgres() != nil:
		drv := riverpgxv5.New(o.DB.Postgres())
		if err := migrateQueue(ctx, drv, func(ctx context.Context, run func() error) error {
			// Instances starting together take turns: one holds the lock
			// on a connection of its own while River migrates (each of
			// its steps in a transaction of its own, as some must be).
			conn, err := o.DB.Postgres().Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7011652396061163000)`); err != nil {
				return err
			}
			defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7011652396061163000)`)
			return run()
		}); err != nil {
			close(e.tasks)
			return nil, err
		}
		var c *river.Client[pgx.Tx]
		c, err = river.NewClient(drv, cfg)
		e.q = riverQueue[pgx.Tx]{c}
	default:
		close(e.tasks)
		return nil, errors.New("delivery: the store has no database")
	}
	if err != nil {
		close(e.tasks)
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return e, nil
}

// migrateQueue brings River's tables up to date, inside locked when given.
func migrateQueue[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], locked func(context.Context, func() error) error) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("delivery: queue migrations: %w", err)
	}
	run := func() error {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	}
	if locked == nil {
		err = run()
	} else {
		err = locked(ctx, run)
	}
	if err != nil {
		return fmt.Errorf("delivery: queue migrations: %w", err)
	}
	return nil
}

// Start starts working the queue: broadcasts accepted earlier, by this
// process or another, resume. It works until Stop, whatever becomes of ctx.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.q.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("delivery: start: %w", err)
	}
	return nil
}

// Stop stops the engine: running chunks start no more pushes, wait for
// the ones in flight to be recorded, and snooze, so that they continue at
// once on the next start (or in another instance); then the queue stops,
// canceling what is still running when ctx ends.
func (e *Engine) Stop(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() {
		close(e.stopping)
		err = e.q.stop(ctx)
		close(e.tasks)
	})
	return err
}

func (e *Engine) isStopping() bool {
	select {
	case <-e.stopping:
		return true
	default:
		return false
	}
}

// Submit stores b (its Message, Title, Audience and SendAt; the rest is set
// here) and queues it, in one transaction. It returns the stored broadcast.
func (e *Engine) Submit(ctx context.Context, b store.Broadcast) (store.Broadcast, error) {
	b.ID = newID(e.now())
	var opts *river.InsertOpts
	if b.SendAt != nil && b.SendAt.After(e.now()) {
		opts = &river.InsertOpts{ScheduledAt: *b.SendAt}
	} else {
		b.SendAt = nil
	}
	stored, err := e.db.CreateBroadcast(ctx, b, func(ctx context.Context, tx store.Tx) error {
		return e.q.insert(ctx, tx, planArgs{BroadcastID: b.ID}, opts)
	})
	if err != nil {
		return store.Broadcast{}, fmt.Errorf("delivery: submit: %w", err)
	}
	e.log.Info("broadcast accepted", "id", stored.ID, "status", stored.Status, "total", stored.Total)
	return stored, nil
}

// Cancel stops a broadcast that has not finished: pushes not yet started
// are not sent. It returns the broadcast as it is after.
func (e *Engine) Cancel(ctx context.Context, id string) (store.Broadcast, error) {
	b, err := e.db.CancelBroadcast(ctx, id)
	if err == nil {
		e.log.Info("broadcast canceled", "id", id, "status", b.Status, "sent", b.Sent)
	}
	return b, err
}

// newID returns a broadcast ID that sorts by creation time: 12 hex digits of
// milliseconds since the epoch, then 8 random bytes.
func newID(now time.Time) string {
	var r [8]byte
	rand.Read(r[:])
	return fmt.Sprintf("%012x", now.UnixMilli()) + hex.EncodeToString(r[:])
}
