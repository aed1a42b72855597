package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/coder/websocket"

	"pushstart/internal/ecetest"
	"pushstart/localpush"
	"pushstart/server/vapid"
)

// lockedBuffer is a buffer the service's log goroutines and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningService is a push-service command running for one test.
type runningService struct {
	first  string             // the first line printed on stdout
	lines  <-chan string      // the later ones, closed when the command ends
	ended  <-chan struct{}    // closed when the command returns
	code   *int               // then, its exit status
	stderr *lockedBuffer      // what it logged
	stop   context.CancelFunc // as SIGINT would
}

// startPushService runs `pushstart push-service args...` with env until the
// test ends, and waits for its first line on stdout.
func startPushService(t *testing.T, env map[string]string, args ...string) *runningService {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	stderr := &lockedBuffer{}
	ended, code := make(chan struct{}), new(int)
	go func() {
		*code, _ = Main(ctx, append([]string{"push-service"}, args...), IO{
			Stdout: pw, Stderr: stderr, Getenv: func(k string) string { return env[k] },
		})
		pw.Close()
		close(ended)
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	r := &runningService{lines: lines, ended: ended, code: code, stderr: stderr, stop: cancel}
	t.Cleanup(func() {
		cancel()
		for range lines {
		}
		select {
		case <-ended:
		case <-time.After(15 * time.Second):
			t.Error("push-service still running 15 s after it was stopped")
		}
	})
	select {
	case l, ok := <-lines:
		if !ok {
			<-ended
			t.Fatalf("push-service printed nothing; exit %d, stderr %s", *code, stderr)
		}
		r.first = l
	case <-time.After(10 * time.Second):
		t.Fatalf("push-service printed nothing in 10 s; stderr %s", stderr)
	}
	return r
}

// info parses the -json line.
func (r *runningService) info(t *testing.T) localpush.ServiceInfo {
	t.Helper()
	var info localpush.ServiceInfo
	d := json.NewDecoder(strings.NewReader(r.first))
	d.DisallowUnknownFields()
	if err := d.Decode(&info); err != nil {
		t.Fatalf("the -json line %q: %v", r.first, err)
	}
	return info
}

// stopped stops the command as a signal would and returns its exit status
// and the rest of its stdout.
func (r *runningService) stopped(t *testing.T) (int, string) {
	t.Helper()
	r.stop()
	var rest []string
	for l := range r.lines {
		rest = append(rest, l)
	}
	select {
	case <-r.ended:
		return *r.code, strings.Join(rest, "\n")
	case <-time.After(15 * time.Second):
		t.Fatal("push-service still running 15 s after it was stopped")
		return 0, ""
	}
}

func getJSON(t *testing.T, client *http.Client, u string, v any) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestPushServiceJSON(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	r := startPushService(t, nil, "--addr", "127.0.0.1:0", "--mcs-addr", "127.0.0.1:0", "--ca-file", caFile, "-json")
	info := r.info(t)
	if info.API != 1 || !strings.HasPrefix(info.URL, "http://127.0.0.1:") || info.Browser.URL != info.URL || info.Sender.Proxy != info.URL {
		t.Fatalf("info %+v", info)
	}
	if info.Sender.CAFile != caFile || info.Sender.Env["NODE_EXTRA_CA_CERTS"] != caFile || info.Sender.Env["HTTPS_PROXY"] != info.URL {
		t.Fatalf("sender %+v", info.Sender)
	}
	// The line is the service's own description, and the service answers.
	var served localpush.ServiceInfo
	getJSON(t, http.DefaultClient, info.URL+"/v1/config", &served)
	a, _ := json.Marshal(served)
	if string(a) != r.first {
		t.Fatalf("GET /v1/config %s\nthe -json line   %s", a, r.first)
	}
	pemFile, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(info.URL + "/v1/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	served2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(pemFile, served2) {
		t.Fatal("the CA file differs from GET /v1/ca.pem")
	}
	code, rest := r.stopped(t)
	if code != 0 || rest != "" {
		t.Fatalf("stopped: exit %d, more stdout %q", code, rest)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(info.URL, "http://")); err == nil {
		t.Fatal("the service still answers after the command ended")
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestPushServiceEnvironment(t *testing.T) {
	addr, mcs := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	env := map[string]string{
		"LOCAL_PUSH_ADDR": addr, "LOCAL_PUSH_MCS_ADDR": mcs,
		"LOCAL_PUSH_CA_FILE": filepath.Join(dir, "env.pem"), "LOG_LEVEL": "debug",
	}
	r := startPushService(t, env, "--json")
	info := r.info(t)
	if info.URL != "http://"+addr || !strings.Contains(strings.Join(info.Browser.ChromiumArgs, " "), "--gcm-mcs-endpoint=https://"+mcs) {
		t.Fatalf("LOCAL_PUSH_ADDR %s, LOCAL_PUSH_MCS_ADDR %s: info %+v", addr, mcs, info)
	}
	if info.Sender.CAFile != env["LOCAL_PUSH_CA_FILE"] {
		t.Fatalf("LOCAL_PUSH_CA_FILE: caFile %q", info.Sender.CAFile)
	}
	// LOG_LEVEL=debug: a Chromium registration outside web push is logged at debug.
	form := url.Values{"app": {"com.google.android.gms"}, "device": {"77"}}
	req, _ := http.NewRequest(http.MethodPost, info.URL+"/c2dm/register3", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AidLogin 77:88")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if code, _ := r.stopped(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(r.stderr.String(), "level=DEBUG") {
		t.Fatalf("LOG_LEVEL=debug logged no debug line: %s", r.stderr)
	}

	// A flag wins over its variable.
	flagFile := filepath.Join(dir, "flag.pem")
	r = startPushService(t, map[string]string{"LOCAL_PUSH_CA_FILE": filepath.Join(dir, "other.pem")},
		"--addr", "127.0.0.1:0", "--mcs-addr", "127.0.0.1:0", "--ca-file", flagFile, "--json")
	if got := r.info(t).Sender.CAFile; got != flagFile {
		t.Fatalf("--ca-file with LOCAL_PUSH_CA_FILE set: caFile %q, want %q", got, flagFile)
	}
}

// exportLine is a shell line that exports a variable.
var exportLine = regexp.MustCompile(`(?m)^\s*export [A-Z_]+=`)

func TestPushServiceForPeople(t *testing.T) {
	r := startPushService(t, nil, "--addr", "127.0.0.1:0", "--mcs-addr", "127.0.0.1:0")
	code, rest := r.stopped(t)
	out := r.first + "\n" + rest
	url := strings.TrimPrefix(r.first, "Local push service at ")
	if code != 0 || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	for _, want := range []string{
		"--gcm-checkin-url=" + url + "/checkin",
		"--gcm-registration-url=" + url + "/c2dm/register3",
		"--gcm-mcs-endpoint=https://127.0.0.1:",
		"--ignore-certificate-errors-spki-list=",
		"--user-data-dir=",
		`user_pref("dom.push.serverURL", "ws://` + strings.TrimPrefix(url, "http://") + `/");`,
		`user_pref("dom.push.testing.allowInsecureServerURL", true);`,
		`user_pref("dom.push.retryBaseInterval", 1000);`,
		"env HTTPS_PROXY=" + url + " <your sender command>",
		"For the sender's command only (exported, they would break curl, git, npm and go in your shell):",
		url + "/v1/ca.pem",
		"{ proxy: '" + url + "' }",
		"docs/push-service-api.md",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NODE_EXTRA_CA_CERTS") {
		t.Errorf("without --ca-file, no CA variable can be given:\n%s", out)
	}
	// Pasted into a shell, the variables must set one command's
	// environment, not the shell's (curl, git, npm and go would then trust
	// only the service's CA and go through its proxy).
	if exportLine.MatchString(out) {
		t.Errorf("the output exports variables into the shell:\n%s", out)
	}

	// With a CA file, the CA variables join the same one command line.
	caFile := filepath.Join(t.TempDir(), "it's ca.pem")
	r = startPushService(t, nil, "--addr", "127.0.0.1:0", "--mcs-addr", "127.0.0.1:0", "--ca-file", caFile)
	_, rest = r.stopped(t)
	url = strings.TrimPrefix(r.first, "Local push service at ")
	q := `'` + strings.ReplaceAll(caFile, `'`, `'\''`) + `'`
	want := "  env HTTPS_PROXY=" + url + " NODE_EXTRA_CA_CERTS=" + q + " REQUESTS_CA_BUNDLE=" + q + " SSL_CERT_FILE=" + q + " <your sender command>"
	if !slices.Contains(strings.Split(rest, "\n"), want) {
		t.Errorf("with --ca-file, the output lacks the line\n%s\n%s", want, rest)
	}
	if exportLine.MatchString(rest) {
		t.Errorf("the output exports variables into the shell:\n%s", rest)
	}
}

func TestPushServiceUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: "-nope"},
		{name: "argument", args: []string{"extra"}, want: `unexpected argument "extra"`},
		{name: "wide address", args: []string{"--addr", "0.0.0.0:8900"}, want: "--addr (LOCAL_PUSH_ADDR)"},
		{name: "no port", args: []string{"--mcs-addr", "127.0.0.1"}, want: "--mcs-addr (LOCAL_PUSH_MCS_ADDR)"},
		{name: "host name", args: []string{"--addr", "example.com:1"}, want: "--addr (LOCAL_PUSH_ADDR)"},
		{name: "log level", args: []string{"--log-level", "loud"}, want: "--log-level (LOG_LEVEL)"},
		{name: "bad json value", args: []string{"--json=maybe"}, want: "-json"},
		{name: "address variable", env: map[string]string{"LOCAL_PUSH_ADDR": "192.0.2.1:80"}, want: "LOCAL_PUSH_ADDR"},
		{name: "MCS variable", env: map[string]string{"LOCAL_PUSH_MCS_ADDR": "::1"}, want: "LOCAL_PUSH_MCS_ADDR"},
		{name: "level variable", env: map[string]string{"LOG_LEVEL": "chatty"}, want: "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, "", append([]string{"push-service"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want 2 naming %s", r.code, r.stderr, r.stdout, tt.want)
			}
		})
	}
	t.Run("port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r := run(t, nil, "", "push-service", "--addr", l.Addr().String(), "--mcs-addr", "127.0.0.1:0", "--json")
		if r.code != 1 || !strings.Contains(r.stderr, "address already in use") || r.stdout != "" {
			t.Fatalf("exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
		}
	})
}

