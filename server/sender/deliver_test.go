package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/internal/ecetest"
	"pushstart/push"
	"pushstart/server/store"
)

// Two hundred concurrent deliveries share one message, as a broadcast's
// do: each must arrive decryptable by its own browser alone, the failures
// of a few must not stop the rest, and nothing is recorded (the caller
// records outcomes).
func TestDeliverConcurrently(t *testing.T) {
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
	f := newFixture(t, Options{MaxAttempts: 2})
	browsers := map[string]browser{}
	var subs []store.Subscription
	add := func(prefix string, n int) {
		for i := range n {
			b := newBrowser(t, fmt.Sprintf("%s/%s/%d", ps.URL, prefix, i))
			b.sub.ID = int64(len(subs) + 1)
			browsers[b.sub.Endpoint] = b
			subs = append(subs, b.sub)
			f.store.add(b.sub)
		}
	}
	add("ok", 200)
	add("gone", 3)
	add("broken", 2)
	want := notification(t)
	msg, tail := withSpareCapacity(want)
	m := push.Message{Payload: msg, TTL: 30, Urgency: "normal"}

	results := make([]Result, len(subs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				results[i] = f.s.Deliver(context.Background(), subs[i], m)
			}
		})
	}
	for i := range subs {
		next <- i
	}
	close(next)
	wg.Wait()

	outcomes := map[string]int{}
	for i, r := range results {
		key := string(r.Outcome)
		if r.Pruned {
			key += "+pruned"
		}
		outcomes[key]++
		d := r.Delivery(subs[i])
		if d.SubscriptionID != subs[i].ID || d.EndpointHash != push.Fingerprint(subs[i].Endpoint) || d.Outcome != string(r.Outcome) {
			t.Errorf("Delivery of %s = %+v", subs[i].Endpoint, d)
		}
	}
	if got, want := fmt.Sprint(outcomes), fmt.Sprint(map[string]int{"failed": 2, "gone+pruned": 3, "sent": 200}); got != want {
		t.Errorf("outcomes = %s, want %s", got, want)
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
	if n := f.store.count(); n != 202 {
		t.Errorf("%d subscriptions left, want 202 (3 pruned)", n)
	}
	if d, _ := f.store.Deliveries(context.Background(), 0); len(d) != 0 {
		t.Errorf("Deliver recorded %d deliveries; recording is its caller's", len(d))
	}
}

func TestResultDelivery(t *testing.T) {
	const token = "gAAAAABnSECRETTOKEN0123456789"
	tests := []struct {
		name     string
		endpoint string
		res      Result
		want     store.Delivery
	}{
		{
			name:     "sent",
			endpoint: "https://fcm.googleapis.com/fcm/send/" + token,
			res:      Result{Outcome: push.Sent, Status: 201, Attempts: 1},
			want:     store.Delivery{Host: "fcm.googleapis.com", Outcome: "sent", Status: 201, Attempts: 1},
		},
		{
			name:     "failed with a port",
			endpoint: "http://127.0.0.1:8081/wpush/v2/" + token,
			res:      Result{Outcome: push.Failed, Status: 503, Attempts: 4, Err: errors.New("push service answered 503")},
			want:     store.Delivery{Host: "127.0.0.1:8081", Outcome: "failed", Status: 503, Attempts: 4, Error: "push service answered 503"},
		},
		{
			name:     "default port and case are one host",
			endpoint: "https://Updates.Push.Services.Mozilla.com:443/wpush/v2/" + token,
			res:      Result{Outcome: push.Gone, Status: 410, Attempts: 1, Pruned: true, Err: errors.New("gone")},
			want:     store.Delivery{Host: "updates.push.services.mozilla.com", Outcome: "gone", Status: 410, Attempts: 1, Error: "gone"},
		},
		{
			name:     "credentials are not part of the host",
			endpoint: "https://u:p@push.example/" + token,
			res:      Result{Outcome: push.Rejected, Err: &push.FieldError{Field: "endpoint", Message: "bad"}},
			want:     store.Delivery{Host: "push.example", Outcome: "rejected", Error: "endpoint: bad"},
		},
		{
			name:     "unparsable endpoint",
			endpoint: "http://[::1/" + token,
			res:      Result{Outcome: push.Rejected, Err: errors.New("bad")},
			want:     store.Delivery{Outcome: "rejected", Error: "bad"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := store.Subscription{ID: 42, Endpoint: tc.endpoint}
			want := tc.want
			want.SubscriptionID = 42
			want.EndpointHash = push.Fingerprint(tc.endpoint)
			got := tc.res.Delivery(sub)
			if got != want {
				t.Errorf("Delivery = %+v\nwant       %+v", got, want)
			}
			if strings.Contains(fmt.Sprint(got), token) {
				t.Errorf("the delivery carries the endpoint's token: %+v", got)
			}
		})
	}
}

