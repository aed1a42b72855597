//go:build !wasm

package server

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pushstart/server/delivery"
	"pushstart/server/messageid"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

const testAdminToken = "test-admin-token-0123456789"

// pushService is an httptest push service answering every POST with status.
type pushService struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newPushService(t *testing.T) *pushService {
	t.Helper()
	p := &pushService{}
	p.status.Store(http.StatusCreated)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(int(p.status.Load()))
	}))
	t.Cleanup(p.Close)
	return p
}

type testEnv struct {
	srv   *Server
	h     http.Handler
	store *store.DB
	push  *pushService
	ids   *messageid.Signer // the engine's and the server's
	user  atomic.Value      // string: the user UserOf names for every request
}

// newTestEnv builds a server as Run does, over an httptest push service
// that PUSH_ALLOWED_HOSTS allows; tune may change the settings first.
func newTestEnv(t *testing.T, tune ...func(*Config)) *testEnv {
	t.Helper()
	return newTestEnvClient(t, nil, tune...)
}

// newTestEnvClient is newTestEnv with the sender's HTTP client given (nil
// for the sender's own).
func newTestEnvClient(t *testing.T, client *http.Client, tune ...func(*Config)) *testEnv {
	t.Helper()
	push := newPushService(t)
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := vapid.Generate()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := DefaultConfig()
	cfg.PushAllowedHosts = []string{strings.TrimPrefix(push.URL, "http://")}
	cfg.VAPIDSubject = "mailto:ops@example.com"
	for _, f := range tune {
		f(&cfg)
	}
	allow := cfg.Allowlist(nil)
	trace := NewTraceHub(nil)
	snd, err := sender.New(sender.Options{Keys: keys, Subject: cfg.VAPIDSubject, Client: client, Store: st, Log: log, MaxAttempts: 1,
		CheckEndpoint: allow.Check, Trace: trace})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := messageid.Parse(messageid.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := delivery.New(context.Background(), delivery.Options{DB: st, Sender: snd, Log: log, ChunkSize: 4, MessageID: ids.Sign})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		engine.Stop(ctx)
	})
	e := &testEnv{store: st, push: push, ids: ids}
	e.user.Store("")
	e.srv = New(cfg, Deps{Store: st, Sender: snd, Engine: engine, Keys: keys, AdminToken: testAdminToken, MessageIDs: ids, Log: log, Allowlist: allow, Trace: trace,
		UserOf: func(*http.Request) (string, error) { return e.user.Load().(string), nil }})
	e.h = e.srv.Handler()
	return e
}

// newSubscription returns a valid PushSubscription.toJSON() for endpoint.
func newSubscription(t *testing.T, endpoint string) map[string]any {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return map[string]any{
		"endpoint":       endpoint,
		"expirationTime": nil,
		"keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
			"auth":   base64.RawURLEncoding.EncodeToString(auth),
		},
	}
}

func (e *testEnv) do(t *testing.T, method, path string, body any, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	return e.serve(e.request(t, method, path, body, hdr...))
}

// request builds the request do sends: body as JSON (a string as it is),
// then the header name-value pairs hdr.
func (e *testEnv) request(t *testing.T, method, path string, body any, hdr ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
		if h := http.CanonicalHeaderKey(hdr[i]); h == "X-Forwarded-For" || h == "X-Real-Ip" {
			// Such a request comes through the reverse proxy on this machine.
			req.RemoteAddr = "127.0.0.1:40000"
		}
	}
	return req
}

// serve runs req through the server's handler and decodes its JSON answer.
func (e *testEnv) serve(req *http.Request) (*http.Response, map[string]any) {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	res := rec.Result()
	var out map[string]any
	if b, _ := io.ReadAll(res.Body); len(b) > 0 {
		json.Unmarshal(b, &out)
	}
	return res, out
}

