package ecetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// signJWT builds a VAPID JWT the way an application server does, signed by
// key, with the given header and claims.
func signJWT(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func publicBytes(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckVAPID(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const (
		endpoint = "https://push.example.net/wpush/v2/abc"
		subject  = "mailto:ops@example.org"
	)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := publicBytes(t, key)
	k := base64.RawURLEncoding.EncodeToString(pub)
	es256 := map[string]any{"typ": "JWT", "alg": "ES256"}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": "https://push.example.net", "exp": now.Add(12 * time.Hour).Unix(), "sub": subject}
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := signJWT(t, key, es256, claims(nil))
	parts := strings.Split(good, ".")

	tests := []struct {
		name    string
		header  string
		wantErr string // "" when the header must be accepted
	}{
		{name: "valid", header: "vapid t=" + good + ", k=" + k},
		{name: "k padded", header: "vapid t=" + good + ", k=" + base64.URLEncoding.EncodeToString(pub)},
		{name: "parameters reversed, scheme upper case", header: "VAPID k=" + k + ",t=" + good},
		{name: "exp exactly 24 h ahead", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() })) + ", k=" + k},
		{name: "WebPush scheme", header: "WebPush " + good, wantErr: "scheme"},
		{name: "bearer scheme", header: "Bearer t=" + good + ", k=" + k, wantErr: "scheme"},
		{name: "no k", header: "vapid t=" + good, wantErr: "both t and k"},
		{name: "repeated t", header: "vapid t=" + good + ", t=" + good + ", k=" + k, wantErr: "repeats"},
		{name: "k of another key", header: "vapid t=" + good + ", k=" + base64.RawURLEncoding.EncodeToString(publicBytes(t, other)), wantErr: "not the expected"},
		{name: "signed by another key", header: "vapid t=" + signJWT(t, other, es256, claims(nil)) + ", k=" + k, wantErr: "does not verify"},
		{name: "claims altered after signing", header: "vapid t=" + parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://push.example.net","exp":1800043200,"sub":"mailto:x@y.z"}`)) + "." + parts[2] + ", k=" + k, wantErr: "does not verify"},
		{name: "signature not r||s", header: "vapid t=" + parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 72)) + ", k=" + k, wantErr: "64"},
		{name: "alg HS256", header: "vapid t=" + signJWT(t, key, map[string]any{"typ": "JWT", "alg": "HS256"}, claims(nil)) + ", k=" + k, wantErr: "ES256"},
		{name: "not a JWT", header: "vapid t=abc.def, k=" + k, wantErr: "3"},
		{name: "aud another origin", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["aud"] = "https://evil.example.net" })) + ", k=" + k, wantErr: "origin"},
		{name: "aud with path", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["aud"] = "https://push.example.net/wpush" })) + ", k=" + k, wantErr: "origin"},
		{name: "expired", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })) + ", k=" + k, wantErr: "expired"},
		{name: "exp now", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["exp"] = now.Unix() })) + ", k=" + k, wantErr: "expired"},
		{name: "exp beyond 24 h", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["exp"] = now.Add(24*time.Hour + time.Second).Unix() })) + ", k=" + k, wantErr: "24 hours"},
		{name: "sub doubled mailto", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["sub"] = "mailto:" + subject })) + ", k=" + k, wantErr: "sub"},
		{name: "sub bare address", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { c["sub"] = "ops@example.org" })) + ", k=" + k, wantErr: "sub"},
		{name: "no exp", header: "vapid t=" + signJWT(t, key, es256, claims(func(c map[string]any) { delete(c, "exp") })) + ", k=" + k, wantErr: "lacks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckVAPID(tc.header, endpoint, subject, pub, now)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckVAPID rejected a valid header: %v", err)
				}
				if got.Subject != subject || got.Audience != "https://push.example.net" || !got.Expires.After(now) {
					t.Fatalf("claims = %+v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckVAPID accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckVAPIDOriginKeepsPort(t *testing.T) {
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := publicBytes(t, key)
	jwt := signJWT(t, key, map[string]any{"alg": "ES256"}, map[string]any{
		"aud": "http://127.0.0.1:8080", "exp": now.Add(time.Hour).Unix(), "sub": "https://example.org/contact",
	})
	h := "vapid t=" + jwt + ", k=" + base64.RawURLEncoding.EncodeToString(pub)
	if _, err := CheckVAPID(h, "http://127.0.0.1:8080/push/1", "https://example.org/contact", pub, now); err != nil {
		t.Fatalf("same origin with port: %v", err)
	}
	if _, err := CheckVAPID(h, "http://127.0.0.1:9090/push/1", "https://example.org/contact", pub, now); err == nil {
		t.Fatal("accepted an aud whose port differs from the endpoint's")
	}
}
