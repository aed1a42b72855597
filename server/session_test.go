//go:build !wasm

package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/api"
)

// sameOrigin is what a browser sends with a request from the kit's own page.
var sameOrigin = []string{"Sec-Fetch-Site", "same-origin"}

// signIn exchanges the admin token for the session cookie, with the extra
// header pairs hdr, and returns the cookie and the answer's expiresAt.
func (e *testEnv) signIn(t *testing.T, hdr ...string) (*http.Cookie, time.Time) {
	t.Helper()
	res, out := e.do(t, "POST", api.PathAdminSession, api.AdminSignIn{Token: testAdminToken}, append(sameOrigin, hdr...)...)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign in: %d %v", res.StatusCode, out)
	}
	c := sessionSetCookie(t, res)
	at, err := time.Parse(time.RFC3339Nano, out["expiresAt"].(string))
	if err != nil {
		t.Fatalf("expiresAt %v: %v", out["expiresAt"], err)
	}
	return c, at
}

// sessionSetCookie is the one session cookie res sets.
func sessionSetCookie(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	var found []*http.Cookie
	for _, line := range res.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == api.AdminSessionCookie {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d session cookies set (%q), want 1", len(found), res.Header.Values("Set-Cookie"))
	}
	return found[0]
}

// withCookie is the header pair that sends c.
func withCookie(c *http.Cookie) []string { return []string{"Cookie", c.Name + "=" + c.Value} }

func wantUnauthorized(t *testing.T, what string, res *http.Response, out map[string]any) {
	t.Helper()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: %d %v, want 401", what, res.StatusCode, out)
	}
}

// TestSignInCookie: signing in sets one cookie, out of scripts' reach, sent
// to the API only, by this site's own pages only, for ADMIN_SESSION_TTL; it
// is Secure when the browser reached the server over https, directly or
// through a proxy the server trusts, and only then.
func TestSignInCookie(t *testing.T) {
	const ttl = 2 * time.Hour
	e := newTestEnv(t, func(c *Config) { c.AdminSessionTTL = ttl; c.TrustedProxyHeader = "X-Forwarded-For" })
	untrusted := newTestEnv(t, func(c *Config) { c.AdminSessionTTL = ttl })
	for _, tt := range []struct {
		name   string
		env    *testEnv
		tls    bool
		hdr    []string
		secure bool
	}{
		{name: "plain http", env: e},
		{name: "https", env: e, tls: true, secure: true},
		{name: "trusted proxy saying https", env: e, hdr: []string{"X-Forwarded-For", "203.0.113.5", "X-Forwarded-Proto", "https"}, secure: true},
		{name: "trusted proxy saying http", env: e, hdr: []string{"X-Forwarded-For", "203.0.113.5", "X-Forwarded-Proto", "http"}},
		{name: "proxy not trusted saying https", env: untrusted, hdr: []string{"X-Forwarded-Proto", "https"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.env.request(t, "POST", api.PathAdminSession, api.AdminSignIn{Token: testAdminToken}, append(sameOrigin, tt.hdr...)...)
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			before := time.Now()
			res, out := tt.env.serve(req)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("sign in: %d %v", res.StatusCode, out)
			}
			c := sessionSetCookie(t, res)
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/" || c.Domain != "" || c.Secure != tt.secure {
				t.Errorf("cookie %q: want HttpOnly, SameSite=Strict, Path=/api/, no Domain, Secure %v", res.Header.Get("Set-Cookie"), tt.secure)
			}
			if c.MaxAge != int(ttl/time.Second) {
				t.Errorf("Max-Age %d, want %d", c.MaxAge, int(ttl/time.Second))
			}
			at, err := time.Parse(time.RFC3339Nano, out["expiresAt"].(string))
			if err != nil || at.Before(before.Add(ttl).Truncate(time.Millisecond)) || at.After(time.Now().Add(ttl)) {
				t.Errorf("expiresAt %v (%v), want %v from now", out["expiresAt"], err, ttl)
			}
			if !c.Expires.Equal(at.Truncate(time.Second)) {
				t.Errorf("Expires %v, want expiresAt %v", c.Expires, at)
			}
			if b, err := base64.RawURLEncoding.Strict().DecodeString(c.Value); err != nil || len(b) != 32 {
				t.Errorf("cookie value %d characters (%v), want 32 random bytes in base64url", len(c.Value), err)
			}
		})
	}
	a, _ := e.signIn(t)
	b, _ := e.signIn(t)
	if a.Value == b.Value {
		t.Error("two sign-ins got the same cookie")
	}
}

