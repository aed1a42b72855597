package push

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPlaintext is the largest payload, in bytes of JSON, that fits one
// aes128gcm record of 4096 bytes as webpush-go pads it (RFC 8291 and RFC 8188
// overhead: 86-byte header, 16-byte tag, 1 delimiter byte).
const MaxPlaintext = 3993

// Notification is one push message as the service worker shows it.
type Notification struct {
	Title              string          `json:"title"`
	Body               string          `json:"body,omitempty"`
	Icon               string          `json:"icon,omitempty"`
	Badge              string          `json:"badge,omitempty"`
	Image              string          `json:"image,omitempty"`
	Tag                string          `json:"tag,omitempty"`
	Renotify           bool            `json:"renotify,omitempty"`
	RequireInteraction bool            `json:"requireInteraction,omitempty"`
	Silent             bool            `json:"silent,omitempty"`
	Vibrate            []int           `json:"vibrate,omitempty"`
	Lang               string          `json:"lang,omitempty"`
	Dir                string          `json:"dir,omitempty"`
	Timestamp          int64           `json:"timestamp,omitempty"`
	Actions            []Action        `json:"actions,omitempty"`
	Data               json.RawMessage `json:"data,omitempty"`
	// AppBadge, when set, is the number the browser shows on the installed
	// web app's icon (navigator.setAppBadge); 0 clears it.
	AppBadge *int `json:"appBadge,omitempty"`
}

// Action is one button of a notification, as in the Notification API.
type Action struct {
	Action string `json:"action"`
	Title  string `json:"title"`
	Icon   string `json:"icon,omitempty"`
}

// Limits on single fields; the whole message is bounded by MaxPlaintext.
const (
	maxTitle   = 256
	maxText    = 1024
	maxURL     = 2048
	maxActions = 4
	maxVibrate = 32
	// MaxAppBadge is the largest AppBadge: more than any icon can show.
	MaxAppBadge = 99999
)

