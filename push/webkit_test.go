package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"testing"
)

// checkWebKit reports why WebKit would not take payload as a Declarative
// Web Push message, or nil. The rules are those of WebKit's parser,
// Source/WebCore/Modules/notifications/NotificationJSONParser.cpp
// (NotificationJSONParser::parseNotificationPayload and
// parseNotificationOptions, the version with expectedDeclarativeWebPushValue
// = 8030 and the "navigate" member; github.com/WebKit/WebKit), after
// NotificationPayload::parseJSON in NotificationPayload.cpp, which wants a
// JSON object. WebKit reads only the members named there and ignores any
// other, but refuses the whole message when a member it reads has the
// wrong type. Where WebKit calls URL { string }, a URL parsed with no base,
// this check wants what Go's net/url reads as an absolute URL (with a host
// for http and https): no stricter a test than the browser's, for the URLs
// the kit writes. Members the spec draft adds and WebKit does not read yet
// (w3c/push-api pull request 385: "actions", each with "action", "title"
// and a "navigate" URL) are checked by checkSpecDraft.
func checkWebKit(payload []byte) error {
	var top any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil || dec.More() {
		return fmt.Errorf("does not contain valid JSON")
	}
	outer, ok := top.(map[string]any)
	if !ok {
		return fmt.Errorf("top level JSON value is not an object")
	}
	// hasDeclarativeMessageJSONValues: a number (not a string) equal to 8030.
	if v, ok := outer["web_push"].(json.Number); !ok || !isInteger(v, 8030) {
		return fmt.Errorf(`"web_push" is not the number 8030`)
	}
	n, ok := outer["notification"].(map[string]any)
	if !ok {
		return fmt.Errorf(`"notification" is missing or not an object`)
	}
	nav, ok := n["navigate"].(string)
	if !ok || !isAbsoluteURL(nav) {
		return fmt.Errorf(`"navigate" is missing, not a string or not a valid URL: %v`, n["navigate"])
	}
	if title, ok := n["title"]; ok {
		if _, isString := title.(string); !isString {
			return fmt.Errorf(`"title" is not a string`)
		}
	}
	if title, _ := n["title"].(string); title == "" {
		return fmt.Errorf(`"title" is missing or empty`)
	}
	if v, ok := n["app_badge"]; ok {
		switch b := v.(type) {
		case string:
			// parseAppBadgeString: ASCII digits only, at most a uint64
			// (the empty string parses as 0).
			if !regexp.MustCompile(`^[0-9]{0,19}$`).MatchString(b) {
				return fmt.Errorf(`"app_badge" string %q is not an unsigned number`, b)
			}
		case json.Number:
			f, err := b.Float64()
			if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return fmt.Errorf(`"app_badge" %v is not a non-negative integer`, b)
			}
		default:
			return fmt.Errorf(`"app_badge" is not a string or a number`)
		}
	}
	// parseNotificationOptions.
	if v, ok := n["dir"]; ok {
		switch v {
		case "auto", "ltr", "rtl":
		default:
			return fmt.Errorf(`"dir" %v is not a NotificationDirection`, v)
		}
	}
	for _, k := range []string{"lang", "body", "tag"} {
		if v, ok := n[k]; ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("%q is not a string", k)
			}
		}
	}
	if v, ok := n["icon"]; ok {
		if s, isString := v.(string); !isString || !isAbsoluteURL(s) {
			return fmt.Errorf(`"icon" is not a string holding a valid URL: %v`, v)
		}
	}
	for _, k := range []string{"silent", "mutable"} {
		if v, ok := n[k]; ok {
			if _, isBool := v.(bool); !isBool {
				return fmt.Errorf("%q is not a boolean", k)
			}
		}
	}
	// "data" may be any JSON value.
	return nil
}