// TestSessionAuthorizesAdminAPI: the cookie is as good as the token, and
// without either the refusal says how to get in.
func TestSessionAuthorizesAdminAPI(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	cookie, expires := e.signIn(t)

	res, out := e.do(t, "GET", api.PathAdminSession, nil, withCookie(cookie)...)
	if res.StatusCode != http.StatusOK || out["expiresAt"] != expires.Format(time.RFC3339Nano) {
		t.Errorf("GET session: %d %v, want 200 with expiresAt %v", res.StatusCode, out, expires)
	}
	res, out = e.do(t, "POST", api.PathNotifications, map[string]any{"notification": map[string]any{"title": "From the console"}},
		append(sameOrigin, withCookie(cookie)...)...)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/notifications with the cookie: %d %v, want 202", res.StatusCode, out)
	}
	if done := e.waitBroadcast(t, out["id"].(string)); done["sent"] != 1.0 {
		t.Errorf("broadcast %v, want 1 sent", done)
	}
	res, out = e.do(t, "GET", api.PathNotifications, nil, withCookie(cookie)...)
	if res.StatusCode != http.StatusOK || len(out["broadcasts"].([]any)) != 1 {
		t.Errorf("GET /api/notifications with the cookie: %d %v, want the broadcast", res.StatusCode, out)
	}

	for _, tt := range []struct {
		name, method, path string
		hdr                []string
	}{
		{"no session", "GET", api.PathAdminSession, nil},
		{"admin route without credentials", "GET", api.PathNotifications, nil},
		{"a cookie the server never gave", "GET", api.PathNotifications, []string{"Cookie", api.AdminSessionCookie + "=" + strings.Repeat("A", 43)}},
		{"a malformed cookie", "GET", api.PathNotifications, []string{"Cookie", api.AdminSessionCookie + "=x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, tt.method, tt.path, nil, tt.hdr...)
			wantUnauthorized(t, tt.name, res, out)
			if msg, _ := out["error"].(string); !strings.Contains(msg, "sign in at /admin") || !strings.Contains(msg, "Authorization: Bearer <ADMIN_TOKEN>") {
				t.Errorf("error %q does not say both ways in", msg)
			}
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestSessionExpiry: a session past its end is refused everywhere, though
// its cookie is still sent (a browser whose clock is behind keeps it).
func TestSessionExpiry(t *testing.T) {
	const ttl = time.Hour
	e := newTestEnv(t, func(c *Config) { c.AdminSessionTTL = ttl })
	live, _ := e.signIn(t)
	e.srv.now = func() time.Time { return time.Now().Add(-ttl - time.Second) }
	ended, expires := e.signIn(t)
	e.srv.now = time.Now
	if !expires.Before(time.Now()) {
		t.Fatalf("the session signed in an hour ago ends at %v, not in the past", expires)
	}

	for _, tt := range []struct {
		name, method, path string
	}{
		{"GET session", "GET", api.PathAdminSession},
		{"admin route", "GET", api.PathNotifications},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, tt.method, tt.path, nil, withCookie(ended)...)
			wantUnauthorized(t, "ended session", res, out)
			if msg, _ := out["error"].(string); !strings.Contains(msg, "sign in at /admin") {
				t.Errorf("error %q does not say to sign in again", msg)
			}
			if res, out := e.do(t, tt.method, tt.path, nil, withCookie(live)...); res.StatusCode != http.StatusOK {
				t.Errorf("live session: %d %v, want 200", res.StatusCode, out)
			}
		})
	}
	// An ended session with the right token beside it: the token decides.
	res, out := e.do(t, "GET", api.PathNotifications, nil, append(withCookie(ended), "Authorization", bearer)...)
	if res.StatusCode != http.StatusOK {
		t.Errorf("ended session and the token: %d %v, want 200", res.StatusCode, out)
	}
}

