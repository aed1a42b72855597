package app

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// statusPanel shows where the user stands: support, permission, subscription,
// and what to do next when something stands in the way.
type statusPanel struct {
	goapp.Compo

	State pageState
}

func newStatusPanel(s pageState) *statusPanel { return &statusPanel{State: s} }

func (p *statusPanel) Render() goapp.UI {
	s := p.State
	return goapp.Section().Class("card").Body(
		goapp.H2().ID("status-heading").Text("Status"),
		goapp.Ul().Class("status").Role("status").Body(
			statusItem(s.supportText(), s.supportMark()),
			statusItem(s.permissionText(), s.permissionMark()),
			statusItem(s.subscriptionText(), mark(s.Subscribed, false)),
			goapp.If(s.Subscribed, func() goapp.UI { return statusItem(s.serverText(), mark(s.Saved, !s.Saved)) }),
			goapp.If(s.Busy != "", func() goapp.UI { return statusItem(s.Busy, markBusy) }),
			goapp.If(s.Waiting && !s.Subscribed, func() goapp.UI {
				return statusItem("Still listening for a late answer from the push service…", markBusy)
			}),
		),
		p.guidance(),
	)
}

func statusItem(text string, m statusMark) goapp.UI {
	return goapp.Li().Class(string(m)).Text(text)
}

// guidance explains the way forward for the states that need the user.
func (p *statusPanel) guidance() goapp.UI {
	s := p.State
	var pe *PushError
	if s.SupportErr != nil && errors.As(s.SupportErr, &pe) {
		switch pe.Kind {
		case ErrNeedsHomeScreen:
			return help("Add pushstart to your home screen",
				goapp.P().Text("On iPhone and iPad, web push works only for web apps on the home screen (iOS/iPadOS 16.4 or later)."),
				goapp.P().Body(
					goapp.Strong().Text("Share > Add to Home Screen, then open it from there"),
					goapp.Text(", and click Enable notifications in the app."),
				),
			)
		case ErrInsecureContext:
			return help("Open the page over HTTPS",
				goapp.P().Text("Browsers offer service workers and push only to secure contexts: https:// pages, and http://localhost or http://127.0.0.1 for development."),
			)
		default:
			return help("This browser cannot receive web push",
				goapp.P().Text(sentence(pe.Message)),
				goapp.P().Text(sentence(pe.Hint)),
			)
		}
	}
	if s.Permission == PermissionDenied {
		steps := reenableSteps(s.Features.UserAgent)
		mine := browserFamily(s.Features.UserAgent)
		return help("Notifications are blocked for this site",
			goapp.P().Text("The browser will not ask again. To allow notifications:"),
			goapp.Ul().Class("steps").Body(
				goapp.Range(steps).Slice(func(i int) goapp.UI {
					st := steps[i]
					label := st.Browser
					if st.Family == mine {
						label += " (this browser)"
					}
					return goapp.Li().Body(goapp.Strong().Text(label+": "), goapp.Text(st.How))
				}),
			),
		)
	}
	if s.Checked && s.SupportErr == nil && !s.Subscribed && s.Busy == "" {
		return goapp.P().Class("hint").Text("Click Enable notifications: the browser asks for permission, then subscribes at its push service.")
	}
	return nil
}

// sentence capitalizes s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func help(title string, body ...goapp.UI) goapp.UI {
	return goapp.Div().Class("help").Body(
		goapp.H3().Text(title),
		goapp.Div().Body(body...),
	)
}