func TestSubscribeValidation(t *testing.T) {
	e := newTestEnv(t)
	good := func() map[string]any { return newSubscription(t, e.push.URL+"/push/1") }
	with := func(f func(m map[string]any)) map[string]any { m := good(); f(m); return m }
	keys := func(m map[string]any) map[string]string { return m["keys"].(map[string]string) }

	tests := []struct {
		name      string
		body      any
		status    int
		field     string
		noContent bool
	}{
		{name: "missing endpoint", body: with(func(m map[string]any) { delete(m, "endpoint") }), status: 400, field: "endpoint"},
		{name: "relative endpoint", body: with(func(m map[string]any) { m["endpoint"] = "/push/1" }), status: 400, field: "endpoint"},
		{name: "ftp endpoint", body: with(func(m map[string]any) { m["endpoint"] = "ftp://fcm.googleapis.com/x" }), status: 400, field: "endpoint"},
		{name: "http to a known push service", body: with(func(m map[string]any) { m["endpoint"] = "http://fcm.googleapis.com/fcm/send/x" }), status: 400, field: "endpoint"},
		{name: "host not allowed", body: with(func(m map[string]any) { m["endpoint"] = "https://10.0.0.1/internal" }), status: 400, field: "endpoint"},
		{name: "lookalike host", body: with(func(m map[string]any) { m["endpoint"] = "https://fcm.googleapis.com.evil.example/x" }), status: 400, field: "endpoint"},
		{name: "credentials in endpoint", body: with(func(m map[string]any) { m["endpoint"] = "https://u:p@fcm.googleapis.com/x" }), status: 400, field: "endpoint"},
		{name: "endpoint too long", body: with(func(m map[string]any) { m["endpoint"] = "https://fcm.googleapis.com/" + strings.Repeat("a", 3000) }), status: 400, field: "endpoint"},
		{name: "missing p256dh", body: with(func(m map[string]any) { delete(keys(m), "p256dh") }), status: 400, field: "keys.p256dh"},
		{name: "p256dh not base64url", body: with(func(m map[string]any) { keys(m)["p256dh"] = "!!!" }), status: 400, field: "keys.p256dh"},
		{name: "p256dh compressed point", body: with(func(m map[string]any) {
			keys(m)["p256dh"] = base64.RawURLEncoding.EncodeToString(append([]byte{2}, make([]byte, 32)...))
		}), status: 400, field: "keys.p256dh"},
		{name: "p256dh off the curve", body: with(func(m map[string]any) {
			keys(m)["p256dh"] = base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
		}), status: 400, field: "keys.p256dh"},
		{name: "missing auth", body: with(func(m map[string]any) { delete(keys(m), "auth") }), status: 400, field: "keys.auth"},
		{name: "auth 8 bytes", body: with(func(m map[string]any) { keys(m)["auth"] = base64.RawURLEncoding.EncodeToString(make([]byte, 8)) }), status: 400, field: "keys.auth"},
		{name: "negative expirationTime", body: with(func(m map[string]any) { m["expirationTime"] = -5 }), status: 400, field: "expirationTime"},
		{name: "expirationTime of the wrong type", body: with(func(m map[string]any) { m["expirationTime"] = "soon" }), status: 400, field: "expirationTime"},
		{name: "unknown field", body: with(func(m map[string]any) { m["extra"] = true }), status: 400, field: "extra"},
		{name: "not JSON", body: "{endpoint:", status: 400},
		{name: "array instead of object", body: "[]", status: 400},
		{name: "keys of the wrong type", body: `{"endpoint":"https://fcm.googleapis.com/x","keys":5}`, status: 400, field: "keys"},
		{name: "two objects", body: `{"endpoint":"x"}{}`, status: 400},
		{name: "too large", body: `{"endpoint":"` + strings.Repeat("a", 20000) + `"}`, status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/subscriptions", tt.body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", res.StatusCode, tt.status, out)
			}
			msg, _ := out["error"].(string)
			if msg == "" {
				t.Errorf("no error message in %v", out)
			}
			if strings.Contains(msg, "server.") || strings.Contains(msg, "payload.") {
				t.Errorf("error message speaks of Go types: %q", msg)
			}
			if tt.field != "" && out["field"] != tt.field {
				t.Errorf("field %v, want %q (%v)", out["field"], tt.field, out)
			}
		})
	}
	if n, _ := e.store.Count(context.Background()); n != 0 {
		t.Errorf("%d subscriptions stored after only bad requests", n)
	}

	t.Run("wrong content type", func(t *testing.T) {
		b, _ := json.Marshal(good())
		req := httptest.NewRequest("POST", "/api/subscriptions", bytes.NewReader(b))
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d, want 415", rec.Code)
		}
	})
}

