package delivery_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/internal/ecetest"
	"pushstart/push"
	"pushstart/server/delivery"
	"pushstart/server/messageid"
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

// TestEachPushCarriesItsOwnMessageID: every recipient of a broadcast gets
// the notification with a message id of its own, which names the broadcast
// and that recipient's subscription and verifies with the server's key.
func TestEachPushCarriesItsOwnMessageID(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	bodies := map[string][]byte{} // by endpoint path
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.Path] = body
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer ps.Close()

	type browser struct {
		key  *ecdh.PrivateKey
		auth []byte
		id   int64
	}
	browsers := map[string]*browser{}
	for i := range 5 {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b := &browser{key: k, auth: make([]byte, 16)}
		rand.Read(b.auth)
		path := fmt.Sprintf("/push/%d", i)
		s := store.Subscription{Endpoint: ps.URL + path, P256dh: push.EncodeBase64URL(k.PublicKey().Bytes()), Auth: push.EncodeBase64URL(b.auth)}
		if _, err := db.Upsert(ctx, s); err != nil {
			t.Fatal(err)
		}
		saved, err := db.Get(ctx, s.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		b.id = saved.ID
		browsers[path] = b
	}

	signer, err := messageid.Parse(messageid.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := vapid.Generate()
	log := slog.New(slog.DiscardHandler)
	snd, err := sender.New(sender.Options{Keys: keys, Subject: "mailto:test@example.com", Store: db, Log: log, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := delivery.New(ctx, delivery.Options{DB: db, Sender: snd, Log: log, ChunkSize: 2, MessageID: signer.Sign})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer engine.Stop(ctx)

	payload := []byte(`{"title":"Sale","data":{"url":"/sale"}}`)
	b, err := engine.Submit(ctx, store.Broadcast{Title: "Sale", Message: push.Message{Payload: payload, TTL: 60}})
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
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast still %s after 30 s", cur.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != len(browsers) {
		t.Fatalf("%d browsers got a push, want %d", len(bodies), len(browsers))
	}
	seen := map[string]bool{}
	for path, br := range browsers {
		plain, err := ecetest.Decrypt(bodies[path], br.key, br.auth)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got struct {
			Title     string          `json:"title"`
			Data      json.RawMessage `json:"data"`
			MessageID string          `json:"messageId"`
		}
		if err := json.Unmarshal(plain, &got); err != nil {
			t.Fatalf("%s: payload %s: %v", path, plain, err)
		}
		if got.Title != "Sale" || string(got.Data) != `{"url":"/sale"}` {
			t.Errorf("%s: payload %s lost the notification's fields", path, plain)
		}
		bid, sub, ok := signer.Verify(got.MessageID)
		if !ok || bid != b.ID || sub != br.id {
			t.Errorf("%s: messageId %q verifies as %q, %d, %v; want broadcast %q, subscription %d", path, got.MessageID, bid, sub, ok, b.ID, br.id)
		}
		if seen[got.MessageID] {
			t.Errorf("%s: messageId %q was sent to another browser too", path, got.MessageID)
		}
		seen[got.MessageID] = true
	}
}
