//go:build !wasm

package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pushstart/server/store"
)

// The tests in this file reproduce what a probe of the running kit found,
// each one a way to make the server do harm, and check it no longer can.

var note = map[string]any{"title": "Hello"}

// TestStoredRowsAreCheckedAtSendTime: a row saved under another
// configuration (local mode, a wider PUSH_ALLOWED_HOSTS) is not sent to once
// the allowlist no longer allows it.
func TestStoredRowsAreCheckedAtSendTime(t *testing.T) {
	e := newTestEnv(t)
	inner := newPushService(t) // an internal service nobody allowed
	endpoint := inner.URL + "/wpush/abc"
	sub := newSubscription(t, endpoint)
	keys := sub["keys"].(map[string]string)
	if _, err := e.store.Upsert(context.Background(), store.Subscription{Endpoint: endpoint, P256dh: keys["p256dh"], Auth: keys["auth"]}); err != nil {
		t.Fatal(err)
	}
	res, out := e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": endpoint, "notification": note})
	if res.StatusCode != http.StatusBadGateway || out["outcome"] != "rejected" {
		t.Errorf("test send to a stored, no longer allowed endpoint: %d %v, want 502 rejected", res.StatusCode, out)
	}
	res, out = e.do(t, "POST", "/api/notifications", map[string]any{"notification": note}, "Authorization", "Bearer "+testAdminToken)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("broadcast: %d %v, want 202", res.StatusCode, out)
	}
	if done := e.waitBroadcast(t, out["id"].(string)); done["sent"] != 0.0 || done["failed"] != 1.0 {
		t.Errorf("broadcast: %v, want nothing sent and the refused endpoint counted as failed", done)
	}
	if n := inner.hits.Load(); n != 0 {
		t.Errorf("the endpoint outside the allowlist got %d requests, want none", n)
	}
}

// TestPushServiceAnswersAreNotRelayed: an anonymous test send learns the
// outcome and the status, never the push service's body or a socket error.
func TestPushServiceAnswersAreNotRelayed(t *testing.T) {
	const secret = "DB_PASSWORD=hunter2"
	talkative := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(status)
		fmt.Fprint(w, secret)
	}))
	t.Cleanup(talkative.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()

	e := newTestEnv(t, func(c *Config) {
		c.PushAllowedHosts = append(c.PushAllowedHosts, strings.TrimPrefix(talkative.URL, "http://"), deadAddr)
	})
	for _, tt := range []struct {
		endpoint string
		status   int
		outcome  string
		leak     string
	}{
		{talkative.URL + "/status/400", http.StatusBadGateway, "rejected", secret},
		{talkative.URL + "/status/500", http.StatusBadGateway, "failed", secret},
		{talkative.URL + "/status/403", http.StatusBadGateway, "unauthorized", secret},
		{talkative.URL + "/status/410", http.StatusGone, "gone", secret},
		{"http://" + deadAddr + "/push/x", http.StatusBadGateway, "failed", deadAddr},
	} {
		t.Run(tt.endpoint, func(t *testing.T) {
			if res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, tt.endpoint)); res.StatusCode != http.StatusCreated {
				t.Fatalf("subscribe: %d %v", res.StatusCode, out)
			}
			res, out := e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": tt.endpoint, "notification": note})
			msg, _ := out["error"].(string)
			if res.StatusCode != tt.status || out["outcome"] != tt.outcome || msg == "" {
				t.Errorf("%d %v, want %d %s with a reason", res.StatusCode, out, tt.status, tt.outcome)
			}
			for _, leak := range []string{tt.leak, "dial tcp", "127.0.0.1"} {
				if strings.Contains(msg, leak) {
					t.Errorf("the answer relays %q: %q", leak, msg)
				}
			}
		})
	}
}

