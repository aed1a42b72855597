package delivery_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/internal/pgtest"
	"pushstart/push"
	"pushstart/server/delivery"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// BenchmarkFanout sends one broadcast through the engine (River jobs,
// outcomes recorded in the database) and, in the same run, the same message
// to the same subscriptions with a bare webpush-go loop running as many
// sends at once, against one httptest push service; -benchtime Nx makes N
// rounds of both, alternating which goes first. engine/bare is the ratio of
// their sends per second; the heap figures (the most the live heap grew
// during a fan-out) show whether memory grows with the audience.
//
//	go test -run '^$' -bench Fanout -benchtime 2x ./server/delivery
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, backend := range []string{"sqlite", "postgres"} {
			b.Run(fmt.Sprintf("%s/%dk", backend, n/1000), func(b *testing.B) {
				benchFanout(b, backend, n)
			})
		}
	}
}

func benchFanout(b *testing.B, backend string, n int) {
	ctx := context.Background()
	var db *store.DB
	var err error
	if backend == "sqlite" {
		db, err = store.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	} else {
		db, err = store.OpenPostgres(ctx, pgtest.URL(b))
	}
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	var hits atomic.Int64
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer ps.Close()

	subs := makeSubscriptions(b, ps.URL, n)
	var wg sync.WaitGroup
	work := make(chan store.Subscription)
	for range 8 {
		wg.Go(func() {
			for s := range work {
				if _, err := db.Upsert(ctx, s); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, s := range subs {
		work <- s
	}
	close(work)
	wg.Wait()

	keys, err := vapid.Generate()
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	snd, err := sender.New(sender.Options{Keys: keys, Subject: "mailto:bench@example.com", Store: db, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := delivery.New(ctx, delivery.Options{DB: db, Sender: snd, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer engine.Stop(ctx)
	payload := []byte(`{"title":"Benchmark","body":"One message to every subscription","data":{"url":"/"}}`)
	msg := push.Message{Payload: payload, TTL: 60, Urgency: "normal"}

	// The same number of sends at once as the engine: Concurrency per
	// chunk job, Jobs chunk jobs.
	const inFlight = delivery.DefaultConcurrency * delivery.DefaultJobs
	client := sender.NewHTTPClient(sender.NewTransport(inFlight))

	// run is one fan-out; it returns its wall time, the process's CPU time
	// and the growth of the live heap.
	type run struct {
		wall, cpu time.Duration
		heap      uint64
	}
	measure := func(fanout func()) run {
		hits.Store(0)
		peak := watchHeap()
		start, cpu := time.Now(), processCPU()
		fanout()
		r := run{wall: time.Since(start), cpu: processCPU() - cpu, heap: peak()}
		if got := hits.Load(); got != int64(n) {
			b.Fatalf("push service got %d pushes, want %d (one per subscription)", got, n)
		}
		return r
	}
	bare := func() {
		jobs := make(chan store.Subscription)
		var wg sync.WaitGroup
		for range inFlight {
			wg.Go(func() {
				for s := range jobs {
					res, err := webpush.SendNotificationWithContext(ctx, payload, &webpush.Subscription{
						Endpoint: s.Endpoint, Keys: webpush.Keys{Auth: s.Auth, P256dh: s.P256dh},
					}, &webpush.Options{HTTPClient: client, Subscriber: "bench@example.com", TTL: 60,
						Urgency: webpush.UrgencyNormal, VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private})
					if err != nil {
						b.Error(err)
						continue
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
		}
		for _, s := range subs {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
	}
	viaEngine := func() {
		bc, err := engine.Submit(ctx, store.Broadcast{Title: "bench", Message: msg})
		if err != nil {
			b.Fatal(err)
		}
		for {
			cur, err := db.GetBroadcast(ctx, bc.ID)
			if err != nil {
				b.Fatal(err)
			}
			if cur.Status == store.StatusDone {
				if cur.Sent != n {
					b.Fatalf("broadcast %+v: want %d sent", cur, n)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Rounds alternate which goes first: whichever runs second on this
	// machine tends to run slower, whatever it is.
	var eng, bar run
	for i := range b.N {
		var e, r run
		if i%2 == 0 {
			r, e = measure(bare), measure(viaEngine)
		} else {
			e, r = measure(viaEngine), measure(bare)
		}
		eng.wall, eng.cpu, eng.heap = eng.wall+e.wall, eng.cpu+e.cpu, max(eng.heap, e.heap)
		bar.wall, bar.cpu, bar.heap = bar.wall+r.wall, bar.cpu+r.cpu, max(bar.heap, r.heap)
	}
	sends := float64(n * b.N)
	b.ReportMetric(sends/eng.wall.Seconds(), "engine-sends/s")
	b.ReportMetric(sends/bar.wall.Seconds(), "bare-sends/s")
	b.ReportMetric(bar.wall.Seconds()/eng.wall.Seconds(), "engine/bare")
	b.ReportMetric(float64(eng.cpu.Microseconds())/sends, "engine-cpu-µs/send")
	b.ReportMetric(float64(bar.cpu.Microseconds())/sends, "bare-cpu-µs/send")
	b.ReportMetric(float64(eng.heap)/(1<<20), "engine-heap-MB")
	b.ReportMetric(float64(bar.heap)/(1<<20), "bare-heap-MB")
}

// watchHeap samples the live heap (what the last collection kept) every 10
// ms until the returned function is called, which returns the highest
// sample's growth over the live heap at the start: what the fan-out itself
// held, not the benchmark's own list of subscriptions, nor garbage waiting
// for a collection (whose amount GOGC scales with everything live).
func watchHeap() func() uint64 {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(live)
		return live[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

// makeSubscriptions returns n subscriptions on the push service at base,
// with real keys (key generation is shared: encrypting costs the same).
func makeSubscriptions(tb testing.TB, base string, n int) []store.Subscription {
	keys := make([][2]string, 64)
	for i := range keys {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		auth := make([]byte, 16)
		rand.Read(auth)
		keys[i] = [2]string{base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(auth)}
	}
	subs := make([]store.Subscription, n)
	for i := range subs {
		k := keys[i%len(keys)]
		subs[i] = store.Subscription{Endpoint: fmt.Sprintf("%s/push/%07d", base, i), P256dh: k[0], Auth: k[1]}
	}
	return subs
}
