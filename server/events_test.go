//go:build !wasm

package server

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"pushstart/internal/ecetest"
	"pushstart/push"
	"pushstart/server/messageid"
	"pushstart/server/store"
)

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

// sendBroadcast sends notification to everyone, waits until it is done,
// and returns its id.
func (e *testEnv) sendBroadcast(t *testing.T, notification map[string]any) string {
	t.Helper()
	res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": notification}, "Authorization", bearer)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("broadcast: %d %v", res.StatusCode, out)
	}
	id := out["id"].(string)
	e.waitBroadcast(t, id)
	return id
}

// messageID is the id the push of broadcast bid to the subscription at path
// carried.
func (e *testEnv) messageID(t *testing.T, bid, path string) string {
	t.Helper()
	sub, err := e.store.Get(context.Background(), e.push.URL+path)
	if err != nil {
		t.Fatal(err)
	}
	return e.ids.Sign(bid, sub.ID)
}

// report posts one event as the service worker does, from a browser with
// user agent ua.
func (e *testEnv) report(t *testing.T, ua string, event map[string]any, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	return e.do(t, "POST", "/api/events", event, append([]string{"User-Agent", ua}, hdr...)...)
}

func (e *testEnv) funnel(t *testing.T, bid string) map[string]any {
	t.Helper()
	res, out := e.do(t, "GET", "/api/notifications/"+bid+"/funnel", nil, "Authorization", bearer)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET funnel: %d %v", res.StatusCode, out)
	}
	return out
}

// TestEventValidation: every field of a report is checked, and a report the
// server did not issue the id of is refused, naming the field.
func TestEventValidation(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	e.subscribeAs(t, "/push/2", "")
	bid := e.sendBroadcast(t, map[string]any{"title": "Sale", "actions": []map[string]any{{"action": "buy", "title": "Buy"}}})
	good := e.messageID(t, bid, "/push/1")
	other := e.messageID(t, bid, "/push/2")
	parts := strings.Split(good, ".")
	otherKey, err := messageid.Parse(messageid.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	sub1, _ := e.store.Get(context.Background(), e.push.URL+"/push/1")

	tests := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{name: "no type", body: map[string]any{"messageId": good}, status: 400, field: "type"},
		{name: "unknown type", body: map[string]any{"messageId": good, "type": "opened"}, status: 400, field: "type"},
		{name: "type of another case", body: map[string]any{"messageId": good, "type": "Shown"}, status: 400, field: "type"},
		{name: "action on shown", body: map[string]any{"messageId": good, "type": "shown", "action": "buy"}, status: 400, field: "action"},
		{name: "action too long", body: map[string]any{"messageId": good, "type": "clicked", "action": strings.Repeat("a", 257)}, status: 400, field: "action"},
		{name: "action the notification has not", body: map[string]any{"messageId": good, "type": "clicked", "action": "sell"}, status: 400, field: "action"},
		{name: "no messageId", body: map[string]any{"type": "shown"}, status: 400, field: "messageId"},
		{name: "messageId not a string", body: map[string]any{"type": "shown", "messageId": 7}, status: 400, field: "messageId"},
		{name: "messageId of another key", body: map[string]any{"type": "shown", "messageId": otherKey.Sign(bid, sub1.ID)}, status: 400, field: "messageId"},
		{name: "MAC moved to another subscription", body: map[string]any{"type": "shown", "messageId": parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]}, status: 400, field: "messageId"},
		{name: "MAC moved to another broadcast", body: map[string]any{"type": "shown", "messageId": "0000000000000000000000000000." + parts[1] + "." + parts[2]}, status: 400, field: "messageId"},
		{name: "broadcast id alone", body: map[string]any{"type": "shown", "messageId": bid}, status: 400, field: "messageId"},
		{name: "messageId too long", body: map[string]any{"type": "shown", "messageId": good + strings.Repeat("A", 100)}, status: 400, field: "messageId"},
		{name: "unknown field", body: map[string]any{"type": "shown", "messageId": good, "count": 5}, status: 400, field: "count"},
		{name: "body over 1 KiB", body: `{"type":"shown","messageId":"` + good + `","action":"` + strings.Repeat(" ", 1024) + `"}`, status: http.StatusRequestEntityTooLarge},
		{name: "not JSON", body: "type=shown", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "POST", "/api/events", tt.body, "User-Agent", firefoxUA)
			if res.StatusCode != tt.status || (tt.field != "" && out["field"] != tt.field) {
				t.Fatalf("%d %v; want %d naming %q", res.StatusCode, out, tt.status, tt.field)
			}
		})
	}
	if f := e.funnel(t, bid); f["shown"] != 0.0 || f["clicked"] != 0.0 || f["closed"] != 0.0 {
		t.Errorf("refused reports were counted: %v", f)
	}
	res, out := e.report(t, firefoxUA, map[string]any{"type": "clicked", "action": "buy", "messageId": good})
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("a good report: %d %v, want 204", res.StatusCode, out)
	}
}

