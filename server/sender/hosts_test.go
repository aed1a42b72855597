package sender

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/push"
)

// TestMaxPerHost: 64 concurrent deliveries to one push service never have
// more than MaxPerHost requests in flight there, though the transport would
// allow 64; every delivery still gets its turn.
func TestMaxPerHost(t *testing.T) {
	checkGoroutines(t)
	const perHost, sends = 4, 64
	var inFlight, most atomic.Int32
	full := make(chan struct{})
	var once sync.Once
	ps := newPushService(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if n >= perHost {
			// Hold the first requests a moment longer, so that any
			// request beyond the limit would arrive while they are in
			// flight.
			once.Do(func() { time.AfterFunc(100*time.Millisecond, func() { close(full) }) })
		}
		select {
		case <-full:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusCreated)
	})
	f := newFixture(t, Options{MaxPerHost: perHost, Client: NewHTTPClient(NewTransport(sends))})
	msg := push.Message{Payload: notification(t)}
	browsers := make([]browser, sends)
	for i := range browsers {
		browsers[i] = newBrowser(t, fmt.Sprintf("%s/p/%d", ps.URL, i))
	}

	results := make(chan Result, sends)
	var wg sync.WaitGroup
	for _, b := range browsers {
		wg.Go(func() { results <- f.s.Deliver(context.Background(), b.sub, msg) })
	}
	wg.Wait()
	close(results)

	for r := range results {
		if r.Outcome != push.Sent {
			t.Errorf("Deliver = %+v", r)
		}
	}
	if got := most.Load(); got != perHost {
		t.Errorf("%d requests in flight at once, want MaxPerHost %d", got, perHost)
	}
	if n := len(f.s.hosts.hosts); n != 0 {
		t.Errorf("%d hosts remembered after every delivery ended, none paused", n)
	}
}

// TestMaxPerHostIsPerHost: one push service holding all its turns does not
// hold up another.
func TestMaxPerHostIsPerHost(t *testing.T) {
	checkGoroutines(t)
	hanging := newPushService(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	other := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{MaxPerHost: 1})
	msg := push.Message{Payload: notification(t)}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	go func() { done <- f.s.Deliver(ctx, newBrowser(t, hanging.URL+"/p/1").sub, msg) }()
	for len(hanging.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}

	if r := f.s.Deliver(context.Background(), newBrowser(t, other.URL+"/p/1").sub, msg); r.Outcome != push.Sent {
		t.Errorf("Deliver to another host = %+v", r)
	}
	cancel()
	if r := <-done; !r.Interrupted {
		t.Errorf("the held delivery = %+v, want interrupted", r)
	}
}

// retryAfterService answers 429 with Retry-After (the value is the
// request's last path element, "-" for none) to paths under /busy/, and 201
// to the rest, and notes when each request arrived by now.
func retryAfterService(t *testing.T, code int, now func() time.Time) (*pushService, *arrivals) {
	t.Helper()
	a := &arrivals{at: map[string]time.Time{}}
	ps := newPushService(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		a.note(r.URL.Path, now())
		if after, ok := strings.CutPrefix(r.URL.Path, "/busy/"); ok {
			if after != "-" {
				w.Header().Set("Retry-After", after)
			}
			w.WriteHeader(code)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	return ps, a
}

type arrivals struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string
}

func (a *arrivals) note(path string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[path] = t
	a.order = append(a.order, path)
}

func (a *arrivals) get(path string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at[path]
}

// TestRetryAfterPausesHost: a Retry-After that one subscription got holds
// back the next send to another subscription on the same push service
// (429 and 503), but not for a 500 (only its own retry would wait).
func TestRetryAfterPausesHost(t *testing.T) {
	for _, tc := range []struct {
		code      int
		wantWaits []time.Duration
	}{
		{http.StatusTooManyRequests, []time.Duration{2 * time.Second}},
		{http.StatusServiceUnavailable, []time.Duration{2 * time.Second}},
		{http.StatusInternalServerError, nil},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			f := newFixture(t, Options{MaxAttempts: 1})
			ps, at := retryAfterService(t, tc.code, f.clock.now)
			msg := push.Message{Payload: notification(t)}

			first := f.s.Deliver(context.Background(), newBrowser(t, ps.URL+"/busy/2").sub, msg)
			second := f.s.Deliver(context.Background(), newBrowser(t, ps.URL+"/next").sub, msg)

			if first.Outcome != push.Failed || first.Status != tc.code || first.Attempts != 1 {
				t.Fatalf("first = %+v, want failed on its %d", first, tc.code)
			}
			if second.Outcome != push.Sent || second.Attempts != 1 {
				t.Fatalf("second = %+v, want sent at once", second)
			}
			if got := f.clock.all(); fmt.Sprint(got) != fmt.Sprint(tc.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tc.wantWaits)
			}
			var wantGap time.Duration
			for _, w := range tc.wantWaits {
				wantGap += w
			}
			if gap := at.get("/next").Sub(at.get("/busy/2")); gap != wantGap {
				t.Errorf("the second request came %v after the first, want %v", gap, wantGap)
			}
		})
	}
}