// TestSignOut: signing out ends the session on the server, so the old
// cookie, replayed, signs no one in; the browser is told to drop it.
func TestSignOut(t *testing.T) {
	e := newTestEnv(t)
	cookie, _ := e.signIn(t)
	other, _ := e.signIn(t)

	res, out := e.do(t, "DELETE", api.PathAdminSession, nil, append(sameOrigin, withCookie(cookie)...)...)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d %v, want 204", res.StatusCode, out)
	}
	cleared := sessionSetCookie(t, res)
	if cleared.MaxAge >= 0 || cleared.Value != "" || cleared.Path != "/api/" || !cleared.HttpOnly || cleared.SameSite != http.SameSiteStrictMode {
		t.Errorf("Set-Cookie %q, want the cookie emptied with Max-Age=0 on Path=/api/", res.Header.Get("Set-Cookie"))
	}
	for _, path := range []string{api.PathAdminSession, api.PathNotifications} {
		res, out := e.do(t, "GET", path, nil, withCookie(cookie)...)
		wantUnauthorized(t, "GET "+path+" with the signed-out cookie", res, out)
	}
	if res, out := e.do(t, "GET", api.PathAdminSession, nil, withCookie(other)...); res.StatusCode != http.StatusOK {
		t.Errorf("another session ended with it: %d %v", res.StatusCode, out)
	}
	for _, hdr := range [][]string{withCookie(cookie), nil} {
		if res, out := e.do(t, "DELETE", api.PathAdminSession, nil, append(sameOrigin, hdr...)...); res.StatusCode != http.StatusNoContent {
			t.Errorf("sign out without a live session (%q): %d %v, want 204", hdr, res.StatusCode, out)
		}
	}
}

// TestEventStreamEndsWithTheSession: a progress stream the console opened
// with its cookie ends once the session is signed out, although its
// broadcast is still waiting to be sent.
func TestEventStreamEndsWithTheSession(t *testing.T) {
	e := newTestEnv(t)
	e.srv.sessionRecheck = 50 * time.Millisecond
	e.subscribeAs(t, "/push/1", "")
	cookie, _ := e.signIn(t)
	_, out := e.do(t, "POST", api.PathNotifications, map[string]any{"notification": map[string]any{"title": "later"},
		"sendAt": time.Now().Add(time.Hour).Format(time.RFC3339)}, append(sameOrigin, withCookie(cookie)...)...)
	id, _ := out["id"].(string)
	if id == "" {
		t.Fatalf("scheduling a broadcast: %v", out)
	}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/notifications/"+id+"/events", nil)
	req.AddCookie(cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "data: ") {
	}
	if res, out := e.do(t, "DELETE", api.PathAdminSession, nil, append(sameOrigin, withCookie(cookie)...)...); res.StatusCode != http.StatusNoContent {
		t.Fatalf("sign out: %d %v", res.StatusCode, out)
	}
	for sc.Scan() {
	}
	if ctx.Err() != nil {
		t.Error("the stream outlived the session it was opened with")
	}
}

