//go:build !wasm

package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"pushstart/api"
	"pushstart/app"
	"pushstart/server/vapid"
)

// TestStartupWarnsOfSubjectAppleRefuses: the default VAPID_SUBJECT, a
// placeholder at localhost, starts the kit with a warning naming it and
// saying what to set; a real contact, or a local push service, which never
// reaches Apple, starts it without.
func TestStartupWarnsOfSubjectAppleRefuses(t *testing.T) {
	build := Build{Version: "test", Web: builtWeb, Page: app.Handler()}

	var log syncBuffer
	startRunBuild(t, DefaultConfig(), build, &log)
	want := vapid.CheckApple(DefaultConfig().VAPIDSubject)
	if want == nil {
		t.Fatal("Apple accepts the default subject; the test needs one it refuses")
	}
	var warning string
	for line := range strings.SplitSeq(log.String(), "\n") {
		if strings.Contains(line, "Apple's push service") {
			warning = line
		}
	}
	if !strings.Contains(warning, "level=WARN") || !strings.Contains(warning, want.Error()) ||
		!strings.Contains(warning, "VAPID_SUBJECT "+DefaultConfig().VAPIDSubject) {
		t.Errorf("start-up log has no warning naming VAPID_SUBJECT and saying %q:\n%s", want, log.String())
	}

	for name, set := range map[string]func(*Config){
		"a subject Apple accepts": func(c *Config) { c.VAPIDSubject = "mailto:you@acme-push.io" },
		"a local push service":    func(c *Config) { c.PushService = PushServiceLocal },
	} {
		var quiet syncBuffer
		cfg := DefaultConfig()
		set(&cfg)
		startRunBuild(t, cfg, build, &quiet)
		if strings.Contains(quiet.String(), "VAPID_SUBJECT") || strings.Contains(quiet.String(), "Apple's push service") {
			t.Errorf("%s, yet the log warns:\n%s", name, quiet.String())
		}
	}
}

// TestStartupWarnsOfPublicURLUnset: with the real push services and no
// PUBLIC_URL, the kit says which origin notifications link to and what to
// set; with PUBLIC_URL, or a local push service (development, tests), it
// says nothing.
func TestStartupWarnsOfPublicURLUnset(t *testing.T) {
	build := Build{Version: "test", Web: builtWeb, Page: app.Handler()}

	var log syncBuffer
	base := startRunBuild(t, DefaultConfig(), build, &log)
	var warning string
	for line := range strings.SplitSeq(log.String(), "\n") {
		if strings.Contains(line, "PUBLIC_URL") {
			warning = line
		}
	}
	if !strings.Contains(warning, "level=WARN") || !strings.Contains(warning, "notifications link to "+base+";") ||
		!strings.Contains(warning, "set PUBLIC_URL to the address users open") {
		t.Errorf("start-up log has no warning that notifications link to %s:\n%s", base, log.String())
	}

	for name, set := range map[string]func(*Config){
		"PUBLIC_URL set":       func(c *Config) { c.PublicURL = "https://push.acme-push.io" },
		"a local push service": func(c *Config) { c.PushService = PushServiceLocal },
	} {
		var quiet syncBuffer
		cfg := DefaultConfig()
		set(&cfg)
		startRunBuild(t, cfg, build, &quiet)
		if strings.Contains(quiet.String(), "PUBLIC_URL") {
			t.Errorf("%s, yet the log warns:\n%s", name, quiet.String())
		}
	}
}

// applePushService is a fake of Apple's push service over TLS, and a
// client whose connections to web.push.apple.com:443 reach it (any other
// is refused), so the allowlist sees Apple's real host and no test goes out
// to the internet.
type applePushService struct {
	*httptest.Server
	hits   atomic.Int32
	status int
	body   string
}

func newApplePushService(t *testing.T, status int, body string) (*applePushService, *http.Client) {
	t.Helper()
	p := &applePushService{status: status, body: body}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		w.WriteHeader(p.status)
		fmt.Fprint(w, p.body)
	}))
	t.Cleanup(p.Close)
	tr := p.Client().Transport.(*http.Transport).Clone()
	addr := p.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, to string) (net.Conn, error) {
		if to != "web.push.apple.com:443" {
			return nil, fmt.Errorf("the test's client dials web.push.apple.com only, not %s", to)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate
	c := &http.Client{Transport: tr}
	t.Cleanup(c.CloseIdleConnections)
	return p, c
}

// TestTestSendToApple: a test send to an Apple endpoint tells the caller
// what to change, whether the server refused to send (a subject Apple
// refuses) or Apple answered BadJwtToken, without the endpoint or the
// configured subject; so does the admin console's delivery log, which keeps
// an entry for each push.
func TestTestSendToApple(t *testing.T) {
	const endpoint = "https://web.push.apple.com/QGm8-secret-apple-token-0123456789"
	note := map[string]any{"title": "Hello"}
	tests := []struct {
		name, subject string
		status        int
		body          string
		wantHits      int32
		wantError     string // the answer's error, exactly
		wantLogged    string // in the delivery log's error
	}{
		{"subject Apple refuses", "mailto:webpush@localhost.localdomain", 201, "", 0,
			"the server did not send: Apple's push service refuses a contact at localhost (403 BadJwtToken); " +
				"set VAPID_SUBJECT to mailto:you@your-domain.com or https://your-domain.com",
			"Apple's push service refuses a contact at localhost"},
		{"Apple answers BadJwtToken", "mailto:ops@acme-push.io", 403, `{"reason":"BadJwtToken"}`, 1,
			"the push service refused the server's VAPID credentials (HTTP 403 Forbidden, reason BadJwtToken): " +
				"Apple refused the VAPID JWT; check that VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are one pair, " +
				"and set VAPID_SUBJECT to mailto:you@your-domain.com or https://your-domain.com if it is no real contact",
			"reason BadJwtToken: Apple refused the VAPID JWT; check that VAPID_PUBLIC_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apple, client := newApplePushService(t, tt.status, tt.body)
			e := newTestEnvClient(t, client, func(c *Config) { c.VAPIDSubject = tt.subject })
			if res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, endpoint)); res.StatusCode != http.StatusCreated {
				t.Fatalf("subscribing an Apple endpoint: %d %v", res.StatusCode, out)
			}

			res, out := e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": endpoint, "notification": note})
			if res.StatusCode != http.StatusBadGateway || out["outcome"] != "unauthorized" || out["error"] != tt.wantError {
				t.Errorf("test send: %d %v\nwant 502 unauthorized saying %s", res.StatusCode, out, tt.wantError)
			}
			if msg := fmt.Sprint(out); strings.Contains(msg, "secret-apple-token") || strings.Contains(msg, tt.subject) {
				t.Errorf("the answer names the endpoint or the configured subject: %v", out)
			}
			if n := apple.hits.Load(); n != tt.wantHits {
				t.Errorf("Apple's push service got %d requests, want %d", n, tt.wantHits)
			}

			var page api.DeliveryPage
			status, body := adminGet(t, e.h, api.PathAdminDeliveries, &page)
			if status != http.StatusOK || len(page.Deliveries) != 1 || !strings.Contains(page.Deliveries[0].Error, tt.wantLogged) ||
				strings.Contains(string(body), "secret-apple-token") || strings.Contains(string(body), tt.subject) {
				t.Errorf("admin delivery log: %d %s\nwant one entry saying %q, without the endpoint or the configured subject", status, body, tt.wantLogged)
			}
		})
	}
}
