package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// testForm lets the user push a notification to this browser through the
// server, and shows the server's account of the delivery.
type testForm struct {
	goapp.Compo

	Disabled bool
	Outcome  string // the server's reply, pretty-printed; "" before the first send
	OnSend   func(ctx goapp.Context, title, body string)

	title string
	body  string
}

func newTestForm(disabled bool, outcome string, onSend func(goapp.Context, string, string)) *testForm {
	return &testForm{
		Disabled: disabled,
		Outcome:  outcome,
		OnSend:   onSend,
		// The test notification's default texts.
		title: tr("Hello from pushstart"),
		body:  tr("This notification went from the server, through the push service, to your service worker."),
	}
}

func (f *testForm) Render() goapp.UI {
	return goapp.Section().Class("card").Body(
		goapp.H2().ID("test-heading").Text(tr("Test notification")),
		goapp.P().Class("hint").Text(tr("The server encrypts this message for your subscription and sends it to the push service; your service worker shows it.")),
		goapp.Form().Class("test-form").OnSubmit(f.onSubmit).Body(
			goapp.Div().Class("field").Body(
				goapp.Label().For("test-title").Text(tr("Title")),
				goapp.Input().
					ID("test-title").
					Type("text").
					Required(true).
					MaxLength(256).
					Value(f.title).
					OnInput(f.onTitle),
			),
			goapp.Div().Class("field").Body(
				goapp.Label().For("test-body").Text(tr("Body")),
				goapp.Textarea().
					ID("test-body").
					Rows(3).
					MaxLength(1024).
					Text(f.body).
					OnInput(f.onBody),
			),
			goapp.Button().
				Type("submit").
				Class("primary").
				Disabled(f.Disabled).
				Text(tr("Send test notification")),
		),
		goapp.If(f.Outcome != "", func() goapp.UI {
			return goapp.Div().Body(
				goapp.H3().ID("outcome-heading").Text(tr("Test outcome")),
				goapp.Pre().
					ID("test-outcome").
					Role("region").
					Aria("labelledby", "outcome-heading").
					TabIndex(0).
					Text(f.Outcome),
			)
		}),
	)
}

func (f *testForm) onTitle(ctx goapp.Context, e goapp.Event) {
	f.title = ctx.JSSrc().Get("value").String()
}

func (f *testForm) onBody(ctx goapp.Context, e goapp.Event) {
	f.body = ctx.JSSrc().Get("value").String()
}

func (f *testForm) onSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if f.Disabled || f.OnSend == nil {
		return
	}
	f.OnSend(ctx, f.title, f.body)
}