// TestFunnelCounts: what the admin sees after the reports of a broadcast's
// browsers: each counted once per type however often it reports, by
// browser and by action; a report with one broadcast's id counts for no
// other.
func TestFunnelCounts(t *testing.T) {
	e := newTestEnv(t)
	for i := range 4 {
		e.subscribeAs(t, fmt.Sprintf("/push/%d", i), "")
	}
	notification := map[string]any{"title": "Sale", "actions": []map[string]any{{"action": "buy", "title": "Buy"}, {"action": "later", "title": "Later"}}}
	bid := e.sendBroadcast(t, notification)
	otherBid := e.sendBroadcast(t, notification)
	id := func(i int) string { return e.messageID(t, bid, fmt.Sprintf("/push/%d", i)) }

	reports := []struct {
		ua    string
		event map[string]any
	}{
		{firefoxUA, map[string]any{"type": "shown", "messageId": id(0)}},
		{firefoxUA, map[string]any{"type": "shown", "messageId": id(0)}}, // a repeat
		{firefoxUA, map[string]any{"type": "shown", "messageId": id(0)}}, // and another
		{chromeUA, map[string]any{"type": "shown", "messageId": id(1)}},
		{chromeUA, map[string]any{"type": "shown", "messageId": id(2)}},
		{firefoxUA, map[string]any{"type": "clicked", "action": "buy", "messageId": id(0)}},
		{firefoxUA, map[string]any{"type": "clicked", "action": "later", "messageId": id(0)}}, // a second click: counted once
		{chromeUA, map[string]any{"type": "clicked", "messageId": id(1)}},
		{chromeUA, map[string]any{"type": "closed", "messageId": id(2)}},
	}
	for i, r := range reports {
		if res, out := e.report(t, r.ua, r.event); res.StatusCode != http.StatusNoContent {
			t.Fatalf("report %d: %d %v, want 204", i, res.StatusCode, out)
		}
	}
	got := e.funnel(t, bid)
	want := map[string]any{
		"id": bid, "sent": 4.0, "shown": 3.0, "clicked": 2.0, "closed": 1.0, "clickThrough": 0.5,
		"byBrowser": []any{
			map[string]any{"browser": "Chrome", "shown": 2.0, "clicked": 1.0, "closed": 1.0},
			map[string]any{"browser": "Firefox", "shown": 1.0, "clicked": 1.0, "closed": 0.0},
		},
		"actions": []any{map[string]any{"key": "", "count": 1.0}, map[string]any{"key": "buy", "count": 1.0}},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("funnel\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if other := e.funnel(t, otherBid); other["shown"] != 0.0 || other["clicked"] != 0.0 || other["sent"] != 4.0 {
		t.Errorf("another broadcast's funnel counts these reports: %v", other)
	}
}

func TestFunnelRequest(t *testing.T) {
	e := newTestEnv(t)
	bid := e.sendBroadcast(t, map[string]any{"title": "Nobody"})
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
	}{
		{name: "no token", path: "/api/notifications/" + bid + "/funnel", status: http.StatusUnauthorized},
		{name: "wrong token", path: "/api/notifications/" + bid + "/funnel", hdr: []string{"Authorization", "Bearer nope"}, status: http.StatusUnauthorized},
		{name: "unknown broadcast", path: "/api/notifications/0000000000000000000000000000/funnel", hdr: []string{"Authorization", bearer}, status: http.StatusNotFound},
		{name: "id too long", path: "/api/notifications/" + strings.Repeat("x", 51) + "/funnel", hdr: []string{"Authorization", bearer}, status: http.StatusBadRequest},
		{name: "nothing sent", path: "/api/notifications/" + bid + "/funnel", hdr: []string{"Authorization", bearer}, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, out := e.do(t, "GET", tt.path, nil, tt.hdr...)
			if res.StatusCode != tt.status {
				t.Fatalf("%d %v, want %d", res.StatusCode, out, tt.status)
			}
			if tt.status == http.StatusOK && (out["clickThrough"] != 0.0 || out["sent"] != 0.0 || out["byBrowser"] == nil || out["actions"] == nil) {
				t.Errorf("funnel of a broadcast that reached nobody: %v; want zeros and empty lists", out)
			}
		})
	}
}

