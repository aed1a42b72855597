package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pushstart/api"
)

// queued is a broadcast as POST /api/notifications accepts it.
func queued(id string, total int) api.BroadcastStatus {
	return api.BroadcastStatus{ID: id, Status: api.StatusQueued, Title: "Hello", Audience: "everyone", Total: total,
		CreatedAt: time.Date(2026, 5, 1, 7, 0, 0, 0, time.UTC)}
}

// progressed is s with its status and counts moved on.
func progressed(s api.BroadcastStatus, status string, sent, failed, pruned int) api.BroadcastStatus {
	s.Status, s.Sent, s.Failed, s.Pruned = status, sent, failed, pruned
	return s
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// noToken fails the test if the admin token shows in what a command printed.
func noToken(t *testing.T, r result, token string) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Errorf("the admin token was printed:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
}

func TestSendBody(t *testing.T) {
	jsonFile := filepath.Join(t.TempDir(), "broadcast.json")
	fromFile := `{"notification": {"title": "From a file", "actions": [{"action": "a", "title": "A"}]}, "to": {"tags": ["news"]}}`
	if err := os.WriteFile(jsonFile, []byte(fromFile), 0o600); err != nil {
		t.Fatal(err)
	}
	fromStdin := `{"notification": {"title": "From stdin"}, "ttl": 0}`

	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{
			name: "title only",
			args: []string{"--title", "Hello"},
			want: `{"notification": {"title": "Hello"}, "ttl": null, "urgency": "", "topic": ""}`,
		},
		{
			name: "the notification",
			args: []string{"--title", "Hello", "--body", "From the shell", "--open", "/news?id=1", "--icon", "/icon-192.png", "--tag", "daily"},
			want: `{"notification": {"title": "Hello", "body": "From the shell", "icon": "/icon-192.png", "tag": "daily", "data": {"url": "/news?id=1"}},
				"ttl": null, "urgency": "", "topic": ""}`,
		},
		{
			name: "headers",
			args: []string{"--title", "Hello", "--ttl", "60", "--urgency", "high", "--topic", "scores"},
			want: `{"notification": {"title": "Hello"}, "ttl": 60, "urgency": "high", "topic": "scores"}`,
		},
		{
			name: "a TTL of 0 is sent, not left out",
			args: []string{"--title", "Hello", "--ttl", "0"},
			want: `{"notification": {"title": "Hello"}, "ttl": 0, "urgency": "", "topic": ""}`,
		},
		{
			name: "tags",
			args: []string{"--title", "Hello", "--to-tag", "news", "--to-tag", "sport"},
			want: `{"notification": {"title": "Hello"}, "ttl": null, "urgency": "", "topic": "", "to": {"tags": ["news", "sport"]}}`,
		},
		{
			name: "users",
			args: []string{"--title", "Hello", "--to-user", "ada", "--to-user", "grace"},
			want: `{"notification": {"title": "Hello"}, "ttl": null, "urgency": "", "topic": "", "to": {"users": ["ada", "grace"]}}`,
		},
		{
			name: "endpoints",
			args: []string{"--title", "Hello", "--to-endpoint", "https://fcm.googleapis.com/fcm/send/abc"},
			want: `{"notification": {"title": "Hello"}, "ttl": null, "urgency": "", "topic": "", "to": {"endpoints": ["https://fcm.googleapis.com/fcm/send/abc"]}}`,
		},
		{
			name: "scheduled",
			args: []string{"--title", "Hello", "--at", "2026-05-01T09:00:00+02:00"},
			want: `{"notification": {"title": "Hello"}, "ttl": null, "urgency": "", "topic": "", "sendAt": "2026-05-01T09:00:00+02:00"}`,
		},
		{
			name: "--json FILE is sent as written",
			args: []string{"--json", jsonFile},
			want: fromFile,
		},
		{
			name:  "--json - reads stdin",
			args:  []string{"--json", "-"},
			stdin: fromStdin,
			want:  fromStdin,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.created = queued("b1", 3)
			r := run(t, f.env(), tt.stdin, append([]string{"send"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			req := reqs[0]
			if req.Method != "POST" || req.Path != "/api/notifications" || req.ContentType != "application/json" || req.Authorization != "Bearer "+testToken {
				t.Errorf("request %s %s, Content-Type %q, Authorization %q", req.Method, req.Path, req.ContentType, req.Authorization)
			}
			if !sameJSON(t, req.Body, []byte(tt.want)) {
				t.Errorf("body\n%s\nwant\n%s", req.Body, tt.want)
			}
			for _, want := range []string{"id:       b1\n", "status:   queued\n", "total:    3\n", "location: " + f.srv.URL + "/api/notifications/b1\n"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout %q lacks %q", r.stdout, want)
				}
			}
			noToken(t, r, testToken)
		})
	}
}

func TestSendUsageErrors(t *testing.T) {
	badJSON := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badJSON, []byte(`{"notification": `), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string // added to the fake API's
		want []string          // in stderr
	}{
		{name: "no title", args: nil, want: []string{"--title is required"}},
		{name: "blank title", args: []string{"--title", " "}, want: []string{"--title is required"}},
		{name: "unknown flag", args: []string{"--titel", "Hello"}, want: []string{"-titel", "pushstart help send"}},
		{name: "unquoted words", args: []string{"--title", "Hello", "world"}, want: []string{`unexpected argument "world"`}},
		{name: "TTL not a number", args: []string{"--title", "Hello", "--ttl", "1d"}, want: []string{"-ttl"}},
		{name: "negative TTL", args: []string{"--title", "Hello", "--ttl", "-1"}, want: []string{"--ttl: must be between 0 and"}},
		{name: "urgency", args: []string{"--title", "Hello", "--urgency", "urgent"}, want: []string{"--urgency: must be very-low, low, normal or high"}},
		{name: "topic", args: []string{"--title", "Hello", "--topic", "a topic"}, want: []string{"--topic:"}},
		{name: "open on another origin", args: []string{"--title", "Hello", "--open", "https://evil.example/"}, want: []string{"--open: must be a same-origin path"}},
		{name: "tag in capitals", args: []string{"--title", "Hello", "--to-tag", "News"}, want: []string{"--to-tag:", `"News"`}},
		{name: "two kinds of audience", args: []string{"--title", "Hello", "--to-tag", "news", "--to-user", "ada"}, want: []string{"one kind of audience"}},
		{name: "time", args: []string{"--title", "Hello", "--at", "tomorrow 9:00"}, want: []string{`--at "tomorrow 9:00"`, "RFC 3339"}},
		{name: "json with a flag", args: []string{"--json", "-", "--title", "Hello"}, want: []string{"--json FILE is the whole request body", "--title"}},
		{name: "json with an audience", args: []string{"--to-tag", "news", "--json", "-"}, want: []string{"--to-tag cannot be given"}},
		{name: "json not JSON", args: []string{"--json", badJSON}, want: []string{"--json:", "not valid JSON"}},
		{name: "json missing", args: []string{"--json", filepath.Join(t.TempDir(), "none.json")}, want: []string{"--json:", "no such file"}},
		{name: "status and cancel", args: []string{"--status", "b1", "--cancel", "b1"}, want: []string{"--status and --cancel"}},
		{name: "status without id", args: []string{"--status", ""}, want: []string{"--status needs"}},
		{name: "status with a title", args: []string{"--status", "b1", "--title", "Hello"}, want: []string{"--status is about a broadcast already sent", "--title"}},
		{name: "cancel and wait", args: []string{"--cancel", "b1", "--wait"}, want: []string{"--cancel", "--wait"}},
		{name: "url not http", args: []string{"--title", "Hello", "--url", "ftp://example.com"}, want: []string{"--url", "http:// or https://"}},
		{name: "url without host", args: []string{"--title", "Hello", "--url", "localhost:8000"}, want: []string{"--url"}},
		{name: "url with a password", args: []string{"--title", "Hello", "--url", "https://ops:pw@push.example.com"}, want: []string{"--url", "without user name"}},
		{
			name: "plain http to another machine",
			args: []string{"--title", "Hello", "--url", "http://push.example.com"},
			want: []string{"--url http://push.example.com", "unencrypted", "use https://", "--insecure"},
		},
		{
			name: "plain http to another machine from the environment",
			args: []string{"--title", "Hello"},
			env:  map[string]string{"PUSHSTART_URL": "http://192.0.2.10:8000"},
			want: []string{"http://192.0.2.10:8000", "--insecure"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			env := f.env()
			for k, v := range tt.env {
				env[k] = v
			}
			r := run(t, env, `{"notification": {"title": "Hello"}}`, append([]string{"send"}, tt.args...)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent after a usage error", n)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q after a usage error", r.stdout)
			}
			noToken(t, r, testToken)
		})
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSendInsecure(t *testing.T) {
	var got *http.Request
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		b, _ := json.Marshal(queued("b1", 1))
		return &http.Response{StatusCode: 202, Status: "202 Accepted", Body: io.NopCloser(strings.NewReader(string(b))),
			Header: http.Header{"Content-Type": {"application/json"}}, Request: r}, nil
	})}
	var stdout, stderr strings.Builder
	sys := IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Client: client,
		Getenv: func(k string) string { return map[string]string{"ADMIN_TOKEN": testToken}[k] }}
	code := send(t.Context(), []string{"--url", "http://10.0.0.5:8000", "--insecure", "--title", "Hello"}, sys, followDefaults)
	if code != 0 || got == nil || got.URL.String() != "http://10.0.0.5:8000/api/notifications" {
		t.Errorf("exit %d, stderr %q, request %v; want it sent with --insecure", code, stderr.String(), got)
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		base string // the API's POST address
	}{
		{url: "http://localhost:8000", ok: true, base: "http://localhost:8000/api/notifications"},
		{url: "http://LOCALHOST", ok: true},
		{url: "http://127.0.0.1:8000/", ok: true, base: "http://127.0.0.1:8000/api/notifications"},
		{url: "http://127.8.9.1", ok: true},
		{url: "http://[::1]:8000", ok: true},
		{url: "http://[::ffff:127.0.0.1]:8000", ok: true},
		{url: "https://push.example.com", ok: true, base: "https://push.example.com/api/notifications"},
		{url: "https://example.com/push/", ok: true, base: "https://example.com/push/api/notifications"},
		{url: "http://push.example.com"},
		{url: "http://localhost.example.com"},
		{url: "http://10.0.0.1:8000"},
		{url: "http://[fe80::1]:8000"},
		{url: "http://0.0.0.0:8000"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := checkURL(tt.url, false)
			if (err == nil) != tt.ok {
				t.Fatalf("checkURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
			if tt.base != "" {
				if got := (&client{base: u}).url(api.PathNotifications); got != tt.base {
					t.Errorf("url = %q, want %q", got, tt.base)
				}
			}
			if !tt.ok {
				if _, err := checkURL(tt.url, true); err != nil {
					t.Errorf("with --insecure: %v", err)
				}
			}
		})
	}
}

