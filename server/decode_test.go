//go:build !wasm

package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeNamesTheFullPath: a member the request type has no field for, or
// one of the wrong JSON type, is named by its whole path from the body's top,
// in the notation of the API's other errors (dots, and [i] for an array's
// elements), whatever the route. Notification data is free-form.
func TestDecodeNamesTheFullPath(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.SubscribeRate, c.TestSendRate, c.TestSendEndpointRate = 0, 0, 0 })
	const (
		subscribe   = "POST /api/subscriptions"
		unsubscribe = "DELETE /api/subscriptions"
		testSend    = "POST /api/subscriptions/test"
		broadcast   = "POST /api/notifications"
		keys        = `"keys":{"p256dh":"p","auth":"a"}`
		unknown     = `"endpoint":"https://push.example/unknown"`
	)
	tests := []struct {
		name   string
		route  string
		body   string
		status int
		field  string
		msg    string
	}{
		{"top-level unknown field", subscribe, `{"endpoint":"e",` + keys + `,"foo":1}`, 400, "foo", "unknown field foo"},
		{"nested unknown field", subscribe, `{"endpoint":"e","keys":{"p256dh":"p","auth":"a","foo":1}}`, 400, "keys.foo", "unknown field keys.foo"},
		{"nested under a key matched case-insensitively", subscribe, `{"endpoint":"e","KEYS":{"P256DH":"p","foo":1}}`, 400, "keys.foo", "unknown field keys.foo"},
		{"unknown field on unsubscribe", unsubscribe, `{"endpoint":"e","keys":{}}`, 400, "keys", "unknown field keys"},
		{"unknown notification field", testSend, `{` + unknown + `,"notification":{"title":"x","onclick":"alert(1)"}}`, 400, "notification.onclick", "unknown field notification.onclick"},
		{"unknown field of an action", testSend, `{` + unknown + `,"notification":{"title":"x","actions":[{"action":"a","title":"A"},{"action":"b","title":"B","foo":1}]}}`, 400, "notification.actions[1].foo", "unknown field notification.actions[1].foo"},
		{"unknown field of a broadcast's action", broadcast, `{"notification":{"title":"x","actions":[{"action":"a","title":"A","foo":1}]}}`, 400, "notification.actions[0].foo", "unknown field notification.actions[0].foo"},
		{"unknown broadcast field", broadcast, `{"notification":{"title":"x"},"ttll":5}`, 400, "ttll", "unknown field ttll"},
		{"the first unknown field in the body", broadcast, `{"notification":{"title":"x","zzz":1},"aaa":2}`, 400, "notification.zzz", "unknown field notification.zzz"},
		{"unknown field after free data", testSend, `{` + unknown + `,"notification":{"title":"x","data":{"foo":1},"bar":2}}`, 400, "notification.bar", "unknown field notification.bar"},
		{"unknown field before a wrong type", testSend, `{` + unknown + `,"notification":{"title":"x","foo":1,"body":2}}`, 400, "notification.foo", "unknown field notification.foo"},

		// data holds any JSON: the request is decoded, validated, and
		// fails only on the endpoint nobody subscribed.
		{"data is free", testSend, `{` + unknown + `,"notification":{"title":"x","data":{"url":"/ok","foo":1,"onclick":[{"bar":{"baz":2}}]}}}`, 404, "endpoint", ""},
		{"data is free in a broadcast", broadcast, `{"notification":{"title":"x","data":{"foo":{"bar":[1,{"baz":2}]}}}}`, 202, "", ""},

		{"top-level wrong type", subscribe, `{"endpoint":5}`, 400, "endpoint", "endpoint must be a JSON string"},
		{"nested wrong type", subscribe, `{"endpoint":"e","keys":{"p256dh":1}}`, 400, "keys.p256dh", "keys.p256dh must be a JSON string"},
		{"object of the wrong type", subscribe, `{"endpoint":"e","keys":"k"}`, 400, "keys", "keys must be a JSON object"},
		{"wrong type in an action", testSend, `{` + unknown + `,"notification":{"title":"x","actions":[{"action":"a","title":"A"},{"action":"b","title":2}]}}`, 400, "notification.actions[1].title", "notification.actions[1].title must be a JSON string"},
		{"wrong type in an array", broadcast, `{"notification":{"title":"x","vibrate":[100,"x"]}}`, 400, "notification.vibrate[1]", "notification.vibrate[1] must be a JSON number"},
		{"array of the wrong type", broadcast, `{"notification":{"title":"x","actions":{}}}`, 400, "notification.actions", "notification.actions must be a JSON array"},
		{"fraction for a whole number", broadcast, `{"notification":{"title":"x"},"ttl":1.5}`, 400, "ttl", ""},
		{"number out of range in an array", broadcast, `{"notification":{"title":"x","vibrate":[1,99999999999999999999]}}`, 400, "notification.vibrate[1]", ""},
		{"wrong type before an unknown field", testSend, `{` + unknown + `,"notification":{"title":"x","body":2,"foo":1}}`, 400, "notification.body", "notification.body must be a JSON string"},

		{"not an object", subscribe, `[]`, 400, "", "request body must be a JSON object"},
		{"not JSON", subscribe, `{"endpoint":`, 400, "", "request body is not valid JSON"},
		{"two objects", subscribe, `{"endpoint":"e"} {}`, 400, "", "request body must hold one JSON object"},
		{"empty", subscribe, ``, 400, "", "request body is empty"},
		{"too large", subscribe, `{"endpoint":"` + strings.Repeat("a", maxSubscriptionBody) + `","foo":1}`, 413, "", "request body is larger than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, _ := strings.Cut(tt.route, " ")
			var hdr []string
			if path == "/api/notifications" {
				hdr = []string{"Authorization", "Bearer " + testAdminToken}
			}
			res, out := e.do(t, method, path, tt.body, hdr...)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", res.StatusCode, tt.status, out)
			}
			if field, _ := out["field"].(string); field != tt.field {
				t.Errorf("field %q, want %q (%v)", field, tt.field, out)
			}
			if tt.msg != "" && out["error"] != tt.msg {
				t.Errorf("error %q, want %q", out["error"], tt.msg)
			}
		})
	}
}