// TestEventRateLimit: one address cannot report without limit; another
// is not slowed by it.
func TestEventRateLimit(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.EventRate = 3
		c.TrustedProxyHeader = "X-Forwarded-For"
	})
	e.subscribeAs(t, "/push/1", "")
	bid := e.sendBroadcast(t, map[string]any{"title": "Hi"})
	event := map[string]any{"type": "shown", "messageId": e.messageID(t, bid, "/push/1")}
	for i := range 3 {
		if res, out := e.report(t, firefoxUA, event, "X-Forwarded-For", "198.51.100.1"); res.StatusCode != http.StatusNoContent {
			t.Fatalf("report %d: %d %v", i, res.StatusCode, out)
		}
	}
	res, out := e.report(t, firefoxUA, event, "X-Forwarded-For", "198.51.100.1")
	wantTooMany(t, "4th report from one address", res, out, "EVENT_RATE")
	if res, out := e.report(t, firefoxUA, event, "X-Forwarded-For", "198.51.100.2"); res.StatusCode != http.StatusNoContent {
		t.Errorf("another address: %d %v, want 204", res.StatusCode, out)
	}
}

func TestEventCrossOriginRefused(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	bid := e.sendBroadcast(t, map[string]any{"title": "Hi"})
	res, _ := e.report(t, firefoxUA, map[string]any{"type": "shown", "messageId": e.messageID(t, bid, "/push/1")},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site report: %d, want 403", res.StatusCode)
	}
	if f := e.funnel(t, bid); f["shown"] != 0.0 {
		t.Errorf("a cross-site report was counted: %v", f)
	}
}

// TestBroadcastLeavesRoomForMessageID: a broadcast's notification may use
// all but push.MessageIDReserve bytes of a push, and is refused past that
// with an error that says why; a test send may use them all.
func TestBroadcastLeavesRoomForMessageID(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.PublicURL = "https://push.example.com" })
	e.subscribeAs(t, "/push/1", "")
	// A notification whose payload is n bytes:
	// {"web_push":8030,"notification":{"title":"T","navigate":"https://push.example.com/","data":{"x":"..."}}}.
	origin, err := push.ParseOrigin("https://push.example.com")
	if err != nil {
		t.Fatal(err)
	}
	payloadOf := func(n map[string]any) []byte {
		t.Helper()
		var pn push.Notification
		b, _ := json.Marshal(n)
		if err := json.Unmarshal(b, &pn); err != nil {
			t.Fatal(err)
		}
		p, err := pn.Encode(origin)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sized := func(n int) map[string]any {
		empty := payloadOf(map[string]any{"title": "T", "data": map[string]any{"x": ""}})
		return map[string]any{"title": "T", "data": map[string]any{"x": strings.Repeat("d", n-len(empty))}}
	}
	for _, tt := range []struct {
		name   string
		bytes  int
		status int
	}{
		{name: "at the limit", bytes: push.MaxBroadcastPayload, status: http.StatusAccepted},
		{name: "one byte over", bytes: push.MaxBroadcastPayload + 1, status: http.StatusBadRequest},
		{name: "a push's limit", bytes: push.MaxPlaintext, status: http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := sized(tt.bytes)
			if b := payloadOf(n); len(b) != tt.bytes {
				t.Fatalf("the payload is %d bytes, want %d", len(b), tt.bytes)
			}
			res, out := e.do(t, "POST", "/api/notifications", map[string]any{"notification": n}, "Authorization", bearer)
			if res.StatusCode != tt.status {
				t.Fatalf("%d %v, want %d", res.StatusCode, out, tt.status)
			}
			if tt.status == http.StatusBadRequest {
				msg, _ := out["error"].(string)
				if out["field"] != "notification" || !strings.Contains(msg, "holds at most 3897 (96 of a push's 3993 are kept for the message id)") {
					t.Errorf("error %v; want it to name notification and say why", out)
				}
			}
		})
	}
	res, out := e.do(t, "POST", "/api/subscriptions/test",
		map[string]any{"endpoint": e.push.URL + "/push/1", "notification": sized(push.MaxPlaintext)})
	if res.StatusCode != http.StatusOK {
		t.Errorf("test send of %d bytes: %d %v, want 200", push.MaxPlaintext, res.StatusCode, out)
	}
}

