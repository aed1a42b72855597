package localpush

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pushstart/internal/vapidverify"
)

// firefoxEndpoint subscribes a fake Firefox with app's key and returns it
// with the endpoint.
func firefoxEndpoint(t *testing.T, s *Service, key string) (*firefox, string) {
	t.Helper()
	f := dialFirefox(t, s, "")
	return f, f.register("chan-1", key)
}

// TestVAPID checks what the push resource gives the verifier (the
// subscription's key, the endpoint, its clock) and what it makes of a
// refusal: the status, the body and a reject event. Every check of the
// verifier itself is tested in package vapidverify.
func TestVAPID(t *testing.T) {
	s := startService(t)
	app, other := newAppServer(t), newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.paddedKey())
	aud := s.URL()
	exp := time.Now().Add(12 * time.Hour).Unix()
	claims := func(aud string, exp int64) map[string]any {
		return map[string]any{"aud": aud, "exp": exp, "sub": "mailto:ops@example.com"}
	}
	signed := func(c map[string]any) string { return "vapid t=" + app.jwt(t, nil, c) + ", k=" + app.pub }

	tests := []struct {
		name   string
		auth   string
		status int
		detail string
	}{
		{"valid, k without padding as webpush-go sends it", signed(claims(aud, exp)), 201, ""},
		{"valid, k with padding", "vapid t=" + app.jwt(t, nil, claims(aud, exp)) + ", k=" + app.paddedKey(), 201, ""},
		{"valid, https sub", signed(map[string]any{"aud": aud, "exp": exp, "sub": "https://example.com/contact"}), 201, ""},
		{"missing header", "", 401, "missing Authorization"},
		{"signed by another key than k", "vapid t=" + other.jwt(t, nil, claims(aud, exp)) + ", k=" + app.pub, 401, "signature"},
		{"wrong k: another app server's valid JWT", "vapid t=" + other.jwt(t, nil, claims(aud, exp)) + ", k=" + other.pub, 403, "applicationServerKey"},
		{"wrong aud", signed(claims("https://fcm.googleapis.com", exp)), 401, "is not " + aud},
		{"aud with a path", signed(claims(aud+"/", exp)), 401, "aud"},
		{"expired", signed(claims(aud, time.Now().Add(-time.Minute).Unix())), 401, "expired"},
	}
	refused := 0
	for _, tt := range tests {
		if tt.status != 201 {
			refused++
		}
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawPush{endpoint: endpoint, auth: tt.auth}.do(t, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, strings.TrimSpace(body), tt.status)
			}
			if tt.detail != "" && !strings.Contains(body, tt.detail) {
				t.Errorf("body %q does not say %q", body, tt.detail)
			}
		})
	}
	rejects := eventsOf(t, s, EventReject)
	if len(rejects) != refused {
		t.Errorf("%d reject events, want %d", len(rejects), refused)
	}
	for _, e := range rejects {
		if !strings.HasPrefix(e.Detail, "VAPID: ") || e.Endpoint != endpoint {
			t.Errorf("reject event %+v", e)
		}
	}
}

// Every refusal is a 401 but a valid JWT with another key than the
// subscription's, the one refusal that resending cannot fix.
func TestVAPIDStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"header", &vapidverify.Error{Check: vapidverify.CheckHeader}, 401},
		{"key", &vapidverify.Error{Check: vapidverify.CheckKey}, 401},
		{"token", &vapidverify.Error{Check: vapidverify.CheckToken}, 401},
		{"signature", &vapidverify.Error{Check: vapidverify.CheckSignature}, 401},
		{"key match", &vapidverify.Error{Check: vapidverify.CheckKeyMatch}, 403},
		{"aud", &vapidverify.Error{Check: vapidverify.CheckAudience}, 401},
		{"exp", &vapidverify.Error{Check: vapidverify.CheckExpiry}, 401},
		{"sub", &vapidverify.Error{Check: vapidverify.CheckSubject}, 401},
		{"wrapped key match", fmt.Errorf("push: %w", &vapidverify.Error{Check: vapidverify.CheckKeyMatch}), 403},
		{"another error", errors.New("not from vapidverify"), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := vapidStatus(tt.err); got != tt.status {
				t.Fatalf("vapidStatus(%v) = %d, want %d", tt.err, got, tt.status)
			}
		})
	}
}

