package sender

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/push"
)

// TestCheckEndpointAtSendTime: an endpoint the allowlist refuses is never
// posted to, whatever the store holds.
func TestCheckEndpointAtSendTime(t *testing.T) {
	ps := newPushService(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	f := newFixture(t, Options{CheckEndpoint: func(string) error { return errors.New("host not allowed") }})
	b := newBrowser(t, ps.URL+"/push/x")
	res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t)})
	if res.Outcome != push.Rejected || res.Err == nil || !strings.Contains(res.Err.Error(), "not allowed") {
		t.Errorf("got %+v, want rejected as not allowed", res)
	}
	if n := len(ps.requests()); n != 0 {
		t.Errorf("the refused endpoint got %d requests", n)
	}
}

// TestVAPIDRefusalLoggedOncePerHost: anyone able to save a subscription can
// point it at an endpoint answering 401; the error about the VAPID
// credentials is said once per host, not once per push.
func TestVAPIDRefusalLoggedOncePerHost(t *testing.T) {
	ps := newPushService(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	f := newFixture(t, Options{})
	for range 5 {
		b := newBrowser(t, ps.URL+"/push/x")
		if res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t)}); res.Outcome != push.Unauthorized {
			t.Fatalf("outcome %s, want unauthorized", res.Outcome)
		}
	}
	if n := strings.Count(f.log.String(), "this push service refused our VAPID credentials"); n != 1 {
		t.Errorf("the VAPID refusal was logged %d times, want once:\n%s", n, f.log.String())
	}
	if n := strings.Count(f.log.String(), `"level":"ERROR"`); n != 1 {
		t.Errorf("%d ERROR lines, want 1", n)
	}
}

// TestMaxConnsPerHost: a hanging push service holds at most the configured
// number of connections; the other requests wait for one.
func TestMaxConnsPerHost(t *testing.T) {
	release := make(chan struct{})
	var open, most atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client := NewHTTPClient(NewTransport(2))
	t.Cleanup(client.CloseIdleConnections)

	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("x"))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	// Wait for the cap to fill, then give the other requests time to dial
	// too, were they allowed to.
	for deadline := time.Now().Add(10 * time.Second); most.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := most.Load(); got != 2 {
		t.Errorf("%d connections open at once, want the cap of 2", got)
	}
	close(release)
	wg.Wait()
}