// TestPushesCarryMessageIDs: what the browser decrypts: a Declarative Web
// Push message linking to PUBLIC_URL; a broadcast's push carries the message
// id of its subscription, a test send none.
func TestPushesCarryMessageIDs(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.PublicURL = "https://push.example.com:8443" })
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	sub := newSubscription(t, e.push.URL+"/push/1")
	sub["keys"] = map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
		"auth":   base64.RawURLEncoding.EncodeToString(auth),
	}
	if res, out := e.do(t, "POST", "/api/subscriptions", sub); res.StatusCode != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", res.StatusCode, out)
	}
	var mu sync.Mutex
	var bodies [][]byte
	e.push.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	payload := func(i int) map[string]any {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) <= i {
			t.Fatalf("%d pushes, want more than %d", len(bodies), i)
		}
		plain, err := ecetest.Decrypt(bodies[i], k, auth)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(plain, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	if res, out := e.do(t, "POST", "/api/subscriptions/test",
		map[string]any{"endpoint": e.push.URL + "/push/1", "notification": note}); res.StatusCode != http.StatusOK {
		t.Fatalf("test send: %d %v", res.StatusCode, out)
	}
	// The notification as a Declarative Web Push message shows it.
	shown := func(p map[string]any) bool {
		n, _ := p["notification"].(map[string]any)
		return p["web_push"] == 8030.0 && n["title"] == "Hello" && n["navigate"] == "https://push.example.com:8443/"
	}
	if p := payload(0); p["messageId"] != nil || !shown(p) {
		t.Errorf("test send's payload %v; want the notification, linking to PUBLIC_URL, without a messageId", p)
	}
	bid := e.sendBroadcast(t, note)
	p := payload(1)
	saved, err := e.store.Get(context.Background(), e.push.URL+"/push/1")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p["messageId"].(string)
	if gotBid, gotSub, ok := e.ids.Verify(id); !ok || gotBid != bid || gotSub != saved.ID || !shown(p) {
		t.Errorf("broadcast's payload %v: messageId for %q, %d (%v); want broadcast %q, subscription %d", p, gotBid, gotSub, ok, bid, saved.ID)
	}
}

// TestEventActionOfEitherPayloadShape: a click on an action counts for a
// broadcast sent as a Declarative Web Push message and for one stored before
// that, in the earlier shape (the notification at the top level).
func TestEventActionOfEitherPayloadShape(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	sub, err := e.store.Get(context.Background(), e.push.URL+"/push/1")
	if err != nil {
		t.Fatal(err)
	}
	sent := e.sendBroadcast(t, map[string]any{"title": "Sale", "actions": []map[string]any{{"action": "buy", "title": "Buy"}},
		"data": map[string]any{"actionUrls": map[string]any{"buy": "/buy"}}})
	b, err := e.store.GetBroadcast(context.Background(), sent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b.Message.Payload), `{"web_push":8030,"notification":{"title":"Sale","navigate":"http://`) {
		t.Fatalf("stored payload %s is not a Declarative Web Push message", b.Message.Payload)
	}
	old, err := e.store.CreateBroadcast(context.Background(), store.Broadcast{ID: "old-shape", Title: "Sale", Message: push.Message{
		Payload: []byte(`{"title":"Sale","actions":[{"action":"buy","title":"Buy"}],"data":{"actionUrls":{"buy":"/buy"}}}`), TTL: 60,
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bid := range []string{sent, old.ID} {
		id := e.ids.Sign(bid, sub.ID)
		if res, out := e.report(t, firefoxUA, map[string]any{"type": "clicked", "action": "buy", "messageId": id}); res.StatusCode != http.StatusNoContent {
			t.Errorf("broadcast %s: a click on its action: %d %v, want 204", bid, res.StatusCode, out)
		}
		if res, out := e.report(t, firefoxUA, map[string]any{"type": "clicked", "action": "sell", "messageId": id}); res.StatusCode != http.StatusBadRequest || out["field"] != "action" {
			t.Errorf("broadcast %s: a click on an action it has not: %d %v, want 400 naming action", bid, res.StatusCode, out)
		}
	}
}
