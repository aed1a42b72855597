package app

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// adminPath is the admin console's route.
const adminPath = "/admin"

// adminTitle is the admin console's page title; pageTitle is the home
// page's.
const (
	adminTitle = "pushstart admin console"
	pageTitle  = "pushstart: Web Push starter kit"
)

// adminTab is one of the console's panels.
type adminTab string

// The console's tabs; Compose is the first one shown.
const (
	tabCompose       adminTab = "compose"
	tabBroadcasts    adminTab = "broadcasts"
	tabSubscriptions adminTab = "subscriptions"
	tabDeliveries    adminTab = "deliveries"
)

// adminTabs are the tabs in the order shown, with their labels.
var adminTabs = []struct {
	Tab   adminTab
	Label string
}{
	{tabCompose, "Compose"},
	{tabBroadcasts, "Broadcasts"},
	{tabSubscriptions, "Subscriptions"},
	{tabDeliveries, "Delivery log"},
}

// sessionState is where the admin stands with the server.
type sessionState int

const (
	sessionChecking  sessionState = iota // asking the server about the cookie
	sessionSignedOut                     // the sign-in form
	sessionSignedIn                      // the console
)

// adminState is everything the console's shell shows. It is changed on the
// UI goroutine only.
type adminState struct {
	Session   sessionState
	ExpiresAt time.Time
	Tab       adminTab
	Busy      bool   // signing in or out
	SignInErr string // why the token was refused, shown at its input
	Alert     string // a failure of no one input
	Notice    string // the last broadcast accepted
}

// signedIn shows the console, on the Compose tab.
func (s *adminState) signedIn(session api.AdminSession) {
	*s = adminState{Session: sessionSignedIn, ExpiresAt: session.ExpiresAt, Tab: tabCompose}
}

// signedOut shows the sign-in form, saying why when the admin did not ask.
func (s *adminState) signedOut(why string) {
	*s = adminState{Session: sessionSignedOut, Alert: why}
}

// sent shows that the server accepted a broadcast. One sent to the chosen
// audience is followed on the Broadcasts tab; one sent to the admin's own
// browser leaves the form in view, to try again.
func (s *adminState) sent(st api.BroadcastStatus, toMe bool) {
	s.Notice = acceptedText(st)
	s.Alert = ""
	if !toMe {
		s.Tab = tabBroadcasts
	}
}

// acceptedText says which broadcast the server accepted and what it does
// next.
func acceptedText(st api.BroadcastStatus) string {
	text := fmt.Sprintf("Broadcast %s accepted: %s", st.ID, st.Status)
	if st.Status == api.StatusScheduled && st.SendAt != nil {
		text += " for " + st.SendAt.Local().Format("Mon 2 Jan 2006 15:04")
	}
	if st.Audience != "" {
		text += ", to " + st.Audience
	}
	unit := "subscriptions"
	if st.Total == 1 {
		unit = "subscription"
	}
	return text + fmt.Sprintf(" (%d %s for now).", st.Total, unit)
}

// signInError is what the sign-in form says about a refused token: the
// server's words, or how long to wait after too many tries.
func signInError(err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	if ae.Status == http.StatusTooManyRequests && ae.RetryAfter > 0 {
		return "Too many wrong tokens from this address: wait " + humanDuration(ae.RetryAfter) + ", then try again."
	}
	if ae.Status == 0 || ae.Message == "" {
		return ae.Error()
	}
	return ae.Message
}

// admin is the admin console at /admin: the sign-in form, then the tabs. It
// keeps no secret: the admin token is read from its input when the form is
// sent and forgotten with the request; the session cookie is HttpOnly.
type admin struct {
	goapp.Compo

	state   adminState
	env     adminEnv
	compose goapp.Composer // kept while other tabs show, with its draft
}

func newAdmin() *admin { return &admin{} }

// OnPreRender titles the page the server renders.
func (a *admin) OnPreRender(ctx goapp.Context) { ctx.Page().SetTitle(adminTitle) }

// OnMount runs in the browser: it asks the server whether the browser's
// session cookie is good.
func (a *admin) OnMount(ctx goapp.Context) {
	ctx.Page().SetTitle(adminTitle)
	a.env = adminEnv{
		api:       newAPIClient(originOf(goapp.Window().URL()), nil),
		signedOut: a.sessionEnded,
	}
	ctx.Async(func() {
		s, ok, err := a.env.api.adminSession(ctx)
		ctx.Dispatch(func(ctx goapp.Context) {
			switch {
			case err != nil:
				a.state.signedOut("Could not check the session: " + err.Error())
			case ok:
				a.signedIn(s)
			default:
				a.state.signedOut("")
			}
		})
	})
}

// signedIn shows the console with a new Compose form.
func (a *admin) signedIn(s api.AdminSession) {
	a.state.signedIn(s)
	a.compose = newComposeView(a.env, pageBrowser{}, a.onSent)
}

// sessionEnded is adminEnv.signedOut: a call was refused with 401.
func (a *admin) sessionEnded(ctx goapp.Context) {
	a.state.signedOut("Your session has ended: sign in again.")
	a.compose = nil
	ctx.Update()
}

