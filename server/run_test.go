//go:build !wasm

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pushstart/app"
)

// startRun runs the whole server as main does, on a free port, and returns
// its base URL.
func startRun(t *testing.T, cfg Config) string {
	t.Helper()
	app.Register() // as main does, before anything is served
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.WebDir = web
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "test", ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("shutdown: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down")
		}
	})
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