// TestRateLimits: one address cannot subscribe or test-send without limit,
// one endpoint cannot be pushed to without limit, and another address is
// not slowed by the first one's flood.
func TestRateLimits(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.SubscribeRate, c.TestSendRate, c.TestSendEndpointRate = 3, 4, 2
		c.TrustedProxyHeader = "X-Forwarded-For"
	})
	from := func(addr string) []string { return []string{"X-Forwarded-For", "203.0.113.9, " + addr} }
	endpoint := func(i int) string { return fmt.Sprintf("%s/push/%d", e.push.URL, i) }

	for i := range 3 {
		if res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, endpoint(i)), from("198.51.100.1")...); res.StatusCode != http.StatusCreated {
			t.Fatalf("subscribe %d: %d %v", i, res.StatusCode, out)
		}
	}
	res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, endpoint(3)), from("198.51.100.1")...)
	wantTooMany(t, "4th subscribe from one address", res, out, "SUBSCRIBE_RATE")
	res, _ = e.do(t, "DELETE", "/api/subscriptions", map[string]string{"endpoint": endpoint(0)}, from("198.51.100.1")...)
	if res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("unsubscribe over the limit: %d, want 429", res.StatusCode)
	}
	// The first entries of X-Forwarded-For are the client's to write: only
	// the one the trusted proxy appended counts.
	if res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, endpoint(4)), from("198.51.100.2")...); res.StatusCode != http.StatusCreated {
		t.Errorf("another address is slowed by the first one's flood: %d %v", res.StatusCode, out)
	}

	send := func(i int, addr string) (*http.Response, map[string]any) {
		return e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": endpoint(i), "notification": note}, from(addr)...)
	}
	for range 2 {
		if res, out := send(1, "198.51.100.3"); res.StatusCode != http.StatusOK {
			t.Fatalf("test send: %d %v", res.StatusCode, out)
		}
	}
	res, out = send(1, "198.51.100.4")
	wantTooMany(t, "3rd test send to one endpoint, from another address", res, out, "TEST_SEND_ENDPOINT_RATE")
	send(2, "198.51.100.3")
	send(2, "198.51.100.3")
	res, out = send(4, "198.51.100.3")
	wantTooMany(t, "5th test send from one address", res, out, "TEST_SEND_RATE")
	if got := e.push.hits.Load(); got != 4 {
		t.Errorf("the push service got %d pushes, want the 4 allowed", got)
	}
}

func wantTooMany(t *testing.T, what string, res *http.Response, out map[string]any, setting string) {
	t.Helper()
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || err != nil || ra < 1 {
		t.Errorf("%s: %d, Retry-After %q, want 429 with Retry-After in seconds", what, res.StatusCode, res.Header.Get("Retry-After"))
	}
	if msg, _ := out["error"].(string); !strings.Contains(msg, setting) {
		t.Errorf("%s: error %q does not name %s", what, msg, setting)
	}
}

// TestSubscriptionCeiling: past MAX_SUBSCRIPTIONS no new row is stored, with
// an error that says so; known endpoints can still be saved again.
func TestSubscriptionCeiling(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxSubscriptions = 2 })
	first := newSubscription(t, e.push.URL+"/push/1")
	e.do(t, "POST", "/api/subscriptions", first)
	e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/2"))
	res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/3"))
	wantTooMany(t, "a third subscription", res, out, "MAX_SUBSCRIPTIONS")
	if res, _ := e.do(t, "POST", "/api/subscriptions", first); res.StatusCode != http.StatusOK {
		t.Errorf("saving a known subscription again at the ceiling: %d, want 200", res.StatusCode)
	}
	renewed := newSubscription(t, e.push.URL+"/push/1b")
	renewed["oldEndpoint"] = e.push.URL + "/push/1"
	if res, out := e.do(t, "POST", "/api/subscriptions", renewed); res.StatusCode != http.StatusCreated {
		t.Errorf("a renewed subscription replacing a stored one at the ceiling: %d %v, want 201", res.StatusCode, out)
	}
	if n, _ := e.store.Count(context.Background()); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
}

// TestOriginSchemeCompared: without Sec-Fetch-Site, Go's check compares only
// the Origin's host with Host; an https Origin against the plain-http server
// is another origin.
func TestOriginSchemeCompared(t *testing.T) {
	e := newTestEnv(t)
	for _, tt := range []struct {
		origin string
		status int
	}{
		{"https://example.com", http.StatusForbidden},
		{"http://example.com", http.StatusCreated},
	} {
		res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/"+tt.origin[:5]), "Origin", tt.origin)
		if res.StatusCode != tt.status {
			t.Errorf("Origin %s: %d %v, want %d", tt.origin, res.StatusCode, out, tt.status)
		}
	}
}

// TestLocalPushLoopbackOnly: behind a reverse proxy on this machine every
// client's peer address is loopback; a proxied request is not.
func TestLocalPushLoopbackOnly(t *testing.T) {
	local := DefaultConfig()
	local.PushService = PushServiceLocal
	base := startRun(t, local)
	for _, tt := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"direct", nil, http.StatusOK},
		{"through a proxy", []string{"X-Forwarded-For", "203.0.113.7"}, http.StatusForbidden},
		{"through a proxy saying Forwarded", []string{"Forwarded", "for=203.0.113.7"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/api/local-push", nil)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("%d, want %d", res.StatusCode, tt.status)
			}
		})
	}
}

