package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The notification JSON comes from anyone who may call the API (a test send)
// or from the admin (a broadcast); the worker then acts on what Marshal let
// through. These targets check what the rest of the kit relies on, not only
// that nothing panics. Seeds: f.Add below and testdata/fuzz/<target>/.

// FuzzNotification decodes arbitrary bytes as the server does a request's
// notification and checks that whatever Marshal accepts fits one push record,
// is a Declarative Web Push message WebKit takes, sends a click only to paths
// on the page's own origin, and reads back (ReadPayload) as the notification
// it was made from.
func FuzzNotification(f *testing.F) {
	for _, s := range []string{
		`{"title":"Hello","body":"World"}`,
		`{"title":"Hello","body":"from the local push service"}`,
		`{"title":"Hi","data":{"url":"/inbox","actionUrls":{"open":"/a"}}}`,
		`{"title":"t","data":{"url":"/x","nested":{"a":[1,2]}}}`,
		`{"title":"Big","body":"` + strings.Repeat("x", 1000) + `","data":{"blob":"` + strings.Repeat("y", 4000) + `"}}`,
		`{"body":"no title"}`,
		`{"title":"x","renotify":true}`,
		`{"title":"x","tag":"t","renotify":true,"requireInteraction":true,"silent":true}`,
		`{"title":"x","dir":"up","lang":"en-GB"}`,
		`{"title":"x","vibrate":[200,100,200],"timestamp":1750000000000}`,
		`{"title":"x","vibrate":[-1]}`,
		`{"title":"x","icon":"/icon.png","badge":"/badge.png","image":"https://cdn.example/i.png"}`,
		`{"title":"x","icon":"icon.png"}`,
		`{"title":"x","actions":[{"action":"open","title":"Open","icon":"/o.png"},{"action":"later","title":"Later"}]}`,
		`{"title":"x","actions":[{"action":"open","title":"Open"},{"action":"later","title":"Later"}],"data":{"actionUrls":{"open":"/o","other":"/x"}}}`,
		`{"title":"x","actions":[{"action":"a"}]}`,
		`{"title":"x","data":{"url":"//evil.example/"}}`,
		`{"title":"x","data":{"url":"https://evil.example/"}}`,
		`{"title":"x","data":{"url":"/\\evil.example"}}`,
		`{"title":"x","data":{"url":"/\t/evil.example"}}`,
		`{"title":"x","data":{"actionUrls":{"go":"javascript:alert(1)"}}}`,
		`{"title":"x","data":{"url":"/a","url":"/b"}}`,
		`{"title":"x","data":"<script>&amp;</script>"}`,
		`{"title":"x","data":[1,{"url":"/x"}]}`,
		`{"title":"x","data":null}`,
		`{"title":"x","data":{}}`,
		`{"title":"x","appBadge":0}`,
		`{"title":"x","appBadge":-1}`,
		`{"title":"\u00e9\u2028","body":"\ud83d\ude00"}`,
	} {
		f.Add([]byte(s))
	}
	origin, err := ParseOrigin(fuzzOrigin)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n Notification
		if json.Unmarshal(data, &n) != nil {
			return
		}
		b, err := n.Marshal(origin)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || (fe.Field != "notification" && !strings.HasPrefix(fe.Field, "notification.")) || fe.Message == "" {
				t.Fatalf("Marshal error %#v: want a *FieldError naming notification or one of its fields", err)
			}
			return
		}
		if len(b) > MaxPlaintext {
			t.Fatalf("Marshal accepted %d bytes, more than one record holds (%d)", len(b), MaxPlaintext)
		}
		if err := (Message{Payload: b, TTL: MaxTTL, Urgency: "high"}).Validate(); err != nil {
			t.Fatalf("a payload Marshal accepted fails Message.Validate: %v", err)
		}
		// WebKit's parser, the kit's member order and every navigate on
		// the origin, then the way back.
		checkKitPayload(t, b, origin, false)
		checkReadBack(t, n, b, origin)
	})
}

// sameNotification compares two notifications as the worker sees them: an
// empty list is the same as none (both are left out of the JSON), and Data is
// compared as JSON values (Marshal compacts it and escapes <, > and &).
func sameNotification(a, b Notification) bool {
	if !sameJSON(a.Data, b.Data) || !slices.Equal(a.Vibrate, b.Vibrate) || !slices.Equal(a.Actions, b.Actions) {
		return false
	}
	a.Data, b.Data = nil, nil
	a.Vibrate, b.Vibrate = nil, nil
	a.Actions, b.Actions = nil, nil
	return reflect.DeepEqual(a, b)
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	decode := func(raw json.RawMessage) (any, error) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// FuzzIsSameOriginPath checks that no string IsSameOriginPath accepts takes
// the browser to another host when the worker opens it.
func FuzzIsSameOriginPath(f *testing.F) {
	for _, s := range []string{
		"/", "/inbox", "/a", "/x?y=1#z", "/caf\u00e9", "/%20space", "/a/../b", "/..//evil.example",
		"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
		"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", " //evil.example", "/%2F/evil.example",
		"/%09/evil.example", "/%5Cevil.example", "\x00/", "/?next=//evil.example", "/#//evil.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IsSameOriginPath(s) {
			checkLandsOnOrigin(t, s)
		}
	})
}

// fuzzOrigin stands for the page's origin, the base the worker resolves a
// notification's paths against.
const fuzzOrigin = "https://kit.example"

// checkLandsOnOrigin fails t if s, resolved against fuzzOrigin, names another
// scheme, host or user. It resolves s with net/url as written, and again as
// the browser's URL parser reads it: that parser first strips leading and
// trailing C0 controls and spaces, deletes every tab, LF and CR, and reads a
// backslash as a slash (WHATWG URL, "basic URL parser"), which net/url does
// not.
func checkLandsOnOrigin(t *testing.T, s string) {
	t.Helper()
	base, err := url.Parse(fuzzOrigin + "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{s, asBrowserReads(s)} {
		ref, err := url.Parse(form)
		if err != nil {
			continue // net/url cannot read it: it names no host at all
		}
		u := base.ResolveReference(ref)
		if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
			t.Fatalf("%q is accepted as a same-origin path, but %q resolves to %s", s, form, u)
		}
	}
}

// asBrowserReads applies the WHATWG URL parser's preprocessing for a special
// scheme such as https: trim C0 controls and spaces, delete tabs and
// newlines, and turn backslashes into slashes.
func asBrowserReads(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, s)
	return s
}
