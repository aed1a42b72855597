package localpush

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// caPool fetches GET /v1/ca.pem over plain http and returns a pool that
// trusts only it.
func caPool(t *testing.T, s *Service) *x509.CertPool {
	t.Helper()
	resp, err := http.Get(s.URL() + "/v1/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pem-file" {
		t.Fatalf("GET /v1/ca.pem: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(b, s.CACertPEM()) {
		t.Fatal("GET /v1/ca.pem differs from CACertPEM")
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("GET /v1/ca.pem is not a PEM certificate: %q", b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !cert.IsCA {
		t.Fatalf("the CA certificate: %v, IsCA %v", err, cert != nil && cert.IsCA)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// senderClient is a sender's HTTP client that trusts only the service's CA
// and, when proxy is set, reaches https URLs through it as HTTPS_PROXY
// makes Go's ProxyFromEnvironment do.
func senderClient(pool *x509.CertPool, proxy string) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if proxy != "" {
		u, _ := url.Parse(proxy)
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			if r.URL.Scheme == "https" {
				return u, nil
			}
			return nil, nil
		}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLSOnTheHTTPPort pushes to a Firefox endpoint as Node's web-push
// does: TLS to the endpoint's host and port although its scheme is http,
// with the VAPID aud of the endpoint as handed out. The same port keeps
// answering plain http, and a client that does not trust the CA is refused.
func TestTLSOnTheHTTPPort(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	f, endpoint := firefoxEndpoint(t, s, app.paddedKey())
	pool := caPool(t, s)
	client := senderClient(pool, "")

	body := bytes.Repeat([]byte{0x5a}, 120)
	tlsEndpoint := "https://" + strings.TrimPrefix(endpoint, "http://")
	resp, text := rawPush{endpoint: tlsEndpoint, auth: app.authorization(t, s.URL()), body: body}.do(t, client)
	if resp.StatusCode != http.StatusCreated || resp.TLS == nil {
		t.Fatalf("push over TLS: %d %q (TLS %v)", resp.StatusCode, text, resp.TLS != nil)
	}
	if _, _, data := f.notification(); !bytes.Equal(data, body) {
		t.Fatalf("delivered %d bytes, want the %d pushed", len(data), len(body))
	}
	if ev := eventsOf(t, s, EventPush); len(ev) != 1 || ev[0].Endpoint != endpoint {
		t.Fatalf("push events %+v, want one for %s", ev, endpoint)
	}

	for _, u := range []string{s.URL(), "https://" + strings.TrimPrefix(s.URL(), "http://"), "https://localhost:" + s.URL()[strings.LastIndex(s.URL(), ":")+1:]} {
		resp, err := client.Get(u + "/v1/config")
		if err != nil {
			t.Fatalf("GET %s/v1/config: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s/v1/config: %d", u, resp.StatusCode)
		}
	}

	untrusting := senderClient(x509.NewCertPool(), "")
	_, err := untrusting.Get("https://" + strings.TrimPrefix(s.URL(), "http://") + "/v1/config")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("a client that does not trust the CA: %v, want an unknown authority error", err)
	}
}

// TestProxyToChromiumEndpoints sends with webpush-go to the endpoints
// Chromium shows, through the service as HTTPS proxy: the tunnel to
// fcm.googleapis.com:443 ends at the service, over TLS with a certificate
// for that host, and VAPID is checked against https://fcm.googleapis.com.
func TestProxyToChromiumEndpoints(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	client := senderClient(caPool(t, s), s.URL())
	for _, host := range reroutedHosts {
		t.Run(host, func(t *testing.T) {
			tok := "tok-" + strings.ReplaceAll(host, ".", "-")
			chromiumSubscription(t, s, app, tok)
			endpoint := "https://" + host + "/fcm/send/" + tok
			status, h := sendWebPush(t, client, app, ua, endpoint, []byte("through the proxy"), webpush.Options{TTL: 60})
			if status != http.StatusCreated || h.Get("Location") == "" {
				t.Fatalf("push through the proxy: %d, Location %q", status, h.Get("Location"))
			}
			ev := waitEvent(t, s, EventPush, func(e Event) bool { return e.Endpoint == endpoint })
			if ev.Browser != Chromium || ev.TTL != 60 {
				t.Fatalf("push event %+v", ev)
			}
		})
	}
	// A JWT for the service's own origin is not one for FCM's.
	chromiumSubscription(t, s, app, "tok-aud")
	resp, text := rawPush{endpoint: "https://fcm.googleapis.com/fcm/send/tok-aud", auth: app.authorization(t, s.URL())}.do(t, client)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("aud of the service's origin through the proxy: %d %q, want 401", resp.StatusCode, text)
	}
}

// connect sends CONNECT target on a new connection and returns the status
// line's code and the connection.
func connect(t *testing.T, s *Service, target string) (int, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	return resp.StatusCode, c
}

func TestConnectOnlyToServedHosts(t *testing.T) {
	s := startService(t)
	self := strings.TrimPrefix(s.URL(), "http://")
	host, port, _ := net.SplitHostPort(self)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, target := range []string{
		"example.com:443", "fcm.googleapis.com:80", "fcm.googleapis.com:8443", "jmt17.google.com:80",
		other.Addr().String(), "localhost:" + port, net.JoinHostPort(host, "443"), "updates.push.services.mozilla.com:443",
	} {
		if code, _ := connect(t, s, target); code != http.StatusForbidden {
			t.Errorf("CONNECT %s: %d, want 403", target, code)
		}
	}
	// Its own address is served through the tunnel, over TLS or not.
	code, c := connect(t, s, self)
	if code != 200 {
		t.Fatalf("CONNECT %s: %d, want 200", self, code)
	}
	io.WriteString(c, "GET /v1/config HTTP/1.1\r\nHost: "+self+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain GET /v1/config through the tunnel: %v %v", resp, err)
	}
	var info ServiceInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.URL != s.URL() {
		t.Fatalf("config through the tunnel: %+v %v", info, err)
	}
}

// TestSilentClientHoldsNothing leaves a connection that never sends a byte
// open: others, plain and TLS, are served meanwhile, and Close ends it.
func TestSilentClientHoldsNothing(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context()) }()
	<-s.Ready()
	client := senderClient(caPool(t, s), "")
	silent, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, u := range []string{s.URL(), "https://" + strings.TrimPrefix(s.URL(), "http://")} {
		start := time.Now()
		resp, err := client.Get(u + "/v1/events")
		if err != nil {
			t.Fatalf("GET %s/v1/events beside a silent client: %v", u, err)
		}
		resp.Body.Close()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("GET %s/v1/events took %v beside a silent client", u, d)
		}
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the silent connection after Close: %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a silent client", d)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestConfigAndCAFile(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	s, err := New(Config{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context()) }()
	defer func() {
		s.Close()
		<-done
	}()
	<-s.Ready()
	written, err := os.ReadFile(caFile)
	if err != nil || !bytes.Equal(written, s.CACertPEM()) {
		t.Fatalf("CA file: %v; equal to CACertPEM: %v", err, bytes.Equal(written, s.CACertPEM()))
	}

	resp, err := http.Get(s.URL() + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	browser, _ := json.Marshal(s.Browser())
	var wantBrowser any
	json.Unmarshal(browser, &wantBrowser)
	want := map[string]any{
		"api": 1.0, "url": s.URL(), "browser": wantBrowser,
		"sender": map[string]any{"caFile": caFile, "proxy": s.URL(), "env": map[string]any{
			"NODE_EXTRA_CA_CERTS": caFile, "SSL_CERT_FILE": caFile, "REQUESTS_CA_BUNDLE": caFile, "HTTPS_PROXY": s.URL(),
		}},
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("GET /v1/config\n got %s\nwant %s", g, w)
	}

	// Without a CA file, only the proxy is in the environment.
	s2 := startService(t)
	info := s2.Info()
	if info.Sender.CAFile != "" || len(info.Sender.Env) != 1 || info.Sender.Env["HTTPS_PROXY"] != s2.URL() {
		t.Fatalf("sender without a CA file: %+v", info.Sender)
	}
}

func TestCAFileNotWritable(t *testing.T) {
	_, err := New(Config{CAFile: filepath.Join(t.TempDir(), "missing", "ca.pem")})
	if err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Fatalf("New with a CA file in a missing folder: %v", err)
	}
}

// TestCAVouchesOnlyForTheServicesNames checks that the CA, whose
// certificate every user of the machine can read and that senders are told
// to trust, cannot vouch for any other site: its critical name constraints
// make a leaf it signs for another name fail verification, while leaves
// for the names the service answers for verify.
func TestCAVouchesOnlyForTheServicesNames(t *testing.T) {
	ca, key, err := newCA("127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var critical bool
	for _, e := range ca.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 30}) { // nameConstraints
			critical = e.Critical
		}
	}
	if !critical || !ca.PermittedDNSDomainsCritical {
		t.Fatalf("the CA's name constraints are not critical: a verifier that does not know them would ignore them")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	leafFor := func(name string) *x509.Certificate {
		t.Helper()
		leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: randomSerial(),
			NotBefore:    time.Now().Add(-time.Minute),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = []string{name}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return leaf
	}
	for _, name := range []string{"localhost", "fcm.googleapis.com", "jmt17.google.com", "127.0.0.1", "127.0.0.2", "::1"} {
		if _, err := leafFor(name).Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("a leaf for %s, a name the service answers for: %v", name, err)
		}
	}
	for _, name := range []string{"evil.example", "googleapis.com", "www.google.com", "fcm.googleapis.com.evil.example", "10.0.0.1", "192.168.1.1", "::2"} {
		_, err := leafFor(name).Verify(x509.VerifyOptions{Roots: roots, DNSName: name})
		var invalid x509.CertificateInvalidError
		if !errors.As(err, &invalid) || invalid.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("a leaf for %s signed by the CA: %v, want the CA not authorized for this name", name, err)
		}
	}

	// The service's own CA carries the constraints, and its leaf, as
	// served, verifies for what the service answers for.
	s := startService(t)
	block, _ := pem.Decode(s.CACertPEM())
	served, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !served.PermittedDNSDomainsCritical || !slices.Contains(served.PermittedDNSDomains, "fcm.googleapis.com") || len(served.PermittedIPRanges) == 0 {
		t.Fatalf("the service's CA: DNS %v (critical %v), IP %v", served.PermittedDNSDomains, served.PermittedDNSDomainsCritical, served.PermittedIPRanges)
	}
	pool := x509.NewCertPool()
	pool.AddCert(served)
	for _, name := range []string{"127.0.0.1", "localhost", "fcm.googleapis.com", "jmt17.google.com"} {
		c, err := tls.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("TLS to the service as %s: %v", name, err)
			continue
		}
		c.Close()
	}
}

// TestCAFileReplacesAPlantedSymlink checks that the CA file is written as a
// new file renamed into place: a symlink planted at its predictable path
// (another user's, in /tmp) is replaced, and the file it points to is left
// as it was.
func TestCAFileReplacesAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("the victim's data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.Symlink(victim, caFile); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, _ := os.ReadFile(victim); string(b) != "the victim's data\n" {
		t.Fatalf("the symlink's target was overwritten: %q", b)
	}
	fi, err := os.Lstat(caFile)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("the CA file: %v, mode %v; want a regular file, 0644", err, fi.Mode())
	}
	if b, _ := os.ReadFile(caFile); !bytes.Equal(b, s.CACertPEM()) {
		t.Fatal("the CA file does not hold the CA certificate")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the folder holds %d entries, want the victim and the CA file (no temporary file left)", len(entries))
	}
}
