package sw

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pushstart/api"
	"pushstart/push"
)

// TestWorkerReadsEveryNotificationField keeps the worker and the Go payload
// contract from drifting apart: every JSON field of push.Notification is read
// by the worker, either through OPTION_FIELDS (copied as given) or by the
// code that handles it on its own, and the worker copies no field the
// contract does not have.
func TestWorkerReadsEveryNotificationField(t *testing.T) {
	m := regexp.MustCompile(`(?s)const OPTION_FIELDS = \[(.*?)\];`).FindStringSubmatch(Template)
	if m == nil {
		t.Fatal("app-worker.js has no OPTION_FIELDS array")
	}
	var copied []string
	for _, f := range regexp.MustCompile(`"([A-Za-z]+)"`).FindAllStringSubmatch(m[1], -1) {
		copied = append(copied, f[1])
	}
	// The fields the worker reads by name rather than copying.
	own := map[string]string{
		"title":   "payload.title",
		"actions": "payload.actions",
		"data":    "payload.data",
	}
	for name, use := range own {
		if !strings.Contains(Template, use) {
			t.Errorf("app-worker.js no longer reads %s (%s)", name, use)
		}
	}

	var contract []string
	typ := reflect.TypeFor[push.Notification]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		contract = append(contract, name)
		if _, ok := own[name]; !ok && !slices.Contains(copied, name) {
			t.Errorf("push.Notification has %q, which app-worker.js never reads: add it to OPTION_FIELDS", name)
		}
	}
	for _, name := range copied {
		if !slices.Contains(contract, name) {
			t.Errorf("app-worker.js copies %q, which push.Notification does not have", name)
		}
	}
}

// observed is what sw/testdata/harness.js saw the worker do in one
// scenario.
type observed struct {
	Shown []struct {
		Title   string         `json:"title"`
		Options map[string]any `json:"options"`
	} `json:"shown"`
	Reports []struct {
		URL         string    `json:"url"`
		Method      string    `json:"method"`
		Credentials string    `json:"credentials"`
		ContentType string    `json:"contentType"`
		Body        api.Event `json:"body"`
	} `json:"reports"`
	Opened   []string `json:"opened"`
	Rejected []string `json:"rejected"`
}

// TestWorkerReportsEvents runs the worker under Node.js, with the browser's
// part faked (sw/testdata/harness.js), and checks what it reports of a
// notification to the server, and that the reports change nothing of what
// the user sees: the notification, and the page a click opens.
func TestWorkerReportsEvents(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the worker's behaviour is checked by the Playwright suite only")
	}
	const id = "0193f2a1b2c3d4e5f60718293a.7.AAAAAAAAAAAAAAAAAAAAAA"
	broadcast := map[string]any{
		"title": "Sale", "messageId": id,
		"actions": []map[string]any{{"action": "buy", "title": "Buy"}},
		"data":    map[string]any{"url": "/sale", "actionUrls": map[string]any{"buy": "/buy"}},
	}
	type report struct{ typ, action string }
	tests := []struct {
		name          string
		payload       any
		then          string // "click", "close" or ""
		action        string
		refuseOptions bool
		reportsFail   bool
		wantShown     string
		wantReports   []report
		wantOpened    string
	}{
		{name: "shown", payload: broadcast, wantShown: "Sale", wantReports: []report{{api.EventShown, ""}}},
		{name: "action clicked", payload: broadcast, then: "click", action: "buy", wantShown: "Sale",
			wantReports: []report{{api.EventShown, ""}, {api.EventClicked, "buy"}}, wantOpened: "https://kit.example/buy"},
		{name: "body clicked", payload: broadcast, then: "click", wantShown: "Sale",
			wantReports: []report{{api.EventShown, ""}, {api.EventClicked, ""}}, wantOpened: "https://kit.example/sale"},
		{name: "closed", payload: broadcast, then: "close", wantShown: "Sale",
			wantReports: []report{{api.EventShown, ""}, {api.EventClosed, ""}}},
		{name: "options refused: the fallback counts", payload: broadcast, refuseOptions: true, then: "click", wantShown: "Sale",
			wantReports: []report{{api.EventShown, ""}, {api.EventClicked, ""}}, wantOpened: "https://kit.example/"},
		{name: "reports fail: shown and opened all the same", payload: broadcast, reportsFail: true, then: "click", action: "buy", wantShown: "Sale",
			wantReports: []report{{api.EventShown, ""}, {api.EventClicked, "buy"}}, wantOpened: "https://kit.example/buy"},
		{name: "a test send reports nothing", payload: map[string]any{"title": "Test", "data": map[string]any{"url": "/t"}}, then: "click",
			wantShown: "Test", wantOpened: "https://kit.example/t"},
		{name: "a messageId that is not a string is ignored", payload: map[string]any{"title": "Odd", "messageId": 7}, then: "close", wantShown: "Odd"},
		{name: "no payload to read reports nothing", payload: "not an object", wantShown: "New notification"},
	}
	dir := t.TempDir()
	worker := strings.NewReplacer("{{.Version}}", "test", "{{.ResourcesToCache}}", "[]").Replace(Template)
	if err := os.WriteFile(filepath.Join(dir, "worker.js"), []byte(worker), 0o600); err != nil {
		t.Fatal(err)
	}
	var scenarios []map[string]any
	for _, tt := range tests {
		scenarios = append(scenarios, map[string]any{"payload": tt.payload, "then": tt.then, "action": tt.action,
			"refuseOptions": tt.refuseOptions, "reportsFail": tt.reportsFail})
	}
	raw, _ := json.Marshal(scenarios)
	if err := os.WriteFile(filepath.Join(dir, "scenarios.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "testdata/harness.js", filepath.Join(dir, "worker.js"), filepath.Join(dir, "scenarios.json")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var seen []observed
	if err := json.Unmarshal(out, &seen); err != nil || len(seen) != len(tests) {
		t.Fatalf("harness output %s: %v", out, err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := seen[i]
			if len(got.Shown) != 1 || got.Shown[0].Title != tt.wantShown {
				t.Errorf("shown %+v, want one notification titled %q", got.Shown, tt.wantShown)
			}
			if len(got.Rejected) > 0 {
				t.Errorf("handlers failed: %v", got.Rejected)
			}
			var reports []report
			for _, r := range got.Reports {
				reports = append(reports, report{r.Body.Type, r.Body.Action})
				if r.URL != api.PathEvents || r.Method != "POST" || r.Credentials != "same-origin" || r.ContentType != "application/json" || r.Body.MessageID != id {
					t.Errorf("report %+v; want a same-origin JSON POST to %s with the payload's messageId", r, api.PathEvents)
				}
			}
			if !slices.Equal(reports, tt.wantReports) {
				t.Errorf("reports %v, want %v", reports, tt.wantReports)
			}
			var opened string
			if len(got.Opened) > 0 {
				opened = got.Opened[0]
			}
			if len(got.Opened) > 1 || opened != tt.wantOpened {
				t.Errorf("opened %v, want %q", got.Opened, tt.wantOpened)
			}
		})
	}
	// What a page reading getNotifications() finds in a test send's data:
	// the payload's, unchanged.
	if data := seen[6].Shown[0].Options["data"]; !reflect.DeepEqual(data, map[string]any{"url": "/t"}) {
		t.Errorf("a test send's notification.data is %v, want the payload's data as it was", data)
	}
}
