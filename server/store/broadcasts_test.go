package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pushstart/push"
)

// addSubs stores n subscriptions, giving each the user and tags that with
// (when not nil) returns for its index, and returns them with their IDs.
func addSubs(t testing.TB, s *DB, n int, with func(i int, sub *Subscription)) []Subscription {
	t.Helper()
	ctx := context.Background()
	subs := make([]Subscription, n)
	for i := range n {
		x := sub(fmt.Sprintf("https://push.example/%d-%d", time.Now().UnixNano(), i))
		if with != nil {
			with(i, &x)
		}
		if _, err := s.Upsert(ctx, x); err != nil {
			t.Fatal(err)
		}
		subs[i] = mustGet(t, s, x.Endpoint)
	}
	return subs
}

func createBroadcast(t testing.TB, s *DB, id string, a Audience) Broadcast {
	t.Helper()
	b, err := s.CreateBroadcast(context.Background(), Broadcast{
		ID: id, Title: "Hello", Audience: a,
		Message: push.Message{Payload: []byte(`{"title":"Hello"}`), TTL: 60, Urgency: "high", Topic: "t1"},
	}, nil)
	if err != nil {
		t.Fatalf("CreateBroadcast(%q): %v", id, err)
	}
	return b
}

// plan plans broadcast id and returns the chunks it gave its enqueue.
func plan(t testing.TB, s *DB, id string, chunkSize int) []Chunk {
	t.Helper()
	var chunks []Chunk
	_, err := s.PlanBroadcast(context.Background(), id, chunkSize, func(_ context.Context, _ Tx, cs []Chunk) error {
		chunks = cs
		return nil
	})
	if err != nil {
		t.Fatalf("PlanBroadcast(%q): %v", id, err)
	}
	return chunks
}

func outcome(bid string, subID int64, o string, at time.Time) Outcome {
	return Outcome{Delivery: Delivery{BroadcastID: bid, SubscriptionID: subID, EndpointHash: "h", Host: "push.example",
		Outcome: o, Status: 201, Attempts: 1, At: at}}
}

func recordAll(t testing.TB, s *DB, bid string, subs []Subscription, o string) {
	t.Helper()
	var outs []Outcome
	for _, sub := range subs {
		outs = append(outs, outcome(bid, sub.ID, o, time.Time{}))
	}
	if err := s.RecordOutcomes(context.Background(), outs); err != nil {
		t.Fatal(err)
	}
}

// finish finishes chunks in order and returns the broadcast the last one
// gave.
func finish(t testing.TB, s *DB, chunks ...Chunk) Broadcast {
	t.Helper()
	var b Broadcast
	for _, c := range chunks {
		var err error
		if b, err = s.FinishChunk(context.Background(), c); err != nil {
			t.Fatalf("FinishChunk(%+v): %v", c, err)
		}
	}
	return b
}

func sameBroadcast(a, b Broadcast) bool { return reflect.DeepEqual(a, b) }

func ids(subs []Subscription) []int64 {
	var out []int64
	for _, s := range subs {
		out = append(out, s.ID)
	}
	return out
}

// inChunks returns the IDs of the audience's subscriptions in chunks, in
// order, failing the test for a chunk out of order or overlapping another.
func inChunks(t testing.TB, s *DB, chunks []Chunk, a Audience) []int64 {
	t.Helper()
	var out []int64
	for i, c := range chunks {
		if c.Seq != i+1 || c.FirstID > c.LastID || (i > 0 && c.FirstID <= chunks[i-1].LastID) {
			t.Errorf("chunk %d is %+v after %+v", i, c, chunks[max(i-1, 0)])
		}
		subs, err := s.Pending(context.Background(), c, a, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ids(subs)...)
	}
	return out
}