// TestRetryAfterPausesHostInRealTime: the same with the real clock and a
// delivery already waiting for its turn when the 429 comes. The push
// service's own clock shows the gap: the next request cannot arrive less
// than Retry-After after the 429 was written (no upper bound is checked).
func TestRetryAfterPausesHostInRealTime(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	var answered atomic.Int64 // the 429's time, in ns since start
	start := time.Now()
	var nextAt atomic.Int64
	ps := newPushService(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			nextAt.Store(int64(time.Since(start)))
			w.WriteHeader(http.StatusCreated)
			return
		}
		<-release
		w.Header().Set("Retry-After", "1")
		answered.Store(int64(time.Since(start)))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	f := newFixture(t, Options{MaxAttempts: 1, MaxPerHost: 1})
	f.s.sleep, f.s.now = sleepContext, time.Now
	msg := push.Message{Payload: notification(t)}

	first := make(chan Result)
	go func() { first <- f.s.Deliver(context.Background(), newBrowser(t, ps.URL+"/first").sub, msg) }()
	for len(ps.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan Result)
	go func() { second <- f.s.Deliver(context.Background(), newBrowser(t, ps.URL+"/next").sub, msg) }()
	time.Sleep(20 * time.Millisecond) // likely waiting for the only turn by now; either way it must wait
	close(release)

	if r := <-first; r.Status != http.StatusTooManyRequests {
		t.Fatalf("first = %+v", r)
	}
	if r := <-second; r.Outcome != push.Sent {
		t.Fatalf("second = %+v", r)
	}
	if gap := time.Duration(nextAt.Load() - answered.Load()); gap < time.Second {
		t.Errorf("the next request arrived %v after the 429 with Retry-After: 1", gap)
	}
}

// TestRetryAfterPauseLength: a later, longer Retry-After extends the pause;
// one beyond MaxDelay fails its own send at once and pauses the host for
// MaxDelay.
func TestRetryAfterPauseLength(t *testing.T) {
	f := newFixture(t, Options{MaxAttempts: 1, MaxDelay: 20 * time.Second})
	ps, _ := retryAfterService(t, http.StatusTooManyRequests, f.clock.now)
	msg := push.Message{Payload: notification(t)}
	deliver := func(path string) Result {
		return f.s.Deliver(context.Background(), newBrowser(t, ps.URL+path).sub, msg)
	}

	deliver("/busy/1") // pauses for 1s
	deliver("/busy/5") // waits 1s, then pauses for 5s
	if r := deliver("/busy/600"); r.Outcome != push.Failed || r.Attempts != 1 || r.Interrupted {
		t.Fatalf("a Retry-After beyond MaxDelay: %+v", r) // waited 5s; pauses for 20s
	}
	deliver("/next") // waits 20s

	want := []time.Duration{time.Second, 5 * time.Second, 20 * time.Second}
	if got := f.clock.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

// TestPauseStaysOnItsHost: another push service is not held back.
func TestPauseStaysOnItsHost(t *testing.T) {
	f := newFixture(t, Options{MaxAttempts: 1})
	busy, _ := retryAfterService(t, http.StatusTooManyRequests, f.clock.now)
	other, _ := retryAfterService(t, http.StatusTooManyRequests, f.clock.now)
	msg := push.Message{Payload: notification(t)}

	f.s.Deliver(context.Background(), newBrowser(t, busy.URL+"/busy/30").sub, msg)
	if r := f.s.Deliver(context.Background(), newBrowser(t, other.URL+"/next").sub, msg); r.Outcome != push.Sent {
		t.Fatalf("Deliver to another host = %+v", r)
	}
	if got := f.clock.all(); len(got) != 0 {
		t.Errorf("waits = %v, want none", got)
	}
}

func TestPauseNeverShortens(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := newHostLimits(1).join("push.example")
	for _, tc := range []struct {
		pause time.Duration
		want  time.Duration
	}{
		{10 * time.Second, 10 * time.Second},
		{2 * time.Second, 10 * time.Second},
		{0, 10 * time.Second},
		{15 * time.Second, 15 * time.Second},
	} {
		h.pause(now.Add(tc.pause))
		if got := h.pausedFor(now); got != tc.want {
			t.Errorf("after a pause of %v: paused for %v, want %v", tc.pause, got, tc.want)
		}
	}
}

// TestHostsMemoryBounded: hosts are forgotten when nothing uses them and
// their pause is over; paused ones are kept up to a bound; a host in use is
// never forgotten, so its limit holds.
func TestHostsMemoryBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newHostLimits(1)

	for i := range 100 {
		l.leave(l.join(fmt.Sprintf("plain-%d:443", i)), now)
	}
	if n := len(l.hosts); n != 0 {
		t.Fatalf("%d hosts remembered with no send and no pause", n)
	}

	busy := l.join("busy.example")
	for i := range 5 * maxIdleHosts {
		h := l.join(fmt.Sprintf("paused-%d", i))
		h.pause(now.Add(time.Minute))
		l.leave(h, now)
		if n := len(l.hosts); n > maxIdleHosts+1 {
			t.Fatalf("%d hosts remembered, more than %d idle and the one in use", n, maxIdleHosts)
		}
	}
	if l.hosts["busy.example"] != busy {
		t.Fatal("a host in use was forgotten")
	}
	// Once their pauses are over, the next sweep drops them.
	later := now.Add(2 * time.Minute)
	for i := range maxIdleHosts + 1 {
		h := l.join(fmt.Sprintf("late-%d", i))
		h.pause(later.Add(time.Minute))
		l.leave(h, later)
	}
	for k, h := range l.hosts {
		if h.pausedFor(later) <= 0 && h.users == 0 {
			t.Errorf("%s kept after its pause ended, through a sweep", k)
			break
		}
	}
	l.leave(busy, later)
	if _, ok := l.hosts["busy.example"]; ok {
		t.Error("an unpaused host no one uses is still remembered")
	}
}
