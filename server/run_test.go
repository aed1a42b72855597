//go:build !wasm

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"pushstart/api"
	"pushstart/app"
	"pushstart/internal/testserve"
	"pushstart/localpush"
)

// builtWeb is the page's files as a binary built by `make build` holds them.
var builtWeb = fstest.MapFS{
	"app.wasm": {Data: []byte("\x00asm built in")},
	"app.css":  {Data: []byte("body {}")},
}

// startRun runs the whole server as main does, on a free port, with the
// page's files of builtWeb, and returns its base URL.
func startRun(t *testing.T, cfg Config) string {
	t.Helper()
	return startRunBuild(t, cfg, Build{Version: "test", Web: builtWeb, Page: app.Handler()}, io.Discard)
}

// startRunBuild is startRun with the build and the log's destination given.
func startRunBuild(t *testing.T, cfg Config, build Build, logTo io.Writer) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.DataDir == DefaultConfig().DataDir {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	log := slog.New(slog.NewTextHandler(logTo, nil))
	done := testserve.Start(t, func() error { return Run(ctx, cfg, build, log, ready) },
		func() error { cancel(); return nil })
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30s")
	}
	return "http://" + addr
}

func postSubscription(t *testing.T, base string, sub map[string]any) int {
	t.Helper()
	b, _ := json.Marshal(sub)
	res, err := http.Post(base+"/api/subscriptions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestLocalModeOnlyWhenAsked checks that the local push service, its
// endpoints and its routing exist in local mode and nowhere else.
func TestLocalModeOnlyWhenAsked(t *testing.T) {
	local := DefaultConfig()
	local.PushService = PushServiceLocal
	base := startRun(t, local)
	res, err := http.Get(base + "/api/local-push")
	if err != nil {
		t.Fatal(err)
	}
	var bc struct {
		URL          string         `json:"url"`
		ChromiumArgs []string       `json:"chromiumArgs"`
		FirefoxPrefs map[string]any `json:"firefoxPrefs"`
	}
	json.NewDecoder(res.Body).Decode(&bc)
	res.Body.Close()
	if res.StatusCode != 200 || bc.URL == "" || len(bc.ChromiumArgs) == 0 || bc.FirefoxPrefs["dom.push.serverURL"] == nil {
		t.Fatalf("local mode: /api/local-push %d %+v", res.StatusCode, bc)
	}
	localEndpoint := bc.URL + "/wpush/some-channel"
	if got := postSubscription(t, base, newSubscription(t, localEndpoint)); got != http.StatusCreated {
		t.Errorf("local mode: local endpoint got %d, want 201", got)
	}

	real := startRun(t, DefaultConfig())
	res, err = http.Get(real + "/api/local-push")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("real mode: /api/local-push %d, want 404", res.StatusCode)
	}
	if got := postSubscription(t, real, newSubscription(t, localEndpoint)); got != http.StatusBadRequest {
		t.Errorf("real mode: local endpoint got %d, want 400", got)
	}
}

// TestServesPage checks the page and app.wasm come from the assembled server.
func TestServesPage(t *testing.T) {
	base := startRun(t, DefaultConfig())
	for path, ctype := range map[string]string{"/": "text/html", "/web/app.wasm": "application/wasm", "/app-worker.js": "application/javascript", "/manifest.webmanifest": "application/manifest+json"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.HasPrefix([]byte(res.Header.Get("Content-Type")), []byte(ctype)) {
			t.Errorf("%s: %d %q, want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
		if path == "/app-worker.js" && !bytes.Contains(body, []byte("pushsubscriptionchange")) {
			t.Errorf("the service worker served is not the kit's")
		}
	}
}

// TestServesInstallableApp checks what installing the page and starting it
// offline rest on, as the assembled server serves it: the page links an
// apple-touch-icon (the Home Screen icon on iPhone and iPad) and the
// manifest; the manifest has what Chromium's install criteria and Safari's
// standalone mode read (display, start_url, scope, PNG icons of 192 and 512
// pixels, each served); and the service worker caches every resource the
// page loads, each of which the server serves, since one failed download
// leaves the worker uninstalled (cache.addAll).
func TestServesInstallableApp(t *testing.T) {
	web := fstest.MapFS{"app.wasm": {Data: []byte("\x00asm built in")}}
	files, err := filepath.Glob("../web/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f); !strings.HasPrefix(name, "app.wasm") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			web[name] = &fstest.MapFile{Data: b}
		}
	}
	base := startRunBuild(t, DefaultConfig(), Build{Version: "test", Web: web, Page: app.Handler()}, io.Discard)

	_, page := get(t, base+"/")
	touch := regexp.MustCompile(`<link rel="apple-touch-icon" href="([^"]+)"`).FindStringSubmatch(page)
	if touch == nil {
		t.Fatal(`the page has no <link rel="apple-touch-icon">`)
	}
	if !strings.Contains(page, `<link rel="manifest" href="/manifest.webmanifest"`) {
		t.Error("the page does not link its manifest")
	}

	_, body := get(t, base+"/manifest.webmanifest")
	var m struct {
		Name      string `json:"name"`
		ShortName string `json:"short_name"`
		Display   string `json:"display"`
		StartURL  string `json:"start_url"`
		Scope     string `json:"scope"`
		Icons     []struct {
			Src, Type, Sizes, Purpose string
		} `json:"icons"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, body)
	}
	if m.Display != "standalone" || m.StartURL != "/" || m.Scope != "/" || m.ShortName == "" || m.Name == "" {
		t.Errorf("manifest: display %q, start_url %q, scope %q, short_name %q, name %q; want standalone, /, / and names",
			m.Display, m.StartURL, m.Scope, m.ShortName, m.Name)
	}
	icons := []string{touch[1]}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		icons = append(icons, ic.Src)
		if ic.Type == "image/png" && ic.Purpose != "maskable" {
			sizes[ic.Sizes] = true
		}
	}
	for _, want := range []string{"192x192", "512x512"} {
		if !sizes[want] {
			t.Errorf("manifest has no %s PNG icon of purpose any: %s", want, body)
		}
	}
	for _, src := range icons {
		res, _ := get(t, base+src)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/") {
			t.Errorf("icon %s: %d %q, want 200 and an image", src, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}

	_, worker := get(t, base+"/app-worker.js")
	list := regexp.MustCompile(`const RESOURCES_TO_CACHE = (\[.*\]);`).FindStringSubmatch(worker)
	if list == nil {
		t.Fatal("the worker lists no resources to cache")
	}
	var cached []string
	if err := json.Unmarshal([]byte(list[1]), &cached); err != nil {
		t.Fatal(err)
	}
	for _, u := range cached {
		if res, _ := get(t, base+u); res.StatusCode != http.StatusOK {
			t.Errorf("the worker caches %s, which answers %d: its install would fail", u, res.StatusCode)
		}
	}
	loads := []string{"/"}
	for _, l := range regexp.MustCompile(`<(?:link|script|img)[^>]*?(?:href|src)="(/[^"]*)"`).FindAllStringSubmatch(page, -1) {
		if l[1] != "/admin" {
			loads = append(loads, l[1])
		}
	}
	for _, u := range loads {
		if !slices.Contains(cached, u) {
			t.Errorf("the page loads %s, which the worker does not cache: offline it would be missing (cached: %v)", u, cached)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

// TestPageFiles checks where the page's files come from: those built into
// the binary, or WEB_DIR's folder when it is set.
func TestPageFiles(t *testing.T) {
	t.Run("built in", func(t *testing.T) {
		base := startRun(t, DefaultConfig())
		if _, body := get(t, base+"/web/app.wasm"); body != "\x00asm built in" {
			t.Errorf("app.wasm %q, want the built-in one", body)
		}
		if res, body := get(t, base+"/web/app.css"); res.StatusCode != 200 || body != "body {}" {
			t.Errorf("app.css: %d %q", res.StatusCode, body)
		}
	})
	t.Run("WEB_DIR wins", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm on disk"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.WebDir = dir
		base := startRun(t, cfg)
		if _, body := get(t, base+"/web/app.wasm"); body != "\x00asm on disk" {
			t.Errorf("app.wasm %q, want WEB_DIR's", body)
		}
	})
	t.Run("WEB_DIR without app.wasm", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.WebDir = t.TempDir()
		err := Run(context.Background(), cfg, Build{Web: builtWeb, Page: app.Handler()}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), cfg.WebDir) || !strings.Contains(err.Error(), "make build") {
			t.Fatalf("error %v, want one naming WEB_DIR's folder and make build", err)
		}
	})
}