func TestCreateBroadcast(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, clk := newTestClock(t, b)
		addSubs(t, s, 3, nil)

		later := clk.t.Add(time.Hour + 123456789*time.Nanosecond)
		in := Broadcast{
			ID: "b1", Title: "Hi", SendAt: &later,
			Message: push.Message{Payload: []byte(`{"title":"Hi"}`), TTL: 3600, Urgency: "low", Topic: "news"},
			// Values the store sets itself are ignored.
			Status: StatusDone, Sent: 9, Chunks: 9, CreatedAt: later,
		}
		got, err := s.CreateBroadcast(ctx, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusScheduled || got.Total != 3 || got.Sent != 0 || got.Chunks != 0 || got.Title != "Hi" {
			t.Errorf("created %+v; want scheduled, total 3", got)
		}
		if string(got.Message.Payload) != `{"title":"Hi"}` || got.Message.TTL != 3600 || got.Message.Urgency != "low" || got.Message.Topic != "news" {
			t.Errorf("message %+v", got.Message)
		}
		if got.SendAt == nil || !got.SendAt.Equal(later.Truncate(time.Millisecond)) || got.SendAt.Location() != time.UTC {
			t.Errorf("SendAt %v, want %v in UTC", got.SendAt, later)
		}
		if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Year() != 2030 || got.StartedAt != nil || got.FinishedAt != nil {
			t.Errorf("times: created %v, started %v, finished %v", got.CreatedAt, got.StartedAt, got.FinishedAt)
		}
		again, err := s.GetBroadcast(ctx, "b1")
		if err != nil || !sameBroadcast(again, got) {
			t.Errorf("GetBroadcast = %+v, %v; want %+v", again, err, got)
		}

		past := clk.t.Add(-time.Hour)
		if got, err := s.CreateBroadcast(ctx, Broadcast{ID: "b2", SendAt: &past}, nil); err != nil || got.Status != StatusQueued {
			t.Errorf("send time past: %+v, %v; want queued", got, err)
		}
		if got, err := s.CreateBroadcast(ctx, Broadcast{ID: "b3"}, nil); err != nil || got.Status != StatusQueued {
			t.Errorf("no send time: %+v, %v; want queued", got, err)
		}

		bad := []struct {
			name string
			b    Broadcast
		}{
			{"duplicate ID", Broadcast{ID: "b1"}},
			{"empty ID", Broadcast{}},
			{"long ID", Broadcast{ID: string(make([]byte, 65))}},
			{"two audiences", Broadcast{ID: "b4", Audience: Audience{Tags: []string{"a"}, Users: []string{"u"}}}},
		}
		for _, tt := range bad {
			if _, err := s.CreateBroadcast(ctx, tt.b, nil); err == nil {
				t.Errorf("%s: CreateBroadcast succeeded", tt.name)
			}
		}
		if _, err := s.GetBroadcast(ctx, "nope"); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("GetBroadcast(unknown) = %v, want ErrBroadcastNotFound", err)
		}
	})
}