// TestSessionCrossOrigin: another site can neither sign a browser in, nor
// out, nor use its session to send.
func TestSessionCrossOrigin(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	cookie, _ := e.signIn(t)
	for _, tt := range []struct {
		name         string
		method, path string
		body         any
		hdr          []string
	}{
		{"sign in, Sec-Fetch-Site", "POST", api.PathAdminSession, api.AdminSignIn{Token: testAdminToken}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"sign in, Origin only", "POST", api.PathAdminSession, api.AdminSignIn{Token: testAdminToken}, []string{"Origin", "http://evil.example"}},
		{"sign out", "DELETE", api.PathAdminSession, nil, append([]string{"Sec-Fetch-Site", "cross-site"}, withCookie(cookie)...)},
		{"sign out, Origin only", "DELETE", api.PathAdminSession, nil, append([]string{"Origin", "http://evil.example"}, withCookie(cookie)...)},
		{"broadcast with the cookie", "POST", api.PathNotifications, map[string]any{"notification": map[string]any{"title": "x"}},
			append([]string{"Sec-Fetch-Site", "cross-site"}, withCookie(cookie)...)},
		{"broadcast with the cookie, Origin only", "POST", api.PathNotifications, map[string]any{"notification": map[string]any{"title": "x"}},
			append([]string{"Origin", "http://evil.example"}, withCookie(cookie)...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, tt.method, tt.path, tt.body, tt.hdr...)
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%d %v, want 403", res.StatusCode, out)
			}
			if sc := res.Header.Get("Set-Cookie"); sc != "" {
				t.Errorf("Set-Cookie %q on a refused request", sc)
			}
		})
	}
	if res, out := e.do(t, "GET", api.PathAdminSession, nil, withCookie(cookie)...); res.StatusCode != http.StatusOK {
		t.Errorf("the session did not survive a cross-origin sign-out: %d %v", res.StatusCode, out)
	}
	if res, out := e.do(t, "GET", api.PathNotifications, nil, withCookie(cookie)...); res.StatusCode != http.StatusOK || len(out["broadcasts"].([]any)) != 0 {
		t.Errorf("broadcasts %d %v, want none", res.StatusCode, out)
	}
}

// TestWrongTokens: a wrong token is answered clearly, and ADMIN_SIGNIN_RATE
// wrong ones from an address, at sign-in or as a Bearer token, make it wait:
// even the right token is refused meanwhile, so guessing cannot go on. A
// signed-in console, and other addresses, carry on.
func TestWrongTokens(t *testing.T) {
	const rate = 3
	e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = rate; c.TrustedProxyHeader = "X-Forwarded-For" })
	from := func(addr string) []string { return append([]string{"X-Forwarded-For", addr}, sameOrigin...) }
	signIn := func(addr, token string) (*http.Response, map[string]any) {
		return e.do(t, "POST", api.PathAdminSession, api.AdminSignIn{Token: token}, from(addr)...)
	}
	withBearer := func(addr, token string) (*http.Response, map[string]any) {
		return e.do(t, "GET", api.PathNotifications, nil, append(from(addr), "Authorization", "Bearer "+token)...)
	}
	blocked := func(what string, res *http.Response, out map[string]any) {
		t.Helper()
		wantTooMany(t, what, res, out, "ADMIN_SIGNIN_RATE")
		if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra > 60/rate {
			t.Errorf("%s: Retry-After %d s, want at most the %d s one wrong token costs", what, ra, 60/rate)
		}
	}

	cookie, _ := e.signIn(t, "X-Forwarded-For", "198.51.100.1")
	for i := range rate {
		res, out := signIn("198.51.100.1", "guess-"+strconv.Itoa(i))
		if res.StatusCode != http.StatusUnauthorized || out["error"] != "wrong admin token" || out["field"] != "token" {
			t.Fatalf("wrong token %d: %d %v, want 401 wrong admin token, field token", i+1, res.StatusCode, out)
		}
	}
	res, out := signIn("198.51.100.1", "guess-again")
	blocked("a wrong token past the limit", res, out)
	res, out = signIn("198.51.100.1", testAdminToken)
	blocked("the right token at sign-in, while blocked", res, out)
	res, out = withBearer("198.51.100.1", testAdminToken)
	blocked("the right Bearer token, while blocked", res, out)
	if res, out := e.do(t, "GET", api.PathNotifications, nil, append(from("198.51.100.1"), withCookie(cookie)...)...); res.StatusCode != http.StatusOK {
		t.Errorf("the session cookie from the blocked address: %d %v, want 200", res.StatusCode, out)
	}
	if res, out := signIn("198.51.100.2", testAdminToken); res.StatusCode != http.StatusOK {
		t.Errorf("another address: %d %v, want 200", res.StatusCode, out)
	}

	// Wrong Bearer tokens come out of the same budget.
	res, out = withBearer("198.51.100.3", "nope")
	if res.StatusCode != http.StatusUnauthorized || out["error"] != "wrong admin token" {
		t.Errorf("wrong Bearer token: %d %v, want 401 wrong admin token", res.StatusCode, out)
	}
	withBearer("198.51.100.3", "nope")
	signIn("198.51.100.3", "nope")
	res, out = signIn("198.51.100.3", testAdminToken)
	blocked("sign-in after 2 wrong Bearer tokens and a wrong sign-in", res, out)

	// The right token costs nothing.
	for range 2 * rate {
		if res, out := withBearer("198.51.100.4", testAdminToken); res.StatusCode != http.StatusOK {
			t.Fatalf("right Bearer token: %d %v, want 200", res.StatusCode, out)
		}
	}
}

