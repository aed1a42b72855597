package vapid

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// The application server key pair of RFC 8291 Appendix A: a pair made
// elsewhere, in the form browsers and webpush-go use.
const (
	rfcPublic  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	rfcPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	// The user agent's keys and auth secret of the same appendix.
	uaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	uaAuth   = "BTBZMqHH6r4Tts7J_aSIgg"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// std re-encodes an unpadded base64url string as padded standard base64.
func std(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func mustGenerate(t *testing.T) Keys {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestGenerate(t *testing.T) {
	k1, k2 := mustGenerate(t), mustGenerate(t)
	if k1 == k2 {
		t.Fatal("two Generate calls returned the same keys")
	}
	for _, k := range []Keys{k1, k2} {
		if err := k.Check(); err != nil {
			t.Errorf("Check of generated keys: %v", err)
		}
		if len(k.Public) != 87 || len(k.Private) != 43 || strings.ContainsAny(k.Public+k.Private, "=+/") {
			t.Errorf("public key %q (private key %d chars) is not unpadded base64url of 65 and 32 bytes", k.Public, len(k.Private))
		}
	}
}

func TestCheckAcceptsForeignPairs(t *testing.T) {
	if err := (Keys{Public: rfcPublic, Private: rfcPrivate}).Check(); err != nil {
		t.Errorf("RFC 8291 pair: %v", err)
	}
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := (Keys{Public: pub, Private: priv}).Check(); err != nil {
		t.Errorf("webpush-go's GenerateVAPIDKeys pair: %v", err)
	}
}

func TestCheckFailures(t *testing.T) {
	good := mustGenerate(t)
	other := mustGenerate(t)
	pub, _ := base64.RawURLEncoding.DecodeString(good.Public)
	offCurve := bytes.Clone(pub)
	offCurve[64] ^= 1
	order := elliptic.P256().Params().N.FillBytes(make([]byte, 32))

	tests := []struct {
		name string
		k    Keys
		want []string
	}{
		{"public not base64", Keys{Public: "not*base64", Private: good.Private}, []string{"public key", "not base64url"}},
		{"public padded", Keys{Public: good.Public + "=", Private: good.Private}, []string{"public key", "not base64url"}},
		{"public standard alphabet", Keys{Public: std(t, rfcPublic), Private: rfcPrivate}, []string{"public key", "not base64url"}},
		{"public empty", Keys{Private: good.Private}, []string{"public key is 0 bytes"}},
		{"public too short", Keys{Public: b64(pub[:64]), Private: good.Private}, []string{"public key is 64 bytes, want 65"}},
		{"public compressed", Keys{Public: b64(append([]byte{2 + pub[64]&1}, pub[1:33]...)), Private: good.Private}, []string{"public key is 33 bytes"}},
		{"public not on curve", Keys{Public: b64(offCurve), Private: good.Private}, []string{"public key is not a point on the P-256 curve"}},
		{"private not base64", Keys{Public: good.Public, Private: "%%%"}, []string{"private key", "not base64url"}},
		{"private too short", Keys{Public: good.Public, Private: b64(make([]byte, 31))}, []string{"private key is 31 bytes, want 32"}},
		{"private too long", Keys{Public: good.Public, Private: b64(make([]byte, 33))}, []string{"private key is 33 bytes"}},
		{"private zero", Keys{Public: good.Public, Private: b64(make([]byte, 32))}, []string{"private key is not a valid P-256 private key"}},
		{"private equals order", Keys{Public: good.Public, Private: b64(order)}, []string{"private key is not a valid P-256 private key"}},
		{"not a pair", Keys{Public: good.Public, Private: other.Private}, []string{"private key does not derive public key"}},
		{"swapped", Keys{Public: good.Private, Private: good.Public}, []string{"public key is 32 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.k.Check(), tt.want...)
		})
	}
}

func TestKeysRedacted(t *testing.T) {
	k := mustGenerate(t)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("keys", "vapid", k)
	out := fmt.Sprintf("%v %+v %#v %s", k, k, k, k) + buf.String()
	if strings.Contains(out, k.Private) {
		t.Errorf("private key printed: %s", out)
	}
	if !strings.Contains(out, k.Public) {
		t.Errorf("public key not printed: %s", out)
	}
}

func TestLoadEnvironment(t *testing.T) {
	tests := []struct {
		name              string
		public, private   string
		wantPub, wantPriv string
	}{
		{"unpadded base64url", rfcPublic, rfcPrivate, rfcPublic, rfcPrivate},
		{"padded base64url", rfcPublic + "=", rfcPrivate + "=", rfcPublic, rfcPrivate},
		{"padded standard", std(t, rfcPublic), std(t, rfcPrivate), rfcPublic, rfcPrivate},
		{"unpadded standard", strings.TrimRight(std(t, rfcPublic), "="), strings.TrimRight(std(t, rfcPrivate), "="), rfcPublic, rfcPrivate},
		{"surrounding white space", " " + rfcPublic + "\n", "\t" + rfcPrivate + "\n", rfcPublic, rfcPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k, source, err := Load(dir, tt.public, tt.private)
			if err != nil {
				t.Fatal(err)
			}
			if k.Public != tt.wantPub || k.Private != tt.wantPriv || source != "environment" {
				t.Errorf("Load = %q, %q, %q; want %q, %q, environment", k.Public, k.Private, source, tt.wantPub, tt.wantPriv)
			}
			if _, err := os.Stat(filepath.Join(dir, "vapid.json")); !os.IsNotExist(err) {
				t.Errorf("vapid.json written although keys came from the environment (stat: %v)", err)
			}
		})
	}
}

func TestLoadEnvironmentShortPrivate(t *testing.T) {
	// Some tools drop a private key's leading zero byte; find such a key.
	for range 2000 {
		k := mustGenerate(t)
		priv, _ := base64.RawURLEncoding.DecodeString(k.Private)
		if priv[0] != 0 {
			continue
		}
		got, _, err := Load(t.TempDir(), k.Public, b64(priv[1:]))
		if err != nil || got != k {
			t.Fatalf("Load with a 31-byte private key = %v, %v; want %v", got, err, k)
		}
		return
	}
	t.Skip("no key with a leading zero byte in 2000 tries")
}

func TestLoadEnvironmentErrors(t *testing.T) {
	good := mustGenerate(t)
	other := mustGenerate(t)
	tests := []struct {
		name            string
		public, private string
		want            []string
	}{
		{"only public", good.Public, "", []string{"VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not"}},
		{"only private", "", good.Private, []string{"VAPID_PRIVATE_KEY is set but VAPID_PUBLIC_KEY is not"}},
		{"public not base64", "***", good.Private, []string{"VAPID_PUBLIC_KEY is not base64"}},
		{"private not base64", good.Public, "a b c", []string{"VAPID_PRIVATE_KEY is not base64"}},
		{"swapped", good.Private, good.Public, []string{"VAPID_PUBLIC_KEY is 32 bytes"}},
		{"private wrong length", good.Public, b64(make([]byte, 16)), []string{"VAPID_PRIVATE_KEY is 16 bytes"}},
		{"not a pair", good.Public, other.Private, []string{"VAPID_PRIVATE_KEY does not derive VAPID_PUBLIC_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := Load(dir, tt.public, tt.private)
			wantErr(t, err, tt.want...)
			if strings.Contains(err.Error(), good.Private) || strings.Contains(err.Error(), other.Private) {
				t.Errorf("error reveals a private key: %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files written on error: %v", entries)
			}
		})
	}
}

func TestLoadGenerated(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data", "nested")
	k, source, err := Load(dataDir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if source != "generated" {
		t.Errorf("source = %q, want generated", source)
	}
	if err := k.Check(); err != nil {
		t.Errorf("generated keys: %v", err)
	}
	path := filepath.Join(dataDir, "vapid.json")
	if m := mode(t, path); m != 0o600 {
		t.Errorf("vapid.json mode %v, want 0600", m)
	}
	if m := mode(t, dataDir); m != 0o700 {
		t.Errorf("data directory mode %v, want 0700", m)
	}
	var j struct{ PublicKey, PrivateKey string }
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &j); err != nil || j.PublicKey != k.Public || j.PrivateKey != k.Private {
		t.Errorf("vapid.json = %s (%v), want the returned keys as publicKey and privateKey", data, err)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 1 {
		t.Errorf("data directory holds %v, want only vapid.json", entries)
	}

	k2, source, err := Load(dataDir, "", "")
	if err != nil || k2 != k || source != "file" {
		t.Errorf("second Load = %v, %q, %v; want the same keys from file", k2, source, err)
	}

	// Environment values take precedence over the file.
	env := mustGenerate(t)
	k3, source, err := Load(dataDir, env.Public, env.Private)
	if err != nil || k3 != env || source != "environment" {
		t.Errorf("Load with env = %v, %q, %v; want the env keys", k3, source, err)
	}
}

func TestLoadConcurrentStart(t *testing.T) {
	dataDir := t.TempDir()
	const n = 8
	keys := make([]Keys, n)
	sources := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], sources[i], errs[i] = Load(dataDir, "", "")
		}()
	}
	wg.Wait()
	generated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if keys[i] != keys[0] {
			t.Errorf("Load %d returned different keys", i)
		}
		if sources[i] == "generated" {
			generated++
		}
	}
	if generated != 1 {
		t.Errorf("%d loads generated keys, want exactly 1", generated)
	}
	onDisk, _, err := Load(dataDir, "", "")
	if err != nil || onDisk != keys[0] {
		t.Errorf("file holds %v (%v), want the keys every Load returned", onDisk, err)
	}
}