func TestSubscribeUpsertReplaceDelete(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	sub := newSubscription(t, e.push.URL+"/push/a")

	res, out := e.do(t, "POST", "/api/subscriptions", sub)
	if res.StatusCode != http.StatusCreated || out["created"] != true {
		t.Fatalf("first POST: %d %v, want 201 created", res.StatusCode, out)
	}
	res, out = e.do(t, "POST", "/api/subscriptions", sub)
	if res.StatusCode != http.StatusOK || out["created"] != false {
		t.Fatalf("second POST: %d %v, want 200 known", res.StatusCode, out)
	}
	if n, _ := e.store.Count(ctx); n != 1 {
		t.Fatalf("%d rows after two POSTs of one subscription, want 1", n)
	}

	// pushsubscriptionchange: the new subscription replaces the old row.
	next := newSubscription(t, e.push.URL+"/push/b")
	next["oldEndpoint"] = e.push.URL + "/push/a"
	res, _ = e.do(t, "POST", "/api/subscriptions", next)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("replace: status %d, want 201", res.StatusCode)
	}
	if _, err := e.store.Get(ctx, e.push.URL+"/push/a"); err != store.ErrNotFound {
		t.Errorf("old row still there after replace: %v", err)
	}
	got, err := e.store.Get(ctx, e.push.URL+"/push/b")
	if err != nil {
		t.Fatal(err)
	}
	if want := next["keys"].(map[string]string)["auth"]; got.Auth != want {
		t.Errorf("stored auth %q, want %q", got.Auth, want)
	}

	res, _ = e.do(t, "DELETE", "/api/subscriptions", map[string]string{"endpoint": e.push.URL + "/push/b"})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d, want 204", res.StatusCode)
	}
	if n, _ := e.store.Count(ctx); n != 0 {
		t.Fatalf("%d rows after DELETE, want 0", n)
	}
	res, out = e.do(t, "DELETE", "/api/subscriptions", map[string]string{})
	if res.StatusCode != 400 || out["field"] != "endpoint" {
		t.Errorf("DELETE without endpoint: %d %v, want 400 naming endpoint", res.StatusCode, out)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	e := newTestEnv(t)
	sub := newSubscription(t, e.push.URL+"/push/x")
	for _, tt := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, http.StatusForbidden},
		{"foreign Origin without Sec-Fetch-Site", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"same-origin fetch", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"}, http.StatusCreated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/subscriptions", sub, tt.hdr...)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", res.StatusCode, tt.status, out)
			}
		})
	}
	res, _ := e.do(t, "DELETE", "/api/subscriptions", map[string]string{"endpoint": e.push.URL + "/push/x"},
		"Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site DELETE: status %d, want 403", res.StatusCode)
	}
	if n, _ := e.store.Count(context.Background()); n != 1 {
		t.Errorf("%d rows, want the one same-origin subscription", n)
	}
}

func TestTestSend(t *testing.T) {
	e := newTestEnv(t)
	sub := newSubscription(t, e.push.URL+"/push/t")
	e.do(t, "POST", "/api/subscriptions", sub)
	note := map[string]any{"title": "Hello", "body": "World"}

	res, out := e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": e.push.URL + "/push/t", "notification": note})
	if res.StatusCode != 200 || out["outcome"] != "sent" {
		t.Fatalf("test send: %d %v, want 200 sent", res.StatusCode, out)
	}
	if e.push.hits.Load() != 1 {
		t.Fatalf("push service got %d requests, want 1", e.push.hits.Load())
	}

	res, out = e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": e.push.URL + "/push/unknown", "notification": note})
	if res.StatusCode != 404 || out["field"] != "endpoint" {
		t.Errorf("unknown endpoint: %d %v, want 404 naming endpoint", res.StatusCode, out)
	}

	big := map[string]any{"title": "Big", "body": strings.Repeat("x", 1000), "data": map[string]string{"blob": strings.Repeat("y", 4000)}}
	res, out = e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": e.push.URL + "/push/t", "notification": big})
	if res.StatusCode != 400 || out["field"] != "notification" || !strings.Contains(out["error"].(string), "3993") {
		t.Errorf("oversized: %d %v, want 400 naming notification and the limit", res.StatusCode, out)
	}
	res, out = e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": e.push.URL + "/push/t", "notification": map[string]any{"body": "no title"}})
	if res.StatusCode != 400 || out["field"] != "notification.title" {
		t.Errorf("no title: %d %v, want 400 naming notification.title", res.StatusCode, out)
	}
	if e.push.hits.Load() != 1 {
		t.Errorf("invalid requests reached the push service: %d requests", e.push.hits.Load())
	}

	e.push.status.Store(http.StatusGone)
	res, out = e.do(t, "POST", "/api/subscriptions/test", map[string]any{"endpoint": e.push.URL + "/push/t", "notification": note})
	if res.StatusCode != http.StatusGone || out["outcome"] != "gone" || out["pruned"] != true {
		t.Fatalf("gone: %d %v, want 410 gone pruned", res.StatusCode, out)
	}
	if _, err := e.store.Get(context.Background(), e.push.URL+"/push/t"); err != store.ErrNotFound {
		t.Errorf("subscription not pruned after 410: %v", err)
	}
}

