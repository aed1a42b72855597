package app

import (
	"fmt"
	"html"
	"strconv"
	"strings"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// The funnel of one broadcast, as the broadcasts panel shows it: its
// numbers, a chart the page draws itself (inline SVG: nothing fetched, so it
// works offline), and its breakdowns by browser and by action.

// The funnel chart's geometry, in SVG user units.
const (
	chartWidth    = 360
	chartLabelW   = 64  // the stage names' column
	chartBarMax   = 200 // the longest bar
	chartRowH     = 30
	chartBarH     = 20
	chartPadTop   = 4
	chartValueGap = 6
)

// funnelStage is one bar of the chart.
type funnelStage struct {
	Name  string
	Class string
	Value int
}

// funnelChartSVG draws the funnel of the broadcast titled title as one
// <svg> element: a horizontal bar for each of sent, shown and clicked,
// scaled to the largest of them, labelled with its number and its share of
// sent. The aria-label says the same in words; title is escaped.
func funnelChartSVG(title string, f api.Funnel) string {
	stages := []funnelStage{
		{"Sent", "bar-sent", f.Sent},
		{"Shown", "bar-shown", f.Shown},
		{"Clicked", "bar-clicked", f.Clicked},
	}
	scale := 0
	for _, s := range stages {
		scale = max(scale, s.Value)
	}
	label := funnelChartLabel(title, f)
	height := chartPadTop*2 + chartRowH*len(stages)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="funnel-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d">`,
		html.EscapeString(label), chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(label))
	for i, s := range stages {
		w := barWidth(s.Value, scale)
		y := chartPadTop + i*chartRowH
		mid := y + chartRowH/2
		value := strconv.Itoa(s.Value)
		if i > 0 && f.Sent > 0 {
			value += " (" + percent(ratio(s.Value, f.Sent)) + ")"
		}
		fmt.Fprintf(&b, `<g class="stage" data-stage="%s">`, strings.ToLower(s.Name))
		fmt.Fprintf(&b, `<text class="label" x="0" y="%d" dominant-baseline="middle">%s</text>`, mid, s.Name)
		fmt.Fprintf(&b, `<rect class="track" x="%d" y="%d" width="%d" height="%d" rx="3"></rect>`,
			chartLabelW, y+(chartRowH-chartBarH)/2, chartBarMax, chartBarH)
		fmt.Fprintf(&b, `<rect class="bar %s" x="%d" y="%d" width="%d" height="%d" rx="3"></rect>`,
			s.Class, chartLabelW, y+(chartRowH-chartBarH)/2, w, chartBarH)
		fmt.Fprintf(&b, `<text class="value" x="%d" y="%d" dominant-baseline="middle">%s</text>`,
			chartLabelW+chartBarMax+chartValueGap, mid, value)
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// barWidth is the length of a bar for v when scale is the largest value: a
// bar for anything above zero is at least a unit long, so it shows.
func barWidth(v, scale int) int {
	if v <= 0 || scale <= 0 {
		return 0
	}
	return max(1, (v*chartBarMax+scale/2)/scale)
}

// funnelChartLabel is the chart in words, for screen readers and the
// tooltip: `Funnel of "Sale": 10 sent, 8 shown (80% of sent), 2 clicked
// (20% of sent)`.
func funnelChartLabel(title string, f api.Funnel) string {
	share := func(n int) string {
		if f.Sent == 0 {
			return ""
		}
		return " (" + percent(ratio(n, f.Sent)) + " of sent)"
	}
	return fmt.Sprintf("Funnel of %q: %d sent, %d shown%s, %d clicked%s",
		title, f.Sent, f.Shown, share(f.Shown), f.Clicked, share(f.Clicked))
}

// actionLabel names a notification action in the clicks by action: "" is
// a click on the notification itself.
func actionLabel(action string) string {
	if action == "" {
		return "(the notification)"
	}
	return action
}

// funnelView renders a broadcast's funnel: f is nil until it has loaded.
func funnelView(b api.BroadcastStatus, f *api.Funnel, errText string, onClose goapp.EventHandler) goapp.UI {
	title := b.Title
	if title == "" {
		title = shortID(b.ID)
	}
	return goapp.Section().
		Class("funnel").
		DataSet("broadcast-id", b.ID).
		Aria("labelledby", "funnel-heading").
		Body(
			goapp.Div().Class("funnel-head").Body(
				goapp.H3().ID("funnel-heading").Text("Funnel: "+title),
				goapp.Button().Type("button").OnClick(onClose).Text("Close funnel"),
			),
			panelError(errText),
			goapp.If(f == nil && errText == "", func() goapp.UI {
				return goapp.P().Class("hint").Text("Loading the funnel…")
			}),
			goapp.If(f != nil, func() goapp.UI { return funnelBody(title, *f) }),
		)
}

func funnelBody(title string, f api.Funnel) goapp.UI {
	return goapp.Div().Class("funnel-body").Body(
		goapp.Dl().Class("funnel-numbers").Body(
			funnelNumber("Sent", "sent", strconv.Itoa(f.Sent)),
			funnelNumber("Shown", "shown", strconv.Itoa(f.Shown)),
			funnelNumber("Clicked", "clicked", strconv.Itoa(f.Clicked)),
			funnelNumber("Closed", "closed", strconv.Itoa(f.Closed)),
			funnelNumber("Click-through", "ctr", percent(f.ClickThrough)),
		),
		goapp.Raw(funnelChartSVG(title, f)),
		goapp.P().Class("hint").Text("Shown, clicked and closed count subscriptions whose browser reported it; click-through is clicked of sent."),
		goapp.Div().Class("funnel-breakdowns").Body(
			goapp.Table().Class("admin-table funnel-browsers").Body(
				goapp.Caption().Text("By browser"),
				goapp.THead().Body(goapp.Tr().Body(
					goapp.Th().Scope("col").Text("Browser"),
					goapp.Th().Scope("col").Class("num").Text("Shown"),
					goapp.Th().Scope("col").Class("num").Text("Clicked"),
					goapp.Th().Scope("col").Class("num").Text("Closed"),
				)),
				goapp.TBody().Body(
					goapp.If(len(f.ByBrowser) == 0, func() goapp.UI { return emptyRow(4, "No events yet.") }),
					goapp.Range(f.ByBrowser).Slice(func(i int) goapp.UI {
						r := f.ByBrowser[i]
						return goapp.Tr().DataSet("browser", r.Browser).Body(
							goapp.Th().Scope("row").Text(r.Browser),
							goapp.Td().Class("num").Text(r.Shown),
							goapp.Td().Class("num").Text(r.Clicked),
							goapp.Td().Class("num").Text(r.Closed),
						)
					}),
				),
			),
			goapp.Table().Class("admin-table funnel-actions").Body(
				goapp.Caption().Text("Clicks by action"),
				goapp.THead().Body(goapp.Tr().Body(
					goapp.Th().Scope("col").Text("Action"),
					goapp.Th().Scope("col").Class("num").Text("Clicks"),
				)),
				goapp.TBody().Body(
					goapp.If(len(f.Actions) == 0, func() goapp.UI { return emptyRow(2, "No clicks yet.") }),
					goapp.Range(f.Actions).Slice(func(i int) goapp.UI {
						a := f.Actions[i]
						return goapp.Tr().DataSet("action", a.Key).Body(
							goapp.Th().Scope("row").Text(actionLabel(a.Key)),
							goapp.Td().Class("num").Text(a.Count),
						)
					}),
				),
			),
		),
	)
}

func funnelNumber(label, key, value string) goapp.UI {
	return goapp.Div().Class("funnel-number").Body(
		goapp.Dt().Text(label),
		goapp.Dd().DataSet("funnel", key).Text(value),
	)
}

// emptyRow is a table's one row when it has nothing to list.
func emptyRow(cols int, text string) goapp.UI {
	return goapp.Tr().Class("empty").Body(goapp.Td().ColSpan(cols).Text(text))
}