// Validate checks every field and returns a *FieldError naming the first bad
// one, with prefix joined in front of the field's name (for example
// "notification.title").
func (n *Notification) Validate(prefix string) error {
	field := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	bad := func(name, format string, args ...any) error {
		return &FieldError{Field: field(name), Message: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(n.Title) == "" {
		return bad("title", "is required")
	}
	if len(n.Title) > maxTitle {
		return bad("title", "is longer than %d bytes", maxTitle)
	}
	if len(n.Body) > maxText {
		return bad("body", "is longer than %d bytes", maxText)
	}
	for name, v := range map[string]string{"icon": n.Icon, "badge": n.Badge, "image": n.Image} {
		if len(v) > maxURL {
			return bad(name, "is longer than %d bytes", maxURL)
		}
	}
	// The payload carries the icon as an absolute URL (Safari refuses the
	// whole message over one it cannot read): it must be one, or a path.
	if _, err := url.Parse(n.Icon); err != nil {
		return bad("icon", "is not a URL or a path")
	}
	if len(n.Tag) > maxTitle {
		return bad("tag", "is longer than %d bytes", maxTitle)
	}
	if n.Renotify && n.Tag == "" {
		return bad("renotify", "needs a tag")
	}
	switch n.Dir {
	case "", "auto", "ltr", "rtl":
	default:
		return bad("dir", "must be auto, ltr or rtl")
	}
	if len(n.Lang) > 35 {
		return bad("lang", "is not a language tag")
	}
	if len(n.Vibrate) > maxVibrate {
		return bad("vibrate", "has more than %d entries", maxVibrate)
	}
	for _, v := range n.Vibrate {
		if v < 0 || v > 10000 {
			return bad("vibrate", "entries must be between 0 and 10000 ms")
		}
	}
	if n.Silent && len(n.Vibrate) > 0 {
		// The Notification API throws a TypeError for both: the worker
		// would show its fallback instead.
		return bad("vibrate", "must be empty for a silent notification")
	}
	if n.Timestamp < 0 {
		return bad("timestamp", "must be milliseconds since the epoch")
	}
	if len(n.Actions) > maxActions {
		return bad("actions", "has more than %d entries", maxActions)
	}
	for i, a := range n.Actions {
		if a.Action == "" || len(a.Action) > maxTitle {
			return bad(fmt.Sprintf("actions[%d].action", i), "is required, at most %d bytes", maxTitle)
		}
		if a.Title == "" || len(a.Title) > maxTitle {
			return bad(fmt.Sprintf("actions[%d].title", i), "is required, at most %d bytes", maxTitle)
		}
		if len(a.Icon) > maxURL {
			return bad(fmt.Sprintf("actions[%d].icon", i), "is longer than %d bytes", maxURL)
		}
	}
	if n.AppBadge != nil && (*n.AppBadge < 0 || *n.AppBadge > MaxAppBadge) {
		return bad("appBadge", "must be between 0 and %d", MaxAppBadge)
	}
	if len(n.Data) > 0 {
		if err := validateData(n.Data); err != nil {
			return bad("data"+err.Field, "%s", err.Message)
		}
	}
	return nil
}

// notSameOriginPath is the message for a data URL IsSameOriginPath refuses.
const notSameOriginPath = `must be a same-origin path starting with "/", without spaces, control characters or backslashes`

// validateData checks the keys of Data that the worker acts on: "url" and
// "actionUrls" must be same-origin paths. The returned Field is a suffix of
// "data".
func validateData(raw json.RawMessage) *FieldError {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return &FieldError{Message: "is not valid JSON"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil // any JSON value may be carried; only objects have meaningful keys
	}
	if u, present := obj["url"]; present {
		s, ok := u.(string)
		if !ok || !IsSameOriginPath(s) {
			return &FieldError{Field: ".url", Message: notSameOriginPath}
		}
	}
	if au, present := obj["actionUrls"]; present {
		m, ok := au.(map[string]any)
		if !ok {
			return &FieldError{Field: ".actionUrls", Message: "must be an object of action name to path"}
		}
		for k, u := range m {
			s, ok := u.(string)
			if !ok || !IsSameOriginPath(s) {
				return &FieldError{Field: ".actionUrls." + k, Message: notSameOriginPath}
			}
		}
	}
	return nil
}

// IsSameOriginPath reports whether s is a path on the page's own origin.
// The worker opens it with clients.openWindow, which resolves it against the
// worker's origin with the WHATWG URL parser. That parser first strips
// leading and trailing C0 controls and spaces, then deletes every tab, LF and
// CR, and reads a backslash as a slash; a string that then starts with two
// slashes names another host. So "/\t/evil.example" opens
// https://evil.example/. Refused, therefore:
//
//   - anything not starting with exactly one "/": "//host" names another
//     host, and "x:" or a bare word is a scheme or a relative reference;
//   - a backslash anywhere, which the parser reads as "/";
//   - every control character (C0, DEL and C1) and every white-space
//     character, as Go (unicode.IsSpace) or JavaScript (String.prototype.trim,
//     which adds U+FEFF) counts it: the parser strips or deletes some of
//     them, which can turn a "/x" into "//", and other readers of URLs trim
//     others (U+00A0, U+3000 and the like). A path that needs a space
//     percent-encodes it as %20;
//   - invalid UTF-8, which a JavaScript string cannot hold as written;
//   - in the path (before "?" or "#"), an empty segment ("//") anywhere:
//     dot segments bring it to the front, and "/..//evil.example" opens
//     this origin's page //evil.example, whose path the page's own code
//     or a redirect would read as another host;
//   - in the path, a percent-encoded C0 control, DEL or backslash (%00-%1F,
//     %7F, %5C), and an encoded slash right after the first one ("/%2F"):
//     the browser keeps them encoded, but a server that decodes the path
//     and echoes it into a redirect would hand the browser
//     "/\t/evil.example" or "//evil.example";
//   - more than 2048 bytes.
//
// Other non-ASCII characters stay on the origin (the browser percent-encodes
// them) and are accepted, as are escapes in the query and fragment.
func IsSameOriginPath(s string) bool {
	if len(s) > maxURL || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") ||
		strings.Contains(s, `\`) || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\uFEFF' {
			return false
		}
	}
	path, _, _ := strings.Cut(s, "?")
	path, _, _ = strings.Cut(path, "#")
	if strings.Contains(path, "//") {
		return false
	}
	for i := 0; i+2 < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		b, err := strconv.ParseUint(path[i+1:i+3], 16, 8)
		if err != nil {
			continue // a "%" that starts no escape stays as written
		}
		if b < 0x20 || b == 0x7f || b == '\\' || (b == '/' && i == 1) {
			return false
		}
	}
	return true
}
