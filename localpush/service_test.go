package localpush

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBrowserConfig(t *testing.T) {
	s := startService(t)
	b := s.Browser()
	port := s.URL()[strings.LastIndex(s.URL(), ":")+1:]
	if s.URL() != "http://127.0.0.1:"+port || b.URL != s.URL() {
		t.Fatalf("URL %q, config URL %q", s.URL(), b.URL)
	}
	if prefix := s.EndpointPrefix(); prefix != "http://127.0.0.1:"+port+"/wpush/" {
		t.Errorf("EndpointPrefix %q", prefix)
	}
	want := map[string]any{
		"dom.push.serverURL":                      "ws://127.0.0.1:" + port + "/",
		"dom.push.testing.allowInsecureServerURL": true,
		"dom.push.connection.enabled":             true,
		"alerts.useSystemBackend":                 false,
		"dom.push.retryBaseInterval":              1000,
	}
	if len(b.FirefoxPrefs) != len(want) {
		t.Errorf("firefoxPrefs %v", b.FirefoxPrefs)
	}
	for k, v := range want {
		if b.FirefoxPrefs[k] != v {
			t.Errorf("firefoxPrefs[%s] = %v, want %v", k, b.FirefoxPrefs[k], v)
		}
	}
	args := strings.Join(b.ChromiumArgs, " ")
	for _, a := range []string{
		"--gcm-checkin-url=http://127.0.0.1:" + port + "/checkin",
		"--gcm-registration-url=http://127.0.0.1:" + port + "/c2dm/register3",
		"--gcm-mcs-endpoint=https://127.0.0.1:",
		"--ignore-certificate-errors-spki-list=",
	} {
		if !strings.Contains(args, a) {
			t.Errorf("chromiumArgs %q lack %q", args, a)
		}
	}
	// Chromium is told to accept the MCS certificate's key, not to ignore
	// certificate errors of every site.
	if slices.Contains(b.ChromiumArgs, "--ignore-certificate-errors") {
		t.Errorf("chromiumArgs %q turn off certificate checks for every site", args)
	}
	// The MCS port really is the TLS listener, and its certificate's key is
	// the one Chromium is told to accept.
	mcs := strings.TrimPrefix(b.ChromiumArgs[2], "--gcm-mcs-endpoint=https://")
	c, err := tls.Dial("tcp", mcs, &tls.Config{InsecureSkipVerify: true}) // self-signed: its key is what is checked
	if err != nil {
		t.Fatalf("MCS port %s: %v", mcs, err)
	}
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	c.Close()
	if want := "--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(sum[:]); b.ChromiumArgs[3] != want {
		t.Errorf("chromiumArgs[3] = %q, want %q (the MCS certificate's key)", b.ChromiumArgs[3], want)
	}
	j, _ := json.Marshal(b)
	for _, k := range []string{`"chromiumArgs"`, `"firefoxPrefs"`, `"url"`} {
		if !strings.Contains(string(j), k) {
			t.Errorf("JSON %s lacks %s", j, k)
		}
	}
}

func TestEventsSinceAndBound(t *testing.T) {
	s := startService(t)
	for range eventCapacity + 5 {
		s.events.add(Event{Type: EventConnect})
	}
	get := func(q string) (int, []Event) {
		resp, err := http.Get(s.URL() + "/v1/events" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Events []Event }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Events
	}
	_, all := get("")
	if len(all) != eventCapacity || all[0].Seq != 6 || all[len(all)-1].Seq != eventCapacity+5 {
		t.Fatalf("%d events from seq %d: want the newest %d, 6 to %d", len(all), all[0].Seq, eventCapacity, eventCapacity+5)
	}
	_, tail := get("?since=1003")
	if len(tail) != 2 || tail[0].Seq != 1004 {
		t.Fatalf("since=1003: %+v", tail)
	}
	if st, _ := get("?since=x"); st != 400 {
		t.Fatalf("since=x: %d, want 400", st)
	}
	_, none := get("?since=5000")
	if none == nil || len(none) != 0 {
		t.Fatalf("since past the end: %v, want an empty list", none)
	}
}

func TestServeStopsOnCancelFreesPortsNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	// Leave work in flight: a Firefox connection and a queued message.
	app := newAppServer(t)
	f, endpoint := firefoxEndpoint(t, s, app.pub)
	rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}.do(t, nil)
	_ = f
	// A connection that has not said yet whether it speaks TLS.
	silent, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	httpAddr := strings.TrimPrefix(s.URL(), "http://")
	mcsAddr := strings.TrimPrefix(s.mcsURL, "https://")
	for _, a := range []string{httpAddr, mcsAddr} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("port %s still taken after Close: %v", a, err)
		}
		l.Close()
	}
	f.ws.CloseNow()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeAfterClose(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("Serve after Close returned nil")
	}
}

func TestRootWithoutUpgrade(t *testing.T) {
	s := startService(t)
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET / without upgrade: %d", resp.StatusCode)
	}
}

// TestTestAPIAnswersOnlyLocalPrograms checks that the test API refuses what
// a web page can make a browser send: a page whose name an attacker's DNS
// rebinds to 127.0.0.1 (a foreign Host), and a fetch from any site (an
// Origin, a cross-site Sec-Fetch-Site), even the no-cors POST with a
// text/plain body that needs no preflight. Test programs, which send
// neither header, are answered.
func TestTestAPIAnswersOnlyLocalPrograms(t *testing.T) {
	s := startService(t)
	hostPort := strings.TrimPrefix(s.URL(), "http://")
	_, port, _ := net.SplitHostPort(hostPort)
	fault := func() string {
		return fmt.Sprintf(`{"endpoint":%q,"kind":"500","count":100}`, s.URL()+"/wpush/some-token")
	}
	routes := []struct{ method, path string }{
		{"GET", "/v1/events"}, {"GET", "/v1/config"},
		{"GET", "/v1/ca.pem"}, {"POST", "/v1/faults"}, {"DELETE", "/v1/faults"},
	}
	tests := []struct {
		name    string
		host    string
		headers map[string]string
		refused bool
	}{
		{"a program, by the service's URL", "", nil, false},
		{"a program, by localhost", "localhost:" + port, nil, false},
		{"a program, by another loopback IP", "127.0.0.2:" + port, nil, false},
		{"a program, by IPv6 loopback", "[::1]:" + port, nil, false},
		{"a person's address bar", "", map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, false},
		{"a rebound name", "rebind.attacker.example:" + port, nil, true},
		{"a rebound name without a port", "rebind.attacker.example", nil, true},
		{"a name ending in localhost", "localhost.attacker.example:" + port, nil, true},
		{"a cross-site page", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, true},
		{"a page of another loopback port", "", map[string]string{"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-site"}, true},
		{"a same-site GET without Origin", "", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"}, true},
		{"an opaque origin", "", map[string]string{"Origin": "null"}, true},
		{"an Origin alone", "", map[string]string{"Origin": "https://evil.example"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range routes {
				var body io.Reader
				if rt.method == "POST" {
					body = strings.NewReader(fault())
				}
				req, err := http.NewRequest(rt.method, s.URL()+rt.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if tc.host != "" {
					req.Host = tc.host
				}
				if rt.method == "POST" {
					req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
				}
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if refused := resp.StatusCode == http.StatusForbidden; refused != tc.refused {
					t.Errorf("%s %s: %d, want refused %v", rt.method, rt.path, resp.StatusCode, tc.refused)
				}
				// Every admitted case ends with DELETE /v1/faults.
				if rt.method == "POST" && tc.refused && s.faults.armed() != 0 {
					t.Errorf("a refused POST /v1/faults armed its fault")
				}
			}
		})
	}
	// HTTP/1.0 lets a client leave Host out: nothing vouches for the name
	// the page was loaded by.
	c, err := net.Dial("tcp", hostPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /v1/config HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /v1/config without Host: %d, want 403", resp.StatusCode)
	}
}
