package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// flowLog lists every step the page took, oldest first, with the real data
// of each: what the browser reported, each request to the server with its
// status and answer, and every error.
type flowLog struct {
	goapp.Compo

	Entries []flowEntry
}

func newFlowLog(entries []flowEntry) *flowLog { return &flowLog{Entries: entries} }

func (l *flowLog) Render() goapp.UI {
	return goapp.Section().Class("card flow").Body(
		goapp.H2().ID("flow-heading").Text("Flow"),
		goapp.P().Class("hint").Text("Each step of the Web Push flow as it happens in this page, with the data it used."),
		goapp.Ol().
			Class("flow-log").
			Role("log").
			Aria("labelledby", "flow-heading").
			Body(
				goapp.Range(l.Entries).Slice(func(i int) goapp.UI {
					return flowItem(l.Entries[i])
				}),
			),
	)
}

func flowItem(e flowEntry) goapp.UI {
	return goapp.Li().Class("flow-entry "+string(e.Level)).Body(
		goapp.Div().Class("flow-head").Body(
			goapp.Time().
				DateTime("%s", e.At.Format("2006-01-02T15:04:05.000Z07:00")).
				Text(e.At.Format("15:04:05.000")),
			goapp.Span().Class("flow-level").Text(levelLabel(e.Level)),
			goapp.Span().Class("flow-title").Text(e.Title),
		),
		goapp.If(e.Detail != "", func() goapp.UI {
			return goapp.Pre().Class("flow-detail").Text(e.Detail)
		}),
	)
}

// levelLabel spells the level out, so it is not conveyed by colour alone.
func levelLabel(l flowLevel) string {
	switch l {
	case flowOK:
		return "done"
	case flowError:
		return "error"
	default:
		return "step"
	}
}
