package app

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"pushstart/api"
	"pushstart/push"
)

// plus2 is an admin's clock two hours east of UTC.
func plus2(year int, month time.Month, day, hour, min, sec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, 0, time.FixedZone("UTC+2", 2*3600))
}

// composeOrigin stands for the admin page's origin.
var composeOrigin, _ = push.ParseOrigin("https://push.example.com")

// fullForm fills in every option the form has.
func fullForm() composeForm {
	f := newComposeForm()
	f.Title = "Sale"
	f.Body = "Everything -20%"
	f.Icon = "/web/icon-192.png"
	f.Badge = "/web/badge-96.png"
	f.Image = "https://cdn.example/sale.png"
	f.Tag = "sale"
	// Not silent: browsers refuse a vibration pattern on a silent one
	// (TestComposeSilent).
	f.Renotify, f.RequireInteraction = true, true
	f.Vibrate = "200, 100,200"
	f.Lang = "en-GB"
	f.Dir = "ltr"
	f.Timestamp = "2026-03-01T10:30"
	f.Actions = []composeAction{
		{Action: "open", Title: "Open", Icon: "/web/icon.svg", URL: "/sale"},
		{Action: "later", Title: "Later"},
	}
	f.URL = "/news?from=push"
	f.TTL = "3600"
	f.Urgency = "high"
	f.Topic = "sale-2026"
	f.Audience = audienceTags
	f.Tags = []string{"reminders", "news"}
	f.OtherTags = "vip, news,"
	f.SendAt = "2026-03-02T09:00:05"
	return f
}

func TestComposeEveryOptionLandsInThePayload(t *testing.T) {
	c := fullForm().compose(plus2, composeOrigin, "")
	if !c.ok() {
		t.Fatalf("errors: %v", c.Errors)
	}
	var got, want any
	if err := json.Unmarshal(c.Payload, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(`{"web_push": 8030, "notification": {
		"title": "Sale", "navigate": "https://push.example.com/news?from=push", "body": "Everything -20%",
		"icon": "https://push.example.com/web/icon-192.png", "badge": "/web/badge-96.png", "image": "https://cdn.example/sale.png",
		"tag": "sale", "renotify": true, "requireInteraction": true,
		"vibrate": [200, 100, 200], "lang": "en-GB", "dir": "ltr",
		"timestamp": 1772353800000,
		"actions": [{"action": "open", "title": "Open", "navigate": "https://push.example.com/sale", "icon": "/web/icon.svg"}, {"action": "later", "title": "Later", "navigate": "https://push.example.com/news?from=push"}]
	}}`), &want)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("payload\n%s\nwant\n%s", gb, wb)
	}
	// The payload is what the server makes of the broadcast's notification.
	server, err := c.Broadcast.Notification.MarshalBroadcast(composeOrigin)
	if err != nil || string(server) != string(c.Payload) {
		t.Errorf("the server would send %s (%v), the console shows %s", server, err, c.Payload)
	}

	b := c.Broadcast
	if b.TTL == nil || *b.TTL != 3600 || b.Urgency != "high" || b.Topic != "sale-2026" {
		t.Errorf("headers: ttl %v, urgency %q, topic %q", b.TTL, b.Urgency, b.Topic)
	}
	if b.To == nil || !slices.Equal(b.To.Tags, []string{"news", "reminders", "vip"}) || b.To.Users != nil || b.To.Endpoints != nil {
		t.Errorf("to: %+v, want the ticked topics in the offered order, then the typed ones, each once", b.To)
	}
	body, _ := json.Marshal(b)
	if !strings.Contains(string(body), `"sendAt":"2026-03-02T07:00:05Z"`) {
		t.Errorf("sendAt is not the admin's local time in RFC 3339: %s", body)
	}
}

