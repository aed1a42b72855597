//go:build !wasm

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/push"
)

const bearer = "Bearer " + testAdminToken

// subscribeAs saves a subscription to path on the test push service as user
// (through the identity function) with tags.
func (e *testEnv) subscribeAs(t *testing.T, path, user string, tags ...string) {
	t.Helper()
	sub := newSubscription(t, e.push.URL+path)
	if tags != nil {
		sub["tags"] = tags
	}
	e.user.Store(user)
	defer e.user.Store("")
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != 201 {
		t.Fatalf("subscribe %s: %d %v", path, res.StatusCode, out)
	}
}

// recordPaths makes the test push service remember the paths it is sent
// to.
func (e *testEnv) recordPaths() func() []string {
	var mu sync.Mutex
	var paths []string
	inner := e.push.Config.Handler
	e.push.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

func TestBroadcastIsAcceptedThenSent(t *testing.T) {
	e := newTestEnv(t)
	for i := range 10 {
		e.subscribeAs(t, fmt.Sprintf("/push/%d", i), "")
	}
	res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "Hello"}}, "Authorization", bearer)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d %v, want 202", res.StatusCode, out)
	}
	id, _ := out["id"].(string)
	if id == "" || out["total"] != 10.0 || (out["status"] != "queued" && out["status"] != "sending") {
		t.Errorf("answer %v, want an id, total 10, queued", out)
	}
	if loc := res.Header.Get("Location"); loc != "/api/notifications/"+id {
		t.Errorf("Location %q, want /api/notifications/%s", loc, id)
	}
	done := e.waitBroadcast(t, id)
	if done["status"] != "done" || done["sent"] != 10.0 || done["failed"] != 0.0 || done["pruned"] != 0.0 ||
		done["title"] != "Hello" || done["audience"] != "everyone" || done["startedAt"] == nil || done["finishedAt"] == nil {
		t.Errorf("finished broadcast %v, want done with 10 sent", done)
	}
	if n := e.push.hits.Load(); n != 10 {
		t.Errorf("push service got %d pushes, want 10 (one per subscription)", n)
	}
	ds, err := e.store.Deliveries(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 10 || ds[0].BroadcastID != id || ds[0].Host == "" {
		t.Errorf("delivery log has %d rows (first %+v), want 10 of broadcast %s with the push service's host", len(ds), ds[0], id)
	}
}

func TestBroadcastPrunesAndCountsFailures(t *testing.T) {
	e := newTestEnv(t)
	for i := range 3 {
		e.subscribeAs(t, fmt.Sprintf("/push/%d", i), "")
	}
	e.push.status.Store(http.StatusGone)
	_, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "x"}}, "Authorization", bearer)
	done := e.waitBroadcast(t, out["id"].(string))
	if done["pruned"] != 3.0 || done["sent"] != 0.0 {
		t.Errorf("after 410s: %v, want 3 pruned", done)
	}
	if n, _ := e.store.Count(context.Background()); n != 0 {
		t.Errorf("%d subscriptions left, want the 3 gone ones deleted", n)
	}
}

