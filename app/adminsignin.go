package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// tokenInput is the id of the sign-in form's password input.
const tokenInput = "admin-token"

// signInForm asks for the admin token. The token is never bound to the
// component: it is read from the input when the form is sent, so it lives
// only in the input and in the request.
type signInForm struct {
	goapp.Compo

	Busy     bool
	Error    string // the server's refusal, shown at the input
	OnSignIn func(ctx goapp.Context, token string)
}

func newSignInForm(busy bool, err string, onSignIn func(goapp.Context, string)) *signInForm {
	return &signInForm{Busy: busy, Error: err, OnSignIn: onSignIn}
}

func (f *signInForm) Render() goapp.UI {
	input := goapp.Input().
		ID(tokenInput).
		Type("password").
		Attr("autocomplete", "current-password").
		Required(true).
		MaxLength(1024).
		AutoFocus(true)
	if f.Error != "" {
		input = input.Aria("invalid", "true").Aria("describedby", tokenInput+"-error")
	}
	// No name on the input and method post: should the form ever be sent
	// without the page's handler (before app.wasm runs), the token goes
	// nowhere, least of all into the URL.
	return goapp.Section().Class("card signin").Body(
		goapp.H2().ID("signin-heading").Text("Sign in"),
		goapp.P().Class("hint").Text("Enter the server's admin token: ADMIN_TOKEN, or the contents of DATA_DIR/admin-token when the server generated it. It is exchanged for a session cookie that this page cannot read, and is not stored in this browser."),
		goapp.Form().
			Class("signin-form").
			Method("post").
			Aria("labelledby", "signin-heading").
			OnSubmit(f.onSubmit).
			Body(
				goapp.Div().Class("field").Body(
					goapp.Label().For(tokenInput).Text("Admin token"),
					input,
					goapp.If(f.Error != "", func() goapp.UI {
						return goapp.P().ID(tokenInput + "-error").Class("field-error").Role("alert").Text(f.Error)
					}),
				),
				goapp.Button().
					Type("submit").
					Class("primary").
					Disabled(f.Busy).
					Text("Sign in"),
			),
	)
}

func (f *signInForm) onSubmit(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if f.Busy || f.OnSignIn == nil {
		return
	}
	el := goapp.Window().GetElementByID(tokenInput)
	if !el.Truthy() {
		return
	}
	token := el.Get("value").String()
	if token == "" {
		return
	}
	f.OnSignIn(ctx, token)
}

// clearTokenInput empties the token's input, if the form shows.
func clearTokenInput() {
	if el := goapp.Window().GetElementByID(tokenInput); el.Truthy() {
		el.Set("value", "")
		el.Call("focus")
	}
}