// TestDecodePathsOfOtherShapes covers the Go shapes the API's types do not
// use today (maps, embedded structs, pointers, nested arrays, fields without
// a tag or left out with "-"), so a new request type is named as well.
func TestDecodePathsOfOtherShapes(t *testing.T) {
	type leaf struct {
		N int `json:"n"`
	}
	type Embedded struct {
		E string `json:"e"`
	}
	type target struct {
		Embedded
		M     map[string]leaf `json:"m"`
		P     *leaf           `json:"p"`
		L     [][]leaf        `json:"l"`
		Any   any             `json:"any"`
		B     []byte          `json:"b"`
		Plain string
		Skip  string `json:"-"`
	}
	tests := []struct {
		name  string
		body  string
		field string
		msg   string
	}{
		{"unknown in a map value", `{"m":{"k":{"n":1},"j":{"x":1}}}`, "m.j.x", "unknown field m.j.x"},
		{"wrong type in a map value", `{"m":{"k":{"n":"1"}}}`, "m.k.n", "m.k.n must be a JSON number"},
		{"unknown in a nested array", `{"l":[[],[{"n":1},{"x":1}]]}`, "l[1][1].x", "unknown field l[1][1].x"},
		{"wrong type in a nested array", `{"l":[[{"n":true}]]}`, "l[0][0].n", "l[0][0].n must be a JSON number"},
		{"unknown behind a pointer", `{"p":{"n":1,"x":1}}`, "p.x", "unknown field p.x"},
		{"wrong type of an embedded field", `{"e":1}`, "e", "e must be a JSON string"},
		{"unknown after every kind of known field", `{"e":"x","p":null,"any":{"x":[1]},"b":"AAAA","plain":"y","Skip":"z"}`, "Skip", "unknown field Skip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			var v target
			err := decodeJSON(httptest.NewRecorder(), r, 1<<10, &v)
			ae, ok := err.(*apiError)
			if !ok {
				t.Fatalf("decodeJSON = %v, want an *apiError", err)
			}
			if ae.Status != http.StatusBadRequest || ae.Field != tt.field || ae.Message != tt.msg {
				t.Errorf("got %d %q %q, want 400 %q %q", ae.Status, ae.Field, ae.Message, tt.field, tt.msg)
			}
		})
	}
}