func TestBroadcastAudience(t *testing.T) {
	e := newTestEnv(t)
	paths := e.recordPaths()
	e.subscribeAs(t, "/push/news", "", "news")
	e.subscribeAs(t, "/push/both", "", "news", "reminders")
	e.subscribeAs(t, "/push/reminders", "", "reminders")
	e.subscribeAs(t, "/push/alice", "alice")
	e.subscribeAs(t, "/push/bob", "bob", "news")
	e.subscribeAs(t, "/push/none", "")

	send := func(t *testing.T, to map[string]any) []string {
		t.Helper()
		before := len(paths())
		body := map[string]any{"notification": map[string]any{"title": "x"}}
		if to != nil {
			body["to"] = to
		}
		res, out := e.do(t, "POST", "/api/notifications", body, "Authorization", bearer)
		if res.StatusCode != 202 {
			t.Fatalf("POST to %v: %d %v", to, res.StatusCode, out)
		}
		done := e.waitBroadcast(t, out["id"].(string))
		got := paths()[before:]
		if int(done["sent"].(float64)) != len(got) || done["total"] != out["total"] {
			t.Errorf("broadcast %v: %d pushes seen, accepted total %v", done, len(got), out["total"])
		}
		return sorted(got)
	}
	for _, tt := range []struct {
		name string
		to   map[string]any
		want []string
	}{
		{"a tag", map[string]any{"tags": []string{"reminders"}}, []string{"/push/both", "/push/reminders"}},
		{"any of two tags", map[string]any{"tags": []string{"news", "reminders"}}, []string{"/push/bob", "/push/both", "/push/news", "/push/reminders"}},
		{"users", map[string]any{"users": []string{"alice", "carol"}}, []string{"/push/alice"}},
		{"endpoints", map[string]any{"endpoints": []string{e.push.URL + "/push/none", e.push.URL + "/push/unknown"}}, []string{"/push/none"}},
		{"a tag nobody has", map[string]any{"tags": []string{"sports"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(t, tt.to); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("sent to %v, want %v", got, tt.want)
			}
		})
	}
	if got := send(t, nil); len(got) != 6 {
		t.Errorf("without \"to\": sent to %v, want all 6", got)
	}

	for _, tt := range []struct {
		name  string
		to    any
		field string
	}{
		{"unknown key", map[string]any{"groups": []string{"a"}}, "to.groups"},
		{"two kinds", map[string]any{"tags": []string{"a"}, "users": []string{"b"}}, "to"},
		{"empty", map[string]any{}, "to"},
		{"bad tag", map[string]any{"tags": []string{"News"}}, "to.tags[0]"},
		{"endpoint not allowed", map[string]any{"endpoints": []string{"https://evil.example/push/x"}}, "to.endpoints[0]"},
		{"empty user", map[string]any{"users": []string{"ok", ""}}, "to.users[1]"},
		{"too many users", map[string]any{"users": make([]string, maxAudience+1)}, "to.users"},
		{"null", nil, "to"},
	} {
		t.Run("refused "+tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "x"}, "to": tt.to}, "Authorization", bearer)
			if res.StatusCode != 400 || out["field"] != tt.field {
				t.Errorf("%d %v, want 400 naming %s", res.StatusCode, out, tt.field)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestSubscriptionTagsAndUser(t *testing.T) {
	e := newTestEnv(t)
	sub := newSubscription(t, e.push.URL+"/push/t")
	sub["tags"] = []string{"reminders", "news"}
	e.user.Store("alice")
	res, out := e.do(t, "POST", "/api/subscriptions", sub)
	if res.StatusCode != 201 || fmt.Sprint(out["tags"]) != "[news reminders]" {
		t.Fatalf("save with tags: %d %v, want 201 with tags [news reminders]", res.StatusCode, out)
	}
	// The page re-saves without tags on every visit: they stay, and so
	// does the user when the request has none.
	delete(sub, "tags")
	e.user.Store("")
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != 200 || fmt.Sprint(out["tags"]) != "[news reminders]" {
		t.Errorf("re-save without tags: %d %v, want the tags kept", res.StatusCode, out)
	}
	got, err := e.store.Get(context.Background(), e.push.URL+"/push/t")
	if err != nil || got.UserID != "alice" {
		t.Errorf("stored user %q (%v), want alice kept", got.UserID, err)
	}
	sub["tags"] = []string{}
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != 200 || fmt.Sprint(out["tags"]) != "[]" {
		t.Errorf("save with tags []: %d %v, want them cleared", res.StatusCode, out)
	}
	sub["tags"] = []string{"ok", "Bad Tag"}
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != 400 || out["field"] != "tags[1]" {
		t.Errorf("a bad tag: %d %v, want 400 naming tags[1]", res.StatusCode, out)
	}
	// The user ID comes from the server's function, never from the body.
	sub["tags"] = []string{}
	sub["userId"] = "mallory"
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != 400 || out["field"] != "userId" {
		t.Errorf("a userId in the body: %d %v, want 400 naming userId", res.StatusCode, out)
	}
}

func TestIdentityRefusal(t *testing.T) {
	e := newTestEnv(t)
	e.srv.userOf = identify(func(*http.Request) (string, error) { return "", fmt.Errorf("session expired") })
	res, out := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/t"))
	if res.StatusCode != 401 || strings.Contains(fmt.Sprint(out), "session expired") {
		t.Errorf("identity error: %d %v, want 401 without the function's text", res.StatusCode, out)
	}
	e.srv.userOf = identify(func(*http.Request) (string, error) { return strings.Repeat("u", push.MaxUserIDLen+1), nil })
	if res, _ := e.do(t, "POST", "/api/subscriptions", newSubscription(t, e.push.URL+"/push/t")); res.StatusCode != 500 {
		t.Errorf("an over-long user ID from the identity function: %d, want 500 (a server fault)", res.StatusCode)
	}
}

func TestScheduledBroadcastCancel(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/a", "")
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "Later"},
		"sendAt": at.Format(time.RFC3339)}, "Authorization", bearer)
	if res.StatusCode != 202 || out["status"] != "scheduled" || out["sendAt"] != at.Format(time.RFC3339) {
		t.Fatalf("scheduled: %d %v, want 202 scheduled at %s", res.StatusCode, out, at.Format(time.RFC3339))
	}
	id := out["id"].(string)
	res, out = e.do(t, "DELETE", "/api/notifications/"+id, nil, "Authorization", bearer)
	if res.StatusCode != 200 || out["status"] != "canceled" || out["finishedAt"] == nil {
		t.Errorf("cancel: %d %v, want 200 canceled", res.StatusCode, out)
	}
	if res, _ := e.do(t, "DELETE", "/api/notifications/nope", nil, "Authorization", bearer); res.StatusCode != 404 {
		t.Errorf("cancel an unknown id: %d, want 404", res.StatusCode)
	}
	if e.push.hits.Load() != 0 {
		t.Errorf("a canceled scheduled broadcast sent %d pushes", e.push.hits.Load())
	}

	// A time in the past means now.
	_, out = e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "Now"},
		"sendAt": time.Now().Add(-time.Minute).Format(time.RFC3339)}, "Authorization", bearer)
	if done := e.waitBroadcast(t, out["id"].(string)); done["sent"] != 1.0 || done["sendAt"] != nil {
		t.Errorf("sendAt in the past: %v, want sent at once", done)
	}
	for _, v := range []any{"tomorrow", "2026-13-01T00:00:00Z", time.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339), 5} {
		res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "x"}, "sendAt": v}, "Authorization", bearer)
		if res.StatusCode != 400 || out["field"] != "sendAt" {
			t.Errorf("sendAt %v: %d %v, want 400 naming sendAt", v, res.StatusCode, out)
		}
	}
}

