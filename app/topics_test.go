package app

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/push"
)

func TestOfferedTopicsAreValidTags(t *testing.T) {
	var tags []string
	for _, tp := range offeredTopics() {
		if tp.Label == "" {
			t.Errorf("topic %q has no label", tp.Tag)
		}
		tags = append(tags, tp.Tag)
	}
	if len(tags) == 0 {
		t.Fatal("no topics offered")
	}
	if err := push.CheckTags("tags", tags); err != nil {
		t.Errorf("the offered topics would be refused: %v", err)
	}
}

func TestWithTopic(t *testing.T) {
	tests := []struct {
		name string
		tags []string
		tag  string
		on   bool
		want []string
	}{
		{name: "first", tag: "news", on: true, want: []string{"news"}},
		{name: "added in order", tags: []string{"reminders"}, tag: "news", on: true, want: []string{"news", "reminders"}},
		{name: "already there", tags: []string{"news"}, tag: "news", on: true, want: []string{"news"}},
		{name: "removed", tags: []string{"news", "reminders"}, tag: "news", want: []string{"reminders"}},
		{name: "the last removed", tags: []string{"news"}, tag: "news", want: []string{}},
		{name: "others kept", tags: []string{"beta", "news"}, tag: "reminders", on: true, want: []string{"beta", "news", "reminders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.tags)
			got := withTopic(in, tt.tag, tt.on)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("withTopic(%q, %q, %v) = %#v, want %#v", tt.tags, tt.tag, tt.on, got, tt.want)
			}
			if !slices.Equal(in, tt.tags) {
				t.Errorf("the stored list changed to %q", in)
			}
		})
	}
}

func TestTopicsFollowState(t *testing.T) {
	saved := pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true, Tags: []string{"news"}}
	tests := []struct {
		name       string
		s          pageState
		canChoose  bool
		news, rems bool
	}{
		{name: "not subscribed", s: pageState{Checked: true, Permission: PermissionGranted}},
		{name: "not yet stored", s: pageState{Checked: true, Permission: PermissionGranted, Subscribed: true}},
		{name: "stored", s: saved, canChoose: true, news: true},
		{name: "saving", s: func() pageState {
			s := saved
			s.Busy = "Saving the topics…"
			s.Choosing = []string{"news", "reminders"}
			return s
		}(), news: true, rems: true},
		{name: "saving none", s: func() pageState { s := saved; s.Busy = "Saving the topics…"; s.Choosing = []string{}; return s }()},
		{name: "another action", s: func() pageState { s := saved; s.Busy = "Sending…"; return s }(), news: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.canChooseTopics(); got != tt.canChoose {
				t.Errorf("topics enabled = %v, want %v", got, tt.canChoose)
			}
			if got := tt.s.topicChecked("news"); got != tt.news {
				t.Errorf("News ticked = %v, want %v", got, tt.news)
			}
			if got := tt.s.topicChecked("reminders"); got != tt.rems {
				t.Errorf("Reminders ticked = %v, want %v", got, tt.rems)
			}
		})
	}
}

func TestTopicsViewRendersTheChoice(t *testing.T) {
	s := pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true, Tags: []string{"reminders"}}
	html := goapp.HTMLString(newTopicsView(s, nil))
	for _, want := range []string{`aria-labelledby="topics-heading"`, ">Topics<", ">News<", ">Reminders<", "Stored on the server: reminders"} {
		if !strings.Contains(html, want) {
			t.Errorf("the topics lack %s:\n%s", want, html)
		}
	}
	// The attributes as go-app writes them: "checked" alone for true,
	// checked="false" for false (in the browser it sets the property).
	boxes := regexp.MustCompile(`<input[^>]*id="topic-(\w+)"[^>]*>`).FindAllStringSubmatch(html, -1)
	if len(boxes) != len(offeredTopics()) {
		t.Fatalf("%d checkboxes, want one per offered topic:\n%s", len(boxes), html)
	}
	for _, m := range boxes {
		on := strings.Contains(m[0], " checked") && !strings.Contains(m[0], `checked="false"`)
		if want := m[1] == "reminders"; on != want {
			t.Errorf("%s rendered checked %v, want %v: %s", m[1], on, want, m[0])
		}
	}
}

func TestTopicsShownOnlyWhenSubscribed(t *testing.T) {
	subscribed := pageState{Checked: true, Permission: PermissionGranted, Subscribed: true, Saved: true}
	for _, tt := range []struct {
		name string
		s    pageState
		want bool
	}{
		{name: "subscribed", s: subscribed, want: true},
		{name: "not subscribed", s: pageState{Checked: true, Permission: PermissionGranted}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			html := goapp.HTMLString(&home{state: tt.s})
			if got := strings.Contains(html, `id="topics-heading"`); got != tt.want {
				t.Errorf("topics shown %v, want %v", got, tt.want)
			}
		})
	}
}
