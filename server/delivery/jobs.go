package delivery

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"pushstart/push"
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

	run := &chunkRun{e: e, c: c, b: b, rec: newRecorder(e.db),
		// Room for a page: the feeder reads the next one while the
		// senders work through this one.
		subs: make(chan store.Subscription, e.pageSize())}
	var wg sync.WaitGroup
	for range e.concurrency {
		wg.Add(1)
		e.tasks <- func() {
			defer wg.Done()
			run.send(ctx)
		}
	}
	complete, feedErr := run.feed(ctx)
	close(run.subs)
	wg.Wait()
	run.rec.close()
	switch err := errors.Join(feedErr, run.rec.err()); {
	case ctx.Err() != nil || e.isStopping():
		// Shutdown: the chunk runs again at once on the next start.
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

// chunkRun is one run of a chunk job: a feeder reading pages of pending
// subscriptions into subs, senders taking them from it.
type chunkRun struct {
	e    *Engine
	c    store.Chunk
	b    store.Broadcast
	rec  *recorder
	subs chan store.Subscription
	// halted is set when the run must start no more pushes: the
	// broadcast was canceled, or recording failed.
	halted atomic.Bool
	noID   atomic.Bool // the payload had no room for a message id (logged once)
}

// stopped reports whether the run must start no more pushes.
func (r *chunkRun) stopped(ctx context.Context) bool {
	return ctx.Err() != nil || r.halted.Load() || r.rec.err() != nil || r.e.isStopping()
}

// send pushes to the subscriptions the feeder hands over, recording each
// outcome before taking the next, until subs is closed. Once the run is
// stopped it drains subs without pushing.
func (r *chunkRun) send(ctx context.Context) {
	ack := make(chan error, 1)
	for sub := range r.subs {
		if r.stopped(ctx) {
			continue
		}
		res := r.e.sender.Deliver(ctx, sub, r.message(sub))
		if res.Interrupted && (res.Attempts == 0 || !errors.Is(ctx.Err(), context.DeadlineExceeded)) {
			// Never sent, or cut off by a shutdown: the next run
			// pushes to it again. (A push the run's own time limit cut
			// off in mid-attempt is recorded as failed: one slower
			// than that limit would be cut off again, run after run.)
			continue
		}
		d := res.Delivery(sub)
		d.BroadcastID = r.b.ID
		if err := r.rec.record(store.Outcome{Delivery: d, Pruned: res.Pruned}, ack); err != nil {
			r.rec.fail(err)
		}
	}
}

// message is the push to sub: the broadcast's message, its payload
// carrying the push's own message id when the engine issues them. A payload
// the id does not fit (a broadcast accepted before ids were, with less room
// than push.MaxBroadcastPayload leaves) goes without one: the notification
// matters more than its count.
func (r *chunkRun) message(sub store.Subscription) push.Message {
	m := r.b.Message
	if r.e.messageID == nil {
		return m
	}
	payload, err := push.WithMessageID(m.Payload, r.e.messageID(r.b.ID, sub.ID))
	if err == nil && len(payload) <= push.MaxPlaintext {
		m.Payload = payload
	} else if r.noID.CompareAndSwap(false, true) {
		r.e.log.Warn("broadcast sent without message ids: its funnel will not count these pushes",
			"id", r.b.ID, "payloadBytes", len(m.Payload), "err", err)
	}
	return m
}

// feed hands the chunk's pending subscriptions to the senders, a page at a
// time, until none is left (complete), the broadcast is canceled (complete),
// the run's slice is over, or the run is stopped.
func (r *chunkRun) feed(ctx context.Context) (complete bool, err error) {
	e := r.e
	stopAt := e.now().Add(e.slice)
	var after int64
	for {
		if r.stopped(ctx) || e.now().After(stopAt) {
			return false, nil
		}
		if after != 0 {
			cur, err := e.db.GetBroadcast(ctx, r.b.ID)
			if err != nil {
				return false, err
			}
			if cur.Status == store.StatusCanceled {
				r.halted.Store(true) // what is buffered is not sent
				return true, nil
			}
		}
		batch, err := e.db.Pending(ctx, r.c, r.b.Audience, after, e.pageSize())
		if err != nil {
			return false, err
		}
		if len(batch) == 0 {
			return true, nil
		}
		for _, sub := range batch {
			if r.stopped(ctx) {
				return false, nil
			}
			select {
			case r.subs <- sub:
			case <-ctx.Done():
				return false, nil
			case <-e.stopping:
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