// The service checks exp against its own clock, so a fake one decides.
func TestVAPIDExpiryUsesTheServiceClock(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock))
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	auth := app.authorization(t, s.URL()) // valid for 12 hours

	if resp, body := (rawPush{endpoint: endpoint, auth: auth}).do(t, nil); resp.StatusCode != 201 {
		t.Fatalf("status %d (%s), want 201", resp.StatusCode, body)
	}
	clock.Add(13 * time.Hour)
	if resp, body := (rawPush{endpoint: endpoint, auth: auth}).do(t, nil); resp.StatusCode != 401 || !strings.Contains(body, "expired") {
		t.Fatalf("13 h later: status %d (%s), want 401 saying the JWT expired", resp.StatusCode, body)
	}
}

func TestUnrestrictedSubscriptionAcceptsAnyValidVAPID(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, "")
	if resp, body := (rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}).do(t, nil); resp.StatusCode != 201 {
		t.Fatalf("status %d (%s), want 201", resp.StatusCode, body)
	}
	if resp, _ := (rawPush{endpoint: endpoint}).do(t, nil); resp.StatusCode != 401 {
		t.Fatalf("no VAPID: status %d, want 401", resp.StatusCode)
	}
}

func TestPushRequestValidation(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	auth := app.authorization(t, s.URL())

	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		status  int
		detail  string
	}{
		{"4096 bytes accepted", nil, bytes.Repeat([]byte{1}, 4096), 201, ""},
		{"4097 bytes too large", nil, bytes.Repeat([]byte{1}, 4097), 413, "4096"},
		{"missing Content-Encoding", map[string]string{"Content-Encoding": ""}, nil, 400, "missing Content-Encoding"},
		{"legacy aesgcm", map[string]string{"Content-Encoding": "aesgcm"}, nil, 400, "only aes128gcm"},
		{"empty body needs no encoding", map[string]string{"Content-Encoding": ""}, []byte{}, 201, ""},
		{"missing TTL", map[string]string{"TTL": ""}, nil, 400, "missing TTL"},
		{"negative TTL", map[string]string{"TTL": "-1"}, nil, 400, "TTL"},
		{"TTL not a number", map[string]string{"TTL": "soon"}, nil, 400, "TTL"},
		{"TTL 0", map[string]string{"TTL": "0"}, nil, 201, ""},
		{"each urgency", map[string]string{"Urgency": "very-low"}, nil, 201, ""},
		{"unknown urgency", map[string]string{"Urgency": "urgent"}, nil, 400, "Urgency"},
		{"topic of 32 characters", map[string]string{"Topic": strings.Repeat("a", 32)}, nil, 201, ""},
		{"topic of 33 characters", map[string]string{"Topic": strings.Repeat("a", 33)}, nil, 400, "Topic"},
		{"topic outside base64url", map[string]string{"Topic": "a+b"}, nil, 400, "base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawPush{endpoint: endpoint, auth: auth, headers: tt.headers, body: tt.body}.do(t, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, strings.TrimSpace(body), tt.status)
			}
			if !strings.Contains(body, tt.detail) {
				t.Errorf("body %q does not say %q", body, tt.detail)
			}
		})
	}
}

func TestTTLReplyHeaderCapped(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	resp, _ := rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL()),
		headers: map[string]string{"TTL": "99999999"}}.do(t, nil)
	if resp.StatusCode != 201 || resp.Header.Get("TTL") != "2419200" {
		t.Fatalf("status %d TTL %q, want 201 and TTL 2419200 (28 days)", resp.StatusCode, resp.Header.Get("TTL"))
	}
}

func TestDeletePendingMessage(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	f, endpoint := firefoxEndpoint(t, s, app.pub)
	f.ws.CloseNow()
	waitEvent(t, s, EventDisconnect, func(Event) bool { return true })

	resp, _ := rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}.do(t, nil)
	loc := resp.Header.Get("Location")
	req, _ := http.NewRequest(http.MethodDelete, loc, nil)
	del, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	del.Body.Close()
	if del.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d, want 204", loc, del.StatusCode)
	}
	f2 := dialFirefox(t, s, f.uaid)
	f2.expectNothingPending()
	del, _ = http.DefaultClient.Do(req)
	del.Body.Close()
	if del.StatusCode != http.StatusNotFound {
		t.Fatalf("second DELETE: %d, want 404", del.StatusCode)
	}
}