// TestCreateBroadcastTx: enqueue runs inside the broadcast's transaction, on
// the driver's own transaction type, and its failure undoes the broadcast
// and whatever it wrote.
func TestCreateBroadcastTx(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		// write inserts a setting through the native transaction, as a
		// queue inserts its job.
		write := func(tx Tx, name string) error {
			switch n := tx.Native().(type) {
			case *sql.Tx:
				if s.Dialect() != "sqlite" {
					t.Errorf("Native() is %T on %s", n, s.Dialect())
				}
				_, err := n.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, 'job')`, name)
				return err
			case pgx.Tx:
				if s.Dialect() != "postgres" {
					t.Errorf("Native() is %T on %s", n, s.Dialect())
				}
				_, err := n.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, 'job')`, name)
				return err
			default:
				t.Fatalf("Native() is %T", n)
				return nil
			}
		}

		boom := errors.New("queue down")
		_, err := s.CreateBroadcast(ctx, Broadcast{ID: "fails"}, func(ctx context.Context, tx Tx) error {
			if err := write(tx, "job-fails"); err != nil {
				t.Fatal(err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("CreateBroadcast = %v, want enqueue's error", err)
		}
		if _, err := s.GetBroadcast(ctx, "fails"); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("broadcast after a failed enqueue: %v, want ErrBroadcastNotFound", err)
		}
		if v, _ := s.Setting(ctx, "job-fails", "none"); v != "none" {
			t.Errorf("the failed enqueue's write stayed: %q", v)
		}

		if _, err := s.CreateBroadcast(ctx, Broadcast{ID: "works"}, func(ctx context.Context, tx Tx) error {
			return write(tx, "job-works")
		}); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.Setting(ctx, "job-works", "none"); v != "job" {
			t.Errorf("the enqueue's write: %q, want it committed", v)
		}

		// Planning joins its transaction the same way.
		_, err = s.PlanBroadcast(ctx, "works", 10, func(ctx context.Context, tx Tx, cs []Chunk) error {
			t.Error("enqueue called for an empty audience")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		addSubs(t, s, 2, nil)
		createBroadcast(t, s, "p", Audience{})
		_, err = s.PlanBroadcast(ctx, "p", 10, func(ctx context.Context, tx Tx, cs []Chunk) error {
			if err := write(tx, "job-plan"); err != nil {
				t.Fatal(err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("PlanBroadcast = %v, want enqueue's error", err)
		}
		if got, _ := s.GetBroadcast(ctx, "p"); got.Chunks != 0 || got.Status != StatusQueued {
			t.Errorf("after a failed plan: %+v; want unplanned", got)
		}
		if v, _ := s.Setting(ctx, "job-plan", "none"); v != "none" {
			t.Errorf("the failed plan's write stayed: %q", v)
		}
		if chunks := plan(t, s, "p", 10); len(chunks) != 1 {
			t.Errorf("planning again: %d chunks, want 1", len(chunks))
		}
	})
}

func TestPlanBroadcast(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 2500, nil)
		// A hole in the IDs: the deleted subscription is in no chunk.
		if _, err := s.Delete(ctx, subs[1200].Endpoint); err != nil {
			t.Fatal(err)
		}
		subs = slices.Delete(subs, 1200, 1201)
		mustUpsert(t, s, sub("extra"))
		subs = append(subs, mustGet(t, s, "extra"))

		createBroadcast(t, s, "all", Audience{})
		calls := 0
		var chunks []Chunk
		got, err := s.PlanBroadcast(ctx, "all", 1000, func(_ context.Context, _ Tx, cs []Chunk) error {
			calls++
			chunks = cs
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) != 3 || got.Chunks != 3 || got.Total != 2500 || got.Status != StatusQueued {
			t.Fatalf("planned %+v with chunks %+v; want 3 chunks, total 2500, queued", got, chunks)
		}
		if n := chunks[2].LastID - chunks[2].FirstID; n < 499 {
			t.Errorf("last chunk %+v", chunks[2])
		}
		if in := inChunks(t, s, chunks, Audience{}); !slices.Equal(in, ids(subs)) {
			t.Errorf("the chunks hold %d subscriptions, want exactly the audience's %d", len(in), len(subs))
		}
		for _, c := range chunks[:2] {
			if p, _ := s.Pending(ctx, c, Audience{}, 0, 0); len(p) != 1000 {
				t.Errorf("chunk %d holds %d, want 1000", c.Seq, len(p))
			}
		}

		// Planning again is a no-op; so is planning a finished broadcast.
		mustUpsert(t, s, sub("late"))
		again, err := s.PlanBroadcast(ctx, "all", 10, func(context.Context, Tx, []Chunk) error {
			calls++
			return nil
		})
		if err != nil || calls != 1 || !sameBroadcast(again, got) {
			t.Errorf("planning twice: %+v, %v, %d enqueues; want %+v unchanged, 1 enqueue", again, err, calls, got)
		}
		// A subscription stored after planning is not in the broadcast.
		if p, _ := s.Pending(ctx, chunks[2], Audience{}, 0, 0); slices.Contains(ids(p), mustGet(t, s, "late").ID) {
			t.Error("a subscription stored after planning is pending")
		}

		if _, err := s.PlanBroadcast(ctx, "nope", 10, nil); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("PlanBroadcast(unknown) = %v, want ErrBroadcastNotFound", err)
		}
		if _, err := s.PlanBroadcast(ctx, "all", 0, nil); err == nil {
			t.Error("PlanBroadcast with chunk size 0 succeeded")
		}

		// An empty audience is done at once.
		createBroadcast(t, s, "nobody", Audience{Users: []string{"nobody"}})
		empty, err := s.PlanBroadcast(ctx, "nobody", 10, func(context.Context, Tx, []Chunk) error {
			t.Error("enqueue called for an empty audience")
			return nil
		})
		if err != nil || empty.Status != StatusDone || empty.FinishedAt == nil || empty.Total != 0 || !empty.Finished() {
			t.Errorf("empty audience: %+v, %v; want done", empty, err)
		}
		// Canceled before planning: stays canceled, unplanned.
		createBroadcast(t, s, "canceled", Audience{})
		if _, err := s.CancelBroadcast(ctx, "canceled"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PlanBroadcast(ctx, "canceled", 10, nil); err != nil || got.Status != StatusCanceled || got.Chunks != 0 {
			t.Errorf("planning a canceled broadcast: %+v, %v", got, err)
		}
	})
}

// TestAudience: each kind of audience selects its subscriptions, in the
// count, the plan and Pending alike.
func TestAudience(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 30, func(i int, x *Subscription) {
			x.UserID = fmt.Sprintf("user%d", i%5)
			switch i % 3 {
			case 0:
				x.Tags = []string{"news"}
			case 1:
				x.Tags = []string{"news", "sport"}
			}
		})
		pick := func(keep func(i int, x Subscription) bool) []int64 {
			var out []int64
			for i, x := range subs {
				if keep(i, x) {
					out = append(out, x.ID)
				}
			}
			return out
		}
		tests := []struct {
			name string
			a    Audience
			want []int64
		}{
			{"everyone", Audience{}, ids(subs)},
			{"one tag", Audience{Tags: []string{"sport"}}, pick(func(i int, _ Subscription) bool { return i%3 == 1 })},
			{"any of two tags, counted once", Audience{Tags: []string{"sport", "news"}}, pick(func(i int, _ Subscription) bool { return i%3 != 2 })},
			{"unknown tag", Audience{Tags: []string{"none"}}, nil},
			{"users", Audience{Users: []string{"user1", "user3", "nobody"}}, pick(func(i int, _ Subscription) bool { return i%5 == 1 || i%5 == 3 })},
			{"endpoints", Audience{Endpoints: []string{subs[4].Endpoint, subs[17].Endpoint, "https://push.example/unknown"}}, []int64{subs[4].ID, subs[17].ID}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := fmt.Sprint("b", i)
				created := createBroadcast(t, s, id, tt.a)
				if created.Total != len(tt.want) {
					t.Errorf("Total at creation %d, want %d", created.Total, len(tt.want))
				}
				if got, _ := s.GetBroadcast(ctx, id); !slices.Equal(got.Audience.Tags, tt.a.Tags) ||
					!slices.Equal(got.Audience.Users, tt.a.Users) || !slices.Equal(got.Audience.Endpoints, tt.a.Endpoints) {
					t.Errorf("stored audience %+v, want %+v", got.Audience, tt.a)
				}
				chunks := plan(t, s, id, 4)
				if got := inChunks(t, s, chunks, tt.a); !slices.Equal(got, tt.want) {
					t.Errorf("in chunks %v, want %v", got, tt.want)
				}
				for _, c := range chunks[:max(len(chunks)-1, 0)] {
					if p, _ := s.Pending(ctx, c, tt.a, 0, 0); len(p) != 4 {
						t.Errorf("chunk %+v holds %d, want 4", c, len(p))
					}
				}
				if got, _ := s.GetBroadcast(ctx, id); got.Total != len(tt.want) {
					t.Errorf("Total after planning %d, want %d", got.Total, len(tt.want))
				}
			})
		}
	})
}