// TestPushServiceHelp keeps the usage in step with the flags.
func TestPushServiceHelp(t *testing.T) {
	r := run(t, nil, "", "help", "push-service")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: pushstart push-service") {
		t.Fatalf("help push-service: %d %q", r.code, r.stdout)
	}
	for _, f := range []string{"--addr", "--mcs-addr", "--ca-file", "--log-level", "--json",
		"LOCAL_PUSH_ADDR", "LOCAL_PUSH_MCS_ADDR", "LOCAL_PUSH_CA_FILE", "LOG_LEVEL", "127.0.0.1:8900", "127.0.0.1:8901"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("the usage does not mention %s", f)
		}
	}
	if r := run(t, nil, "", "help"); !strings.Contains(r.stdout, "pushstart push-service") {
		t.Errorf("help does not list push-service: %q", r.stdout)
	}
}

// senderClientFor is what a sender the kit did not write does with the
// ServiceInfo: trust the CA file and go through the proxy for https, as
// HTTPS_PROXY makes Go's ProxyFromEnvironment do.
func senderClientFor(t *testing.T, info localpush.ServiceInfo) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(info.Sender.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the CA file holds no certificate")
	}
	proxy, err := url.Parse(info.Sender.Proxy)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		Proxy: func(r *http.Request) (*url.URL, error) {
			if r.URL.Scheme == "https" {
				return proxy, nil
			}
			return nil, nil
		},
	}}
}