func TestSendWait(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 3)
	f.created = b
	f.streams = [][]api.BroadcastStatus{{
		progressed(b, api.StatusSending, 1, 0, 0),
		progressed(b, api.StatusSending, 2, 0, 0),
		progressed(b, api.StatusSending, 2, 0, 0), // no change: no line
		progressed(b, api.StatusDone, 2, 0, 1),
		progressed(b, api.StatusDone, 2, 0, 1), // after the end: never read
	}}
	r := run(t, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "id:       b1\n" +
		"location: " + f.srv.URL + "/api/notifications/b1\n" +
		"queued: 0 sent, 0 failed, 0 pruned of 3\n" +
		"sending: 1 sent, 0 failed, 0 pruned of 3\n" +
		"sending: 2 sent, 0 failed, 0 pruned of 3\n" +
		"done: 2 sent, 0 failed, 1 pruned of 3\n"
	if r.stdout != want {
		t.Errorf("stdout\n%s\nwant\n%s", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want POST and events: %+v", len(reqs), reqs)
	}
	if ev := reqs[1]; ev.Method != "GET" || ev.Path != "/api/notifications/b1/events" || ev.Accept != "text/event-stream" || ev.Authorization != "Bearer "+testToken {
		t.Errorf("events request %s %s, Accept %q, Authorization %q", ev.Method, ev.Path, ev.Accept, ev.Authorization)
	}
	noToken(t, r, testToken)
}

func TestSendWaitCanceled(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 3)
	f.created = b
	f.streams = [][]api.BroadcastStatus{{progressed(b, api.StatusSending, 1, 0, 0), progressed(b, api.StatusCanceled, 1, 0, 0)}}
	r := run(t, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 for a canceled broadcast", r.code)
	}
	if !strings.HasSuffix(r.stdout, "canceled: 1 sent, 0 failed, 0 pruned of 3\n") || !strings.Contains(r.stderr, "b1 was canceled") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// TestSendWaitStreamEnds checks that a stream ending before the broadcast
// does (a proxy's idle timeout, a restart) loses nothing: the status is
// asked for and the stream opened again, and what the new stream repeats is
// not printed twice.
func TestSendWaitStreamEnds(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 2)
	f.created = b
	f.status = progressed(b, api.StatusSending, 1, 0, 0)
	f.streams = [][]api.BroadcastStatus{
		{progressed(b, api.StatusSending, 1, 0, 0)},
		{},
		{progressed(b, api.StatusSending, 1, 0, 0), progressed(b, api.StatusDone, 1, 1, 0)},
	}
	r := run(t, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "queued: 0 sent, 0 failed, 0 pruned of 2\nsending: 1 sent, 0 failed, 0 pruned of 2\ndone: 1 sent, 1 failed, 0 pruned of 2\n"
	if !strings.HasSuffix(r.stdout, want) || strings.Count(r.stdout, "\n") != 5 {
		t.Errorf("stdout\n%s\nwant it to end with\n%s", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q: a stream that ends cleanly is no failure", r.stderr)
	}
	var paths []string
	for _, req := range f.requests() {
		paths = append(paths, req.Method+" "+req.Path)
	}
	wantPaths := []string{"POST /api/notifications",
		"GET /api/notifications/b1/events", "GET /api/notifications/b1",
		"GET /api/notifications/b1/events", "GET /api/notifications/b1",
		"GET /api/notifications/b1/events"}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Errorf("requests\n%q\nwant\n%q", paths, wantPaths)
	}
}

func TestSendWaitEndsWithTheStatus(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 1)
	f.created = b
	f.status = progressed(b, api.StatusDone, 1, 0, 0)
	// The stream ends at once; the broadcast finished in between.
	r := run(t, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "done: 1 sent, 0 failed, 0 pruned of 1\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want POST, events, GET", n)
	}
}