func TestPending(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 10, func(i int, x *Subscription) { x.UserID = "u"; x.Tags = []string{"b", "a"} })
		createBroadcast(t, s, "b", Audience{})
		chunks := plan(t, s, "b", 100)
		if len(chunks) != 1 {
			t.Fatalf("%d chunks, want 1", len(chunks))
		}
		c := chunks[0]

		page, err := s.Pending(ctx, c, Audience{}, 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(page), ids(subs[:3])) {
			t.Errorf("first page %v, want %v", ids(page), ids(subs[:3]))
		}
		if p := page[1]; p.Endpoint != subs[1].Endpoint || p.P256dh != subs[1].P256dh || p.Auth != subs[1].Auth ||
			p.UserID != "u" || !slices.Equal(p.Tags, []string{"a", "b"}) || !p.CreatedAt.Equal(subs[1].CreatedAt) {
			t.Errorf("pending row %+v, want %+v", p, subs[1])
		}
		recordAll(t, s, "b", []Subscription{subs[0], subs[2], subs[5]}, "sent")
		// An outcome of another broadcast does not count.
		createBroadcast(t, s, "other", Audience{})
		recordAll(t, s, "other", subs[3:5], "sent")

		tests := []struct {
			name  string
			after int64
			limit int
			want  []Subscription
		}{
			{"from the start", 0, 3, []Subscription{subs[1], subs[3], subs[4]}},
			{"after", subs[3].ID, 3, []Subscription{subs[4], subs[6], subs[7]}},
			{"no limit", subs[6].ID, 0, subs[7:]},
			{"past the end", subs[9].ID, 10, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Pending(ctx, c, Audience{}, tt.after, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), ids(tt.want)) {
					t.Errorf("pending %v, want %v", ids(got), ids(tt.want))
				}
			})
		}
		// The chunk's bounds hold.
		inner := Chunk{BroadcastID: "b", Seq: 1, FirstID: subs[3].ID, LastID: subs[6].ID}
		if got, _ := s.Pending(ctx, inner, Audience{}, 0, 0); !slices.Equal(ids(got), []int64{subs[3].ID, subs[4].ID, subs[6].ID}) {
			t.Errorf("pending in [%d, %d]: %v", inner.FirstID, inner.LastID, ids(got))
		}
	})
}

