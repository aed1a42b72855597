package sender

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"pushstart/server/store"
	"pushstart/server/vapid"
)

const testSubject = "mailto:ops@example.org"

// memStore is an in-memory store of subscriptions and delivery log, so
// sender tests and benchmarks measure the sender rather than a database.
type memStore struct {
	mu         sync.Mutex
	subs       map[string]store.Subscription
	deliveries []store.Delivery
}

func newMemStore() *memStore { return &memStore{subs: map[string]store.Subscription{}} }

func (m *memStore) add(s store.Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.Endpoint] = s
}

func (m *memStore) Delete(_ context.Context, endpoint string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[endpoint]; !ok {
		return false, nil
	}
	delete(m.subs, endpoint)
	return true, nil
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

func (m *memStore) RecordDelivery(_ context.Context, d store.Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d.ID = int64(len(m.deliveries) + 1)
	if d.At.IsZero() {
		d.At = time.Now()
	}
	m.deliveries = append(m.deliveries, d)
	return nil
}

func (m *memStore) Deliveries(_ context.Context, limit int) ([]store.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.deliveries)
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) has(endpoint string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.subs[endpoint]
	return ok
}

// browser is a subscribed user agent: the key pair and auth secret a browser
// keeps, and the subscription it hands to the server.
type browser struct {
	priv *ecdh.PrivateKey
	auth []byte
	sub  store.Subscription
}

func newBrowser(t testing.TB, endpoint string) browser {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return browser{priv: priv, auth: auth, sub: store.Subscription{
		Endpoint: endpoint,
		P256dh:   base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
	}}
}

// testKeys makes a VAPID key pair without the vapid package's help, so the
// test checks the sender against keys it knows independently.
func testKeys(t testing.TB) (vapid.Keys, []byte) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey().Bytes()
	return vapid.Keys{
		Public:  base64.RawURLEncoding.EncodeToString(pub),
		Private: base64.RawURLEncoding.EncodeToString(k.Bytes()),
	}, pub
}

// clock is a test's time: it stands still while the sender works, and a
// sleep moves it on at once by the time asked, recording the wait. Shared by
// concurrent sends, one's sleep is time passing for all.
type clock struct {
	mu sync.Mutex
	t  time.Time
	d  []time.Duration
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.d = append(c.d, d)
	if err := ctx.Err(); err != nil {
		return err
	}
	c.t = c.t.Add(max(d, 0))
	return nil
}

// all returns the waits asked for so far.
func (c *clock) all() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.d)
}

// fixture is a Sender wired to an in-memory store, a log buffer and a
// test clock.
type fixture struct {
	s      *Sender
	store  *memStore // nil when the test passed its own Options.Store
	clock  *clock
	log    *syncBuffer
	pubKey []byte // VAPID public key, raw
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	keys, pub := testKeys(t)
	if o.Keys == (vapid.Keys{}) {
		o.Keys = keys
	}
	if o.Subject == "" {
		o.Subject = testSubject
	}
	ms, _ := o.Store.(*memStore) // nil when the test brings another Store
	if o.Store == nil {
		ms = newMemStore()
		o.Store = ms
	}
	buf := &syncBuffer{}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := newClock()
	s.sleep, s.now = c.sleep, c.now
	t.Cleanup(s.client.CloseIdleConnections)
	return &fixture{s: s, store: ms, clock: c, log: buf, pubKey: pub}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// captured is one request as the fake push service saw it.
type captured struct {
	Path   string
	Header http.Header
	Body   []byte
}

// pushService is a fake push service: an httptest server that records every
// request and answers with respond.
type pushService struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newPushService(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *pushService {
	t.Helper()
	ps := &pushService{}
	ps.Server = httptest.NewServer(ps.recording(respond))
	t.Cleanup(ps.Close)
	return ps
}

// recording is a handler that records each request, then answers it with
// respond.
func (ps *pushService) recording(respond func(n int, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ps.mu.Lock()
		ps.reqs = append(ps.reqs, captured{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(ps.reqs)
		ps.mu.Unlock()
		respond(n, w, r)
	})
}

func (ps *pushService) requests() []captured {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.reqs)
}

// checkGoroutines fails the test if, once everything it started has been
// cleaned up, more goroutines run than before it began. Call it first in a
// test so that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines after the test, %d before:\n%s", n, before, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
