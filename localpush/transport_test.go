package localpush

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/localpush/gcm"
)

// roundTripFunc is a RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportRoutesFCMHostsOnly(t *testing.T) {
	s := startService(t)
	var got []*http.Request
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
	rt := s.Transport(base)
	var sent []*http.Request
	for _, u := range []string{
		"https://fcm.googleapis.com/fcm/send/tok1",
		"https://jmt17.google.com/fcm/send/tok2",
		"https://updates.push.services.mozilla.com/wpush/v2/tok3",
		"https://fcm.googleapis.com.example.net/fcm/send/tok4",
	} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("x"))
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if req.URL.String() != u {
			t.Fatalf("RoundTrip changed the caller's request URL to %s", req.URL)
		}
		sent = append(sent, req)
	}
	local := strings.TrimPrefix(s.URL(), "http://")
	for i, w := range []struct{ url, host string }{
		{"http://" + local + "/fcm/send/tok1", "fcm.googleapis.com"},
		{"http://" + local + "/fcm/send/tok2", "jmt17.google.com"},
	} {
		if got[i].URL.String() != w.url || got[i].Host != w.host {
			t.Errorf("request %d went to %s with Host %q, want %s with Host %q", i, got[i].URL, got[i].Host, w.url, w.host)
		}
	}
	for i := 2; i < 4; i++ {
		if got[i] != sent[i] {
			t.Errorf("request %d for %s was not passed to base unchanged", i, sent[i].URL)
		}
	}
}

// chromiumSubscription registers a subscription as package gcm reports one
// and returns the endpoint Debian's Chromium would show for it.
func chromiumSubscription(t *testing.T, s *Service, app appServer, token string) string {
	t.Helper()
	err := chromiumHooks{s}.Registered(gcm.Registration{
		AndroidID: "4242", Token: token, Subtype: "wp:http://127.0.0.1:8000/#6b1c0c0e-ffff-4a4a-9b9b-000000000000-V2",
		Sender: app.pub, App: "org.chromium.linux",
	})
	if err != nil {
		t.Fatal(err)
	}
	return "https://jmt17.google.com/fcm/send/" + token
}

func TestChromiumEndpointThroughTransport(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	endpoint := chromiumSubscription(t, s, app, "tok-chromium")
	client := &http.Client{Transport: s.Transport(nil)}

	status, h := sendWebPush(t, client, app, ua, endpoint, []byte("hi"), webpush.Options{TTL: 60})
	if status != http.StatusCreated || !strings.HasPrefix(h.Get("Location"), s.URL()+"/m/") {
		t.Fatalf("push via Transport: %d Location %q, want 201 and a message URL", status, h.Get("Location"))
	}
	push := waitEvent(t, s, EventPush, func(Event) bool { return true })
	if push.Endpoint != endpoint || push.Browser != Chromium {
		t.Errorf("push event %+v, want endpoint %s", push, endpoint)
	}

	// The aud must be the endpoint's origin, not the local service's.
	resp, body := rawPush{endpoint: s.URL() + "/fcm/send/tok-chromium", host: "jmt17.google.com",
		auth: app.authorization(t, s.URL())}.do(t, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "https://jmt17.google.com") {
		t.Fatalf("aud of the local URL for an FCM endpoint: %d %q, want 401 naming https://jmt17.google.com", resp.StatusCode, body)
	}
	// A Firefox endpoint is not served under the Chromium path, nor the reverse.
	resp, _ = rawPush{endpoint: s.URL() + "/wpush/tok-chromium", auth: app.authorization(t, s.URL())}.do(t, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Chromium token under /wpush/: %d, want 404", resp.StatusCode)
	}

	// Faults are armed with the endpoint as Chromium shows it.
	setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "500"})
	if status, _ := sendWebPush(t, client, app, ua, endpoint, []byte("hi"), webpush.Options{TTL: 60}); status != 500 {
		t.Fatalf("push with a 500 fault armed: %d", status)
	}

	chromiumHooks{s}.Unregistered("4242", "tok-chromium")
	if status, _ := sendWebPush(t, client, app, ua, endpoint, []byte("hi"), webpush.Options{TTL: 60}); status != http.StatusGone {
		t.Fatalf("push after unregistration: %d, want 410", status)
	}
}

func TestChromiumRegistrationWithBadSender(t *testing.T) {
	s := startService(t)
	err := chromiumHooks{s}.Registered(gcm.Registration{
		AndroidID: "1", Token: "t", Subtype: "wp:http://x/#u-V2", Sender: "123456789012", App: "org.chromium.linux",
	})
	if !errors.Is(err, gcm.ErrInvalidSender) {
		t.Fatalf("Registered with a GCM sender id: %v, want ErrInvalidSender", err)
	}
}

// TestTransportReroutesEndpointPathsOnly: in local mode only Chromium's
// endpoint paths on the FCM hosts reach the service, never its own routes.
func TestTransportReroutesEndpointPathsOnly(t *testing.T) {
	s := startService(t)
	client := &http.Client{Transport: s.Transport(nil)}
	for _, path := range []string{"/v1/faults", "/v1/events", "/checkin"} {
		resp, err := client.Post("https://fcm.googleapis.com"+path, "application/octet-stream", strings.NewReader("x"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST https://fcm.googleapis.com%s reached the service (%d)", path, resp.StatusCode)
		}
	}
}
