package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/push"
	"pushstart/server/delivery"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// TestSlowPushCutOffIsRecorded: a push service slower than a chunk run's
// time limit does not make the chunk run again and again; that push is
// recorded as failed and the broadcast finishes, the others sent.
func TestSlowPushCutOffIsRecorded(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hits atomic.Int64
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
		if r.URL.Path == "/push/0000000" {
			time.Sleep(3 * time.Second) // longer than the run's limit
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer ps.Close()
	for _, s := range makeSubscriptions(t, ps.URL, 5) {
		if _, err := db.Upsert(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := vapid.Generate()
	log := slog.New(slog.DiscardHandler)
	snd, err := sender.New(sender.Options{Keys: keys, Subject: "mailto:test@example.com", Store: db, Log: log, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A run may last two thirds of 2 s.
	engine, err := delivery.New(ctx, delivery.Options{DB: db, Sender: snd, Log: log, RescueAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer engine.Stop(ctx)

	b, err := engine.Submit(ctx, store.Broadcast{Title: "x", Message: push.Message{Payload: []byte(`{"title":"x"}`), TTL: 60}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := db.GetBroadcast(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status == store.StatusDone {
			if cur.Sent != 4 || cur.Failed != 1 {
				t.Errorf("done with %+v; want 4 sent and the cut-off push failed", cur)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast still %s after 30 s (%d pushes): a cut-off push keeps its chunk running", cur.Status, hits.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := hits.Load(); n != 5 {
		t.Errorf("%d pushes, want 5: the cut-off one is not sent again", n)
	}
}