func TestSendWaitServerGone(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 1)
	f.created = b
	f.status = progressed(b, api.StatusSending, 0, 0, 0)
	f.eventsDown = http.StatusBadGateway
	r := run(t, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{"trying again", "lost touch with the server", "502 Bad Gateway", "--status b1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	// Three attempts (the test's retry policy), each an events request and a GET.
	if n := len(f.requests()); n != 1+3*2 {
		t.Errorf("%d requests, want 7", n)
	}
}

func TestSendWaitInterrupted(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 1)
	f.created = b
	f.streams = [][]api.BroadcastStatus{{progressed(b, api.StatusSending, 0, 0, 0)}}
	f.hang = true
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	r := runWith(t, ctx, testPolicy, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 130 {
		t.Errorf("exit %d, want 130", r.code)
	}
	if !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stderr, "--status b1") || !strings.Contains(r.stderr, "--cancel b1") {
		t.Errorf("stderr %q: want how to see and stop the broadcast", r.stderr)
	}
}

// TestSendWaitSilentStream checks that a stream on which nothing comes, not
// even the server's keep-alive comments, is taken for a dead connection.
func TestSendWaitSilentStream(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 1)
	f.created = b
	f.streams = [][]api.BroadcastStatus{{progressed(b, api.StatusSending, 0, 0, 0)}}
	f.hang = true
	f.statuses = []api.BroadcastStatus{progressed(b, api.StatusSending, 0, 0, 0), progressed(b, api.StatusDone, 1, 0, 0)}
	policy := testPolicy
	policy.Idle = 50 * time.Millisecond
	r := runWith(t, t.Context(), policy, f.env(), "", "send", "--title", "Hello", "--wait")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "done: 1 sent, 0 failed, 0 pruned of 1\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "silent for 50ms") {
		t.Errorf("stderr %q does not say the stream fell silent", r.stderr)
	}
}