func TestComposeDefaults(t *testing.T) {
	f := newComposeForm()
	f.Title = "Hello"
	c := f.compose(plus2, composeOrigin, "")
	if !c.ok() {
		t.Fatalf("errors: %v", c.Errors)
	}
	if string(c.Payload) != `{"web_push":8030,"notification":{"title":"Hello","navigate":"https://push.example.com/"}}` {
		t.Errorf("payload %s", c.Payload)
	}
	body, _ := json.Marshal(c.Broadcast)
	if want := `{"notification":{"title":"Hello"},"ttl":86400,"urgency":"normal","topic":""}`; string(body) != want {
		t.Errorf("broadcast %s\nwant      %s (to everyone, now)", body, want)
	}
	f.TTL = ""
	if c := f.compose(plus2, composeOrigin, ""); c.Broadcast.TTL != nil {
		t.Errorf("an empty TTL is sent as %d, want it left to the server", *c.Broadcast.TTL)
	}
}

func TestComposeAudience(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*composeForm)
		toMe  string
		want  *api.Audience
		field string
	}{
		{name: "everyone", edit: func(f *composeForm) {}, want: nil},
		{name: "offered tags", edit: func(f *composeForm) { f.Audience, f.Tags = audienceTags, []string{"news"} }, want: &api.Audience{Tags: []string{"news"}}},
		{name: "typed tags", edit: func(f *composeForm) { f.Audience, f.OtherTags = audienceTags, " a-b , c_d " }, want: &api.Audience{Tags: []string{"a-b", "c_d"}}},
		{name: "no tag", edit: func(f *composeForm) { f.Audience = audienceTags }, field: "to.tags"},
		{name: "bad tag", edit: func(f *composeForm) { f.Audience, f.Tags, f.OtherTags = audienceTags, []string{"news"}, "News" }, field: "to.tags[1]"},
		{name: "too many tags", edit: func(f *composeForm) {
			f.Audience, f.OtherTags = audienceTags, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"
		}, field: "to.tags"},
		{name: "users", edit: func(f *composeForm) { f.Audience, f.Users = audienceUsers, "ann, 42 ,, bob" }, want: &api.Audience{Users: []string{"ann", "42", "bob"}}},
		{name: "no user", edit: func(f *composeForm) { f.Audience, f.Users = audienceUsers, " , " }, field: "to.users"},
		{name: "user id too long", edit: func(f *composeForm) {
			f.Audience, f.Users = audienceUsers, "u1, "+strings.Repeat("u", push.MaxUserIDLen+1)
		}, field: "to.users[1]"},
		{name: "send to me", edit: func(f *composeForm) { f.Audience = audienceTags }, toMe: "https://push.example/me", want: &api.Audience{Endpoints: []string{"https://push.example/me"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newComposeForm()
			f.Title = "Hi"
			tt.edit(&f)
			c := f.compose(plus2, composeOrigin, tt.toMe)
			if tt.field != "" {
				if c.errorAt(tt.field) == nil {
					t.Fatalf("errors %v, want one at %s", c.Errors, tt.field)
				}
				if got := f.inputFor(tt.field); got == inputForm {
					t.Errorf("%s is shown at no input", tt.field)
				}
				return
			}
			if !c.ok() {
				t.Fatalf("errors: %v", c.Errors)
			}
			gb, _ := json.Marshal(c.Broadcast.To)
			wb, _ := json.Marshal(tt.want)
			if string(gb) != string(wb) {
				t.Errorf("to %s, want %s", gb, wb)
			}
		})
	}
}