// TestPageNotBuilt checks that a binary built without app.wasm says how to
// build it, on the page and in the log, rather than serving a blank page,
// and that its API still works.
func TestPageNotBuilt(t *testing.T) {
	var log syncBuffer
	base := startRunBuild(t, DefaultConfig(), Build{Version: "test", Web: fstest.MapFS{"app.css": {Data: []byte("body {}")}}, Page: app.Handler()}, &log)
	for _, path := range []string{"/", "/some/page", "/web/app.wasm"} {
		res, body := get(t, base+path)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "<code>make build</code>") {
			t.Errorf("%s: %d %q %q, want 503 and a page saying to run make build", path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	if !strings.Contains(log.String(), "make build") {
		t.Errorf("the log does not say to run make build:\n%s", log.String())
	}
	if res, _ := get(t, base+"/api/vapid-public-key"); res.StatusCode != 200 {
		t.Errorf("API: %d, want 200", res.StatusCode)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExternalPushService: with PUSH_SERVICE=<URL> the kit uses a local push
// service running elsewhere (here in the test, as another process's would
// be) exactly as its own: it answers the service's settings, sends through
// it, breaks and prunes with it, follows its events in the live trace, and
// names it "local" in the admin views.
func TestExternalPushService(t *testing.T) {
	svc, err := localpush.New(localpush.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	testserve.Start(t, func() error { return svc.Serve(ctx) }, func() error { cancel(); return svc.Close() })
	cfg := DefaultConfig()
	cfg.PushService = svc.URL()
	cfg.AdminToken = testAdminToken
	cfg.SubscribeRate, cfg.TestSendRate, cfg.TestSendEndpointRate = 0, 0, 0
	logs := &syncBuffer{}
	base := startRunBuild(t, cfg, Build{Version: "test", Web: builtWeb, Page: app.Handler()}, logs)

	res, body := get(t, base+api.PathLocalPush)
	want, _ := json.Marshal(svc.Browser())
	if res.StatusCode != 200 || strings.TrimSpace(body) != string(want) {
		t.Fatalf("GET /api/local-push: %d %s, want the service's %s", res.StatusCode, body, want)
	}
	_, body = get(t, base+api.PathVAPIDKey)
	var key api.VAPIDKey
	json.Unmarshal([]byte(body), &key)

	ff := dialFirefox(t, svc)
	sub := ff.subscribe(t, key.PublicKey)
	if got := postSubscription(t, base, sub); got != http.StatusCreated {
		t.Fatalf("subscribe with the service's endpoint: %d", got)
	}
	ff.ackAll()
	endpoint := sub["endpoint"].(string)

	t.Run("a test send, followed in the trace", func(t *testing.T) {
		tr := openTrace(t, base, endpoint, authOf(sub))
		if !tr.ready.Local || len(tr.ready.Breaks) != 5 {
			t.Errorf("ready %+v, want the local push service's break switches", tr.ready)
		}
		res := postJSON(t, context.Background(), base+api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note})
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("test send: %d", res.StatusCode)
		}
		evs := tr.untilSteps(t, api.StepOutcome, api.StepDeliver, api.StepAck)
		d := first(t, evs, api.StepDeliver)
		ff.mu.Lock()
		version := ff.versions[0]
		ff.mu.Unlock()
		if d.Actor != api.ActorPushService || d.Push != version || !strings.Contains(d.Detail, `"messageType": "notification"`) {
			t.Errorf("deliver step %+v, want the service's deliver event of message %s", d, version)
		}
	})
	t.Run("the admin views name it local", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, base+api.PathAdminSubscriptionStats, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var stats api.SubscriptionStats
		json.NewDecoder(res.Body).Decode(&stats)
		res.Body.Close()
		if len(stats.ByService) != 1 || stats.ByService[0].Key != api.ServiceLocal {
			t.Errorf("by service %+v, want one local", stats.ByService)
		}
	})
	t.Run("a break: expired, 410, pruned", func(t *testing.T) {
		res := postJSON(t, context.Background(), base+api.PathFlowBreak, api.FlowBreakRequest{Endpoint: endpoint, Auth: authOf(sub), Kind: api.BreakExpire})
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("break: %d", res.StatusCode)
		}
		res = postJSON(t, context.Background(), base+api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note})
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != http.StatusGone || out["outcome"] != "gone" {
			t.Fatalf("test send after the break: %d %v, want 410 gone", res.StatusCode, out)
		}
		res = postJSON(t, context.Background(), base+api.PathTestSend, map[string]any{"endpoint": endpoint, "notification": note})
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("test send once pruned: %d, want 404 (no such subscription)", res.StatusCode)
		}
	})
	if strings.Contains(logs.String(), endpoint) {
		t.Error("the log names an endpoint")
	}
}

// TestExternalPushServiceUnreachable: a kit whose PUSH_SERVICE answers
// nothing does not start, and says why.
func TestExternalPushServiceUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.PushService = "127.0.0.1:0", t.TempDir(), url
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = Run(ctx, cfg, Build{Version: "test", Web: builtWeb, Page: app.Handler()}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "PUSH_SERVICE cannot reach the local push service at "+url) {
		t.Errorf("Run: %v, want that PUSH_SERVICE cannot be reached", err)
	}
}
