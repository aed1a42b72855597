package sw

import (
	"encoding/json"
	"fmt"
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
// by the worker from the Declarative Web Push payload the server makes of
// it, either through OPTION_FIELDS (copied as given, under the same name) or
// by the code that handles it on its own, under the name the payload gives
// it; and the worker copies no field the contract does not have.
func TestWorkerReadsEveryNotificationField(t *testing.T) {
	m := regexp.MustCompile(`(?s)const OPTION_FIELDS = \[(.*?)\];`).FindStringSubmatch(Template)
	if m == nil {
		t.Fatal("app-worker.js has no OPTION_FIELDS array")
	}
	var copied []string
	for _, f := range regexp.MustCompile(`"([A-Za-z]+)"`).FindAllStringSubmatch(m[1], -1) {
		copied = append(copied, f[1])
	}
	// The fields the worker reads by name rather than copying, with what it
	// reads them as in the payload's "notification" (note in the worker).
	own := map[string][]string{
		"title": {"note.title"},
		// An action's data.actionUrls entry becomes its navigate.
		"actions": {"note.actions", "a.navigate"},
		// data.url becomes the notification's navigate, the rest of data
		// stays data.
		"data":     {"note.data", "note.navigate"},
		"appBadge": {"note.app_badge"},
	}
	for name, uses := range own {
		for _, use := range uses {
			if !strings.Contains(Template, use) {
				t.Errorf("app-worker.js no longer reads %s (%s)", name, use)
			}
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
	// Badges are the app badge calls: "set N" or "clear".
	Badges  []string `json:"badges"`
	Reports []struct {
		URL         string    `json:"url"`
		Method      string    `json:"method"`
		Credentials string    `json:"credentials"`
		ContentType string    `json:"contentType"`
		Body        api.Event `json:"body"`
	} `json:"reports"`
	Stored   []api.Subscription `json:"stored"`
	Opened   []string           `json:"opened"`
	Focused  []string           `json:"focused"`
	Traces   []api.TraceEvent   `json:"traces"`
	Rejected []string           `json:"rejected"`
	// Subscribed holds the applicationServerKey of each
	// pushManager.subscribe call, as bytes.
	Subscribed [][]byte `json:"subscribed"`
}

// runWorker plays scenarios through the worker under Node.js
// (sw/testdata/harness.js) and returns what it saw in each. A scenario's
// "data" is the push's payload text, null for a push without one; "then" is
// "click", "close", "change" (a pushsubscriptionchange instead of a push,
// with no newSubscription when "noNew" is set) or ""; "badge" is "none" for a
// browser without the Badging API, "fails" for one whose calls reject.
func runWorker(t *testing.T, scenarios []map[string]any) []observed {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the worker's behaviour is checked by the Playwright suite only")
	}
	dir := t.TempDir()
	worker := strings.NewReplacer("{{.Version}}", "test", "{{.ResourcesToCache}}", "[]").Replace(Template)
	if err := os.WriteFile(filepath.Join(dir, "worker.js"), []byte(worker), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(scenarios)
	if err != nil {
		t.Fatal(err)
	}
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
	if err := json.Unmarshal(out, &seen); err != nil || len(seen) != len(scenarios) {
		t.Fatalf("harness output %s: %v", out, err)
	}
	return seen
}

// payloadText is the text of a push whose payload is v, as the sender
// encrypts it.
func payloadText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkerReportsEvents runs the worker under Node.js, with the browser's
// part faked (sw/testdata/harness.js), and checks what it reports of a
// notification to the server, and that the reports change nothing of what
// the user sees: the notification, and the page a click opens.
func TestWorkerReportsEvents(t *testing.T) {
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
	var scenarios []map[string]any
	for _, tt := range tests {
		scenarios = append(scenarios, map[string]any{"data": payloadText(t, tt.payload), "then": tt.then, "action": tt.action,
			"refuseOptions": tt.refuseOptions, "reportsFail": tt.reportsFail})
	}
	seen := runWorker(t, scenarios)
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

// TestWorkerReadsDeclarativePayloads runs the worker under Node.js with
// payloads in the Declarative Web Push shape the server sends: the
// notification shown, the page a click opens (always on the worker's origin),
// the app badge, and the fallback for a payload it cannot show.
func TestWorkerReadsDeclarativePayloads(t *testing.T) {
	const id = "0193f2a1b2c3d4e5f60718293a.7.AAAAAAAAAAAAAAAAAAAAAA"
	// declarative is the payload of a notification whose members are given,
	// over a title, a navigate and two actions, one with a navigate.
	declarative := func(members map[string]any) map[string]any {
		n := map[string]any{
			"title": "Sale", "navigate": "https://kit.example/sale?from=push#top",
			"actions": []map[string]any{
				{"action": "buy", "title": "Buy", "navigate": "https://kit.example/buy", "icon": "/web/buy.png"},
				{"action": "later", "title": "Later"},
			},
		}
		for k, v := range members {
			n[k] = v
		}
		return map[string]any{"web_push": 8030, "notification": n}
	}
	full := declarative(map[string]any{
		"body": "Half price", "tag": "sale", "icon": "/web/icon-192.png", "requireInteraction": true,
		"vibrate": []int{100, 50}, "lang": "en", "dir": "ltr", "timestamp": 1700000000000,
		"data": map[string]any{"order": 4711, "url": "/kept-as-data"},
	})
	broadcast := declarative(nil)
	broadcast["messageId"] = id
	tests := []struct {
		name        string
		payload     any
		then        string // "click", "close" or ""
		action      string
		badge       string // "none", "fails" or "" (the Badging API works)
		wantShown   string
		wantOpened  string
		wantBadges  []string
		wantFields  map[string]string // of the trace: "step field" = value
		wantReports []string          // event types reported
	}{
		{name: "shown", payload: full, wantShown: "Sale",
			wantFields: map[string]string{"decoded title": "Sale", "show tag": "sale", "show body": "Half price"}},
		{name: "body clicked: navigate", payload: full, then: "click", wantShown: "Sale",
			wantOpened: "https://kit.example/sale?from=push#top"},
		{name: "action clicked: the action's navigate", payload: full, then: "click", action: "buy", wantShown: "Sale",
			wantOpened: "https://kit.example/buy"},
		{name: "action without navigate clicked: the notification's", payload: full, then: "click", action: "later", wantShown: "Sale",
			wantOpened: "https://kit.example/sale?from=push#top"},
		{name: "navigate on another origin: its page on this one", payload: declarative(map[string]any{"navigate": "http://localhost:8000/sale?from=push#top"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/sale?from=push#top"},
		{name: "action navigate on another origin: its page on this one", payload: declarative(map[string]any{"actions": []map[string]any{
			{"action": "buy", "title": "Buy", "navigate": "https://evil.example/buy"}}}),
			then: "click", action: "buy", wantShown: "Sale", wantOpened: "https://kit.example/buy"},
		{name: "navigate on another origin whose path names another host: /", payload: declarative(map[string]any{"navigate": "https://evil.example//evil.example/"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "navigate not a URL: /", payload: declarative(map[string]any{"navigate": "https://[bad"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "navigate to a file: /", payload: declarative(map[string]any{"navigate": "file:///sale"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "navigate a path, not an absolute URL: /", payload: declarative(map[string]any{"navigate": "/sale"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "navigate to a script: /", payload: declarative(map[string]any{"navigate": "javascript:alert(1)"}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "navigate whose path names another host: /", payload: declarative(map[string]any{"navigate": `https://kit.example/\evil.example/`}),
			then: "click", wantShown: "Sale", wantOpened: "https://kit.example/"},
		{name: "no navigate: /", payload: map[string]any{"web_push": 8030, "notification": map[string]any{"title": "Bare"}},
			then: "click", wantShown: "Bare", wantOpened: "https://kit.example/"},
		{name: "a broadcast reports with its messageId", payload: broadcast, then: "click", action: "buy", wantShown: "Sale",
			wantOpened: "https://kit.example/buy", wantReports: []string{api.EventShown, api.EventClicked}},
		{name: "app_badge sets the badge", payload: declarative(map[string]any{"app_badge": 3}), wantShown: "Sale",
			wantBadges: []string{"set 3"}, wantFields: map[string]string{"show app badge": "set to 3"}},
		{name: "app_badge 0 clears it", payload: declarative(map[string]any{"app_badge": 0}), wantShown: "Sale",
			wantBadges: []string{"clear"}, wantFields: map[string]string{"show app badge": "cleared"}},
		{name: "app_badge without the Badging API: shown all the same", payload: declarative(map[string]any{"app_badge": 3}), badge: "none",
			wantShown: "Sale", wantFields: map[string]string{"show app badge": "3, not set: this browser has no app badge"}},
		{name: "app_badge refused: shown all the same", payload: declarative(map[string]any{"app_badge": 3}), badge: "fails",
			wantShown: "Sale", wantFields: map[string]string{"show app badge": "3, not set: The badge could not be set."}},
		{name: "app_badge not a count: ignored", payload: declarative(map[string]any{"app_badge": -1}),
			wantShown: "Sale", wantFields: map[string]string{"show app badge": "ignored: -1 is not a number >= 0"}},
		{name: "no title: the fallback", payload: map[string]any{"web_push": 8030, "notification": map[string]any{"body": "no title", "navigate": "https://kit.example/"}},
			wantShown: "New notification", wantFields: map[string]string{"decoded fallback": "no title"}},
		{name: "empty title: the fallback", payload: declarative(map[string]any{"title": " "}),
			wantShown: "New notification", wantFields: map[string]string{"decoded fallback": "no title"}},
		{name: "notification not an object: the fallback", payload: map[string]any{"web_push": 8030, "notification": "Sale"},
			wantShown: "New notification", wantFields: map[string]string{"decoded fallback": "no title"}},
	}
	var scenarios []map[string]any
	for _, tt := range tests {
		scenarios = append(scenarios, map[string]any{"data": payloadText(t, tt.payload), "then": tt.then, "action": tt.action, "badge": tt.badge})
	}
	seen := runWorker(t, scenarios)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := seen[i]
			if len(got.Shown) != 1 || got.Shown[0].Title != tt.wantShown {
				t.Errorf("shown %+v, want one notification titled %q", got.Shown, tt.wantShown)
			}
			if len(got.Rejected) > 0 {
				t.Errorf("handlers failed: %v", got.Rejected)
			}
			if fmt.Sprint(got.Opened) != fmt.Sprint(nonEmpty(tt.wantOpened)) {
				t.Errorf("opened %v, want %q", got.Opened, tt.wantOpened)
			}
			if !slices.Equal(got.Badges, tt.wantBadges) {
				t.Errorf("app badge calls %q, want %q", got.Badges, tt.wantBadges)
			}
			fields := map[string]string{}
			for _, ev := range got.Traces {
				for _, f := range ev.Fields {
					fields[ev.Step+" "+f.Name] = f.Value
				}
			}
			for k, want := range tt.wantFields {
				if fields[k] != want {
					t.Errorf("%s = %q, want %q", k, fields[k], want)
				}
			}
			var reports []string
			for _, r := range got.Reports {
				reports = append(reports, r.Body.Type)
				if r.Body.MessageID != id {
					t.Errorf("report %+v, want the payload's messageId", r)
				}
			}
			if !slices.Equal(reports, tt.wantReports) {
				t.Errorf("reports %v, want %v", reports, tt.wantReports)
			}
		})
	}

	// What showNotification got for the full payload: its options as given,
	// the actions without their navigate (not an option), and the payload's
	// data in the envelope, beside what a click needs.
	options := seen[0].Shown[0].Options
	want := map[string]any{
		"body": "Half price", "tag": "sale", "icon": "/web/icon-192.png", "requireInteraction": true,
		"vibrate": []any{100.0, 50.0}, "lang": "en", "dir": "ltr", "timestamp": 1700000000000.0,
		"actions": []any{
			map[string]any{"action": "buy", "title": "Buy", "icon": "/web/buy.png"},
			map[string]any{"action": "later", "title": "Later"},
		},
		"data": map[string]any{
			"envelope": "pushstart-message", "messageId": "",
			"data":           map[string]any{"order": 4711.0, "url": "/kept-as-data"},
			"navigate":       "https://kit.example/sale?from=push#top",
			"actionNavigate": map[string]any{"buy": "https://kit.example/buy"},
		},
	}
	if !reflect.DeepEqual(options, want) {
		gotJSON, _ := json.MarshalIndent(options, "", " ")
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("showNotification options\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// TestWorkerTracesItsSteps runs the worker under Node.js and checks the
// steps it posts to the page for the Flow panel: their order, the fallback
// and its reason, what a click did, a renewed subscription named without its
// secret, and that a page refusing the posts changes nothing the user sees.
func TestWorkerTracesItsSteps(t *testing.T) {
	test := map[string]any{"title": "Test", "tag": "pushstart-test", "data": map[string]any{"url": "/t"}}
	tests := []struct {
		name     string
		scenario map[string]any
		// wantSteps is each step posted, "step ok" in order.
		wantSteps []string
		// wantFields are fields a step must carry: "step field" = value.
		wantFields  map[string]string
		wantShown   string
		wantOpened  string
		wantFocused string
		wantFailed  bool // a handler's promise rejected
	}{
		{
			name:      "a test send",
			scenario:  map[string]any{"data": payloadText(t, test)},
			wantSteps: []string{"push true", "decoded true", "show true"},
			wantFields: map[string]string{
				"push has data": "yes", "push payload bytes": fmt.Sprint(len(payloadText(t, test))),
				"decoded title": "Test", "show title": "Test", "show tag": "pushstart-test", "show data": `{"url":"/t"}`,
			},
			wantShown: "Test",
		},
		{
			name:       "clicked: a new window",
			scenario:   map[string]any{"data": payloadText(t, test), "then": "click"},
			wantSteps:  []string{"push true", "decoded true", "show true", "click true"},
			wantFields: map[string]string{"click url": "https://kit.example/t", "click window": "opened a new window", "click clicked": "the notification's body"},
			wantShown:  "Test", wantOpened: "https://kit.example/t",
		},
		{
			name: "clicked: the page is focused",
			scenario: map[string]any{"data": payloadText(t, map[string]any{"title": "Here", "data": map[string]any{"url": "/?page"}}),
				"then": "click"},
			wantSteps:  []string{"push true", "decoded true", "show true", "click true"},
			wantFields: map[string]string{"click window": "focused an existing window"},
			wantShown:  "Here", wantFocused: "https://kit.example/?page",
		},
		{
			name:       "closed",
			scenario:   map[string]any{"data": payloadText(t, test), "then": "close"},
			wantSteps:  []string{"push true", "decoded true", "show true", "close true"},
			wantFields: map[string]string{"close notification": "Test", "close tag": "pushstart-test"},
			wantShown:  "Test",
		},
		{
			name:       "no data: the fallback",
			scenario:   map[string]any{"data": nil},
			wantSteps:  []string{"push true", "decoded false", "show true"},
			wantFields: map[string]string{"push has data": "no", "push payload bytes": "0", "decoded fallback": "no data", "show title": "New notification"},
			wantShown:  "New notification",
		},
		{
			name:       "not JSON: the fallback",
			scenario:   map[string]any{"data": "hello"},
			wantSteps:  []string{"push true", "decoded false", "show true"},
			wantFields: map[string]string{"push payload bytes": "5", "decoded fallback": "not JSON"},
			wantShown:  "New notification",
		},
		{
			name:       "no title: the fallback",
			scenario:   map[string]any{"data": `{"body":"no title here"}`},
			wantSteps:  []string{"push true", "decoded false", "show true"},
			wantFields: map[string]string{"decoded fallback": "no title"},
			wantShown:  "New notification",
		},
		{
			name:       "options refused",
			scenario:   map[string]any{"data": payloadText(t, test), "refuseOptions": true},
			wantSteps:  []string{"push true", "decoded true", "show false"},
			wantFields: map[string]string{"show error": "options refused", "show title": "Test"},
			wantShown:  "Test",
		},
		{
			name:       "posting fails: shown and opened all the same",
			scenario:   map[string]any{"data": payloadText(t, test), "then": "click", "postFails": true},
			wantShown:  "Test",
			wantOpened: "https://kit.example/t",
		},
		{
			name:      "subscription renewed",
			scenario:  map[string]any{"then": "change"},
			wantSteps: []string{"subscription true"},
			wantFields: map[string]string{
				"subscription old endpoint": "push.example/wpush/v2/old-toke…",
				"subscription new endpoint": "push.example/wpush/v2/new-toke…",
				"subscription stored":       "yes",
			},
		},
		{
			name:       "subscription renewal not stored",
			scenario:   map[string]any{"then": "change", "storeFails": true},
			wantSteps:  []string{"subscription false"},
			wantFields: map[string]string{"subscription error": "POST /api/subscriptions answered 500: {}"},
			wantFailed: true,
		},
	}
	var scenarios []map[string]any
	for _, tt := range tests {
		scenarios = append(scenarios, tt.scenario)
	}
	seen := runWorker(t, scenarios)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := seen[i]
			var steps []string
			fields := map[string]string{}
			for _, ev := range got.Traces {
				steps = append(steps, fmt.Sprintf("%s %v", ev.Step, ev.OK))
				if ev.Actor != api.ActorWorker || ev.At.IsZero() || ev.Title == "" {
					t.Errorf("step %+v: want actor %q, a time and a title", ev, api.ActorWorker)
				}
				for _, f := range ev.Fields {
					fields[ev.Step+" "+f.Name] = f.Value
				}
			}
			if !slices.Equal(steps, tt.wantSteps) {
				t.Errorf("steps %q, want %q", steps, tt.wantSteps)
			}
			for k, want := range tt.wantFields {
				if fields[k] != want {
					t.Errorf("%s = %q, want %q", k, fields[k], want)
				}
			}
			raw, _ := json.Marshal(got.Traces)
			for _, secret := range []string{"old-token-0123456789", "new-token-9876543210", "auth-secret", "p256dh-key"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("a step gives away %q: %s", secret, raw)
				}
			}
			var shown string
			if len(got.Shown) > 0 {
				shown = got.Shown[len(got.Shown)-1].Title
			}
			if shown != tt.wantShown {
				t.Errorf("shown %+v, want %q", got.Shown, tt.wantShown)
			}
			if fmt.Sprint(got.Opened) != fmt.Sprint(nonEmpty(tt.wantOpened)) || fmt.Sprint(got.Focused) != fmt.Sprint(nonEmpty(tt.wantFocused)) {
				t.Errorf("opened %v, focused %v; want %q, %q", got.Opened, got.Focused, tt.wantOpened, tt.wantFocused)
			}
			if (len(got.Rejected) > 0) != tt.wantFailed {
				t.Errorf("handlers failed: %v, want failed %v", got.Rejected, tt.wantFailed)
			}
		})
	}
	if stored := seen[9].Stored; len(stored) != 1 || stored[0].OldEndpoint != "https://push.example/wpush/v2/old-token-0123456789" {
		t.Errorf("renewal stored %+v, want the new subscription with the old endpoint", stored)
	}
}

// TestWorkerResubscribesOnFirefoxsChange plays the pushsubscriptionchange
// Firefox fires when its push service forgot it (its hello answered with
// another uaid): the old subscription and no new one. The worker subscribes
// again with the old subscription's key and stores the new subscription
// with the old endpoint, so that the server replaces the row.
func TestWorkerResubscribesOnFirefoxsChange(t *testing.T) {
	got := runWorker(t, []map[string]any{{"then": "change", "noNew": true}})[0]
	if len(got.Rejected) > 0 {
		t.Fatalf("handlers failed: %v", got.Rejected)
	}
	if len(got.Subscribed) != 1 || !slices.Equal(got.Subscribed[0], []byte{4, 1, 2}) {
		t.Errorf("subscribed with keys %v, want once with the old subscription's key [4 1 2]", got.Subscribed)
	}
	want := api.Subscription{Endpoint: "https://push.example/wpush/v2/fresh-token-5555555555",
		OldEndpoint: "https://push.example/wpush/v2/old-token-0123456789"}
	if len(got.Stored) != 1 || got.Stored[0].Endpoint != want.Endpoint || got.Stored[0].OldEndpoint != want.OldEndpoint {
		t.Errorf("stored %+v, want the new endpoint %s replacing %s", got.Stored, want.Endpoint, want.OldEndpoint)
	}
}

// nonEmpty is s as a list of one, or none for "".
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
