package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"pushstart/internal/ecetest"
	"pushstart/push"
	"pushstart/server/store"
)

// Two hundred concurrent sends share one message: each must arrive
// decryptable by its own browser alone, and failures of a few must not stop
// the rest.
func TestBroadcast(t *testing.T) {
	checkGoroutines(t)
	ps := newPushService(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/gone/"):
			w.WriteHeader(http.StatusGone)
		case strings.HasPrefix(r.URL.Path, "/broken/"):
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
	f := newFixture(t, Options{Workers: 16, MaxAttempts: 2})
	browsers := map[string]browser{}
	add := func(prefix string, n int) {
		for i := range n {
			b := newBrowser(t, fmt.Sprintf("%s/%s/%d", ps.URL, prefix, i))
			browsers[b.sub.Endpoint] = b
			_, _ = f.store.Upsert(context.Background(), b.sub)
		}
	}
	add("ok", 200)
	add("gone", 3)
	add("broken", 2)
	want := notification(t)
	msg, tail := withSpareCapacity(want)

	sum, err := f.s.Broadcast(context.Background(), push.Message{Payload: msg, TTL: 30, Urgency: "normal"})

	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	if wantSum := (Summary{Total: 205, Sent: 200, Failed: 2, Pruned: 3}); sum != wantSum {
		t.Fatalf("Summary = %+v, want %+v", sum, wantSum)
	}
	delivered := 0
	for _, r := range ps.requests() {
		if !strings.HasPrefix(r.Path, "/ok/") {
			continue
		}
		delivered++
		b := browsers[ps.URL+r.Path]
		got, err := ecetest.Decrypt(r.Body, b.priv, b.auth)
		if err != nil {
			t.Fatalf("%s: %v", r.Path, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s decrypted to %q", r.Path, got)
		}
	}
	if delivered != 200 {
		t.Errorf("%d deliveries to working subscriptions, want 200", delivered)
	}
	if !untouched(tail) {
		t.Error("the sends wrote into the spare capacity of the shared payload")
	}
	if n, _ := f.store.Count(context.Background()); n != 202 {
		t.Errorf("%d subscriptions left, want 202 (3 pruned)", n)
	}
	d, _ := f.store.Deliveries(context.Background(), 0)
	outcomes := map[string]int{}
	for _, e := range d {
		outcomes[e.Outcome]++
	}
	if fmt.Sprint(outcomes) != fmt.Sprint(map[string]int{"failed": 2, "gone": 3, "sent": 200}) {
		t.Errorf("delivery log outcomes = %v", outcomes)
	}
}

func TestBroadcastRefusesInvalidMessage(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{})
	_, _ = f.store.Upsert(context.Background(), newBrowser(t, ps.URL+"/p/1").sub)
	_, err := f.s.Broadcast(context.Background(), push.Message{Payload: []byte(`{}`), Urgency: "now"})
	var fe *push.FieldError
	if !errors.As(err, &fe) || fe.Field != "urgency" {
		t.Fatalf("Broadcast err = %v, want a field error on urgency", err)
	}
	if len(ps.requests()) != 0 {
		t.Error("an invalid message was sent")
	}
}

func TestBroadcastWithEndedContext(t *testing.T) {
	ps := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{})
	for i := range 5 {
		_, _ = f.store.Upsert(context.Background(), newBrowser(t, fmt.Sprintf("%s/p/%d", ps.URL, i)).sub)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := f.s.Broadcast(ctx, push.Message{Payload: notification(t)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if sum != (Summary{Total: 5, Failed: 5}) {
		t.Errorf("Summary = %+v, want all 5 failed", sum)
	}
	if len(ps.requests()) != 0 {
		t.Error("sent after the context ended")
	}
}

func TestBroadcastEmptyStore(t *testing.T) {
	f := newFixture(t, Options{})
	sum, err := f.s.Broadcast(context.Background(), push.Message{Payload: notification(t)})
	if err != nil || sum != (Summary{}) {
		t.Fatalf("Broadcast to nobody = %+v, %v", sum, err)
	}
}

// The same bookkeeping against the SQLite store the kit ships with.
func TestBroadcastWithSQLiteStore(t *testing.T) {
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "push.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ps := newPushService(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
	f := newFixture(t, Options{Store: st})
	ctx := context.Background()
	for _, p := range []string{"/ok", "/gone", "/forbidden"} {
		if _, err := st.Upsert(ctx, newBrowser(t, ps.URL+p).sub); err != nil {
			t.Fatal(err)
		}
	}

	sum, err := f.s.Broadcast(ctx, push.Message{Payload: notification(t), TTL: 60})

	if err != nil || sum != (Summary{Total: 3, Sent: 1, Failed: 1, Pruned: 1}) {
		t.Fatalf("Broadcast = %+v, %v", sum, err)
	}
	if _, err := st.Get(ctx, ps.URL+"/gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("gone subscription: Get err = %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, ps.URL+"/forbidden"); err != nil {
		t.Errorf("a 403 deleted the subscription: %v", err)
	}
	d, err := st.Deliveries(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range d {
		got[e.EndpointHash] = fmt.Sprintf("%s/%d/%d", e.Outcome, e.Status, e.Attempts)
	}
	want := map[string]string{
		push.Fingerprint(ps.URL + "/ok"):        "sent/201/1",
		push.Fingerprint(ps.URL + "/gone"):      "gone/410/1",
		push.Fingerprint(ps.URL + "/forbidden"): "unauthorized/403/1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivery log = %v, want %v", got, want)
	}
}