// heldBody is a request body that tells when the handler starts reading it
// and gives nothing until released: a client whose body comes late.
type heldBody struct {
	reading chan struct{} // closed at the first Read
	once    sync.Once
	release chan struct{}
	r       io.Reader
}

func (b *heldBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	<-b.release
	return b.r.Read(p)
}

// TestWrongTokensTogether: guesses sent together, whose bodies come after
// every one of them passed the server's first check, are still only
// ADMIN_SIGNIN_RATE compared tokens; the rest are refused unread.
func TestWrongTokensTogether(t *testing.T) {
	const rate, guesses = 3, 20
	e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = rate })
	release := make(chan struct{})
	statuses := make(chan int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		body := &heldBody{reading: make(chan struct{}), release: release,
			r: strings.NewReader(`{"token":"guess-` + strconv.Itoa(i) + `"}`)}
		req := e.request(t, "POST", api.PathAdminSession, nil, sameOrigin...)
		req.Body = io.NopCloser(body)
		req.Header.Set("Content-Type", "application/json")
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := e.serve(req)
			statuses <- res.StatusCode
		}()
		<-body.reading
	}
	close(release)
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusUnauthorized] != rate || count[http.StatusTooManyRequests] != guesses-rate {
		t.Errorf("%d guesses held back together: answers %v; want %d compared (401) and %d refused (429)",
			guesses, count, rate, guesses-rate)
	}
}

// TestWrongTokensUnlimited: ADMIN_SIGNIN_RATE=0 answers every wrong token
// 401 and never makes anyone wait.
func TestWrongTokensUnlimited(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = 0 })
	for i := range 20 {
		res, out := e.do(t, "POST", api.PathAdminSession, api.AdminSignIn{Token: "guess"}, sameOrigin...)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %v, want 401", i+1, res.StatusCode, out)
		}
	}
	e.signIn(t)
}