func TestComposeErrorsNameTheAPIField(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		edit  func(*composeForm)
		field string
		input string
	}{
		{"no title", func(f *composeForm) { f.Title = " " }, "notification.title", "compose-title"},
		{"long title", func(f *composeForm) { f.Title = long(257) }, "notification.title", "compose-title"},
		{"long body", func(f *composeForm) { f.Body = long(1025) }, "notification.body", "compose-body"},
		{"long icon", func(f *composeForm) { f.Icon = "/" + long(2048) }, "notification.icon", "compose-icon"},
		{"long badge", func(f *composeForm) { f.Badge = "/" + long(2048) }, "notification.badge", "compose-badge"},
		{"long image", func(f *composeForm) { f.Image = "/" + long(2048) }, "notification.image", "compose-image"},
		{"long tag", func(f *composeForm) { f.Tag = long(257) }, "notification.tag", "compose-tag"},
		{"renotify without tag", func(f *composeForm) { f.Renotify = true }, "notification.renotify", "compose-renotify"},
		{"vibrate not numbers", func(f *composeForm) { f.Vibrate = "200,short" }, "notification.vibrate", "compose-vibrate"},
		{"vibrate out of range", func(f *composeForm) { f.Vibrate = "200,20000" }, "notification.vibrate", "compose-vibrate"},
		{"long lang", func(f *composeForm) { f.Lang = long(36) }, "notification.lang", "compose-lang"},
		{"bad dir", func(f *composeForm) { f.Dir = "up" }, "notification.dir", "compose-dir"},
		{"bad timestamp", func(f *composeForm) { f.Timestamp = "yesterday" }, "notification.timestamp", "compose-timestamp"},
		{"five actions", func(f *composeForm) { f.Actions = make([]composeAction, 5) }, "notification.actions", inputActions},
		{"action without name", func(f *composeForm) { f.Actions = []composeAction{{Title: "Open"}} }, "notification.actions[0].action", "compose-action-0-name"},
		{"action without title", func(f *composeForm) {
			f.Actions = []composeAction{{Action: "a", Title: "A"}, {Action: "b"}}
		}, "notification.actions[1].title", "compose-action-1-title"},
		{"long action icon", func(f *composeForm) {
			f.Actions = []composeAction{{Action: "a", Title: "A", Icon: "/" + long(2048)}}
		}, "notification.actions[0].icon", "compose-action-0-icon"},
		{"two actions of one name", func(f *composeForm) {
			f.Actions = []composeAction{{Action: "go", Title: "A", URL: "/a"}, {Action: "go", Title: "B", URL: "/b"}}
		}, "notification.actions[1].action", "compose-action-1-name"},
		{"action url elsewhere", func(f *composeForm) {
			f.Actions = []composeAction{{Action: "a", Title: "A"}, {Action: "go", Title: "Go", URL: "https://evil.example/"}}
		}, "notification.data.actionUrls.go", "compose-action-1-url"},
		{"url elsewhere", func(f *composeForm) { f.URL = "//evil.example" }, "notification.data.url", "compose-url"},
		{"ttl not a number", func(f *composeForm) { f.TTL = "1d" }, "ttl", "compose-ttl"},
		{"ttl negative", func(f *composeForm) { f.TTL = "-1" }, "ttl", "compose-ttl"},
		{"ttl over 28 days", func(f *composeForm) { f.TTL = "2419201" }, "ttl", "compose-ttl"},
		{"bad urgency", func(f *composeForm) { f.Urgency = "urgent" }, "urgency", "compose-urgency"},
		{"topic with a space", func(f *composeForm) { f.Topic = "spring sale" }, "topic", "compose-topic"},
		{"long topic", func(f *composeForm) { f.Topic = long(33) }, "topic", "compose-topic"},
		{"bad send time", func(f *composeForm) { f.SendAt = "soon" }, "sendAt", "compose-send-at"},
		{"too big", func(f *composeForm) { f.Icon, f.Image = "/"+long(2000), "/"+long(2000) }, "notification", inputPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newComposeForm()
			f.Title = "Hi"
			tt.edit(&f)
			c := f.compose(plus2, composeOrigin, "")
			if c.ok() {
				t.Fatal("the form has no error")
			}
			if len(c.Errors) != 1 || c.Errors[0].Field != tt.field {
				t.Fatalf("errors %v, want one naming %s", c.Errors, tt.field)
			}
			if got := f.inputFor(tt.field); got != tt.input {
				t.Errorf("shown at %s, want %s", got, tt.input)
			}
		})
	}
}