func TestBroadcastList(t *testing.T) {
	e := newTestEnv(t)
	var ids []string
	for i := range 5 {
		at := time.Now().Add(time.Hour).Format(time.RFC3339)
		_, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": fmt.Sprint(i)}, "sendAt": at}, "Authorization", bearer)
		ids = append(ids, out["id"].(string))
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	var seen []string
	next := ""
	for range 5 {
		res, out := e.do(t, "GET", "/api/notifications?limit=2&before="+next, nil, "Authorization", bearer)
		if res.StatusCode != 200 {
			t.Fatalf("list: %d %v", res.StatusCode, out)
		}
		for _, b := range out["broadcasts"].([]any) {
			seen = append(seen, b.(map[string]any)["id"].(string))
		}
		n, _ := out["next"].(string)
		if n == "" {
			break
		}
		next = n
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("pages gave %v, want newest first %v", seen, want)
	}
	if res, out := e.do(t, "GET", "/api/notifications?before=nope", nil, "Authorization", bearer); res.StatusCode != 400 || out["field"] != "before" {
		t.Errorf("an unknown before: %d %v, want 400 naming before (not an empty last page)", res.StatusCode, out)
	}
	if res, out := e.do(t, "GET", "/api/notifications/"+strings.Repeat("x", 65), nil, "Authorization", bearer); res.StatusCode != 400 || out["field"] != "id" {
		t.Errorf("an over-long id: %d %v, want 400 naming id", res.StatusCode, out)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x"} {
		if res, out := e.do(t, "GET", "/api/notifications?"+q, nil, "Authorization", bearer); res.StatusCode != 400 || out["field"] != "limit" {
			t.Errorf("%s: %d %v, want 400 naming limit", q, res.StatusCode, out)
		}
	}
	if res, _ := e.do(t, "GET", "/api/notifications/nope", nil, "Authorization", bearer); res.StatusCode != 404 {
		t.Errorf("unknown id: %d, want 404", res.StatusCode)
	}
}

func TestBroadcastEvents(t *testing.T) {
	e := newTestEnv(t)
	for i := range 8 {
		e.subscribeAs(t, fmt.Sprintf("/push/%d", i), "")
	}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	_, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "x"}}, "Authorization", bearer)
	req, _ := http.NewRequest("GET", srv.URL+"/api/notifications/"+out["id"].(string)+"/events", nil)
	req.Header.Set("Authorization", bearer)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, ct)
	}
	var last map[string]any
	events := 0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		events++
		last = nil
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
	}
	// The stream ended by itself, after the final status.
	if events == 0 || last["status"] != "done" || last["sent"] != 8.0 {
		t.Errorf("%d events, last %v; want the stream to end with done, 8 sent", events, last)
	}
}

func TestCancelStopsASendingBroadcast(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate = 0 })
	for i := range 120 {
		e.subscribeAs(t, fmt.Sprintf("/push/%d", i), "")
	}
	inner := e.push.Config.Handler
	e.push.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		inner.ServeHTTP(w, r)
	})
	_, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": map[string]any{"title": "x"}}, "Authorization", bearer)
	id := out["id"].(string)
	for e.push.hits.Load() < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	res, out := e.do(t, "DELETE", "/api/notifications/"+id, nil, "Authorization", bearer)
	atCancel := e.push.hits.Load()
	if res.StatusCode != 200 || out["status"] != "canceled" {
		t.Fatalf("cancel while sending: %d %v", res.StatusCode, out)
	}
	// Pushes already started finish; no other starts. The test's chunks
	// hold 4 subscriptions, and 4 chunk jobs run at once: at most 16
	// pushes can have been started, or be about to, at the cancel.
	time.Sleep(time.Second)
	if n := e.push.hits.Load(); n > atCancel+16 {
		t.Errorf("%d pushes at the cancel, %d a second later (of 120); want at most the 16 in flight more", atCancel, n)
	}
	if done := e.waitBroadcast(t, id); done["status"] != "canceled" {
		t.Errorf("after the cancel: %v, want it to stay canceled", done)
	}
}
