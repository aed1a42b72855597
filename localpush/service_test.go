package localpush

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
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