func TestComposeMissingTitleHidesNoOtherError(t *testing.T) {
	f := newComposeForm()
	f.Renotify = true
	f.Topic = "a b"
	f.TTL = "x"
	c := f.compose(plus2, composeOrigin, "")
	for _, field := range []string{"notification.title", "notification.renotify", "topic", "ttl"} {
		if c.errorAt(field) == nil {
			t.Errorf("no error at %s; errors %v", field, c.Errors)
		}
	}
	// The preview still has a payload to show.
	if !json.Valid(c.Payload) {
		t.Errorf("payload %q", c.Payload)
	}
}

func TestComposeSizeLimit(t *testing.T) {
	// A form whose payload is exactly n bytes.
	sized := func(t *testing.T, n int) composeForm {
		t.Helper()
		f := newComposeForm()
		f.Title = "Hi"
		f.Icon, f.Image = "/", "/"
		base := len(f.compose(plus2, composeOrigin, "").Payload)
		pad := n - base
		f.Icon += strings.Repeat("i", min(pad, 2000))
		f.Image += strings.Repeat("m", pad-min(pad, 2000))
		if got := len(f.compose(plus2, composeOrigin, "").Payload); got != n {
			t.Fatalf("payload of %d bytes, want %d", got, n)
		}
		return f
	}
	tests := []struct {
		name  string
		bytes int
		ok    bool
		level string
	}{
		{"small", 1000, true, sizeOK},
		{"near", push.MaxBroadcastPayload - 10, true, sizeNear},
		{"at the limit", push.MaxBroadcastPayload, true, sizeNear},
		{"one byte over: the message id would not fit", push.MaxBroadcastPayload + 1, false, sizeOver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sized(t, tt.bytes).compose(plus2, composeOrigin, "")
			if c.ok() != tt.ok {
				t.Fatalf("ok = %v, want %v; errors %v", c.ok(), tt.ok, c.Errors)
			}
			if !tt.ok && !strings.Contains(c.errorAt("notification").Message, "3897") {
				t.Errorf("error %q does not name the limit", c.errorAt("notification").Message)
			}
			if _, level := payloadSize(len(c.Payload)); level != tt.level {
				t.Errorf("level %q, want %q", level, tt.level)
			}
			// With the message id the server adds, the push still fits.
			if tt.ok {
				id := strings.Repeat("a", push.MaxMessageID)
				withID, err := push.WithMessageID(c.Payload, id)
				if err != nil || len(withID) > push.MaxPlaintext {
					t.Errorf("with the longest message id: %d bytes, %v", len(withID), err)
				}
			}
		})
	}
}

// TestComposeWithoutOrigin: with no origin to write the links on, the
// preview still shows the notification, and the size, which cannot be
// checked, keeps the broadcast from passing as if it fitted.
func TestComposeWithoutOrigin(t *testing.T) {
	c := fullForm().compose(plus2, push.Origin{}, "")
	var got map[string]any
	if err := json.Unmarshal(c.Payload, &got); err != nil || got["title"] != "Sale" {
		t.Errorf("payload %s (%v), want the notification's JSON", c.Payload, err)
	}
	if fe := c.errorAt("notification"); c.ok() || fe == nil || !strings.Contains(fe.Message, "size is not checked") {
		t.Errorf("errors %v, want one at notification saying the size is not checked", c.Errors)
	}
}

func TestPayloadSizeText(t *testing.T) {
	tests := []struct {
		bytes int
		want  string
	}{
		{17, "17 of 3,897 bytes (96 more are kept for the message id; 3,993 in all)"},
		{3600, "3,600 of 3,897 bytes: 297 left (96 more are kept for the message id; 3,993 in all)"},
		{3900, "3,900 of 3,897 bytes: 3 too many (96 more are kept for the message id; 3,993 in all)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got, _ := payloadSize(tt.bytes); got != tt.want {
				t.Errorf("payloadSize(%d) = %q", tt.bytes, got)
			}
		})
	}
}

