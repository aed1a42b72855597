package vapidverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pushstart/push"
)

// appServer is an application server's VAPID key pair.
type appServer struct {
	key *ecdsa.PrivateKey
	raw []byte // the public key, 65 bytes
	pub string // the public key in base64url without padding, as webpush-go sends it
}

func newAppServer(t *testing.T) appServer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return appServer{key: k, raw: raw, pub: push.EncodeBase64URL(raw)}
}

// paddedKey is the public key as Firefox sends it: base64url with padding.
func (a appServer) paddedKey() string { return base64.URLEncoding.EncodeToString(a.raw) }

// jwt signs claims the way an application server does; header nil means
// {"typ":"JWT","alg":"ES256"}.
func (a appServer) jwt(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	if header == nil {
		header = map[string]any{"typ": "JWT", "alg": "ES256"}
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return push.EncodeBase64URL(b)
	}
	return a.sign(t, enc(header), enc(claims))
}

// sign signs a JWT made of two segments as given, for tokens that no JSON
// encoder would make.
func (a appServer) sign(t *testing.T, header, claims string) string {
	t.Helper()
	signing := header + "." + claims
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + push.EncodeBase64URL(sig)
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const (
		endpoint = "https://push.example.net/wpush/v2/abc"
		origin   = "https://push.example.net"
		subject  = "mailto:ops@example.org"
	)
	app, other := newAppServer(t), newAppServer(t)
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": origin, "exp": now.Add(12 * time.Hour).Unix(), "sub": subject}
		if mod != nil {
			mod(c)
		}
		return c
	}
	// signed is a header with a JWT signed by app with claims changed by mod,
	// and app's key as k.
	signed := func(mod func(map[string]any)) string {
		return "vapid t=" + app.jwt(t, nil, claims(mod)) + ", k=" + app.pub
	}
	good := app.jwt(t, nil, claims(nil))
	parts := strings.Split(good, ".")
	sig, err := push.DecodeBase64URL(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[10] ^= 0xff
	tampered := push.EncodeBase64URL(sig)

	// A sender is checked against its own key and subject; a push service
	// knows the subscription's key, but no subject.
	sender := Expect{Endpoint: endpoint, Key: app.raw, Subject: subject, Now: now}
	service := Expect{Endpoint: endpoint, Key: app.raw, Now: now}
	unrestricted := Expect{Endpoint: endpoint, Now: now}

	tests := []struct {
		name   string
		header string
		want   Expect
		check  Check  // "" when the header must be accepted
		text   string // a part of the message a user acts on
	}{
		{name: "valid", header: "vapid t=" + good + ", k=" + app.pub, want: sender},
		{name: "valid for a push service, k without padding as webpush-go sends it", header: "vapid t=" + good + ", k=" + app.pub, want: service},
		{name: "k padded as Firefox does", header: "vapid t=" + good + ", k=" + app.paddedKey(), want: sender},
		{name: "parameters reversed, scheme upper case", header: "VAPID k=" + app.pub + ",t=" + good, want: sender},
		{name: "quoted values, an empty list element", header: `vapid t="` + good + `", , k="` + app.pub + `"`, want: sender},
		{name: "exp exactly 24 h ahead", header: signed(func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() }), want: sender},
		{name: "https sub", header: signed(func(c map[string]any) { c["sub"] = "https://example.com/contact" }), want: service},
		{name: "no sub when none is expected", header: signed(func(c map[string]any) { delete(c, "sub") }), want: service},
		{name: "no expected key: any valid key", header: "vapid t=" + other.jwt(t, nil, claims(nil)) + ", k=" + other.pub, want: unrestricted},

		{name: "missing header", header: "", want: service, check: CheckHeader, text: "missing Authorization"},
		{name: "legacy WebPush scheme", header: "WebPush " + good, want: service, check: CheckHeader, text: "scheme WebPush is not vapid"},
		{name: "WebPush with Crypto-Key parameters", header: "WebPush t=" + good + ", k=" + app.pub, want: sender, check: CheckHeader, text: "Crypto-Key"},
		{name: "bearer scheme", header: "Bearer t=" + good + ", k=" + app.pub, want: sender, check: CheckHeader, text: `scheme "Bearer" is not vapid`},
		{name: "a token without a scheme is not echoed", header: good, want: sender, check: CheckHeader, text: "(not a scheme name) is not vapid"},
		{name: "no k", header: "vapid t=" + good, want: sender, check: CheckHeader, text: "both t= (the JWT) and k="},
		{name: "no parameters", header: "vapid", want: sender, check: CheckHeader, text: "both t="},
		{name: "repeated t", header: "vapid t=" + good + ", t=" + good + ", k=" + app.pub, want: sender, check: CheckHeader, text: "repeats t="},
		{name: "parameter without a value", header: "vapid t=" + good + ", k=" + app.pub + ", x", want: sender, check: CheckHeader, text: "has no value"},

		{name: "k not base64url", header: "vapid t=" + good + ", k=not*base64", want: service, check: CheckKey, text: "k is not base64url"},
		{name: "k not a P-256 point", header: "vapid t=" + good + ", k=AAAA", want: service, check: CheckKey, text: "not an uncompressed P-256 point (3 bytes)"},

		{name: "not a JWT", header: "vapid t=abc, k=" + app.pub, want: service, check: CheckToken, text: "t is not a JWT: 1 dot-separated parts, want 3"},
		{name: "two parts", header: "vapid t=abc.def, k=" + app.pub, want: sender, check: CheckToken, text: "want 3"},
		{name: "alg none", header: "vapid t=" + app.jwt(t, map[string]any{"alg": "none"}, claims(nil)) + ", k=" + app.pub, want: service, check: CheckToken, text: `alg "none" is not ES256`},
		{name: "alg HS256", header: "vapid t=" + app.jwt(t, map[string]any{"typ": "JWT", "alg": "HS256"}, claims(nil)) + ", k=" + app.pub, want: sender, check: CheckToken, text: "ES256"},
		{name: "typ not JWT", header: "vapid t=" + app.jwt(t, map[string]any{"typ": "JOSE+JSON", "alg": "ES256"}, claims(nil)) + ", k=" + app.pub, want: sender, check: CheckToken, text: "typ"},
		{name: "padded header segment", header: "vapid t=" + parts[0] + "=." + parts[1] + "." + parts[2] + ", k=" + app.pub, want: sender, check: CheckToken, text: "header is not base64url without padding"},
		{name: "header not JSON", header: "vapid t=" + app.sign(t, push.EncodeBase64URL([]byte("ES256")), parts[1]) + ", k=" + app.pub, want: sender, check: CheckToken, text: "header is not a JSON object"},
		{name: "claims not JSON", header: "vapid t=" + app.sign(t, parts[0], push.EncodeBase64URL([]byte("aud"))) + ", k=" + app.pub, want: sender, check: CheckToken, text: "claims are not a JSON object"},
		{name: "padded claims segment", header: "vapid t=" + app.sign(t, parts[0], parts[1]+"=") + ", k=" + app.pub, want: sender, check: CheckToken, text: "claims are not base64url without padding"},

		{name: "bad signature", header: "vapid t=" + parts[0] + "." + parts[1] + "." + tampered + ", k=" + app.pub, want: service, check: CheckSignature, text: "signature does not verify with the key in k"},
		{name: "signed by another key than k", header: "vapid t=" + other.jwt(t, nil, claims(nil)) + ", k=" + app.pub, want: service, check: CheckSignature, text: "does not verify"},
		{name: "claims altered after signing", header: "vapid t=" + parts[0] + "." + push.EncodeBase64URL([]byte(`{"aud":"https://push.example.net","exp":1800043200,"sub":"mailto:x@y.z"}`)) + "." + parts[2] + ", k=" + app.pub, want: sender, check: CheckSignature, text: "does not verify"},
		{name: "signature not r||s", header: "vapid t=" + parts[0] + "." + parts[1] + "." + push.EncodeBase64URL(make([]byte, 72)) + ", k=" + app.pub, want: sender, check: CheckSignature, text: "72 bytes, want 64"},
		{name: "k of another key than the signer's, and not the expected one", header: "vapid t=" + good + ", k=" + other.pub, want: sender, check: CheckSignature, text: "not the expected public key either"},

		{name: "wrong k: another app server's valid JWT", header: "vapid t=" + other.jwt(t, nil, claims(nil)) + ", k=" + other.pub, want: service, check: CheckKeyMatch, text: "not the applicationServerKey the subscription was made with"},
		{name: "wrong k, padded", header: "vapid t=" + other.jwt(t, nil, claims(nil)) + ", k=" + other.paddedKey(), want: sender, check: CheckKeyMatch, text: "applicationServerKey"},

		{name: "aud another origin", header: signed(func(c map[string]any) { c["aud"] = "https://fcm.googleapis.com" }), want: service, check: CheckAudience, text: `aud "https://fcm.googleapis.com" is not https://push.example.net`},
		{name: "aud with a path", header: signed(func(c map[string]any) { c["aud"] = origin + "/wpush" }), want: sender, check: CheckAudience, text: "origin"},
		{name: "aud with a trailing slash", header: signed(func(c map[string]any) { c["aud"] = origin + "/" }), want: service, check: CheckAudience, text: "aud"},
		{name: "no aud", header: signed(func(c map[string]any) { delete(c, "aud") }), want: service, check: CheckAudience, text: "no aud claim: it must be https://push.example.net"},
		{name: "aud not a string", header: signed(func(c map[string]any) { c["aud"] = []string{origin} }), want: service, check: CheckAudience, text: "not a string"},
		{name: "endpoint not absolute", header: signed(nil), want: Expect{Endpoint: "/wpush/v2/abc", Key: app.raw, Now: now}, check: CheckAudience, text: "not an absolute URL"},

		{name: "expired", header: signed(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), want: service, check: CheckExpiry, text: "expired"},
		{name: "exp a second ago", header: signed(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), want: sender, check: CheckExpiry, text: "expired at 2027-01-15T07:59:59Z"},
		{name: "exp now", header: signed(func(c map[string]any) { c["exp"] = now.Unix() }), want: sender, check: CheckExpiry, text: "expired"},
		{name: "exp more than 24 h ahead", header: signed(func(c map[string]any) { c["exp"] = now.Add(25 * time.Hour).Unix() }), want: service, check: CheckExpiry, text: "more than 24 h"},
		{name: "exp a second beyond 24 h", header: signed(func(c map[string]any) { c["exp"] = now.Add(24*time.Hour + time.Second).Unix() }), want: sender, check: CheckExpiry, text: "24 h"},
		{name: "no exp", header: signed(func(c map[string]any) { delete(c, "exp") }), want: service, check: CheckExpiry, text: "no exp claim"},
		{name: "exp not whole seconds", header: signed(func(c map[string]any) { c["exp"] = 1800000000.5 }), want: service, check: CheckExpiry, text: "whole seconds"},
		{name: "exp a string", header: signed(func(c map[string]any) { c["exp"] = "1800003600" }), want: service, check: CheckExpiry, text: `exp "1800003600" is not a number`},

		{name: "mailto twice (webpush-go given mailto:)", header: signed(func(c map[string]any) { c["sub"] = "mailto:" + subject }), want: service, check: CheckSubject, text: "mailto: twice"},
		{name: "mailto twice, subject expected", header: signed(func(c map[string]any) { c["sub"] = "mailto:" + subject }), want: sender, check: CheckSubject, text: "sub"},
		{name: "sub a bare address", header: signed(func(c map[string]any) { c["sub"] = "ops@example.org" }), want: service, check: CheckSubject, text: "neither a mailto: nor an https: URI"},
		{name: "sub not a string", header: signed(func(c map[string]any) { c["sub"] = 42 }), want: service, check: CheckSubject, text: "not a string"},
		{name: "sub not the expected one", header: signed(func(c map[string]any) { c["sub"] = "https://example.com/contact" }), want: sender, check: CheckSubject, text: `want "mailto:ops@example.org"`},
		{name: "no sub when one is expected", header: signed(func(c map[string]any) { delete(c, "sub") }), want: sender, check: CheckSubject, text: "no sub claim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.header, tc.want)
			if tc.check == "" {
				if err != nil {
					t.Fatalf("Verify refused a valid header: %v", err)
				}
				if got.Audience != origin || !got.Expires.After(now) {
					t.Fatalf("claims = %+v", got)
				}
				if tc.want.Subject != "" && got.Subject != tc.want.Subject {
					t.Fatalf("claims = %+v, want sub %q", got, tc.want.Subject)
				}
				return
			}
			var verr *Error
			if !errors.As(err, &verr) {
				t.Fatalf("Verify = %v, want an *Error for check %q", err, tc.check)
			}
			if verr.Check != tc.check {
				t.Errorf("check %q (%s), want %q", verr.Check, verr.Message, tc.check)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if got != (Claims{}) {
				t.Errorf("claims %+v returned with an error", got)
			}
		})
	}
}

