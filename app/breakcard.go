package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// breakCard offers the break switches of local mode: one button per
// scenario the server offers, each arming its switch and sending the test
// pushes that show what the kit does about it.
type breakCard struct {
	goapp.Compo

	Scenarios []breakScenario
	Disabled  bool
	OnBreak   func(ctx goapp.Context, sc breakScenario)
}

func newBreakCard(scenarios []breakScenario, disabled bool, onBreak func(goapp.Context, breakScenario)) *breakCard {
	return &breakCard{Scenarios: scenarios, Disabled: disabled, OnBreak: onBreak}
}

func (c *breakCard) Render() goapp.UI {
	return goapp.Section().Class("card break-it").Aria("labelledby", "break-heading").Body(
		goapp.H2().ID("break-heading").Text(tr("Break it")),
		goapp.P().Class("hint").Text(tr("Each button makes the next push to this browser fail in one way, on purpose, through the local push service, then sends a test notification: follow in the Flow panel what the kit does about it.")),
		goapp.Div().Class("buttons break-buttons").Body(
			goapp.Range(c.Scenarios).Slice(func(i int) goapp.UI {
				sc := c.Scenarios[i]
				return goapp.Button().
					Type("button").
					DataSet("break", sc.Kind).
					Disabled(c.Disabled).
					OnClick(func(ctx goapp.Context, e goapp.Event) {
						if !c.Disabled && c.OnBreak != nil {
							c.OnBreak(ctx, sc)
						}
					}).
					Text(sc.Label)
			}),
		),
	)
}