func TestComposeTimes(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Time
	}{
		{"minutes", "2026-07-14T09:15", time.Date(2026, 7, 14, 7, 15, 0, 0, time.UTC)},
		{"seconds", "2026-07-14T09:15:30", time.Date(2026, 7, 14, 7, 15, 30, 0, time.UTC)},
		{"milliseconds", "2026-07-14T09:15:30.250", time.Date(2026, 7, 14, 7, 15, 30, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newComposeForm()
			f.Title, f.Timestamp, f.SendAt = "Hi", tt.value, tt.value
			c := f.compose(plus2, composeOrigin, "")
			if !c.ok() {
				t.Fatalf("errors: %v", c.Errors)
			}
			if c.Notification.Timestamp != tt.want.UnixMilli() {
				t.Errorf("timestamp %d, want %d", c.Notification.Timestamp, tt.want.UnixMilli())
			}
			if c.Broadcast.SendAt == nil || !c.Broadcast.SendAt.Equal(tt.want) {
				t.Errorf("sendAt %v, want %v", c.Broadcast.SendAt, tt.want)
			}
		})
	}
}

func TestInputForServerFields(t *testing.T) {
	f := newComposeForm()
	f.Actions = []composeAction{{Action: "open"}, {Action: "later"}}
	tests := []struct{ field, input string }{
		{"to", inputAudience},
		{"to.tags[3]", inputTags},
		{"to.users[0]", "compose-users"},
		{"to.endpoints[0]", inputToMe},
		{"notification.data", "compose-url"},
		{"notification.data.actionUrls.later", "compose-action-1-url"},
		{"notification.data.actionUrls.gone", inputActions},
		{"notification.actions[7].title", inputForm},
		{"notification.actions[1].icon", "compose-action-1-icon"},
		{"notification.requireInteraction", "compose-require-interaction"},
		{"sendAt", "compose-send-at"},
		{"", inputForm},
		{"notification.unknown", inputForm},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := f.inputFor(tt.field); got != tt.input {
				t.Errorf("inputFor(%q) = %q, want %q", tt.field, got, tt.input)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 3993: "3,993", 1234567: "1,234,567", -4000: "-4,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPreviewLoadsOnlyThisSite(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"/web/icon-192.png", true},
		{"", false},
		{"https://cdn.example/i.png", false},
		{"//cdn.example/i.png", false},
		{"data:image/png;base64,AAAA", false},
		{"/\\cdn.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if src, ok := previewImage(tt.url); ok != tt.ok || (ok && src != tt.url) {
				t.Errorf("previewImage(%q) = %q, %v", tt.url, src, ok)
			}
		})
	}
}

func TestPreviewFlags(t *testing.T) {
	n := push.Notification{Tag: "sale", Renotify: true, RequireInteraction: true, Vibrate: []int{200, 100}}
	want := []string{`Replaces an earlier notification tagged "sale", and alerts again`, "Stays until clicked or dismissed", "Vibrates 200, 100 ms"}
	if got := previewFlags(n); !slices.Equal(got, want) {
		t.Errorf("flags %q, want %q", got, want)
	}
	n.Silent = true
	if got := previewFlags(n); got[len(got)-1] != "Silent: no sound or vibration" {
		t.Errorf("silent: %q", got)
	}
}

func TestComposeSilent(t *testing.T) {
	f := fullForm()
	f.Silent = true
	if c := f.compose(plus2, composeOrigin, ""); c.errorAt("notification.vibrate") == nil {
		t.Fatalf("silent with a vibration pattern: errors %v, want one at notification.vibrate", c.Errors)
	}
	f.Vibrate = ""
	c := f.compose(plus2, composeOrigin, "")
	if !c.ok() {
		t.Fatalf("errors: %v", c.Errors)
	}
	if !c.Notification.Silent || !strings.Contains(string(c.Payload), `"silent":true`) {
		t.Errorf("silent did not reach the payload: %s", c.Payload)
	}
}