func TestRecordOutcomes(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 6, nil)
		createBroadcast(t, s, "b", Audience{})
		plan(t, s, "b", 100)

		at := time.Date(2031, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
		outs := []Outcome{
			outcome("b", subs[0].ID, "sent", at),
			outcome("b", subs[1].ID, "gone", at),
			outcome("b", subs[2].ID, "failed", at),
			outcome("b", subs[3].ID, "rejected", at),
			{Delivery: outcome("b", subs[4].ID, "failed", at).Delivery, Pruned: true},
			outcome("b", subs[0].ID, "failed", at), // a duplicate in the batch: the first wins
		}
		for range 2 {
			if err := s.RecordOutcomes(ctx, outs); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetBroadcast(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if got.Sent != 1 || got.Pruned != 2 || got.Failed != 2 {
			t.Errorf("counts sent %d, pruned %d, failed %d; want 1, 2, 2", got.Sent, got.Pruned, got.Failed)
		}
		ds, err := s.Deliveries(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 5 {
			t.Fatalf("%d delivery rows, want 5", len(ds))
		}
		for _, d := range ds {
			if d.SubscriptionID == subs[0].ID {
				want := Delivery{ID: d.ID, BroadcastID: "b", SubscriptionID: subs[0].ID, EndpointHash: "h",
					Host: "push.example", Outcome: "sent", Status: 201, Attempts: 1, At: at}
				if d != want {
					t.Errorf("row %+v, want %+v", d, want)
				}
			}
		}

		if err := s.RecordOutcomes(ctx, nil); err != nil {
			t.Errorf("RecordOutcomes(nil) = %v", err)
		}
		bad := []struct {
			name string
			outs []Outcome
		}{
			{"two broadcasts", []Outcome{outcome("b", subs[5].ID, "sent", at), outcome("c", subs[5].ID, "sent", at)}},
			{"no broadcast", []Outcome{outcome("", subs[5].ID, "sent", at)}},
			{"no subscription", []Outcome{outcome("b", 0, "sent", at)}},
			{"unknown broadcast", []Outcome{outcome("nope", subs[5].ID, "sent", at)}},
		}
		for _, tt := range bad {
			if err := s.RecordOutcomes(ctx, tt.outs); err == nil {
				t.Errorf("%s: RecordOutcomes succeeded", tt.name)
			}
		}
		if ds, _ := s.Deliveries(ctx, 0); len(ds) != 5 {
			t.Errorf("%d delivery rows after the refused calls, want 5", len(ds))
		}
	})
}

// TestRecordOutcomesConcurrent: workers recording overlapping outcomes of
// one broadcast at once count each subscription once.
func TestRecordOutcomesConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		where := b.fresh(t)
		stores := []*DB{b.open(t, where), b.open(t, where)}
		subs := addSubs(t, stores[0], 200, nil)
		createBroadcast(t, stores[0], "b", Audience{})
		plan(t, stores[0], "b", 1000)

		const workers = 8
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				s := stores[w%len(stores)]
				// Each worker records every subscription, in batches
				// of 16, starting at a different place.
				for i := 0; i < len(subs); i += 16 {
					var outs []Outcome
					for j := i; j < min(i+16, len(subs)); j++ {
						x := subs[(j+w*25)%len(subs)]
						outs = append(outs, outcome("b", x.ID, []string{"sent", "failed", "gone"}[x.ID%3], time.Time{}))
					}
					if err := s.RecordOutcomes(ctx, outs); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got, err := stores[1].GetBroadcast(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if n := got.Sent + got.Failed + got.Pruned; n != len(subs) {
			t.Errorf("counted %d outcomes (%+v), want %d", n, got, len(subs))
		}
		if ds, _ := stores[1].Deliveries(ctx, 0); len(ds) != len(subs) {
			t.Errorf("%d rows, want %d", len(ds), len(subs))
		}
	})
}

