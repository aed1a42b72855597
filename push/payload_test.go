package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func mustOrigin(t testing.TB, s string) Origin {
	t.Helper()
	o, err := ParseOrigin(s)
	if err != nil {
		t.Fatalf("ParseOrigin(%q): %v", s, err)
	}
	return o
}

func intp(n int) *int { return &n }

func TestParseOrigin(t *testing.T) {
	for _, tt := range []struct {
		raw, want string // want "" for an error
	}{
		{"https://push.example.com", "https://push.example.com"},
		{"https://push.example.com/", "https://push.example.com"},
		{"HTTPS://Push.Example.COM", "https://push.example.com"},
		{"http://localhost:8000", "http://localhost:8000"},
		{"http://127.0.0.1:8000/", "http://127.0.0.1:8000"},
		{"https://push.example.com:443", "https://push.example.com"},
		{"http://push.example.com:80", "http://push.example.com"},
		{"https://push.example.com:8443", "https://push.example.com:8443"},
		{"http://[::1]:8000", "http://[::1]:8000"},
		{"http://[0:0::1]", "http://[::1]"},
		{"https://xn--caf-dma.example", "https://xn--caf-dma.example"},

		{"", ""},
		{"push.example.com", ""},
		{"ftp://push.example.com", ""},
		{"javascript:alert(1)", ""},
		{"https://", ""},
		{"https://push.example.com/app", ""},
		{"https://push.example.com?x=1", ""},
		{"https://push.example.com/?", ""},
		{"https://push.example.com#top", ""},
		{"https://push.example.com/#", ""},
		{"https://user:pw@push.example.com", ""},
		{"https://push.example.com:0", ""},
		{"https://push.example.com:70000", ""},
		{"https://push.example.com:x", ""},
		{"https://push example.com", ""},
		{" https://push.example.com", ""},
		{"https://push.example.com\n", ""},
		{"https://café.example", ""},
		{"https://ex%41mple.com", ""},
		{"https://[fe80::1%25eth0]", ""},
		{"https://" + strings.Repeat("a", 300) + ".example", ""},
	} {
		t.Run(tt.raw, func(t *testing.T) {
			o, err := ParseOrigin(tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseOrigin(%q) = %q, want an error", tt.raw, o)
				}
				return
			}
			if err != nil || o.String() != tt.want {
				t.Fatalf("ParseOrigin(%q) = %q, %v; want %q", tt.raw, o, err, tt.want)
			}
		})
	}
}

// payloadOrder is the order of the members of "notification" the kit
// writes (contract of the payload: the Declarative Web Push members, then
// the options only the worker reads, then data and app_badge).
var payloadOrder = []string{"title", "navigate", "body", "lang", "dir", "tag", "silent",
	"icon", "badge", "image", "renotify", "requireInteraction", "vibrate", "timestamp",
	"actions", "data", "app_badge"}

