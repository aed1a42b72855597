package app

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// chartBars parses a funnel chart and returns its root's attributes and
// the width of each stage's bar, by stage.
func chartBars(t *testing.T, svg string) (map[string]string, map[string]string) {
	t.Helper()
	attrs, bars := map[string]string{}, map[string]string{}
	d := xml.NewDecoder(strings.NewReader(svg))
	stage, depth := "", 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			get := func(name string) string {
				for _, a := range el.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case depth == 1:
				if el.Name.Local != "svg" {
					t.Fatalf("root element %s, want svg", el.Name.Local)
				}
				for _, a := range el.Attr {
					attrs[a.Name.Local] = a.Value
				}
			case el.Name.Local == "g":
				stage = get("data-stage")
			case el.Name.Local == "rect" && strings.HasPrefix(get("class"), "bar "):
				bars[stage] = get("width")
			}
		case xml.EndElement:
			depth--
		}
	}
	return attrs, bars
}

func TestFunnelChartSVG(t *testing.T) {
	tests := []struct {
		name      string
		title     string
		f         api.Funnel
		wantBars  map[string]string // stage → width, chartBarMax being 200
		wantLabel string
	}{
		{
			name: "proportions", title: "Sale",
			f:         api.Funnel{Sent: 10, Shown: 5, Clicked: 1},
			wantBars:  map[string]string{"sent": "200", "shown": "100", "clicked": "20"},
			wantLabel: `Funnel of "Sale": 10 sent, 5 shown (50% of sent), 1 clicked (10% of sent)`,
		},
		{
			name: "nothing sent", title: "Later",
			f:         api.Funnel{},
			wantBars:  map[string]string{"sent": "0", "shown": "0", "clicked": "0"},
			wantLabel: `Funnel of "Later": 0 sent, 0 shown, 0 clicked`,
		},
		{
			name: "a small share still shows", title: "Big",
			f:         api.Funnel{Sent: 1000, Shown: 990, Clicked: 1},
			wantBars:  map[string]string{"sent": "200", "shown": "198", "clicked": "1"},
			wantLabel: `Funnel of "Big": 1000 sent, 990 shown (99% of sent), 1 clicked (0.1% of sent)`,
		},
		{
			name: "reports without sends are scaled to the largest", title: "Odd",
			f:         api.Funnel{Sent: 0, Shown: 2, Clicked: 1},
			wantBars:  map[string]string{"sent": "0", "shown": "200", "clicked": "100"},
			wantLabel: `Funnel of "Odd": 0 sent, 2 shown, 1 clicked`,
		},
		{
			name: "the title is escaped", title: `<script>alert("x")</script> & 'co'`,
			f:         api.Funnel{Sent: 2, Shown: 2, Clicked: 2},
			wantBars:  map[string]string{"sent": "200", "shown": "200", "clicked": "200"},
			wantLabel: `Funnel of "<script>alert(\"x\")</script> & 'co'": 2 sent, 2 shown (100% of sent), 2 clicked (100% of sent)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := funnelChartSVG(tt.title, tt.f)
			if !strings.HasPrefix(svg, "<svg ") {
				t.Fatalf("goapp.Raw needs one root element; got %.40s", svg)
			}
			if strings.Contains(svg, "<script") || strings.Contains(svg, "NaN") {
				t.Fatalf("unescaped or NaN in the chart:\n%s", svg)
			}
			attrs, bars := chartBars(t, svg)
			if attrs["class"] != "funnel-chart" || attrs["role"] != "img" {
				t.Errorf("root class %q role %q, want funnel-chart, img", attrs["class"], attrs["role"])
			}
			if attrs["aria-label"] != tt.wantLabel {
				t.Errorf("aria-label\n %s\nwant\n %s", attrs["aria-label"], tt.wantLabel)
			}
			if fmt.Sprint(bars) != fmt.Sprint(tt.wantBars) {
				t.Errorf("bar widths %v, want %v", bars, tt.wantBars)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0%"}, {1, "100%"}, {0.5, "50%"}, {0.125, "12.5%"}, {1.0 / 3, "33.3%"}, {0.001, "0.1%"}, {0.0004, "0%"}, {-1, "0%"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := percent(tt.f); got != tt.want {
				t.Errorf("percent(%v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestBroadcastProgress(t *testing.T) {
	tests := []struct {
		name     string
		b        api.BroadcastStatus
		fraction float64
		text     string
	}{
		{name: "queued", b: api.BroadcastStatus{Status: "queued", Total: 10}, fraction: 0, text: "0 of 10"},
		{name: "every outcome counts", b: api.BroadcastStatus{Status: "sending", Total: 10, Sent: 3, Failed: 1, Pruned: 1, Skipped: 1}, fraction: 0.6, text: "6 of 10"},
		{name: "done", b: api.BroadcastStatus{Status: "done", Total: 4, Sent: 4}, fraction: 1, text: "4 of 4"},
		{name: "done for nobody", b: api.BroadcastStatus{Status: "done"}, fraction: 1, text: "0 of 0"},
		{name: "canceled shows where it stopped", b: api.BroadcastStatus{Status: "canceled", Total: 10, Sent: 2}, fraction: 0.2, text: "2 of 10"},
		{name: "never above one", b: api.BroadcastStatus{Status: "sending", Total: 2, Sent: 3}, fraction: 1, text: "3 of 2"},
		{name: "nothing to send yet", b: api.BroadcastStatus{Status: "scheduled"}, fraction: 0, text: "0 of 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := broadcastProgress(tt.b)
			value, maxValue := p.Bar()
			if got := float64(value) / float64(maxValue); got != tt.fraction || p.String() != tt.text {
				t.Errorf("the bar shows %d of %d (%s), want %v of it (%s)", value, maxValue, p, tt.fraction, tt.text)
			}
		})
	}
}

func TestShortTime(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.Local)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{name: "today", t: time.Date(2025, 6, 15, 8, 5, 9, 0, time.Local), want: "08:05:09"},
		{name: "this year", t: time.Date(2025, 1, 2, 15, 4, 0, 0, time.Local), want: "Jan 2, 15:04"},
		{name: "another year", t: time.Date(2024, 6, 15, 12, 0, 0, 0, time.Local), want: "2024-06-15 12:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shortTime(tt.t, now); got != tt.want {
				t.Errorf("shortTime = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestToFollow(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	soon, later := now.Add(30*time.Second), now.Add(time.Hour)
	list := []api.BroadcastStatus{
		{ID: "s-soon", Status: "scheduled", SendAt: &soon},
		{ID: "s-later", Status: "scheduled", SendAt: &later},
		{ID: "sending", Status: "sending"},
		{ID: "done", Status: "done"},
		{ID: "queued", Status: "queued"},
		{ID: "canceled", Status: "canceled"},
	}
	tests := []struct {
		name  string
		skip  map[string]bool
		slots int
		want  []string
	}{
		{name: "running first, then scheduled ones due soon", slots: 3, want: []string{"sending", "queued", "s-soon"}},
		{name: "bounded by the free slots", slots: 1, want: []string{"sending"}},
		{name: "none free", slots: 0, want: nil},
		{name: "already followed ones are left", skip: map[string]bool{"sending": true}, slots: 3, want: []string{"queued", "s-soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toFollow(list, tt.skip, tt.slots, now); !slices.Equal(got, tt.want) {
				t.Errorf("toFollow = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAppendPage(t *testing.T) {
	id := func(b api.BroadcastStatus) string { return b.ID }
	list := []api.BroadcastStatus{{ID: "c"}, {ID: "b"}}
	// A broadcast made since the first page pushed "b" onto the second.
	got := appendPage(list, []api.BroadcastStatus{{ID: "b"}, {ID: "a"}}, id)
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if !slices.Equal(ids, []string{"c", "b", "a"}) {
		t.Errorf("ids %v, want c b a", ids)
	}
}

// element is one start tag of rendered markup and the text right after it.
type element struct {
	Tag   string
	Attrs map[string]string
	Text  string
}

var (
	startTag  = regexp.MustCompile(`<([a-z0-9]+)((?:\s+[a-zA-Z0-9:-]+(?:="[^"]*")?)*)\s*/?>([^<]*)`)
	attribute = regexp.MustCompile(`([a-zA-Z0-9:-]+)(?:="([^"]*)")?`)
)

// findElements returns the elements of markup with tag and every one of
// attrs, each "name=value", or "name" for any value; the order of the
// attributes in the markup does not matter.
func findElements(markup, tag string, attrs ...string) []element {
	var out []element
	for _, m := range startTag.FindAllStringSubmatch(markup, -1) {
		if m[1] != tag {
			continue
		}
		e := element{Tag: m[1], Attrs: map[string]string{}, Text: html.UnescapeString(strings.TrimSpace(m[3]))}
		for _, a := range attribute.FindAllStringSubmatch(m[2], -1) {
			e.Attrs[a[1]] = html.UnescapeString(a[2])
		}
		ok := true
		for _, want := range attrs {
			name, value, hasValue := strings.Cut(want, "=")
			got, present := e.Attrs[name]
			if !present || hasValue && got != value {
				ok = false
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

// wantText checks that markup has an element with tag and attrs saying
// text (any text when text is "").
func wantText(t *testing.T, markup, text, tag string, attrs ...string) {
	t.Helper()
	es := findElements(markup, tag, attrs...)
	if !slices.ContainsFunc(es, func(e element) bool { return text == "" || e.Text == text }) {
		var said []string
		for _, e := range es {
			said = append(said, e.Text)
		}
		t.Errorf("no <%s %s> saying %q; those there say %q", tag, strings.Join(attrs, " "), text, said)
	}
}

// The end-to-end tests find the panels' parts by these attributes.
func TestBroadcastsPanelMarkup(t *testing.T) {
	created := time.Now().Add(-time.Minute)
	p := newBroadcastsPanel(adminEnv{}).(*broadcastsPanel)
	p.loaded = true
	p.list = []api.BroadcastStatus{
		{ID: "b2", Status: "sending", Title: "Flash <sale>", Audience: "everyone", Total: 4, Sent: 1, Failed: 1, CreatedAt: created},
		{ID: "b1", Status: "done", Title: "Hello", Audience: "tags: news", Total: 2, Sent: 2, CreatedAt: created},
	}
	p.next = "b1"
	p.funnelID = "b1"
	p.funnel = &api.Funnel{ID: "b1", Sent: 2, Shown: 2, Clicked: 1, Closed: 0, ClickThrough: 0.5,
		ByBrowser: []api.BrowserFunnel{{Browser: "Firefox", Shown: 2, Clicked: 1}}, Actions: []api.Count{{Key: "open", Count: 1}}}
	m := goapp.HTMLString(p)

	wantText(t, m, "", "tr", "data-broadcast-id=b2", "data-status=sending")
	wantText(t, m, "", "tr", "data-broadcast-id=b1", "data-status=done")
	wantText(t, m, "Flash <sale>", "th", "scope=row", "title=b2")
	wantText(t, m, "Sending", "span", "class=badge badge-sending")
	wantText(t, m, "", "progress", "class=progress", "max=4", "value=2")
	wantText(t, m, "2 of 4", "span", "class=progress-text")
	if n := len(findElements(m, "progress", "class=progress")); n != len(p.list) {
		t.Errorf("%d progress bars, want one a row", n)
	}
	wantText(t, m, "Status", "th", "scope=col")
	// Cancel is offered on the unfinished broadcast only.
	if es := findElements(m, "button"); !slices.ContainsFunc(es, func(e element) bool { return e.Text == "Cancel" }) ||
		len(slices.DeleteFunc(es, func(e element) bool { return e.Text != "Cancel" })) != 1 {
		t.Error("want one Cancel button, for the sending broadcast")
	}
	wantText(t, m, "More broadcasts", "button", "type=button")

	wantText(t, m, "", "section", "class=funnel", "data-broadcast-id=b1")
	for key, want := range map[string]string{"sent": "2", "shown": "2", "clicked": "1", "closed": "0", "ctr": "50%"} {
		wantText(t, m, want, "dd", "data-funnel="+key)
	}
	wantText(t, m, "", "svg", "class=funnel-chart", "role=img", `aria-label=Funnel of "Hello": 2 sent, 2 shown (100% of sent), 1 clicked (50% of sent)`)
	wantText(t, m, "Firefox", "th", "scope=row")
	wantText(t, m, "", "tr", "data-action=open")
	wantText(t, m, "Close funnel", "button", "type=button")
}

func TestSubscriptionsPanelMarkup(t *testing.T) {
	p := newSubscriptionsPanel(adminEnv{}).(*subscriptionsPanel)
	p.loaded = true
	p.stats = &api.SubscriptionStats{Total: 3,
		ByService: []api.Count{{Key: "local", Count: 3}},
		ByBrowser: []api.Count{{Key: "Firefox", Count: 2}, {Key: "Chrome", Count: 1}},
		ByTag:     []api.Count{{Key: "news", Count: 1}}}
	p.list = []api.SubscriptionInfo{{ID: 7, EndpointHash: "ab12cd", Host: "127.0.0.1:7100", Service: "local",
		Browser: "Firefox", UserAgent: "Mozilla/5.0 (X11) Firefox/140.0", Tags: []string{"news"}, CreatedAt: time.Now()}}
	m := goapp.HTMLString(p)
	wantText(t, m, "3", "dd", "data-stat=total")
	wantText(t, m, "3", "dd", "data-stat=service:local")
	wantText(t, m, "Local push service", "dt")
	wantText(t, m, "2", "dd", "data-stat=browser:Firefox")
	wantText(t, m, "1", "dd", "data-stat=browser:Chrome")
	wantText(t, m, "1", "dd", "data-stat=tag:news")
	wantText(t, m, "", "tr", "data-subscription-id=7")
	wantText(t, m, "ab12cd", "code", "class=hash")
	wantText(t, m, "", "td", "title=Mozilla/5.0 (X11) Firefox/140.0")
	wantText(t, m, "Delete", "button", "class=danger")

	p.onDelete(goapp.Context{}, 7) // the first click only asks to confirm
	m = goapp.HTMLString(p)
	wantText(t, m, "Confirm delete", "button", "class=danger")
	wantText(t, m, "Keep", "button")
	if p.deleting[7] {
		t.Error("the first click deleted the subscription")
	}
}

func TestDeliveriesPanelMarkup(t *testing.T) {
	p := newDeliveriesPanel(adminEnv{}).(*deliveriesPanel)
	p.loaded = true
	p.filter = deliveryFilter{Broadcast: "old", Outcome: "gone"}
	p.broadcasts = []api.BroadcastStatus{{ID: "b1", Title: "Hello", CreatedAt: time.Now()}}
	p.list = []api.DeliveryInfo{
		{ID: 5, BroadcastID: "b1", EndpointHash: "ab12cd", Host: "fcm.googleapis.com", Service: "fcm", Outcome: "gone", Status: 410, Attempts: 1, Error: "push service answered 410", At: time.Now()},
		{ID: 4, EndpointHash: "ef34", Service: "local", Outcome: "sent", Status: 201, Attempts: 2, At: time.Now()},
	}
	m := goapp.HTMLString(p)
	for _, id := range []string{"filter-broadcast", "filter-outcome", "filter-service"} {
		wantText(t, m, "", "select", "id="+id)
		wantText(t, m, "", "label", "for="+id)
	}
	wantText(t, m, "Any broadcast", "option", "value=any")
	wantText(t, m, "Any push service", "option", "value=any")
	wantText(t, m, "gone", "option", "value=gone", "selected")
	wantText(t, m, "old", "option", "value=old", "selected")
	wantText(t, m, "FCM (Google)", "option", "value=fcm")
	wantText(t, m, "", "tr", "data-delivery-id=5", "data-outcome=gone")
	wantText(t, m, "Hello", "td", "title=b1")
	wantText(t, m, "Test send", "td")
	wantText(t, m, "410", "td", "class=num")
	wantText(t, m, "HTTP status", "th", "scope=col")
	wantText(t, m, "push service answered 410", "td", "class=error-text")
}

func TestFilterValues(t *testing.T) {
	for _, v := range []string{"", "gone", "fcm", "0190ab"} {
		if got := filterValue(optionValue(v)); got != v {
			t.Errorf("filter %q comes back as %q", v, got)
		}
	}
}
