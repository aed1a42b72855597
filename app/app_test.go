//go:build !wasm

package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestServiceWorkerIsServedFilledIn(t *testing.T) {
	Register()
	h := Handler()
	h.Version = "v123"
	js := get(t, h, "/app-worker.js")
	if strings.Contains(js, "{{.") {
		t.Fatalf("template field left in the worker:\n%s", js)
	}
	m := regexp.MustCompile(`const RESOURCES_TO_CACHE = (\[.*\]);`).FindStringSubmatch(js)
	if m == nil {
		t.Fatal("no resource list in the worker")
	}
	var resources []string
	if err := json.Unmarshal([]byte(m[1]), &resources); err != nil {
		t.Fatalf("resource list is not JSON: %v", err)
	}
	for _, want := range []string{"/", "/web/app.wasm", "/web/app.css", "/web/admin.css", iconPath, badgePath} {
		if !contains(resources, want) {
			t.Errorf("worker does not cache %s for offline use (has %v)", want, resources)
		}
	}
	for _, want := range []string{`const CACHE_NAME = "pushstart-v123"`, `addEventListener("push"`, `addEventListener("notificationclick"`, `addEventListener("pushsubscriptionchange"`} {
		if !strings.Contains(js, want) {
			t.Errorf("worker lacks %s", want)
		}
	}
}

func TestPageWorksOffline(t *testing.T) {
	Register()
	h := Handler()
	h.Version = "v123"
	page := get(t, h, "/")
	manifest := get(t, h, "/manifest.webmanifest")
	for name, doc := range map[string]string{"page": page, "manifest": manifest} {
		for _, u := range regexp.MustCompile(`(?:href|src)="(https?://[^"]+)"|"src":"(https?://[^"]+)"`).FindAllStringSubmatch(doc, -1) {
			t.Errorf("%s loads %s%s from the network", name, u[1], u[2])
		}
	}
	for _, want := range []string{iconPath, iconLargePath, iconMaskablePath, iconSVGPath} {
		if !strings.Contains(manifest, want) {
			t.Errorf("manifest lacks icon %s", want)
		}
	}
	if !strings.Contains(page, "Enable notifications") {
		t.Error("the pre-rendered page has no Enable notifications button")
	}
}

func TestAdminConsoleIsServed(t *testing.T) {
	Register()
	h := Handler()
	h.Version = "v123"
	page := get(t, h, adminPath)
	if !strings.Contains(page, "<title>"+adminTitle+"</title>") {
		t.Errorf("/admin is not titled %q", adminTitle)
	}
	if !strings.Contains(page, `href="/web/admin.css"`) {
		t.Error("/admin does not load admin.css")
	}
	// Before app.wasm runs, no form that could send the token anywhere.
	if strings.Contains(page, `type="password"`) {
		t.Error("the pre-rendered console has the token's input")
	}
	home := get(t, h, "/")
	if !strings.Contains(home, "<title>"+pageTitle+"</title>") {
		t.Errorf("/ is not titled %q", pageTitle)
	}
	if !strings.Contains(home, `href="/admin"`) {
		t.Error("the home page does not link to the admin console")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// handlerOnlyEnv marks the child process of TestHandlerAloneServesThePage.
const handlerOnlyEnv = "PUSHSTART_TEST_HANDLER_ONLY"

// TestHandlerAloneServesThePage runs in a child process of its own, since
// go-app's routes are process-wide and other tests call Register: there
// nothing but Handler may have declared the page's route.
func TestHandlerAloneServesThePage(t *testing.T) {
	if os.Getenv(handlerOnlyEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHandlerAloneServesThePage$", "-test.count=1")
		cmd.Env = append(os.Environ(), handlerOnlyEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("Handler without Register: %v\n%s", err, out)
		}
		return
	}
	h := Handler()
	h.Version = "v123"
	if page := get(t, h, "/"); !strings.Contains(page, "Enable notifications") {
		t.Error("the page served by Handler alone has no Enable notifications button")
	}
}