// TestSignInValidation: a body that is not a sign-in is refused naming the
// field, and is not counted as a wrong token.
func TestSignInValidation(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = 1 })
	for _, tt := range []struct {
		name        string
		body        string
		contentType string
		status      int
		field       string
	}{
		{name: "no token", body: `{}`, status: 400, field: "token"},
		{name: "empty token", body: `{"token":""}`, status: 400, field: "token"},
		{name: "blank token", body: `{"token":"  "}`, status: 400, field: "token"},
		{name: "token a number", body: `{"token":5}`, status: 400, field: "token"},
		{name: "token null", body: `{"token":null}`, status: 400, field: "token"},
		{name: "unknown field", body: `{"token":"x","remember":true}`, status: 400, field: "remember"},
		{name: "not JSON", body: `token=x`, status: 400},
		{name: "two objects", body: `{"token":"x"}{}`, status: 400},
		{name: "empty body", body: ``, status: 400},
		{name: "over 1 KiB", body: `{"token":"` + strings.Repeat("a", 1100) + `"}`, status: 413},
		{name: "form post", body: `{"token":"x"}`, contentType: "application/x-www-form-urlencoded", status: 415},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := e.request(t, "POST", api.PathAdminSession, nil, sameOrigin...)
			req.Body = io.NopCloser(strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			res, out := e.serve(req)
			if res.StatusCode != tt.status || out["field"] != nilIfEmpty(tt.field) || out["error"] == "" {
				t.Errorf("%d %v, want %d naming field %q", res.StatusCode, out, tt.status, tt.field)
			}
			if res.Header.Get("Set-Cookie") != "" {
				t.Error("a cookie set for a refused sign-in")
			}
		})
	}
	e.signIn(t) // ADMIN_SIGNIN_RATE is 1: none of the above was a wrong token
}

// nilIfEmpty is how a JSON answer without the member reads: nil for "".
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestTokenChangeEndsSessions: a session is good with the admin token it was
// made with, so changing ADMIN_TOKEN signs every console out.
func TestTokenChangeEndsSessions(t *testing.T) {
	e := newTestEnv(t)
	cookie, _ := e.signIn(t)
	srv := New(DefaultConfig(), Deps{Store: e.store, AdminToken: "a-new-admin-token-98765", Log: e.srv.log})
	other := &testEnv{srv: srv, h: srv.Handler()}
	res, out := other.do(t, "GET", api.PathAdminSession, nil, withCookie(cookie)...)
	wantUnauthorized(t, "a session of the old token", res, out)
	if res, out := e.do(t, "GET", api.PathAdminSession, nil, withCookie(cookie)...); res.StatusCode != http.StatusOK {
		t.Errorf("the same session with its own token: %d %v, want 200", res.StatusCode, out)
	}
}

// TestSessionSecretsNotLogged: neither the admin token, right or wrong, nor
// the session cookie reaches the log, at any level.
func TestSessionSecretsNotLogged(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			e := newTestEnv(t, func(c *Config) { c.AdminSignInRate = 2 })
			var logs syncBuffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			if format == "json" {
				e.srv.log = slog.New(slog.NewJSONHandler(&logs, opts))
			} else {
				e.srv.log = slog.New(slog.NewTextHandler(&logs, opts))
			}
			const wrong = "wrong-admin-token-guessed-by-someone"
			cookie, _ := e.signIn(t)
			e.do(t, "POST", api.PathAdminSession, api.AdminSignIn{Token: wrong}, sameOrigin...)
			e.do(t, "GET", api.PathNotifications, nil, "Authorization", "Bearer "+wrong)
			e.do(t, "GET", api.PathNotifications, nil, "Authorization", "Bearer "+wrong) // 429
			e.do(t, "GET", api.PathNotifications, nil, withCookie(cookie)...)
			e.do(t, "DELETE", api.PathAdminSession, nil, append(sameOrigin, withCookie(cookie)...)...)
			e.do(t, "GET", api.PathNotifications, nil, withCookie(cookie)...)

			got := logs.String()
			if !strings.Contains(got, "wrong admin token") || !strings.Contains(got, "admin signed in") {
				t.Fatalf("the log misses the sign-in or the wrong tokens:\n%s", got)
			}
			for name, secret := range map[string]string{"admin token": testAdminToken, "wrong token": wrong,
				"session cookie": cookie.Value, "session hash": e.srv.sessionHash(cookie.Value)} {
				if strings.Contains(got, secret) {
					t.Errorf("the log shows the %s:\n%s", name, got)
				}
			}
		})
	}
}