func TestVerifyOriginKeepsPort(t *testing.T) {
	now := time.Now()
	app := newAppServer(t)
	h := "vapid t=" + app.jwt(t, map[string]any{"alg": "ES256"}, map[string]any{
		"aud": "http://127.0.0.1:8080", "exp": now.Add(time.Hour).Unix(), "sub": "https://example.org/contact",
	}) + ", k=" + app.pub
	tests := []struct {
		name     string
		endpoint string
		check    Check
	}{
		{name: "same origin with port", endpoint: "http://127.0.0.1:8080/push/1"},
		{name: "upper case scheme and host", endpoint: "HTTP://127.0.0.1:8080/push/1"},
		{name: "another port", endpoint: "http://127.0.0.1:9090/push/1", check: CheckAudience},
		{name: "no port", endpoint: "http://127.0.0.1/push/1", check: CheckAudience},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(h, Expect{Endpoint: tc.endpoint, Key: app.raw, Subject: "https://example.org/contact", Now: now})
			var verr *Error
			switch {
			case tc.check == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.check != "" && (!errors.As(err, &verr) || verr.Check != tc.check):
				t.Fatalf("Verify = %v, want check %q", err, tc.check)
			}
		})
	}
}

// The zero Now is the real clock; any other Now replaces it, so that a fake
// clock decides what has expired.
func TestVerifyClock(t *testing.T) {
	app := newAppServer(t)
	exp := time.Now().Add(time.Hour)
	h := "vapid t=" + app.jwt(t, nil, map[string]any{"aud": "https://push.example.net", "exp": exp.Unix()}) + ", k=" + app.pub
	tests := []struct {
		name  string
		now   time.Time
		check Check
	}{
		{name: "zero: the real clock", now: time.Time{}},
		{name: "a fake clock before exp", now: exp.Add(-time.Minute)},
		{name: "a fake clock after exp", now: exp.Add(time.Minute), check: CheckExpiry},
		{name: "a fake clock more than 24 h before exp", now: exp.Add(-25 * time.Hour), check: CheckExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(h, Expect{Endpoint: "https://push.example.net/p/1", Key: app.raw, Now: tc.now})
			var verr *Error
			switch {
			case tc.check == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.check != "" && (!errors.As(err, &verr) || verr.Check != tc.check):
				t.Fatalf("Verify = %v, want check %q", err, tc.check)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	app := newAppServer(t)
	offCurve := append([]byte{4}, make([]byte, 64)...)
	tests := []struct {
		name    string
		key     string
		wantErr string // "" when the key must be accepted
	}{
		{name: "without padding", key: app.pub},
		{name: "with padding", key: app.paddedKey()},
		{name: "not base64url", key: "not a key!", wantErr: "not base64url"},
		{name: "a GCM sender id", key: "123456789012", wantErr: "not an uncompressed P-256 point (9 bytes)"},
		{name: "compressed point", key: push.EncodeBase64URL(append([]byte{2}, app.raw[1:33]...)), wantErr: "(33 bytes)"},
		{name: "not on the curve", key: push.EncodeBase64URL(offCurve), wantErr: "P-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := ParsePublicKey(tc.key)
			if tc.wantErr == "" {
				if err != nil || string(raw) != string(app.raw) {
					t.Fatalf("ParsePublicKey = %x, %v; want the 65 raw bytes", raw, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParsePublicKey error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}