// TestDataDirTightened: a DATA_DIR made beforehand with 0755 is closed to
// other users: it holds every subscription's keys.
func TestDataDirTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	startRun(t, cfg)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("DATA_DIR mode %o, want 700", st.Mode().Perm())
	}
}

// TestIPv6LimitedByPrefix: one host owns a whole /64; rotating addresses in
// it does not buy a new budget.
func TestIPv6LimitedByPrefix(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate = 2; c.TrustedProxyHeader = "X-Real-IP" })
	for i := range 3 {
		res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, fmt.Sprintf("%s/push/v6-%d", e.push.URL, i)),
			"X-Real-IP", fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if i < 2 && res.StatusCode != http.StatusCreated {
			t.Fatalf("subscribe %d: %d %v", i, res.StatusCode, out)
		}
		if i == 2 {
			wantTooMany(t, "3rd subscribe from the same /64", res, out, "SUBSCRIBE_RATE")
		}
	}
	if res, _ := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/v6-other"), "X-Real-IP", "2001:db8:1:3::1"); res.StatusCode != http.StatusCreated {
		t.Errorf("another /64: %d, want 201", res.StatusCode)
	}
}

// TestProxyHeaderTrustedFromProxiesOnly: a client reaching the port directly
// cannot pick the address it is counted by.
func TestProxyHeaderTrustedFromProxiesOnly(t *testing.T) {
	for _, tt := range []struct {
		peer, header, want string
	}{
		{"127.0.0.1:4000", "203.0.113.1", "203.0.113.1"},
		{"10.0.0.7:4000", "203.0.113.1", "203.0.113.1"},
		{"198.51.100.9:4000", "203.0.113.1", "198.51.100.9"},
	} {
		req := httptest.NewRequest("POST", "/api/subscriptions", nil)
		req.RemoteAddr = tt.peer
		req.Header.Set("X-Forwarded-For", tt.header)
		if got := clientAddr(req, "X-Forwarded-For"); got != tt.want {
			t.Errorf("peer %s saying %s: counted as %s, want %s", tt.peer, tt.header, got, tt.want)
		}
	}
}

// TestCeilingHoldsUnderConcurrency: a burst of new subscriptions cannot all
// see room below MAX_SUBSCRIPTIONS.
func TestCeilingHoldsUnderConcurrency(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxSubscriptions = 5; c.SubscribeRate = 0 })
	subs := make([]map[string]any, 60)
	for i := range subs {
		subs[i] = newSubscription(t, fmt.Sprintf("%s/push/burst-%d", e.push.URL, i))
	}
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() { e.do(t, "POST", "/api/subscriptions", sub) })
	}
	wg.Wait()
	if n, _ := e.store.Count(context.Background()); n != 5 {
		t.Errorf("%d rows after a burst, want the ceiling of 5", n)
	}
}

// TestEndpointSpellingsShareABudget: writing one endpoint's host in capitals
// or with its default port does not buy another test-send budget.
func TestEndpointSpellingsShareABudget(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"https://fcm.googleapis.com/fcm/send/abc", "https://FCM.googleapis.com/fcm/send/abc"},
		{"https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com:443/fcm/send/abc"},
		{"http://127.0.0.1:7000/wpush/abc", "HTTP://127.0.0.1:7000/wpush/abc"},
	} {
		if canonicalEndpoint(tt.a) != canonicalEndpoint(tt.b) {
			t.Errorf("%s and %s count apart: %s vs %s", tt.a, tt.b, canonicalEndpoint(tt.a), canonicalEndpoint(tt.b))
		}
	}
	if canonicalEndpoint("https://wns.notify.windows.com/w/?token=a") == canonicalEndpoint("https://wns.notify.windows.com/w/?token=b") {
		t.Error("two WNS endpoints, told apart by their query, count as one")
	}
}

// TestOriginSchemeThroughAProxy: behind a reverse proxy the server was not
// told to trust, it cannot know its scheme and leaves the decision to Go's
// host check, so an https page (Safari before 16.4 sends no Sec-Fetch-Site)
// can still subscribe.
func TestOriginSchemeThroughAProxy(t *testing.T) {
	e := newTestEnv(t)
	res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/proxied"),
		"Origin", "https://example.com", "X-Forwarded-Proto", "https")
	if res.StatusCode != http.StatusCreated {
		t.Errorf("%d %v, want 201", res.StatusCode, out)
	}
}

// TestSharedDataDirLeftAlone: a sticky folder shared on purpose (like /tmp)
// is not taken from its other users; the server starts with a warning.
func TestSharedDataDirLeftAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	startRun(t, cfg)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("shared DATA_DIR changed to %v", st.Mode())
	}
}
