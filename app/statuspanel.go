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
		goapp.H2().ID("status-heading").Text(tr("Status")),
		goapp.Ul().Class("status").Role("status").Body(
			statusItem(s.supportText(), s.supportMark()),
			statusItem(s.permissionText(), s.permissionMark()),
			statusItem(s.subscriptionText(), mark(s.Subscribed, false)),
			goapp.If(s.Subscribed, func() goapp.UI { return statusItem(s.serverText(), mark(s.Saved, !s.Saved)) }),
			goapp.If(s.connectionText() != "", func() goapp.UI { return statusItem(s.connectionText(), markBad) }),
			goapp.If(s.Busy != "", func() goapp.UI { return statusItem(s.Busy, markBusy) }),
			goapp.If(s.Waiting && !s.Subscribed, func() goapp.UI {
				return statusItem(tr("Still listening for a late answer from the push service…"), markBusy)
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
	mine := browserFamily(s.Features.UserAgent)
	var pe *PushError
	if s.SupportErr != nil && errors.As(s.SupportErr, &pe) {
		switch pe.Kind {
		case ErrNeedsHomeScreen:
			return help(tr("Add pushstart to your Home Screen"),
				goapp.P().Text(tr("On iPhone and iPad, web push works only for web apps on the Home Screen (iOS/iPadOS 16.4 or later). In Safari:")),
				homeScreenSteps(),
			)
		case ErrInsecureContext:
			return help(tr("Open the page over HTTPS"),
				goapp.P().Text(tr("Browsers offer service workers and push only to secure contexts: https:// pages, and http://localhost or http://127.0.0.1 for development.")),
			)
		case ErrPrivateWindow:
			return help(tr("Private windows cannot receive push"),
				goapp.P().Text(tr("Chrome refuses push subscriptions in Incognito windows, and older versions of Firefox offer no service workers in private windows.")),
				goapp.P().Text(sentence(pe.Hint)),
			)
		default:
			return help(tr("This browser cannot receive web push"),
				goapp.P().Text(sentence(pe.Message)),
				goapp.P().Text(sentence(pe.Hint)),
			)
		}
	}
	// A guess from one refused subscribe: Enable stays on for another try.
	if s.PrivateGuess != nil && errors.As(s.PrivateGuess, &pe) {
		return help(tr("Private windows cannot receive push"),
			goapp.P().Text(tr("Chrome refuses push subscriptions in Incognito windows, and older versions of Firefox offer no service workers in private windows.")),
			goapp.P().Text(sentence(pe.Hint)),
			goapp.P().Text(tr("In a normal window a browser policy or the system can refuse the same way: click Enable notifications to try again.")),
		)
	}
	if s.Permission == PermissionDenied {
		steps := reenableSteps(s.Features.UserAgent)
		return help(tr("Notifications are blocked for this site"),
			goapp.P().Text(tr("The browser will not ask again. To allow notifications:")),
			goapp.Ul().Class("steps").Body(
				goapp.Range(steps).Slice(func(i int) goapp.UI {
					st := steps[i]
					label := st.Browser
					if st.Family == mine {
						label += tr(" (this browser)")
					}
					return goapp.Li().Body(goapp.Strong().Text(trf("%s: ", label)), goapp.Text(st.How))
				}),
			),
			goapp.If(mine == "chrome", func() goapp.UI {
				return goapp.P().Text(tr("In an Incognito window Chrome blocks notifications without asking: open this page in a normal window instead."))
			}),
		)
	}
	if s.Offline || s.Unreachable {
		// Only a page that has had no server since it started came from
		// the cache; one that lost the server later says so.
		title := tr("The server does not answer")
		switch {
		case s.CacheOnly:
			title = tr("Working offline")
		case s.Offline:
			title = tr("No network connection")
		}
		return help(title,
			goapp.If(s.CacheOnly, func() goapp.UI {
				return goapp.P().Text(tr("The page started from the service worker's cache."))
			}),
			goapp.P().Text(tr("Subscribing, unsubscribing and test notifications need the server and the push service.")),
			goapp.If(s.Offline, func() goapp.UI {
				return goapp.P().Text(tr("The page checks again when the connection is back."))
			}).Else(func() goapp.UI {
				return goapp.P().Text(tr("The page asks the server again every few seconds and carries on once it answers."))
			}),
		)
	}
	if s.Checked && s.Subscribed && s.Permission == PermissionDefault && s.Busy == "" {
		return help(tr("Notifications are switched off for this site"),
			goapp.P().Text(tr("This browser still holds a push subscription, but the permission to show notifications is gone, so pushes cannot be shown.")),
			goapp.If(mine == "chrome", func() goapp.UI {
				return goapp.P().Text(tr("Chrome's Safety Check takes the permission back from sites that send many notifications people rarely open; installed apps are exempt."))
			}),
			goapp.P().Text(tr("Click Disable notifications, then Enable notifications: the browser asks again.")),
		)
	}
	if s.Checked && s.SupportErr == nil && !s.Subscribed && s.Busy == "" {
		return goapp.Div().Body(
			goapp.P().Class("hint").Text(tr("Click Enable notifications: the browser asks for permission, then subscribes at its push service.")),
			goapp.If(mine == "chrome" && s.Permission == PermissionDefault, func() goapp.UI {
				return goapp.P().Class("hint").Text(tr("Chrome may show a crossed-out bell in the address bar instead of asking: click it, then Allow."))
			}),
		)
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
