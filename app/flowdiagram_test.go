package app

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"pushstart/api"
)

func TestDiagramLanes(t *testing.T) {
	d := layoutDiagram(nil)
	var labels []string
	last := 0
	for _, l := range d.Lanes {
		labels = append(labels, l.Label)
		if l.X <= last || l.X >= d.Width {
			t.Errorf("lane %s at x %d: want left to right within %d", l.Label, l.X, d.Width)
		}
		last = l.X
		if l.Lit {
			t.Errorf("lane %s lit with no step", l.Label)
		}
	}
	if got := fmt.Sprint(labels); got != "[Page Service worker Kit server Push service Browser]" {
		t.Errorf("lanes %s", got)
	}
	if len(d.Rows) != 0 || d.Height != diagramHeadH+diagramPadBot {
		t.Errorf("rows %d, height %d for no step", len(d.Rows), d.Height)
	}
}

func TestDiagramSteps(t *testing.T) {
	x := func(actor string) int { v, _ := laneX(actor); return v }
	tests := []struct {
		name    string
		entries []flowEntry
		// want is each row: "x1>x2" or "note@x", with the lit lane.
		want []string
		lit  string
	}{
		{
			name: "a push's way",
			entries: []flowEntry{
				{Actor: api.ActorPage, To: api.ActorServer, Title: "POST /api/subscriptions/test"},
				{Actor: api.ActorServer, Step: api.StepPayload, Title: "Payload"},
				{Actor: api.ActorServer, To: api.ActorPushService, Step: api.StepRequest, Title: "Request"},
				{Actor: api.ActorPushService, To: api.ActorBrowser, Step: api.StepDeliver, Title: "Deliver"},
				{Actor: api.ActorWorker, To: api.ActorBrowser, Step: api.StepShow, Title: "Shown"},
			},
			want: []string{
				fmt.Sprintf("%d>%d", x(api.ActorPage), x(api.ActorServer)),
				fmt.Sprintf("note@%d", x(api.ActorServer)),
				fmt.Sprintf("%d>%d", x(api.ActorServer), x(api.ActorPushService)),
				fmt.Sprintf("%d>%d", x(api.ActorPushService), x(api.ActorBrowser)),
				fmt.Sprintf("%d>%d", x(api.ActorWorker), x(api.ActorBrowser)),
			},
			lit: api.ActorWorker,
		},
		{
			name: "steps of no known actor are left out",
			entries: []flowEntry{
				{Title: "an old entry without an actor"},
				{Actor: "robot", Title: "someone else"},
				{Actor: api.ActorBrowser, To: api.ActorPage, Title: "Permission: granted"},
				{Actor: api.ActorPage, To: "robot", Title: "to someone unknown: a note"},
			},
			want: []string{
				fmt.Sprintf("%d>%d", x(api.ActorBrowser), x(api.ActorPage)),
				fmt.Sprintf("note@%d", x(api.ActorPage)),
			},
			lit: api.ActorPage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := layoutDiagram(tt.entries)
			var got []string
			for _, r := range d.Rows {
				if r.Self {
					got = append(got, fmt.Sprintf("note@%d", r.X1))
				} else {
					got = append(got, fmt.Sprintf("%d>%d", r.X1, r.X2))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
			for _, l := range d.Lanes {
				if l.Lit != (l.Actor == tt.lit) {
					t.Errorf("lane %s lit %v, want only %s lit", l.Actor, l.Lit, tt.lit)
				}
			}
			if !d.Rows[len(d.Rows)-1].Newest || d.Rows[0].Newest && len(d.Rows) > 1 {
				t.Error("the newest row is not the last one")
			}
		})
	}
}

func TestDiagramKeepsTheNewestSteps(t *testing.T) {
	var entries []flowEntry
	for i := range diagramSteps + 8 {
		entries = append(entries, flowEntry{Actor: api.ActorServer, To: api.ActorPushService, Title: fmt.Sprintf("step %d", i)})
	}
	d := layoutDiagram(entries)
	if len(d.Rows) != diagramSteps || d.Rows[0].Label != "step 8" || d.Rows[diagramSteps-1].Label != fmt.Sprintf("step %d", diagramSteps+7) {
		t.Errorf("%d rows from %q, want the newest %d", len(d.Rows), d.Rows[0].Label, diagramSteps)
	}
	for i := 1; i < len(d.Rows); i++ {
		if d.Rows[i].Y <= d.Rows[i-1].Y || d.Rows[i].Y >= d.Height {
			t.Errorf("row %d at y %d: want top to bottom within %d", i, d.Rows[i].Y, d.Height)
		}
	}
}

func TestDiagramLabelsFit(t *testing.T) {
	long := strings.Repeat("The push service answered 201 Created with a Location ", 3)
	for _, a := range diagramActors() {
		t.Run(a.Label, func(t *testing.T) {
			d := layoutDiagram([]flowEntry{{Actor: a.Actor, Title: long}})
			r := d.Rows[0]
			w := int(float64(utf8.RuneCountInString(r.Label)) * diagramCharW)
			left, right := r.LabelX, r.LabelX+w
			if r.Anchor == "end" {
				left, right = r.LabelX-w, r.LabelX
			}
			if left < 0 || right > d.Width {
				t.Errorf("label %q spans %d to %d, outside 0 to %d", r.Label, left, right, d.Width)
			}
			if !strings.HasSuffix(r.Label, "…") || utf8.RuneCountInString(r.Label) < 20 {
				t.Errorf("label %q: want the title cut with an ellipsis, still readable", r.Label)
			}
		})
	}
}

func TestDiagramSVG(t *testing.T) {
	svg := diagramSVG(layoutDiagram([]flowEntry{
		{Actor: api.ActorServer, To: api.ActorPushService, Step: api.StepRequest, Level: flowOK, Title: `POST <script>"x"</script>`},
		{Actor: api.ActorPushService, Step: api.StepRefused, Level: flowError, Title: "Refused: 403"},
	}))
	// Well-formed XML: every text is escaped.
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, svg)
			}
			break
		}
	}
	for _, want := range []string{
		`role="img"`, `aria-label="Sequence diagram of the push flow"`, `<title>Sequence diagram of the push flow`,
		`class="lane lit" data-lane="push-service"`, `data-diagram-step="request"`, `class="step error newest" data-diagram-step="refused"`,
		`&lt;script&gt;`, `viewBox="0 0 500 `,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %s:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "<script>") {
		t.Error("a title reached the SVG unescaped")
	}
}
