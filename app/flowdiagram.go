package app

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"

	"pushstart/api"
)

// The Flow panel's sequence diagram: a lifeline for each actor and the
// newest steps as arrows between them (or notes on one), drawn by the page
// as inline SVG, as the admin console draws its funnel chart. The layout is
// plain Go (layoutDiagram), so it is tested natively; diagramSVG only
// writes it out.

// The diagram's geometry, in SVG user units. The SVG scales to its box
// (viewBox), so at 320 CSS pixels wide a unit is about 0.64 px.
const (
	diagramWidth    = 500
	diagramLaneGap  = 100 // between lifelines
	diagramHeadH    = 44  // the actors' names
	diagramRowH     = 30  // one step
	diagramPadBot   = 10
	diagramSteps    = 12  // the newest steps drawn
	diagramCharW    = 6.2 // the width of a label character, at the CSS's font size
	diagramArrowLen = 7
)

// diagramActors are the lifelines, left to right, with their names.
func diagramActors() []struct{ Actor, Label string } {
	return []struct{ Actor, Label string }{
		{api.ActorPage, tr("Page")},
		{api.ActorWorker, tr("Service worker")},
		{api.ActorServer, tr("Kit server")},
		{api.ActorPushService, tr("Push service")},
		{api.ActorBrowser, tr("Browser")},
	}
}

// actorLabel is an actor's name as the page shows it: the lifeline's name,
// else the actor as given.
func actorLabel(actor string) string {
	for _, a := range diagramActors() {
		if a.Actor == actor {
			return a.Label
		}
	}
	return actor
}

// diagram is the laid-out sequence diagram.
type diagram struct {
	Width, Height int
	Lanes         []diagramLane
	Rows          []diagramRow
}

// diagramLane is one actor's lifeline.
type diagramLane struct {
	Actor, Label string
	X            int
	Lit          bool // the newest step's actor
}

// diagramRow is one step: an arrow from X1 to X2, or a note on the lifeline
// at X1 when Self.
type diagramRow struct {
	Y      int
	X1, X2 int
	Self   bool
	Label  string // the step's title, shortened to fit
	LabelX int
	Anchor string // the label's text-anchor: "start" or "end"
	Level  flowLevel
	Step   string
	Actor  string
	Newest bool
}

// laneX is the x of actor's lifeline; ok is false for an actor the diagram
// does not draw.
func laneX(actor string) (x int, ok bool) {
	for i, a := range diagramActors() {
		if a.Actor == actor {
			return diagramLaneGap/2 + i*diagramLaneGap, true
		}
	}
	return 0, false
}

// layoutDiagram lays out the newest diagramSteps entries that name an actor
// the diagram draws, oldest at the top. A step to another actor is an
// arrow; one within an actor a note on its lifeline. Each label starts just
// past its arrow's tail, on the side with room, and is cut to fit.
func layoutDiagram(entries []flowEntry) diagram {
	var steps []flowEntry
	for _, e := range entries {
		if _, ok := laneX(e.Actor); ok {
			steps = append(steps, e)
		}
	}
	if len(steps) > diagramSteps {
		steps = steps[len(steps)-diagramSteps:]
	}
	d := diagram{Width: diagramWidth, Height: diagramHeadH + diagramRowH*len(steps) + diagramPadBot}
	newest := ""
	if len(steps) > 0 {
		newest = steps[len(steps)-1].Actor
	}
	for _, a := range diagramActors() {
		x, _ := laneX(a.Actor)
		d.Lanes = append(d.Lanes, diagramLane{Actor: a.Actor, Label: a.Label, X: x, Lit: a.Actor == newest})
	}
	for i, e := range steps {
		x1, _ := laneX(e.Actor)
		x2, ok := laneX(e.To)
		r := diagramRow{
			Y: diagramHeadH + i*diagramRowH + diagramRowH/2 + 6, X1: x1, X2: x2,
			Self: !ok || x2 == x1, Level: e.Level, Step: e.Step, Actor: e.Actor, Newest: i == len(steps)-1,
		}
		if r.Self {
			r.X2 = x1
		}
		// The label sits above the arrow, from the tail towards the
		// wider side of the diagram.
		if x1 <= diagramWidth/2 {
			r.Anchor, r.LabelX = "start", x1+6
		} else {
			r.Anchor, r.LabelX = "end", x1-6
		}
		room := diagramWidth - r.LabelX
		if r.Anchor == "end" {
			room = r.LabelX
		}
		r.Label = shorten(e.Title, int(float64(room-4)/diagramCharW))
		d.Rows = append(d.Rows, r)
	}
	return d
}

// shorten cuts s to at most n characters, ending a cut one with "…".
func shorten(s string, n int) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// diagramSVG writes d as one <svg> element. Texts are escaped. Its lanes
// and rows carry data-lane, data-diagram-step and data-from, not the log's
// data-actor and data-step, so that a selector of the log's steps finds
// each step once.
func diagramSVG(d diagram) string {
	var b strings.Builder
	// The diagram's accessible name.
	label := tr("Sequence diagram of the push flow")
	fmt.Fprintf(&b, `<svg class="flow-diagram" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMidYMin meet">`,
		html.EscapeString(label), d.Width, d.Height)
	title := label
	if n := len(d.Rows); n > 0 {
		title = trf("%s: the newest %d step(s)", label, n)
	}
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	for _, l := range d.Lanes {
		class := "lane"
		if l.Lit {
			class += " lit"
		}
		fmt.Fprintf(&b, `<g class="%s" data-lane="%s">`, class, html.EscapeString(l.Actor))
		fmt.Fprintf(&b, `<rect class="actor" x="%d" y="4" width="%d" height="28" rx="6"></rect>`, l.X-diagramLaneGap/2+4, diagramLaneGap-8)
		fmt.Fprintf(&b, `<text class="actor-name" x="%d" y="18" text-anchor="middle" dominant-baseline="middle">%s</text>`, l.X, html.EscapeString(l.Label))
		fmt.Fprintf(&b, `<line class="lifeline" x1="%d" y1="32" x2="%d" y2="%d"></line>`, l.X, l.X, d.Height)
		b.WriteString(`</g>`)
	}
	for _, r := range d.Rows {
		class := "step " + string(r.Level)
		if r.Newest {
			class += " newest"
		}
		fmt.Fprintf(&b, `<g class="%s" data-diagram-step="%s" data-from="%s">`, class, html.EscapeString(r.Step), html.EscapeString(r.Actor))
		if r.Self {
			fmt.Fprintf(&b, `<circle class="note" cx="%d" cy="%d" r="4"></circle>`, r.X1, r.Y)
		} else {
			dir := 1
			if r.X2 < r.X1 {
				dir = -1
			}
			tip := r.X2 - dir*2
			fmt.Fprintf(&b, `<line class="arrow" x1="%d" y1="%d" x2="%d" y2="%d"></line>`, r.X1, r.Y, tip-dir*diagramArrowLen, r.Y)
			fmt.Fprintf(&b, `<polygon class="head" points="%d,%d %d,%d %d,%d"></polygon>`,
				tip, r.Y, tip-dir*diagramArrowLen, r.Y-4, tip-dir*diagramArrowLen, r.Y+4)
		}
		fmt.Fprintf(&b, `<text class="step-label" x="%d" y="%d" text-anchor="%s">%s</text>`, r.LabelX, r.Y-5, r.Anchor, html.EscapeString(r.Label))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
