package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// topicsView lets the user pick the topics of this browser's subscription:
// one checkbox per offered topic, ticked as the server stores them. A change
// saves the full list at once.
type topicsView struct {
	goapp.Compo

	State    pageState
	OnChange func(ctx goapp.Context, tag string, on bool)
}

func newTopicsView(s pageState, onChange func(goapp.Context, string, bool)) *topicsView {
	return &topicsView{State: s, OnChange: onChange}
}

func (v *topicsView) Render() goapp.UI {
	s := v.State
	offered := offeredTopics()
	return goapp.Section().Class("card").Body(
		goapp.H2().ID("topics-heading").Text(tr("Topics")),
		goapp.P().Class("hint").Text(tr(`An admin broadcast can go to the subscriptions with a topic ("to": {"tags": ["news"]}); one without "to" reaches every subscription.`)),
		goapp.FieldSet().
			Class("topics").
			Aria("labelledby", "topics-heading").
			Disabled(!s.canChooseTopics()).
			Body(
				goapp.Range(offered).Slice(func(i int) goapp.UI {
					t := offered[i]
					id := "topic-" + t.Tag
					return goapp.Div().Class("topic").Body(
						goapp.Input().
							ID(id).
							Type("checkbox").
							Value(t.Tag).
							Checked(s.topicChecked(t.Tag)).
							OnChange(func(ctx goapp.Context, e goapp.Event) {
								v.onChange(ctx, t.Tag, ctx.JSSrc().Get("checked").Bool())
							}),
						goapp.Label().For(id).Text(t.Label),
					)
				}),
			),
		goapp.P().Class("topics-stored").Aria("live", "polite").Text(s.topicsText()),
	)
}

func (v *topicsView) onChange(ctx goapp.Context, tag string, on bool) {
	if v.OnChange == nil {
		return
	}
	v.OnChange(ctx, tag, on)
}