// checkSpecDraft checks the members of a Declarative Web Push message that
// the spec draft (w3c/push-api pull request 385) adds and WebKit does not
// read: each action an object with string "action" and "title", and a
// "navigate" that is an absolute URL.
func checkSpecDraft(payload []byte) error {
	var p struct {
		Notification struct {
			Actions []map[string]any `json:"actions"`
		} `json:"notification"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("actions: %v", err)
	}
	for i, a := range p.Notification.Actions {
		for _, k := range []string{"action", "title"} {
			if s, ok := a[k].(string); !ok || s == "" {
				return fmt.Errorf("actions[%d].%s is not a non-empty string", i, k)
			}
		}
		if s, ok := a["navigate"].(string); !ok || !isAbsoluteURL(s) {
			return fmt.Errorf("actions[%d].navigate is missing or not an absolute URL: %v", i, a["navigate"])
		}
	}
	return nil
}

func isInteger(n json.Number, want int64) bool {
	f, err := n.Float64()
	return err == nil && f == float64(want)
}

// strayPercent is a "%" that starts no escape: the WHATWG URL parser keeps
// it as written, net/url refuses it.
var strayPercent = regexp.MustCompile(`%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$)`)

// isAbsoluteURL reports whether s parses, with no base URL, as an absolute
// URL: a scheme, and a host for http and https.
func isAbsoluteURL(s string) bool {
	s = asBrowserReads(s)
	s = strayPercent.ReplaceAllStringFunc(s, func(m string) string { return "%25" + m[1:] })
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return false
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Host != "" && u.Opaque == ""
	}
	return true
}

// TestCheckWebKit shows that checkWebKit refuses what WebKit's parser
// refuses, so that the tests that pass through it mean something.
func TestCheckWebKit(t *testing.T) {
	const nav = `"navigate":"https://kit.example/"`
	for _, tt := range []struct {
		name, payload string
		ok            bool
	}{
		{"smallest", `{"web_push":8030,"notification":{"title":"t",` + nav + `}}`, true},
		{"badge as a string of digits", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"app_badge":"12"}}`, true},
		{"badge 0", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"app_badge":0}}`, true},
		{"members WebKit does not read", `{"web_push":8030,"messageId":"x","notification":{"title":"t",` + nav + `,"requireInteraction":true,"actions":[1]}}`, true},
		{"mutable", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"mutable":true}}`, true},
		{"data of any kind", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"data":[1,"x",null]}}`, true},

		{"not JSON", `{"web_push":8030`, false},
		{"not an object", `[8030]`, false},
		{"web_push a string", `{"web_push":"8030","notification":{"title":"t",` + nav + `}}`, false},
		{"web_push another number", `{"web_push":8031,"notification":{"title":"t",` + nav + `}}`, false},
		{"no web_push", `{"notification":{"title":"t",` + nav + `}}`, false},
		{"no notification", `{"web_push":8030,"title":"t"}`, false},
		{"notification an array", `{"web_push":8030,"notification":[]}`, false},
		{"no navigate", `{"web_push":8030,"notification":{"title":"t"}}`, false},
		{"relative navigate", `{"web_push":8030,"notification":{"title":"t","navigate":"/inbox"}}`, false},
		{"navigate not a string", `{"web_push":8030,"notification":{"title":"t","navigate":1}}`, false},
		{"no title", `{"web_push":8030,"notification":{` + nav + `}}`, false},
		{"empty title", `{"web_push":8030,"notification":{"title":"",` + nav + `}}`, false},
		{"title a number", `{"web_push":8030,"notification":{"title":1,` + nav + `}}`, false},
		{"negative badge", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"app_badge":-1}}`, false},
		{"badge not digits", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"app_badge":"1a"}}`, false},
		{"badge a boolean", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"app_badge":true}}`, false},
		{"bad dir", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"dir":"up"}}`, false},
		{"body a number", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"body":1}}`, false},
		{"silent a string", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"silent":"true"}}`, false},
		{"relative icon", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"icon":"/icon.png"}}`, false},
		{"mutable a string", `{"web_push":8030,"notification":{"title":"t",` + nav + `,"mutable":"yes"}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkWebKit([]byte(tt.payload)); (err == nil) != tt.ok {
				t.Errorf("checkWebKit(%s) = %v, want ok %v", tt.payload, err, tt.ok)
			}
		})
	}
	if err := checkSpecDraft([]byte(`{"notification":{"actions":[{"action":"a","title":"A","navigate":"/a"}]}}`)); err == nil {
		t.Error("checkSpecDraft took a relative action navigate")
	}
	if err := checkSpecDraft([]byte(`{"notification":{"actions":[{"action":"a","title":"A","navigate":"https://kit.example/a"},{"action":"b","title":"B"}]}}`)); err == nil {
		t.Error("checkSpecDraft took an action without navigate")
	}
	if err := checkSpecDraft([]byte(`{"notification":{"actions":[{"action":"a","title":"A","navigate":"https://kit.example/a"},{"action":"b","title":"B","navigate":"https://kit.example/"}]}}`)); err != nil {
		t.Errorf("checkSpecDraft: %v", err)
	}
}
