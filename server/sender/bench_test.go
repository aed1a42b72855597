package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/push"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// fanOut is what both fan-out benchmarks share, built once: a keep-alive
// httptest push service that reads each body and answers 201, one shared
// client, a VAPID key pair and 10,000 subscriptions with real keys.
type fanOut struct {
	srv    *httptest.Server
	client *http.Client
	keys   vapid.Keys
	subs   []store.Subscription
}

const fanOutSize = 10_000

var (
	fanOutOnce sync.Once
	fanOutData fanOut
)

func setupFanOut(b *testing.B) *fanOut {
	b.Helper()
	fanOutOnce.Do(func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
		}))
		keys, _ := testKeys(b)
		subs := make([]store.Subscription, fanOutSize)
		for i := range subs {
			subs[i] = newBrowser(b, srv.URL+"/push/"+strconv.Itoa(i)).sub
		}
		fanOutData = fanOut{srv: srv, client: NewHTTPClient(nil), keys: keys, subs: subs}
	})
	return &fanOutData
}

// reportSendRate reports sends per second of wall-clock time and, where the
// platform measures it, CPU microseconds per send (the push service's share
// included, the same for both benchmarks), which stays meaningful when other
// programs load the machine.
func reportSendRate(b *testing.B, cpuStart time.Duration) {
	sends := float64(b.N * fanOutSize)
	b.ReportMetric(sends/b.Elapsed().Seconds(), "sends/s")
	if cpu := processCPU() - cpuStart; cpuStart > 0 && cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/sends, "cpu-µs/send")
	}
	b.ReportMetric(0, "ns/op") // one op is 10,000 sends; read the per-send figures
}

// fanOutWorkers is the number of goroutines that share the sends in both
// benchmarks, as a delivery engine's workers do.
const fanOutWorkers = 16

// fanOutAll hands every subscription to one of fanOutWorkers goroutines
// calling send, and fails b unless every send succeeded.
func fanOutAll(b *testing.B, subs []store.Subscription, send func(store.Subscription) bool) {
	jobs := make(chan store.Subscription)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range fanOutWorkers {
		wg.Go(func() {
			for sub := range jobs {
				if send(sub) {
					ok.Add(1)
				}
			}
		})
	}
	for _, sub := range subs {
		jobs <- sub
	}
	close(jobs)
	wg.Wait()
	if n := ok.Load(); n != int64(len(subs)) {
		b.Fatalf("%d of %d sent", n, len(subs))
	}
}

// BenchmarkDeliver10k measures the kit's Sender delivering one message to
// 10,000 subscriptions from fanOutWorkers goroutines, each result turned
// into its delivery log entry as the delivery engine does (the recording
// itself is the engine's, and not measured). The figure is the sender's own
// cost (validation, encryption, VAPID signing, per-host turns, HTTP), not a
// database's. The push service runs in the same process and shares the CPU.
func BenchmarkDeliver10k(b *testing.B) {
	fo := setupFanOut(b)
	s, err := New(Options{Keys: fo.keys, Subject: testSubject, Client: fo.client, Store: newMemStore()})
	if err != nil {
		b.Fatal(err)
	}
	msg := push.Message{Payload: notification(b), TTL: 60, Urgency: "normal"}
	cpuStart := processCPU()
	b.ResetTimer()
	for b.Loop() {
		fanOutAll(b, fo.subs, func(sub store.Subscription) bool {
			r := s.Deliver(context.Background(), sub, msg)
			return r.Delivery(sub).Outcome == string(push.Sent)
		})
	}
	reportSendRate(b, cpuStart)
}

// BenchmarkDeliver10kWhileTracing is BenchmarkDeliver10k while someone
// follows another subscription: every send asks the tracer (a map lookup
// under a lock, as the server's hub does then) and is not traced. Run both
// in one run to see that tracing costs the pushes nobody follows nothing
// measurable.
func BenchmarkDeliver10kWhileTracing(b *testing.B) {
	fo := setupFanOut(b)
	tracer := newRecordTracer(fo.srv.URL + "/push/followed-elsewhere")
	s, err := New(Options{Keys: fo.keys, Subject: testSubject, Client: fo.client, Store: newMemStore(), Trace: tracer})
	if err != nil {
		b.Fatal(err)
	}
	msg := push.Message{Payload: notification(b), TTL: 60, Urgency: "normal"}
	cpuStart := processCPU()
	b.ResetTimer()
	for b.Loop() {
		fanOutAll(b, fo.subs, func(sub store.Subscription) bool {
			r := s.Deliver(context.Background(), sub, msg)
			return r.Delivery(sub).Outcome == string(push.Sent)
		})
	}
	reportSendRate(b, cpuStart)
	if len(tracer.all()) != 0 {
		b.Fatal("a push nobody follows was traced")
	}
}

// BenchmarkBareWebpushLoop10k is the baseline for BenchmarkDeliver10k: a
// bare webpush-go loop over the same subscriptions, with the same shared
// client and the same goroutines, draining each response and doing nothing
// else.
func BenchmarkBareWebpushLoop10k(b *testing.B) {
	fo := setupFanOut(b)
	subscriber, err := vapid.Subject(testSubject)
	if err != nil {
		b.Fatal(err)
	}
	body := notification(b)
	body = body[:len(body):len(body)] // no spare capacity for the library to pad into
	opts := &webpush.Options{
		HTTPClient: fo.client, Subscriber: subscriber, TTL: 60, Urgency: webpush.UrgencyNormal,
		VAPIDPublicKey: fo.keys.Public, VAPIDPrivateKey: fo.keys.Private,
	}
	cpuStart := processCPU()
	b.ResetTimer()
	for b.Loop() {
		fanOutAll(b, fo.subs, func(sub store.Subscription) bool {
			resp, err := webpush.SendNotificationWithContext(context.Background(), body,
				&webpush.Subscription{Endpoint: sub.Endpoint, Keys: webpush.Keys{Auth: sub.Auth, P256dh: sub.P256dh}}, opts)
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusCreated
		})
	}
	reportSendRate(b, cpuStart)
}