func TestLoadFile(t *testing.T) {
	writeFile := func(t *testing.T, content string, perm os.FileMode) string {
		t.Helper()
		dir := t.TempDir()
		path := filepath.Join(dir, "vapid.json")
		if err := os.WriteFile(path, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil { // past the umask
			t.Fatal(err)
		}
		return dir
	}
	other := mustGenerate(t)

	t.Run("valid", func(t *testing.T) {
		dir := writeFile(t, fmt.Sprintf(`{"publicKey":%q,"privateKey":%q}`, std(t, rfcPublic), rfcPrivate), 0o600)
		k, source, err := Load(dir, "", "")
		if err != nil || source != "file" || k != (Keys{Public: rfcPublic, Private: rfcPrivate}) {
			t.Errorf("Load = %v, %q, %v; want the file's keys, normalised", k, source, err)
		}
	})
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o666} {
		t.Run(fmt.Sprintf("mode %04o is tightened", perm), func(t *testing.T) {
			dir := writeFile(t, fmt.Sprintf(`{"publicKey":%q,"privateKey":%q}`, rfcPublic, rfcPrivate), perm)
			if _, _, err := Load(dir, "", ""); err != nil {
				t.Fatal(err)
			}
			if m := mode(t, filepath.Join(dir, "vapid.json")); m != 0o600 {
				t.Errorf("mode after Load %v, want 0600", m)
			}
		})
	}

	bad := []struct {
		name, content string
		want          []string
	}{
		{"not JSON", "publicKey=x", []string{"vapid.json is not valid JSON", "remove it"}},
		{"empty", "", []string{"vapid.json is not valid JSON"}},
		{"missing private key", fmt.Sprintf(`{"publicKey":%q}`, rfcPublic), []string{"privateKey in", "is empty"}},
		{"not a pair", fmt.Sprintf(`{"publicKey":%q,"privateKey":%q}`, rfcPublic, other.Private), []string{"does not derive", "vapid.json"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFile(t, tt.content, 0o600)
			_, _, err := Load(dir, "", "")
			wantErr(t, err, tt.want...)
			// A broken file is never replaced by new keys.
			if data, _ := os.ReadFile(filepath.Join(dir, "vapid.json")); string(data) != tt.content {
				t.Errorf("vapid.json rewritten to %s", data)
			}
		})
	}
}