// keysInOrder lists the members of the JSON object raw, in the order written.
func keysInOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// checkKitPayload checks b against the shape the kit promises (the web_push
// and notification members in this order, then messageId for a broadcast;
// the notification's members in payloadOrder; every navigate on origin),
// then against WebKit's parser and the spec draft.
func checkKitPayload(t *testing.T, b []byte, origin Origin, messageID bool) {
	t.Helper()
	if err := checkWebKit(b); err != nil {
		t.Fatalf("WebKit would refuse it: %v\n%s", err, b)
	}
	if err := checkSpecDraft(b); err != nil {
		t.Fatalf("against the spec draft: %v\n%s", err, b)
	}
	want := []string{"web_push", "notification"}
	if messageID {
		want = append(want, "messageId")
	}
	if got := keysInOrder(t, b); !slices.Equal(got, want) {
		t.Fatalf("top-level members %v, want %v\n%s", got, want, b)
	}
	var p struct {
		Notification json.RawMessage `json:"notification"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	last := -1
	for _, k := range keysInOrder(t, p.Notification) {
		i := slices.Index(payloadOrder, k)
		if i <= last {
			t.Fatalf("notification member %q is unknown or out of order\n%s", k, b)
		}
		last = i
	}
	var pn payloadNotification
	if err := json.Unmarshal(p.Notification, &pn); err != nil {
		t.Fatal(err)
	}
	navs := []string{pn.Navigate}
	for _, a := range pn.Actions {
		if a.Navigate != "" {
			navs = append(navs, a.Navigate)
		}
	}
	for _, nav := range navs {
		path, ok := strings.CutPrefix(nav, origin.String())
		if !ok || !IsSameOriginPath(path) {
			t.Fatalf("navigate %q is not a path on %s", nav, origin)
		}
		checkLandsOnOrigin(t, path)
	}
}

// asSent is n as a reader of its payload gets it back: data.url "/" and
// empty objects are the same as none, actionUrls keep only the notification's
// actions. The icon is compared apart (sameIcon).
func asSent(t *testing.T, n Notification) Notification {
	t.Helper()
	if len(n.Data) == 0 {
		return n
	}
	d := json.NewDecoder(bytes.NewReader(n.Data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return n
	}
	page, _ := obj["url"].(string)
	if page == "" {
		page = "/"
	}
	if obj["url"] == "/" {
		delete(obj, "url")
	}
	if au, ok := obj["actionUrls"].(map[string]any); ok {
		for k, u := range au {
			// An action's page that is the notification's own goes as
			// the action's navigate, which is written for every action.
			if !slices.ContainsFunc(n.Actions, func(a Action) bool { return a.Action == k }) || u == page {
				delete(au, k)
			}
		}
		if len(au) == 0 {
			delete(obj, "actionUrls")
		}
	}
	n.Data = nil
	if len(obj) > 0 {
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		n.Data = b
	}
	return n
}

// sameIcon reports whether got, the payload's icon, is want (as sent) made
// absolute against origin, as the browser would resolve it.
func sameIcon(origin Origin, want, got string) bool {
	if want == "" || got == "" {
		return want == got
	}
	base, err := url.Parse(origin.String() + "/")
	if err != nil {
		return false
	}
	w, errW := url.Parse(want)
	g, errG := url.Parse(got)
	return errW == nil && errG == nil && g.IsAbs() &&
		base.ResolveReference(w).String() == base.ResolveReference(g).String()
}

// checkReadBack fails t unless ReadPayload gives back n from its payload b.
func checkReadBack(t *testing.T, n Notification, b []byte, origin Origin) {
	t.Helper()
	back, err := ReadPayload(b)
	if err != nil {
		t.Fatalf("ReadPayload: %v\n%s", err, b)
	}
	if !sameIcon(origin, n.Icon, back.Icon) {
		t.Fatalf("icon %q came back as %q", n.Icon, back.Icon)
	}
	want := asSent(t, n)
	want.Icon, back.Icon = "", ""
	if !sameNotification(want, back) {
		t.Fatalf("read back changed the notification:\n in  %#v\n out %#v\n%s", want, back, b)
	}
	if err := back.Validate("notification"); err != nil {
		t.Fatalf("the notification read back fails Validate: %v", err)
	}
}

func TestPayloads(t *testing.T) {
	origin := mustOrigin(t, "https://kit.example")
	full := Notification{
		Title: "Sale", Body: "Today only", Icon: "/icon.png", Badge: "/badge.png", Image: "/sale.jpg",
		Tag: "sale", Renotify: true, RequireInteraction: true, Vibrate: []int{200, 100, 200},
		Lang: "en-GB", Dir: "ltr", Timestamp: 1750000000000,
		Actions:  []Action{{Action: "open", Title: "Open"}, {Action: "later", Title: "Later", Icon: "/later.png"}},
		Data:     json.RawMessage(`{"url":"/sale?id=1#top","actionUrls":{"open":"/sale","later":"/later"},"id":7}`),
		AppBadge: intp(3),
	}
	for _, tt := range []struct {
		name   string
		origin string
		n      Notification
		want   string // the whole payload, when given
	}{
		{name: "title only: navigate is the root", n: Notification{Title: "Hi"},
			want: `{"web_push":8030,"notification":{"title":"Hi","navigate":"https://kit.example/"}}`},
		{name: "the page's test push", origin: "http://127.0.0.1:8000", n: Notification{
			Title: "Hello", Body: "World", Icon: "/web/icon-192.png", Badge: "/web/badge.png", Tag: "pushstart-test", Renotify: true,
			Data: json.RawMessage(`{"url":"/"}`)},
			want: `{"web_push":8030,"notification":{"title":"Hello","navigate":"http://127.0.0.1:8000/","body":"World","tag":"pushstart-test","icon":"http://127.0.0.1:8000/web/icon-192.png","badge":"/web/badge.png","renotify":true}}`},
		{name: "url with query and fragment", n: Notification{Title: "t", Data: json.RawMessage(`{"url":"/inbox?x=1#m"}`)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/inbox?x=1#m"}}`},
		{name: "other data kept, url taken out", n: Notification{Title: "t", Data: json.RawMessage(`{"id":7,"url":"/x","nested":{"a":[1,2]}}`)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/x","data":{"id":7,"nested":{"a":[1,2]}}}}`},
		{name: "actions with and without a page", n: Notification{Title: "t",
			Actions: []Action{{Action: "open", Title: "Open"}, {Action: "snooze", Title: "Snooze", Icon: "/z.png"}},
			Data:    json.RawMessage(`{"actionUrls":{"open":"/o","gone":"/g"}}`)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/","actions":[{"action":"open","title":"Open","navigate":"https://kit.example/o"},{"action":"snooze","title":"Snooze","navigate":"https://kit.example/","icon":"/z.png"}]}}`},
		{name: "data a string", n: Notification{Title: "t", Data: json.RawMessage(`"<b>&"`)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/","data":"\u003cb\u003e\u0026"}}`},
		{name: "data an array", n: Notification{Title: "t", Data: json.RawMessage(`[{"url":"/x"}]`)}},
		{name: "data a number", n: Notification{Title: "t", Data: json.RawMessage(`12.5`)}},
		{name: "data null", n: Notification{Title: "t", Data: json.RawMessage(`null`)}},
		{name: "data an empty object", n: Notification{Title: "t", Data: json.RawMessage(`{}`)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/"}}`},
		{name: "app badge 0 clears the badge", n: Notification{Title: "t", AppBadge: intp(0)},
			want: `{"web_push":8030,"notification":{"title":"t","navigate":"https://kit.example/","app_badge":0}}`},
		{name: "largest app badge", n: Notification{Title: "t", AppBadge: intp(MaxAppBadge)}},
		{name: "silent", n: Notification{Title: "t", Silent: true, Dir: "rtl", Lang: "ar"}},
		{name: "icon relative to the root", n: Notification{Title: "t", Icon: "icon.png"}},
		{name: "icon on another host", n: Notification{Title: "t", Icon: "https://cdn.example/i.png"}},
		{name: "icon without a scheme", n: Notification{Title: "t", Icon: "//cdn.example/i.png"}},
		{name: "icon as data", n: Notification{Title: "t", Icon: "data:image/png;base64,AAAA"}},
		{name: "text outside ASCII", n: Notification{Title: "é\u2028", Body: "😀", Data: json.RawMessage(`{"url":"/café/日本"}`)}},
		{name: "every option", n: full},
		{name: "on a port", origin: "http://localhost:8000", n: full},
		{name: "on IPv6", origin: "http://[::1]:8000", n: full},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := origin
			if tt.origin != "" {
				o = mustOrigin(t, tt.origin)
			}
			b, err := tt.n.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(b) != tt.want {
				t.Errorf("payload\n got  %s\n want %s", b, tt.want)
			}
			checkKitPayload(t, b, o, false)
			checkReadBack(t, tt.n, b, o)

			// A broadcast's push carries its message id at the end.
			bb, err := tt.n.MarshalBroadcast(o)
			if err != nil || !bytes.Equal(bb, b) {
				t.Fatalf("MarshalBroadcast = %s, %v; want what Marshal wrote", bb, err)
			}
			withID, err := WithMessageID(b, "b1.7.mac")
			if err != nil {
				t.Fatal(err)
			}
			checkKitPayload(t, withID, o, true)
			checkReadBack(t, tt.n, withID, o)
		})
	}
}

func TestAppBadgeRange(t *testing.T) {
	for _, tt := range []struct {
		badge int
		ok    bool
	}{{0, true}, {1, true}, {MaxAppBadge, true}, {-1, false}, {MaxAppBadge + 1, false}} {
		err := (&Notification{Title: "t", AppBadge: &tt.badge}).Validate("notification")
		var fe *FieldError
		if tt.ok && err != nil {
			t.Errorf("appBadge %d: %v", tt.badge, err)
		}
		if !tt.ok && (!errors.As(err, &fe) || fe.Field != "notification.appBadge") {
			t.Errorf("appBadge %d: error %v, want one naming notification.appBadge", tt.badge, err)
		}
	}
}

func TestMarshalNeedsAnOrigin(t *testing.T) {
	if b, err := (&Notification{Title: "t"}).Marshal(Origin{}); err == nil {
		t.Fatalf("Marshal with no origin wrote %s", b)
	}
}

func TestMarshalRefusesWhatDoesNotFitOneRecord(t *testing.T) {
	origin := mustOrigin(t, "https://kit.example")
	n := Notification{Title: "t"}
	empty, err := n.Marshal(origin)
	if err != nil {
		t.Fatal(err)
	}
	// Fill data so the JSON is exactly MaxPlaintext bytes, then one more.
	pad := MaxPlaintext - len(empty) - len(`,"data":""`)
	n.Data = json.RawMessage(`"` + strings.Repeat("x", pad) + `"`)
	b, err := n.Marshal(origin)
	if err != nil || len(b) != MaxPlaintext {
		t.Fatalf("%d bytes, err %v: want exactly %d accepted", len(b), err, MaxPlaintext)
	}
	checkKitPayload(t, b, origin, false)
	n.Data = json.RawMessage(`"` + strings.Repeat("x", pad+1) + `"`)
	_, err = n.Marshal(origin)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "notification" || !strings.Contains(fe.Message, "3993") {
		t.Fatalf("error %v, want one naming notification and the limit", err)
	}
}

func TestMarshalBroadcastKeepsRoomForTheMessageID(t *testing.T) {
	origin := mustOrigin(t, "https://push.example.com")
	n := Notification{Title: "t", Data: json.RawMessage(`{"url":"/news"}`)}
	empty, err := n.MarshalBroadcast(origin)
	if err != nil {
		t.Fatal(err)
	}
	// The data member (with its comma) adds the padding and 13 bytes.
	pad := MaxBroadcastPayload - len(empty) - len(`,"data":{"x":""}`)
	n.Data = json.RawMessage(`{"url":"/news","x":"` + strings.Repeat("x", pad) + `"}`)
	b, err := n.MarshalBroadcast(origin)
	if err != nil || len(b) != MaxBroadcastPayload {
		t.Fatalf("%d bytes, err %v: want exactly %d accepted", len(b), err, MaxBroadcastPayload)
	}
	withID, err := WithMessageID(b, strings.Repeat("i", MaxMessageID))
	if err != nil || len(withID) != MaxPlaintext {
		t.Fatalf("with the longest id: %d bytes, %v; want %d", len(withID), err, MaxPlaintext)
	}
	checkKitPayload(t, withID, origin, true)
	checkReadBack(t, n, withID, origin)

	n.Data = json.RawMessage(`{"url":"/news","x":"` + strings.Repeat("x", pad+1) + `"}`)
	_, err = n.MarshalBroadcast(origin)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "notification" || !strings.Contains(fe.Message, "message id") {
		t.Fatalf("one byte over: %v, want the broadcast limit", err)
	}
	if _, err := n.Marshal(origin); err != nil {
		t.Fatalf("as a single push it still fits: %v", err)
	}
}

func TestReadPayloadOfTheEarlierShape(t *testing.T) {
	// A broadcast stored before the payload became Declarative Web Push.
	old := []byte(`{"title":"Hi","body":"b","actions":[{"action":"open","title":"Open"}],"data":{"url":"/x","actionUrls":{"open":"/o"}},"messageId":"m"}`)
	n, err := ReadPayload(old)
	if err != nil {
		t.Fatal(err)
	}
	want := Notification{Title: "Hi", Body: "b", Actions: []Action{{Action: "open", Title: "Open"}},
		Data: json.RawMessage(`{"url":"/x","actionUrls":{"open":"/o"}}`)}
	if !sameNotification(n, want) {
		t.Fatalf("ReadPayload = %#v, want %#v", n, want)
	}
	const nav = `"notification":{"title":"t","navigate":"https://kit.example/"}`
	for _, bad := range []string{``, `[]`, `{"web_push":"8030",` + nav + `}`, `{"web_push":8031,` + nav + `}`, `{"web_push":null,` + nav + `}`,
		`{"web_push":8030}`, `{"web_push":8030,"notification":{"title":"t"}}`, `{"title":1}`} {
		if n, err := ReadPayload([]byte(bad)); err == nil {
			t.Errorf("ReadPayload(%s) = %#v, want an error", bad, n)
		}
	}
	// WebKit reads web_push as a number equal to 8030, however written.
	for _, good := range []string{`{"web_push":8030,` + nav + `}`, `{"web_push":8030.0,` + nav + `}`, `{"web_push":8.03e3,` + nav + `}`} {
		if n, err := ReadPayload([]byte(good)); err != nil || n.Title != "t" {
			t.Errorf("ReadPayload(%s) = %#v, %v; want the notification titled t", good, n, err)
		}
	}
}