func TestSendAPIError(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		body   api.Error
		want   []string
		reject []string
	}{
		{
			name:   "a field, by its flag",
			args:   []string{"--title", "Hello", "--to-user", "nobody"},
			status: 400, body: api.Error{Error: "to.users[0] is not a known user", Field: "to.users[0]"},
			want: []string{"400 Bad Request: to.users[0] is not a known user", "field: to.users[0] (--to-user)"},
		},
		{
			name:   "a field of --json",
			args:   []string{"--json", "-"},
			status: 400, body: api.Error{Error: "notification.data.url must be a same-origin path", Field: "notification.data.url"},
			want:   []string{"notification.data.url must be a same-origin path", "field: notification.data.url\n"},
			reject: []string{"--open"},
		},
		{
			name:   "no field",
			args:   []string{"--title", "Hello"},
			status: 429, body: api.Error{Error: "too many requests: broadcasts; try again in 30 s"},
			want:   []string{"429 Too Many Requests: too many requests"},
			reject: []string{"field:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.refuse.Status, f.refuse.Body = tt.status, tt.body
			r := run(t, f.env(), `{"notification": {"title": "Hello", "data": {"url": "x"}}}`, append([]string{"send"}, tt.args...)...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
			for _, reject := range tt.reject {
				if strings.Contains(r.stderr, reject) {
					t.Errorf("stderr %q has %q", r.stderr, reject)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

func TestSendWrongToken(t *testing.T) {
	f := newFakeAPI(t)
	const wrong = "not-the-admin-token-at-all"
	r := run(t, map[string]string{"PUSHSTART_URL": f.srv.URL, "ADMIN_TOKEN": wrong}, "", "send", "--title", "Hello")
	if r.code != 1 || !strings.Contains(r.stderr, "401 Unauthorized: admin token required") || !strings.Contains(r.stderr, "came from ADMIN_TOKEN") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	noToken(t, r, wrong)
}

func TestSendToken(t *testing.T) {
	tokenDir := func(t *testing.T, content string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	fileDir := tokenDir(t, testToken+"\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		cwd  bool // run in a directory whose ./data holds the token
		code int
		want string // in stderr
	}{
		{name: "--data-dir", args: []string{"--data-dir", fileDir}},
		{name: "DATA_DIR", env: map[string]string{"DATA_DIR": fileDir}},
		{name: "--data-dir wins over DATA_DIR", args: []string{"--data-dir", fileDir}, env: map[string]string{"DATA_DIR": t.TempDir()}},
		{name: "./data", cwd: true},
		{name: "ADMIN_TOKEN wins over the file", args: []string{"--data-dir", tokenDir(t, "stale-token-from-the-file")},
			env: map[string]string{"ADMIN_TOKEN": testToken}},
		{name: "--token wins over ADMIN_TOKEN", args: []string{"--token", testToken},
			env: map[string]string{"ADMIN_TOKEN": "stale-token-from-the-env"}},
		{name: "no file", args: []string{"--data-dir", filepath.Join(t.TempDir(), "data")}, code: 1,
			want: "data/admin-token does not exist"},
		{name: "empty file", args: []string{"--data-dir", tokenDir(t, " \n")}, code: 1, want: "admin-token is empty"},
		{name: "control character", args: []string{"--token", "line\nbreak-in-the-token"}, code: 1, want: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.created = queued("b1", 1)
			env := map[string]string{"PUSHSTART_URL": f.srv.URL}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.cwd {
				dir := tokenDir(t, testToken)
				if err := os.Rename(dir, filepath.Join(filepath.Dir(dir), "data")); err != nil {
					t.Fatal(err)
				}
				t.Chdir(filepath.Dir(dir))
			}
			r := run(t, env, "", append([]string{"send", "--title", "Hello"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
			if tt.code == 0 {
				if reqs := f.requests(); len(reqs) != 1 || reqs[0].Authorization != "Bearer "+testToken {
					t.Errorf("requests %+v: want one with the right token", reqs)
				}
			} else if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests without a token", n)
			}
			noToken(t, r, testToken)
		})
	}
}

func TestSendStatus(t *testing.T) {
	f := newFakeAPI(t)
	started := time.Date(2026, 5, 1, 7, 0, 1, 0, time.UTC)
	s := progressed(queued("b1", 4), api.StatusSending, 2, 1, 0)
	s.StartedAt = &started
	f.status = s
	r := run(t, f.env(), "", "send", "--status", "b1")
	want := "id:       b1\nstatus:   sending\ntitle:    Hello\naudience: everyone\ntotal:    4\n" +
		"sent:     2\nfailed:   1\npruned:   0\nskipped:  0\ncreated:  2026-05-01T07:00:00Z\nstarted:  2026-05-01T07:00:01Z\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", r.code, r.stderr, r.stdout, want)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/api/notifications/b1" {
		t.Errorf("requests %+v", reqs)
	}

	r = run(t, f.env(), "", "send", "--status", "b2")
	if r.code != 1 || !strings.Contains(r.stderr, "404 Not Found: no broadcast b2") {
		t.Errorf("unknown id: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSendStatusWait(t *testing.T) {
	f := newFakeAPI(t)
	b := queued("b1", 2)
	f.status = progressed(b, api.StatusSending, 1, 0, 0)
	f.streams = [][]api.BroadcastStatus{{progressed(b, api.StatusDone, 2, 0, 0)}}
	r := run(t, f.env(), "", "send", "--status", "b1", "--wait")
	want := "sending: 1 sent, 0 failed, 0 pruned of 2\ndone: 2 sent, 0 failed, 0 pruned of 2\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout %q, want %q", r.code, r.stderr, r.stdout, want)
	}

	// A broadcast already over is not followed.
	f.status = progressed(b, api.StatusCanceled, 1, 0, 0)
	before := len(f.requests())
	r = run(t, f.env(), "", "send", "--status", "b1", "--wait")
	if r.code != 1 || r.stdout != "canceled: 1 sent, 0 failed, 0 pruned of 2\n" || len(f.requests()) != before+1 {
		t.Errorf("exit %d, stdout %q, %d requests", r.code, r.stdout, len(f.requests())-before)
	}
}

func TestSendCancel(t *testing.T) {
	f := newFakeAPI(t)
	f.status = progressed(queued("b1", 4), api.StatusSending, 2, 0, 0)
	r := run(t, f.env(), "", "send", "--cancel", "b1")
	if r.code != 0 || !strings.Contains(r.stdout, "status:   canceled\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Method != "DELETE" || reqs[0].Path != "/api/notifications/b1" {
		t.Errorf("requests %+v", reqs)
	}
}

// TestSendNotTheAPI points send at servers that are not the kit's API.
func TestSendNotTheAPI(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{
			name: "a redirect is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://push.example.com/api/notifications", http.StatusMovedPermanently)
			},
			want: "redirects to https://push.example.com/api/notifications; give that address as --url",
		},
		{
			name: "a web page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html>hello</html>")
			},
			want: "not the API's JSON",
		},
		{
			name: "an older server, which sent at once and answered with counts",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]int{"total": 2, "sent": 2, "failed": 0, "pruned": 0})
			},
			want: "200 OK: the answer names no broadcast",
		},
		{
			name: "a proxy's error page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
			},
			want: "502 Bad Gateway: the answer (text/html) is not the API's",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				tt.handler(w, r)
			}))
			defer srv.Close()
			r := run(t, map[string]string{"PUSHSTART_URL": srv.URL, "ADMIN_TOKEN": testToken}, "", "send", "--title", "Hello")
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
			if n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestSendNoServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	r := run(t, map[string]string{"PUSHSTART_URL": srv.URL, "ADMIN_TOKEN": testToken}, "", "send", "--title", "Hello")
	if r.code != 1 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "is pushstart running at "+srv.URL+"?") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	noToken(t, r, testToken)
}
