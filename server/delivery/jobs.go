package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"pushstart/server/store"
)

// planArgs is the job that cuts a broadcast into chunk jobs, at its SendAt.
type planArgs struct {
	BroadcastID string `json:"broadcastId"`
}

func (planArgs) Kind() string { return "pushstart_broadcast_plan" }

type planWorker struct {
	river.WorkerDefaults[planArgs]
	e *Engine
}

func (w *planWorker) Work(ctx context.Context, job *river.Job[planArgs]) error {
	e := w.e
	b, err := e.db.PlanBroadcast(ctx, job.Args.BroadcastID, e.chunkSize,
		func(ctx context.Context, tx store.Tx, chunks []store.Chunk) error {
			params := make([]river.InsertManyParams, len(chunks))
			for i, c := range chunks {
				params[i] = river.InsertManyParams{Args: chunkArgs{c}}
			}
			return e.q.insertMany(ctx, tx, params)
		})
	if errors.Is(err, store.ErrBroadcastNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	e.log.Info("broadcast planned", "id", b.ID, "status", b.Status, "total", b.Total, "chunks", b.Chunks)
	return nil
}

// chunkArgs is the job that sends one chunk of a broadcast.
type chunkArgs struct {
	store.Chunk
}

func (chunkArgs) Kind() string { return "pushstart_broadcast_chunk" }

type chunkWorker struct {
	river.WorkerDefaults[chunkArgs]
	e *Engine
}

// Work sends the chunk's pushes that have no outcome yet. A run takes new
// subscriptions for at most the engine's slice, then snoozes the job so that
// it continues in a fresh run (and other jobs get their turn); a run
// canceled by shutdown also snoozes, so the chunk resumes at once on the
// next start. Results cut short by a shutdown are not recorded: those
// subscriptions are pushed to again by the next run.
func (w *chunkWorker) Work(ctx context.Context, job *river.Job[chunkArgs]) error {
	e := w.e
	c := job.Args.Chunk
	b, err := e.db.StartChunk(ctx, c)
	if errors.Is(err, store.ErrBroadcastNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if b.Finished() {
		return nil
	}

	rec := newRecorder(e.db)
	// Room for a page: the feeder reads the next one while the senders
	// work through this one.
	subs := make(chan store.Subscription, e.pageSize())
	var wg sync.WaitGroup
	for range e.concurrency {
		wg.Add(1)
		e.tasks <- func() {
			defer wg.Done()
			ack := make(chan error, 1)
			for sub := range subs {
				res := e.sender.Deliver(ctx, sub, b.Message)
				if res.Interrupted && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					// Stopped by a shutdown: the next run pushes again.
					// (A push cut off by the run's own time limit is
					// recorded as failed instead: one slower than that
					// would be cut off again, run after run.)
					continue
				}
				d := res.Delivery(sub)
				d.BroadcastID = b.ID
				if err := rec.record(store.Outcome{Delivery: d, Pruned: res.Pruned}, ack); err != nil {
					rec.fail(err)
				}
			}
		}
	}

	complete, feedErr := e.feed(ctx, c, b, subs, rec)
	close(subs)
	wg.Wait()
	rec.close()
	switch err := errors.Join(feedErr, rec.err()); {
	case ctx.Err() != nil:
		return river.JobSnooze(0)
	case err != nil:
		return err
	case !complete:
		return river.JobSnooze(0)
	}
	b, err = e.db.FinishChunk(context.WithoutCancel(ctx), c)
	if err != nil {
		return err
	}
	if b.Status == store.StatusDone {
		e.log.Info("broadcast done", "id", b.ID, "total", b.Total, "sent", b.Sent,
			"failed", b.Failed, "pruned", b.Pruned, "skipped", b.Skipped)
	}
	return nil
}

// feed hands the chunk's pending subscriptions to the senders, a page at a
// time, until none is left (complete), the broadcast is canceled (complete),
// the run's slice is over, or recording failed.
func (e *Engine) feed(ctx context.Context, c store.Chunk, b store.Broadcast, subs chan<- store.Subscription, rec *recorder) (complete bool, err error) {
	stopAt := e.now().Add(e.slice)
	page := e.pageSize()
	var after int64
	for {
		if ctx.Err() != nil || rec.err() != nil || e.now().After(stopAt) {
			return false, nil
		}
		if after != 0 {
			cur, err := e.db.GetBroadcast(ctx, b.ID)
			if err != nil {
				return false, err
			}
			if cur.Status == store.StatusCanceled {
				return true, nil
			}
		}
		batch, err := e.db.Pending(ctx, c, b.Audience, after, page)
		if err != nil {
			return false, err
		}
		if len(batch) == 0 {
			return true, nil
		}
		for _, sub := range batch {
			select {
			case subs <- sub:
			case <-ctx.Done():
				return false, nil
			}
		}
		after = batch[len(batch)-1].ID
	}
}

// pageSize is how many subscriptions a chunk job reads at a time.
func (e *Engine) pageSize() int { return e.concurrency * 4 }

// recorder writes outcomes in groups: each caller of record waits until its
// outcome is committed, and whatever queued up meanwhile goes in the next
// transaction. A sender therefore never has more than one push whose
// outcome is not yet stored.
type recorder struct {
	db   *store.DB
	in   chan pending
	done chan struct{}

	mu     sync.Mutex
	failed error
}

type pending struct {
	out store.Outcome
	ack chan error
}

const (
	maxGroup    = 128
	groupWindow = 2 * time.Millisecond
)

func newRecorder(db *store.DB) *recorder {
	r := &recorder{db: db, in: make(chan pending, maxGroup), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *recorder) run() {
	defer close(r.done)
	for first := range r.in {
		group := []pending{first}
		// Outcomes arriving within groupWindow share a transaction: each
		// one costs a write transaction's begin and commit otherwise.
		window := time.NewTimer(groupWindow)
	more:
		for len(group) < maxGroup {
			select {
			case p, ok := <-r.in:
				if !ok {
					break more
				}
				group = append(group, p)
			case <-window.C:
				break more
			}
		}
		window.Stop()
		outs := make([]store.Outcome, len(group))
		for i, p := range group {
			outs[i] = p.out
		}
		// Outcomes already known are written even when the job's context
		// ends: they are what keeps the next run from sending them again.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.db.RecordOutcomes(ctx, outs)
		cancel()
		for _, p := range group {
			p.ack <- err
		}
	}
}

// record queues o and waits until it is committed; ack (buffered, one
// slot) is the caller's own, reused from one outcome to the next.
func (r *recorder) record(o store.Outcome, ack chan error) error {
	r.in <- pending{out: o, ack: ack}
	return <-ack
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = err
	}
}

func (r *recorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) close() {
	close(r.in)
	<-r.done
}