func (a *admin) Render() goapp.UI {
	s := a.state
	return goapp.Div().Class("page admin").Body(
		goapp.Header().Class("masthead admin-masthead").Body(
			goapp.Img().Class("logo").Src(iconSVGPath).Alt("").Width(48).Height(48),
			goapp.Div().Class("admin-heading").Body(
				goapp.H1().Text("pushstart admin"),
				goapp.P().Class("tagline").Body(
					goapp.Text("Compose, send and follow broadcasts. "),
					goapp.A().Href("/").Text("Back to the page"),
				),
			),
			goapp.If(s.Session == sessionSignedIn, func() goapp.UI {
				return goapp.Div().Class("session").Body(
					goapp.Span().Class("session-expiry").Text("Signed in until "+s.ExpiresAt.Local().Format("Mon 15:04")),
					goapp.Button().
						Type("button").
						Disabled(s.Busy).
						OnClick(a.onSignOut).
						Text("Sign out"),
				)
			}),
		),
		goapp.Main().Body(
			goapp.Div().Class("alert").Role("alert").Body(
				goapp.If(s.Alert != "", func() goapp.UI {
					return goapp.P().Body(goapp.Strong().Text("Error: "), goapp.Text(s.Alert))
				}),
			),
			a.renderBody(),
		),
	)
}

// renderBody is the sign-in form or the console, as the session stands.
func (a *admin) renderBody() goapp.UI {
	s := a.state
	switch s.Session {
	case sessionChecking:
		return goapp.P().Class("hint").Role("status").Text("Checking your session…")
	case sessionSignedOut:
		return newSignInForm(s.Busy, s.SignInErr, a.onSignIn)
	}
	return goapp.Div().Class("console").Body(
		goapp.P().Class("broadcast-accepted").Role("status").Text(s.Notice),
		goapp.Div().Class("tabs").Role("tablist").Aria("label", "Admin console").Body(
			goapp.Range(adminTabs).Slice(func(i int) goapp.UI {
				t := adminTabs[i]
				selected := t.Tab == s.Tab
				tabIndex := -1
				if selected {
					tabIndex = 0
				}
				return goapp.Button().
					Type("button").
					ID("tab-"+string(t.Tab)).
					Class("tab").
					Role("tab").
					Aria("selected", selected).
					Aria("controls", "panel-"+string(t.Tab)).
					TabIndex(tabIndex).
					OnClick(func(ctx goapp.Context, e goapp.Event) { a.show(t.Tab) }).
					OnKeyDown(a.onTabKey).
					Text(t.Label)
			}),
		),
		// Compose stays mounted, hidden, so that its draft survives a look
		// at the other tabs; those are mounted when shown, to load afresh.
		a.panel(tabCompose, a.compose),
		goapp.If(s.Tab == tabBroadcasts, func() goapp.UI { return a.panel(tabBroadcasts, newBroadcastsPanel(a.env)) }),
		goapp.If(s.Tab == tabSubscriptions, func() goapp.UI { return a.panel(tabSubscriptions, newSubscriptionsPanel(a.env)) }),
		goapp.If(s.Tab == tabDeliveries, func() goapp.UI { return a.panel(tabDeliveries, newDeliveriesPanel(a.env)) }),
	)
}

// panel is the tab panel of t, holding body.
func (a *admin) panel(t adminTab, body goapp.UI) goapp.UI {
	return goapp.Div().
		ID("panel-"+string(t)).
		Class("tab-panel").
		Role("tabpanel").
		Aria("labelledby", "tab-"+string(t)).
		Hidden(a.state.Tab != t).
		Body(body)
}

// show switches to tab t.
func (a *admin) show(t adminTab) { a.state.Tab = t }

// onTabKey moves between the tabs with the arrow keys, Home and End, as
// the WAI-ARIA tabs pattern has it.
func (a *admin) onTabKey(ctx goapp.Context, e goapp.Event) {
	i := 0
	for j, t := range adminTabs {
		if t.Tab == a.state.Tab {
			i = j
		}
	}
	switch e.Get("key").String() {
	case "ArrowRight":
		i = (i + 1) % len(adminTabs)
	case "ArrowLeft":
		i = (i + len(adminTabs) - 1) % len(adminTabs)
	case "Home":
		i = 0
	case "End":
		i = len(adminTabs) - 1
	default:
		return
	}
	e.PreventDefault()
	a.show(adminTabs[i].Tab)
	focus(ctx, "tab-"+string(adminTabs[i].Tab))
}

// onSignIn exchanges the token for the session cookie. The token is only
// passed on to the request: on failure the input is cleared for the next
// try, on success the form goes away with it.
func (a *admin) onSignIn(ctx goapp.Context, token string) {
	if a.state.Busy {
		return
	}
	a.state.Busy, a.state.SignInErr, a.state.Alert = true, "", ""
	ctx.Async(func() {
		s, err := a.env.api.signIn(ctx, token)
		ctx.Dispatch(func(ctx goapp.Context) {
			a.state.Busy = false
			if err != nil {
				a.state.SignInErr = signInError(err)
				clearTokenInput()
				return
			}
			a.signedIn(s)
		})
	})
}

// onSignOut ends the session and shows the sign-in form again.
func (a *admin) onSignOut(ctx goapp.Context, e goapp.Event) {
	if a.state.Busy {
		return
	}
	a.state.Busy = true
	ctx.Async(func() {
		err := a.env.api.signOut(ctx)
		ctx.Dispatch(func(ctx goapp.Context) {
			if err != nil {
				a.state.Busy = false
				a.state.Alert = "Signing out failed: " + err.Error()
				return
			}
			a.state.signedOut("")
			a.compose = nil
		})
	})
}

// onSent is the Compose panel's report of a broadcast the server accepted.
func (a *admin) onSent(ctx goapp.Context, st api.BroadcastStatus, toMe bool) {
	a.state.sent(st, toMe)
	ctx.Update()
}