// browserKeys are a subscription's keys as a browser makes them.
type browserKeys struct {
	priv *ecdh.PrivateKey
	auth []byte
}

func newBrowserKeys(t *testing.T) browserKeys {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return browserKeys{k, auth}
}

func (b browserKeys) subscription(endpoint string) *webpush.Subscription {
	return &webpush.Subscription{Endpoint: endpoint, Keys: webpush.Keys{
		P256dh: base64.RawURLEncoding.EncodeToString(b.priv.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(b.auth),
	}}
}

// wsJSON writes and reads Mozilla's push protocol frames.
func wsJSON(t *testing.T, ws *websocket.Conn, out map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if out != nil {
		b, _ := json.Marshal(out)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	return in
}

// TestSenderTheKitDidNotWrite pushes with webpush-go, configured only from
// the command's -json line (CA file and proxy), to a browser connection
// speaking Mozilla's protocol to the standalone service, and to a Chromium
// endpoint registered with GCM's protocol, whose FCM host is reached
// through the proxy over TLS.
func TestSenderTheKitDidNotWrite(t *testing.T) {
	r := startPushService(t, nil, "--addr", "127.0.0.1:0", "--mcs-addr", "127.0.0.1:0",
		"--ca-file", filepath.Join(t.TempDir(), "ca.pem"), "--json")
	info := r.info(t)
	client := senderClientFor(t, info)
	keys, err := vapid.Generate()
	if err != nil {
		t.Fatal(err)
	}
	opts := func() *webpush.Options {
		return &webpush.Options{HTTPClient: client, Subscriber: "qa@example.com", TTL: 60,
			VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private}
	}
	send := func(endpoint string, b browserKeys, text string) *http.Response {
		t.Helper()
		resp, err := webpush.SendNotification([]byte(text), b.subscription(endpoint), opts())
		if err != nil {
			t.Fatalf("webpush.SendNotification to %s: %v", endpoint, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	t.Run("Firefox", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		serverURL, _ := info.Browser.FirefoxPrefs["dom.push.serverURL"].(string)
		ws, _, err := websocket.Dial(ctx, serverURL, &websocket.DialOptions{Subprotocols: []string{"push-notification"}})
		if err != nil {
			t.Fatalf("dial %s: %v", serverURL, err)
		}
		defer ws.CloseNow()
		if hello := wsJSON(t, ws, map[string]any{"messageType": "hello", "broadcasts": map[string]any{}, "use_webpush": true}); hello["status"] != 200.0 {
			t.Fatalf("hello: %v", hello)
		}
		pub, _ := base64.RawURLEncoding.DecodeString(keys.Public)
		reg := wsJSON(t, ws, map[string]any{"messageType": "register", "channelID": "5a1d1c0e-0000-4000-8000-000000000001",
			"key": base64.URLEncoding.EncodeToString(pub)})
		endpoint, _ := reg["pushEndpoint"].(string)
		if reg["status"] != 200.0 || !strings.HasPrefix(endpoint, info.URL+"/wpush/") {
			t.Fatalf("register: %v", reg)
		}
		var before struct{ Events []localpush.Event }
		getJSON(t, http.DefaultClient, info.URL+"/v1/events", &before)
		since := before.Events[len(before.Events)-1].Seq

		b := newBrowserKeys(t)
		if resp := send(endpoint, b, "from a sender the kit did not write"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("push: %d", resp.StatusCode)
		}
		n := wsJSON(t, ws, nil)
		body, _ := base64.RawURLEncoding.DecodeString(fmt.Sprint(n["data"]))
		plain, err := ecetest.Decrypt(body, b.priv, b.auth)
		if err != nil || string(plain) != "from a sender the kit did not write" {
			t.Fatalf("the browser decrypted %q, %v", plain, err)
		}
		ack := map[string]any{"messageType": "ack", "updates": []any{
			map[string]any{"channelID": n["channelID"], "version": n["version"], "code": 100}}}
		b2, _ := json.Marshal(ack)
		if err := ws.Write(ctx, websocket.MessageText, b2); err != nil {
			t.Fatal(err)
		}
		// The long poll answers with the delivery and then the browser's ack.
		var types []string
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasSuffix(strings.Join(types, ","), "ack") && time.Now().Before(deadline) {
			var page struct{ Events []localpush.Event }
			getJSON(t, http.DefaultClient, fmt.Sprintf("%s/v1/events?since=%d&wait=5", info.URL, since), &page)
			for _, e := range page.Events {
				since = e.Seq
				if e.Endpoint == endpoint {
					types = append(types, e.Type)
				}
			}
		}
		if strings.Join(types, ",") != "push,deliver,ack" {
			t.Fatalf("events for the endpoint: %v, want push, deliver, ack", types)
		}
	})

	t.Run("Chromium through the proxy", func(t *testing.T) {
		form := url.Values{"app": {"org.chromium.linux"}, "device": {"4242"},
			"X-subtype": {"wp:http://127.0.0.1:3000/#6b1c0c0e-aaaa-4a4a-9b9b-000000000000-V2"}, "sender": {keys.Public}}
		req, _ := http.NewRequest(http.MethodPost, info.URL+"/c2dm/register3", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AidLogin 4242:4343")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		token, ok := strings.CutPrefix(string(text), "token=")
		if !ok {
			t.Fatalf("registration: %d %q", resp.StatusCode, text)
		}
		endpoint := "https://fcm.googleapis.com/fcm/send/" + strings.TrimSpace(token)
		if resp := send(endpoint, newBrowserKeys(t), "through the proxy"); resp.StatusCode != http.StatusCreated || resp.TLS == nil {
			t.Fatalf("push to %s: %d (TLS %v)", endpoint, resp.StatusCode, resp.TLS != nil)
		}
		var page struct{ Events []localpush.Event }
		getJSON(t, http.DefaultClient, info.URL+"/v1/events?since=0", &page)
		last := page.Events[len(page.Events)-1]
		if last.Type != localpush.EventPush || last.Endpoint != endpoint {
			t.Fatalf("the last event %+v, want a push to %s", last, endpoint)
		}
	})
}
