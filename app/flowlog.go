package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// flowLog lists every step of the flow, oldest first, with the real data
// of each: the page's own (what the browser reported, each request to the
// server with its status and answer, every error) and, for this browser's
// subscription, the server's, the push service's and the service worker's.
// A sequence diagram above the list draws the newest steps.
type flowLog struct {
	goapp.Compo

	Entries []flowEntry
	Pending int  // steps still waiting to be revealed (slow motion)
	Slow    bool // the "Slow motion" choice
	// Hidden: the server is not in local mode, so the push service's part
	// cannot be seen.
	Hidden bool
	OnSlow func(ctx goapp.Context, on bool)
}

func newFlowLog(s pageState, onSlow func(goapp.Context, bool)) *flowLog {
	return &flowLog{
		Entries: s.Entries,
		Pending: len(s.Pending),
		Slow:    s.Slow,
		Hidden:  s.FlowKnown && !s.Flow.Local,
		OnSlow:  onSlow,
	}
}

func (l *flowLog) Render() goapp.UI {
	return goapp.Section().ID("flow").Class("card flow").Body(
		goapp.H2().ID("flow-heading").Text(tr("Flow")),
		goapp.P().Class("hint").Text(tr("Each step of the Web Push flow as it happens, with the data it used: this page's, and for this browser's subscription the server's, the push service's and the service worker's.")),
		goapp.Div().Class("slow-motion").Body(
			goapp.Label().Body(
				goapp.Input().
					Type("checkbox").
					ID("slow-motion").
					Checked(l.Slow).
					Aria("describedby", "slow-motion-hint").
					OnChange(l.onSlow),
				goapp.Text(tr("Slow motion")),
			),
			goapp.P().ID("slow-motion-hint").Class("hint").Text(tr("When on, the server pauses before each request, the local push service waits before handing a message over, and this panel reveals the steps one at a time, about 1.5 seconds apart. When off, steps appear as they happen.")),
		),
		goapp.If(l.Hidden, func() goapp.UI {
			return goapp.P().Class("flow-note").Text(pushServiceHidden())
		}),
		goapp.Div().Class("flow-diagram-box").Body(
			goapp.Raw(diagramSVG(layoutDiagram(l.Entries))),
		),
		goapp.If(l.Pending > 0, func() goapp.UI {
			// Not a live region: the log announces each step as it is
			// revealed, and a count read out every 1.5 s would drown it.
			return goapp.P().Class("hint flow-pending").Text(trf("%d more step(s) to reveal…", l.Pending))
		}),
		// The log scrolls on its own, and its scroller is laid out from
		// the bottom (flex column-reverse), so the newest step stays in
		// view as steps arrive, unless the reader has scrolled up.
		goapp.Div().Class("flow-scroll").TabIndex(0).Aria("label", tr("Flow steps, newest at the bottom")).Body(
			goapp.Ol().
				Class("flow-log").
				Role("log").
				Aria("labelledby", "flow-heading").
				Body(
					goapp.Range(l.Entries).Slice(func(i int) goapp.UI {
						return flowItem(l.Entries[i])
					}),
				),
		),
	)
}

func (l *flowLog) onSlow(ctx goapp.Context, e goapp.Event) {
	if l.OnSlow != nil {
		l.OnSlow(ctx, ctx.JSSrc().Get("checked").Bool())
	}
}

func flowItem(e flowEntry) goapp.UI {
	li := goapp.Li().Class("flow-entry "+string(e.Level)).DataSet("actor", e.Actor)
	if e.Step != "" {
		li = li.DataSet("step", e.Step)
	}
	if e.Push != "" {
		li = li.DataSet("push", e.Push)
	}
	return li.Body(
		goapp.Div().Class("flow-head").Body(
			goapp.Time().
				DateTime("%s", e.At.Format("2006-01-02T15:04:05.000Z07:00")).
				Text(e.At.Format("15:04:05.000")),
			goapp.If(e.Actor != "", func() goapp.UI {
				return goapp.Span().Class("flow-actor actor-" + e.Actor).Text(actorLabel(e.Actor))
			}),
			goapp.If(e.To != "", func() goapp.UI {
				return goapp.Span().Class("flow-to").Body(
					goapp.Span().Aria("hidden", "true").Text("→ "),
					goapp.Span().Class("visually-hidden").Text(tr("to ")),
					goapp.Text(actorLabel(e.To)),
				)
			}),
			goapp.Span().Class("flow-level").Text(levelLabel(e.Level)),
			goapp.Span().Class("flow-title").Text(e.Title),
		),
		goapp.If(len(e.Fields) > 0, func() goapp.UI {
			return goapp.Dl().Class("flow-fields").Body(
				goapp.Range(e.Fields).Slice(func(i int) goapp.UI {
					f := e.Fields[i]
					return goapp.Div().Body(
						goapp.Dt().Text(f.Name),
						goapp.Dd().Body(goapp.Code().Text(f.Value)),
					)
				}),
			)
		}),
		goapp.If(e.Detail != "", func() goapp.UI {
			return goapp.Pre().Class("flow-detail").Text(e.Detail)
		}),
	)
}

// levelLabel spells the level out, so it is not conveyed by colour alone.
func levelLabel(l flowLevel) string {
	switch l {
	case flowOK:
		return tr("done")
	case flowError:
		return tr("error")
	default:
		return tr("step")
	}
}