// TestKeysSignForWebpush checks what a push service will see: webpush-go,
// given loaded keys and the Subject result, sends a JWT that verifies with the
// public key, carries it as k=, and has a single "mailto:" in sub.
func TestKeysSignForWebpush(t *testing.T) {
	k, _, err := Load(t.TempDir(), std(t, rfcPublic), rfcPrivate+"=")
	if err != nil {
		t.Fatal(err)
	}
	subscriber, err := Subject("mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	resp, err := webpush.SendNotification([]byte(`{"title":"hi"}`),
		&webpush.Subscription{Endpoint: srv.URL + "/push/1", Keys: webpush.Keys{P256dh: uaPublic, Auth: uaAuth}},
		&webpush.Options{Subscriber: subscriber, VAPIDPublicKey: k.Public, VAPIDPrivateKey: k.Private, TTL: 60, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	jwt, kParam, ok := strings.Cut(strings.TrimPrefix(auth, "vapid t="), ", k=")
	if !ok || kParam != k.Public {
		t.Fatalf("Authorization %q: want vapid t=<jwt>, k=%s", auth, k.Public)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q has %d parts", jwt, len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("JWT signature: %d bytes, %v", len(sig), err)
	}
	pubBytes, _ := base64.RawURLEncoding.DecodeString(k.Public)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.VerifyASN1(pub, digest[:], asn1Sig(sig)) {
		t.Error("JWT signature does not verify with the public key")
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	if err := json.Unmarshal(claims, &c); err != nil || c.Sub != "mailto:ops@example.com" {
		t.Errorf("JWT sub = %q (%v), want mailto:ops@example.com", c.Sub, err)
	}
}

// asn1Sig turns a JWS r||s signature into DER for ecdsa.VerifyASN1.
func asn1Sig(sig []byte) []byte {
	intDER := func(b []byte) []byte {
		b = bytes.TrimLeft(b, "\x00")
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(intDER(sig[:32]), intDER(sig[32:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}
