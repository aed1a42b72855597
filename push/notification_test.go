package push

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     Notification
		field string
	}{
		{"ok", Notification{Title: "Hi", Data: json.RawMessage(`{"url":"/inbox","actionUrls":{"open":"/a"}}`)}, ""},
		{"no title", Notification{Body: "x"}, "notification.title"},
		{"blank title", Notification{Title: "  "}, "notification.title"},
		{"renotify without tag", Notification{Title: "x", Renotify: true}, "notification.renotify"},
		{"vibrate on a silent one", Notification{Title: "x", Silent: true, Vibrate: []int{100}}, "notification.vibrate"},
		{"silent without vibrate", Notification{Title: "x", Silent: true}, ""},
		{"bad dir", Notification{Title: "x", Dir: "up"}, "notification.dir"},
		{"vibrate out of range", Notification{Title: "x", Vibrate: []int{-1}}, "notification.vibrate"},
		{"too many actions", Notification{Title: "x", Actions: make([]Action, 5)}, "notification.actions"},
		{"action without title", Notification{Title: "x", Actions: []Action{{Action: "a"}}}, "notification.actions[0].title"},
		{"data not JSON", Notification{Title: "x", Data: json.RawMessage(`{`)}, "notification.data"},
		{"url to another origin", Notification{Title: "x", Data: json.RawMessage(`{"url":"//evil.example/"}`)}, "notification.data.url"},
		{"absolute url", Notification{Title: "x", Data: json.RawMessage(`{"url":"https://evil.example/"}`)}, "notification.data.url"},
		{"backslash url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\\evil.example"}`)}, "notification.data.url"},
		{"action url elsewhere", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"javascript:alert(1)"}}`)}, "notification.data.actionUrls.go"},
		{"url with query and fragment", Notification{Title: "x", Data: json.RawMessage(`{"url":"/ok?x=1#y"}`)}, ""},
		{"tab url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\t/evil.example"}`)}, "notification.data.url"},
		{"newline url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\n/evil.example"}`)}, "notification.data.url"},
		{"carriage return url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\r/evil.example"}`)}, "notification.data.url"},
		{"space-prefixed url", Notification{Title: "x", Data: json.RawMessage(`{"url":" //evil.example"}`)}, "notification.data.url"},
		{"NUL url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\u0000/evil.example"}`)}, "notification.data.url"},
		{"DEL url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\u007f/evil.example"}`)}, "notification.data.url"},
		{"encoded tab url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/%09/evil.example"}`)}, "notification.data.url"},
		{"tab action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"open":"/ok","go":"/\t/evil.example"}}`)}, "notification.data.actionUrls.go"},
		{"newline action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"/\n/evil.example"}}`)}, "notification.data.actionUrls.go"},
		{"carriage return action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"/\r/evil.example"}}`)}, "notification.data.actionUrls.go"},
		{"NUL action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"/ok\u0000"}}`)}, "notification.data.actionUrls.go"},
		{"DEL action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"/ok\u007f"}}`)}, "notification.data.actionUrls.go"},
		{"icon not a URL", Notification{Title: "x", Icon: "/%zz"}, "notification.icon"},
		{"app badge below 0", Notification{Title: "x", AppBadge: intp(-1)}, "notification.appBadge"},
		{"space-prefixed action url", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":" /ok"}}`)}, "notification.data.actionUrls.go"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate("notification")
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("error %v, want one naming %s", err, tt.field)
			}
		})
	}
}

// TestIsSameOriginPath holds paths that a browser's URL parser (WHATWG URL,
// as in new URL(s, origin) and clients.openWindow) would resolve to another
// origin, and paths that other readers of a URL could.
func TestIsSameOriginPath(t *testing.T) {
	for _, tt := range []struct {
		name string
		path string
		ok   bool
	}{
		{"root", "/", true},
		{"path", "/ok", true},
		{"query and fragment", "/ok?x=1#y", true},
		{"encoded space", "/search?q=a%20b", true},
		{"encoded slash inside", "/files/a%2Fb", true},
		{"encoded newline in the query", "/ok?text=a%0Ab", true},
		{"non-ASCII letters", "/café/日本", true},
		{"dot segments", "/a/../b", true},
		{"two slashes in the query", "/ok?next=//evil.example", true},
		{"two slashes in the fragment", "/ok#//evil.example", true},
		{"percent not an escape", "/100%", true},
		{"longest", "/" + strings.Repeat("x", maxURL-1), true},

		{"empty", "", false},
		{"relative", "ok", false},
		{"absolute URL", "https://evil.example/", false},
		{"scheme", "javascript:alert(1)", false},
		{"protocol-relative", "//evil.example", false},
		{"empty segment", "/a//b", false},
		{"empty segment after dots", "/..//evil.example", false},
		{"empty segment after a dot", "/.//evil.example", false},
		{"backslash", `/\evil.example`, false},
		{"backslash later", `/ok\x`, false},
		{"tab", "/\t/evil.example", false},
		{"newline", "/\n/evil.example", false},
		{"carriage return", "/\r/evil.example", false},
		{"tab at the end", "/ok\t", false},
		{"space-prefixed", " //evil.example", false},
		{"space-prefixed path", " /ok", false},
		{"trailing space", "/ok ", false},
		{"inner space", "/a b", false},
		{"control-prefixed", "\x01//evil.example", false},
		{"NUL", "/\x00/evil.example", false},
		{"NUL at the end", "/ok\x00", false},
		{"DEL", "/\x7f/evil.example", false},
		{"other C0 control", "/ok\x1b", false},
		{"C1 control", "/ok\u0085", false},
		{"no-break space", "/\u00a0/evil.example", false},
		{"ideographic space", "/\u3000/evil.example", false},
		{"line separator", "/\u2028/evil.example", false},
		{"byte order mark", "/\ufeff/evil.example", false},
		{"invalid UTF-8", "/ok\xff", false},
		{"encoded tab", "/%09/evil.example", false},
		{"encoded newline", "/%0a/evil.example", false},
		{"encoded NUL", "/ok%00", false},
		{"encoded DEL", "/ok%7F", false},
		{"encoded slash first", "/%2Fevil.example", false},
		{"encoded slash first, lower case", "/%2fevil.example", false},
		{"encoded backslash", "/%5Cevil.example", false},
		{"encoded backslash later", "/ok%5cx", false},
		{"too long", "/" + strings.Repeat("x", maxURL), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsSameOriginPath(tt.path); got != tt.ok {
				t.Errorf("IsSameOriginPath(%q) = %v, want %v", tt.path, got, tt.ok)
			}
		})
	}
}