func TestBroadcastAdminAuth(t *testing.T) {
	// Its wrong tokens would use up ADMIN_SIGNIN_RATE (see session_test.go).
	e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = 0 })
	for i := range 3 {
		e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/"+string(rune('a'+i))))
	}
	body := map[string]any{"notification": map[string]any{"title": "All"}, "ttl": 60, "urgency": "high", "topic": "news"}
	for _, tt := range []struct {
		name, auth string
		status     int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"basic scheme", "Basic " + testAdminToken, 401},
		{"token with a suffix", "Bearer " + testAdminToken + "x", 401},
		{"lower-case scheme", "bearer " + testAdminToken, 202},
		{"right token", "Bearer " + testAdminToken, 202},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/notifications", body, "Authorization", tt.auth)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", res.StatusCode, tt.status, out)
			}
			if tt.status == 202 {
				done := e.waitBroadcast(t, out["id"].(string))
				if done["total"] != 3.0 || done["sent"] != 3.0 {
					t.Errorf("counts %v, want 3 sent of 3", done)
				}
			}
		})
	}
	if e.push.hits.Load() != 6 {
		t.Errorf("push service got %d requests, want 6 (only the two authorized broadcasts)", e.push.hits.Load())
	}
	for _, path := range []string{"/api/notifications", "/api/notifications/x", "/api/notifications/x/events"} {
		if res, _ := e.do(t, "GET", path, nil, "Authorization", "Bearer nope"); res.StatusCode != 401 {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, res.StatusCode)
		}
	}
	if res, _ := e.do(t, "DELETE", "/api/notifications/x", nil); res.StatusCode != 401 {
		t.Errorf("DELETE without a token: %d, want 401", res.StatusCode)
	}
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad urgency", map[string]any{"notification": map[string]any{"title": "x"}, "urgency": "now"}, "urgency"},
		{"bad topic", map[string]any{"notification": map[string]any{"title": "x"}, "topic": "has spaces"}, "topic"},
		{"negative ttl", map[string]any{"notification": map[string]any{"title": "x"}, "ttl": -1}, "ttl"},
		{"no notification", map[string]any{"ttl": 5}, "notification"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/notifications", tt.body, "Authorization", "Bearer "+testAdminToken)
			if res.StatusCode != 400 || out["field"] != tt.field {
				t.Errorf("%d %v, want 400 naming %s", res.StatusCode, out, tt.field)
			}
		})
	}
}

// waitBroadcast polls GET /api/notifications/{id} until the broadcast is
// done or canceled, and returns it.
func (e *testEnv) waitBroadcast(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, out := e.do(t, "GET", "/api/notifications/"+id, nil, "Authorization", "Bearer "+testAdminToken)
		if res.StatusCode != 200 {
			t.Fatalf("GET broadcast %s: %d %v", id, res.StatusCode, out)
		}
		if out["status"] == "done" || out["status"] == "canceled" {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast %s still %v after 30 s: %v", id, out["status"], out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPublicRoutes(t *testing.T) {
	e := newTestEnv(t)
	res, out := e.do(t, "GET", "/healthz", nil)
	if res.StatusCode != 200 || out["status"] != "ok" {
		t.Errorf("healthz: %d %v", res.StatusCode, out)
	}
	res, out = e.do(t, "GET", "/api/vapid-public-key", nil)
	if res.StatusCode != 200 || out["publicKey"] != e.srv.keys.Public || out["publicUrl"] != "http://localhost:8000" {
		t.Errorf("vapid key: %d %v, want the key and the origin notifications link to", res.StatusCode, out)
	}
	res, _ = e.do(t, "GET", "/api/local-push", nil)
	if res.StatusCode != 404 {
		t.Errorf("local-push outside local mode: %d, want 404", res.StatusCode)
	}
	res, _ = e.do(t, "GET", "/api/nope", nil)
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown API route: %d %s, want a JSON 404", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, out = e.do(t, "GET", "/api/subscriptions", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(res.Header.Get("Allow"), "POST") ||
		!strings.Contains(res.Header.Get("Allow"), "DELETE") || out["error"] == nil {
		t.Errorf("GET on a POST/DELETE route: %d Allow %q %v, want a JSON 405 naming the methods", res.StatusCode, res.Header.Get("Allow"), out)
	}
}