// Every way a context can end a delivery before the push service's final
// answer sets Interrupted, deletes nothing and records nothing.
func TestDeliverInterrupted(t *testing.T) {
	checkGoroutines(t)
	msg := push.Message{Payload: notification(t), TTL: 60}
	tests := []struct {
		name string
		// answer is the push service's answer to its nth request (201 when
		// nil); run delivers to a subscription at ps/target with f.
		answer       func(n int, w http.ResponseWriter, r *http.Request)
		run          func(t *testing.T, f *fixture, ps *pushService) Result
		wantAttempts int
		wantStatus   int
		wantErr      error
		wantRequests int
	}{
		{
			name: "context ended before the call",
			run: func(t *testing.T, f *fixture, ps *pushService) Result {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return f.s.Deliver(ctx, newBrowser(t, ps.URL+"/target").sub, msg)
			},
			wantErr: context.Canceled,
		},
		{
			name: "during the last attempt's request",
			answer: func(n int, w http.ResponseWriter, r *http.Request) {
				if n < 3 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				<-r.Context().Done() // the client gives up first
			},
			run: func(t *testing.T, f *fixture, ps *pushService) Result {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() {
					for len(ps.requests()) < 3 && ctx.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
				return f.s.Deliver(ctx, newBrowser(t, ps.URL+"/target").sub, msg)
			},
			wantAttempts: 3, wantErr: context.Canceled, wantRequests: 3,
		},
		{
			name: "waiting to retry a 500",
			answer: func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
			},
			run: func(t *testing.T, f *fixture, ps *pushService) Result {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f.s.sleep = func(ctx context.Context, d time.Duration) error {
					cancel()
					return sleepContext(ctx, d)
				}
				return f.s.Deliver(ctx, newBrowser(t, ps.URL+"/target").sub, msg)
			},
			wantAttempts: 1, wantStatus: 500, wantErr: context.Canceled, wantRequests: 1,
		},
		{
			name: "waiting out the host's pause",
			answer: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			run: func(t *testing.T, f *fixture, ps *pushService) Result {
				// Another subscription on the same push service is told
				// to come back in 60s: more than MaxDelay, so it fails at
				// once, and the host is paused for MaxDelay. This one
				// waits for the pause.
				other := f.s.Deliver(context.Background(), newBrowser(t, ps.URL+"/other").sub, push.Message{Payload: notification(t)})
				if other.Outcome != push.Failed || other.Status != 429 || other.Interrupted {
					t.Fatalf("the other delivery = %+v, want failed on its 429", other)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f.s.sleep = func(ctx context.Context, d time.Duration) error {
					cancel()
					return sleepContext(ctx, d)
				}
				return f.s.Deliver(ctx, newBrowser(t, ps.URL+"/target").sub, msg)
			},
			wantErr: context.Canceled, wantRequests: 1,
		},
		{
			name: "waiting for a turn",
			answer: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/busy" {
					<-r.Context().Done() // held until the test ends
				}
				w.WriteHeader(http.StatusCreated)
			},
			run: func(t *testing.T, f *fixture, ps *pushService) Result {
				// MaxPerHost is 1: a request held by the push service
				// takes the host's only turn.
				busy, cancelBusy := context.WithCancel(context.Background())
				done := make(chan Result)
				go func() { done <- f.s.Deliver(busy, newBrowser(t, ps.URL+"/busy").sub, msg) }()
				t.Cleanup(func() { cancelBusy(); <-done })
				for len(ps.requests()) == 0 {
					time.Sleep(time.Millisecond)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				return f.s.Deliver(ctx, newBrowser(t, ps.URL+"/target").sub, msg)
			},
			wantErr: context.DeadlineExceeded, wantRequests: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answer := tc.answer
			if answer == nil {
				answer = func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }
			}
			ps := newPushService(t, func(n int, w http.ResponseWriter, r *http.Request) { answer(n, w, r) })
			f := newFixture(t, Options{MaxAttempts: 3, MaxPerHost: 1})

			res := tc.run(t, f, ps)

			if res.Outcome != push.Failed || !res.Interrupted || res.Pruned {
				t.Fatalf("Deliver = %+v, want failed and interrupted", res)
			}
			if res.Attempts != tc.wantAttempts || res.Status != tc.wantStatus || !errors.Is(res.Err, tc.wantErr) {
				t.Errorf("Deliver = {attempts=%d status=%d err=%v}, want {attempts=%d status=%d err is %v}",
					res.Attempts, res.Status, res.Err, tc.wantAttempts, tc.wantStatus, tc.wantErr)
			}
			if n := len(ps.requests()); n != tc.wantRequests {
				t.Errorf("the push service got %d requests, want %d", n, tc.wantRequests)
			}
			if d, _ := f.store.Deliveries(context.Background(), 0); len(d) != 0 {
				t.Errorf("Deliver recorded %+v", d)
			}
		})
	}
}

// The same bookkeeping against the SQLite store the kit ships with: Send
// prunes and records with the subscription's ID and host.
func TestSendWithSQLiteStore(t *testing.T) {
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
	host := ps.Listener.Addr().String()
	want := map[string]string{}
	for _, p := range []string{"/ok", "/gone", "/forbidden"} {
		if _, err := st.Upsert(ctx, newBrowser(t, ps.URL+p).sub); err != nil {
			t.Fatal(err)
		}
		sub, err := st.Get(ctx, ps.URL+p)
		if err != nil {
			t.Fatal(err)
		}
		res := f.s.Send(ctx, sub, push.Message{Payload: notification(t), TTL: 60})
		want[push.Fingerprint(sub.Endpoint)] = fmt.Sprintf("%s/%d/%d/%s/%d", res.Outcome, res.Status, res.Attempts, host, sub.ID)
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
		got[e.EndpointHash] = fmt.Sprintf("%s/%d/%d/%s/%d", e.Outcome, e.Status, e.Attempts, e.Host, e.SubscriptionID)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivery log = %v, want %v", got, want)
	}
	for _, w := range []string{"sent/201/1/", "gone/410/1/", "unauthorized/403/1/"} {
		if !strings.Contains(fmt.Sprint(want), w) {
			t.Errorf("no %s… among the results %v", w, want)
		}
	}
}