func TestStartAndFinishChunks(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 5, nil)
		createBroadcast(t, s, "b", Audience{})
		chunks := plan(t, s, "b", 3)
		if len(chunks) != 2 {
			t.Fatalf("%d chunks, want 2", len(chunks))
		}

		started, err := s.StartChunk(ctx, chunks[0])
		if err != nil || started.Status != StatusSending || started.StartedAt == nil {
			t.Fatalf("StartChunk = %+v, %v; want sending", started, err)
		}
		second, err := s.StartChunk(ctx, chunks[1])
		if err != nil || !second.StartedAt.Equal(*started.StartedAt) {
			t.Errorf("second StartChunk moved StartedAt: %+v, %v", second, err)
		}
		recordAll(t, s, "b", subs[:3], "sent")
		got := finish(t, s, chunks[0])
		if got.Status != StatusSending || got.FinishedAt != nil {
			t.Errorf("after the first chunk: %+v; want still sending", got)
		}
		if again := finish(t, s, chunks[0]); again.Status != StatusSending {
			t.Errorf("finishing the first chunk twice: %+v", again)
		}

		// One subscription of the last chunk is deleted before its turn.
		if _, err := s.Delete(ctx, subs[4].Endpoint); err != nil {
			t.Fatal(err)
		}
		pending, err := s.Pending(ctx, chunks[1], Audience{}, 0, 10)
		if err != nil || !slices.Equal(ids(pending), []int64{subs[3].ID}) {
			t.Fatalf("pending %v, %v; want only %d", ids(pending), err, subs[3].ID)
		}
		recordAll(t, s, "b", pending, "failed")
		done := finish(t, s, chunks[1])
		if done.Status != StatusDone || done.FinishedAt == nil || !done.Finished() {
			t.Fatalf("after the last chunk: %+v; want done", done)
		}
		if done.Total != 5 || done.Sent != 3 || done.Failed != 1 || done.Skipped != 1 {
			t.Errorf("counts %+v; want total 5, sent 3, failed 1, skipped 1", done)
		}
		if again := finish(t, s, chunks[1]); !sameBroadcast(again, done) {
			t.Errorf("finishing twice changed it: %+v, want %+v", again, done)
		}
		if _, err := s.FinishChunk(ctx, Chunk{BroadcastID: "nope", Seq: 1}); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("FinishChunk(unknown) = %v, want ErrBroadcastNotFound", err)
		}
		if _, err := s.StartChunk(ctx, Chunk{BroadcastID: "nope", Seq: 1}); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("StartChunk(unknown) = %v, want ErrBroadcastNotFound", err)
		}
	})
}

// TestFinishChunksConcurrent: when the last chunks finish at once, one of
// them marks the broadcast done.
func TestFinishChunksConcurrent(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		where := b.fresh(t)
		stores := []*DB{b.open(t, where), b.open(t, where)}
		addSubs(t, stores[0], 40, nil)
		createBroadcast(t, stores[0], "b", Audience{})
		chunks := plan(t, stores[0], "b", 2)
		var wg sync.WaitGroup
		for i, c := range chunks {
			wg.Go(func() {
				if _, err := stores[i%2].FinishChunk(ctx, c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := stores[0].GetBroadcast(ctx, "b")
		if err != nil || got.Status != StatusDone || got.Skipped != 40 {
			t.Errorf("after all chunks: %+v, %v; want done, 40 skipped", got, err)
		}
	})
}

func TestCancelBroadcast(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, clk := newTestClock(t, b)
		addSubs(t, s, 4, nil)
		later := clk.t.Add(time.Hour)

		if _, err := s.CreateBroadcast(ctx, Broadcast{ID: "scheduled", SendAt: &later}, nil); err != nil {
			t.Fatal(err)
		}
		createBroadcast(t, s, "queued", Audience{})
		createBroadcast(t, s, "sending", Audience{})
		chunks := plan(t, s, "sending", 2)
		if _, err := s.StartChunk(ctx, chunks[0]); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"scheduled", "queued", "sending"} {
			got, err := s.CancelBroadcast(ctx, id)
			if err != nil || got.Status != StatusCanceled || got.FinishedAt == nil || !got.Finished() {
				t.Errorf("CancelBroadcast(%s) = %+v, %v; want canceled", id, got, err)
			}
		}
		// The canceled broadcast's chunks finish without marking it done.
		if got := finish(t, s, chunks...); got.Status != StatusCanceled {
			t.Errorf("after its chunks finished: %q, want canceled", got.Status)
		}
		if got, _ := s.StartChunk(ctx, chunks[1]); got.Status != StatusCanceled {
			t.Errorf("StartChunk of a canceled broadcast: %q", got.Status)
		}

		createBroadcast(t, s, "done", Audience{})
		done := finish(t, s, plan(t, s, "done", 10)...)
		got, err := s.CancelBroadcast(ctx, "done")
		if err != nil || !sameBroadcast(got, done) {
			t.Errorf("canceling a done broadcast: %+v, %v; want it unchanged %+v", got, err, done)
		}
		if _, err := s.CancelBroadcast(ctx, "nope"); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("CancelBroadcast(unknown) = %v, want ErrBroadcastNotFound", err)
		}
	})
}

func TestListBroadcasts(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		// IDs that sort against creation order; b6, b5 and b4 are created
		// in the same millisecond, and so come highest ID first.
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		at := []time.Duration{0, 1, 2, 10, 10, 10, 20}
		for i, d := range at {
			s.now = func() time.Time { return base.Add(d * time.Second) }
			createBroadcast(t, s, fmt.Sprintf("b%d", 9-i), Audience{})
		}
		want := []string{"b3", "b6", "b5", "b4", "b7", "b8", "b9"}

		var got []string
		before := ""
		for range 10 {
			page, err := s.ListBroadcasts(ctx, before, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, b := range page {
				got = append(got, b.ID)
			}
			before = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages %v, want %v", got, want)
		}
		all, err := s.ListBroadcasts(ctx, "", 0)
		if err != nil || len(all) != 7 || all[0].ID != want[0] || all[0].Title != "Hello" {
			t.Errorf("ListBroadcasts(all) = %d, %v", len(all), err)
		}
		if page, err := s.ListBroadcasts(ctx, "nope", 3); err != nil || len(page) != 0 {
			t.Errorf("before an unknown ID: %v, %v; want none", page, err)
		}
	})
}

// TestSetting: the first value stored under a name wins, even when several
// processes store one at once.
func TestSetting(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		where := b.fresh(t)
		stores := []*DB{b.open(t, where), b.open(t, where)}
		if v, err := stores[0].Setting(ctx, "key", "first"); err != nil || v != "first" {
			t.Errorf("first Setting = %q, %v", v, err)
		}
		if v, err := stores[1].Setting(ctx, "key", "second"); err != nil || v != "first" {
			t.Errorf("second Setting = %q, %v; want first", v, err)
		}

		const workers = 16
		got := make([]string, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				v, err := stores[i%2].Setting(ctx, "race", fmt.Sprint(i))
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		for _, v := range got {
			if v != got[0] || v == "" {
				t.Fatalf("racing writers saw %v; want one value", got)
			}
		}
	})
}

// TestEnqueuePanics: a panic in enqueue rolls the transaction back, and the
// store goes on working (on SQLite, its one writer connection is free).
func TestEnqueuePanics(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic did not reach the caller")
				}
			}()
			s.CreateBroadcast(ctx, Broadcast{ID: "b"}, func(context.Context, Tx) error { panic("boom") })
		}()
		if _, err := s.GetBroadcast(ctx, "b"); !errors.Is(err, ErrBroadcastNotFound) {
			t.Errorf("after the panic: %v, want ErrBroadcastNotFound", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := s.Upsert(wctx, sub("after")); err != nil {
			t.Errorf("writing after the panic: %v", err)
		}
	})
}
