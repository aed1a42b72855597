package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// installApp offers the browser's own "Install app" prompt, where there is
// one: Chromium browsers (Chrome, Edge, Opera, Samsung Internet) fire
// beforeinstallprompt for a page that meets their criteria, and go-app keeps
// the event for ShowAppInstallPrompt. Installed, the page opens in a window
// of its own and starts from the service worker's cache, also offline.
//
// go-app's IsAppInstallable is also true on Apple browsers, which fire no
// such event: there a button would do nothing, so the card stays hidden. On
// iPhone and iPad the status panel gives the Add to Home Screen steps
// instead (homeScreenSteps); Safari on a Mac receives push in a tab.
type installApp struct {
	goapp.Compo

	prompt bool // the browser holds an install prompt to show
}

func newInstallApp() *installApp { return &installApp{} }

// OnMount reads whether the browser offered its prompt before the page
// started.
func (c *installApp) OnMount(ctx goapp.Context) { c.check(ctx) }

// OnAppInstallChange follows beforeinstallprompt and appinstalled.
func (c *installApp) OnAppInstallChange(ctx goapp.Context) { c.check(ctx) }

func (c *installApp) check(ctx goapp.Context) {
	c.prompt = installPromptOffered(ctx.IsAppInstallable(), ctx.IsAppleBrowser())
}

// installPromptOffered: go-app calls an app installable when it is not
// installed and either the browser fired beforeinstallprompt or the browser
// is Apple's; only the first has a prompt to show.
func installPromptOffered(installable, appleBrowser bool) bool {
	return installable && !appleBrowser
}

func (c *installApp) Render() goapp.UI {
	return goapp.Section().Class("card install").Hidden(!c.prompt).Body(
		goapp.If(c.prompt, func() goapp.UI {
			return goapp.Div().Body(
				goapp.H2().Text(tr("Install the app")),
				goapp.P().Class("hint").Text(tr("Installed, pushstart opens in a window of its own, from the app launcher or home screen, and starts without a connection.")),
				goapp.Div().Class("buttons").Body(
					goapp.Button().Type("button").OnClick(c.onInstall).Text(tr("Install app")),
				),
			)
		}),
	)
}

// onInstall shows the browser's prompt. A prompt can be shown once: the
// button goes until the browser offers another (OnAppInstallChange).
func (c *installApp) onInstall(ctx goapp.Context, e goapp.Event) {
	if !c.prompt {
		return
	}
	c.prompt = false
	ctx.ShowAppInstallPrompt()
}

// homeScreenSteps are the numbered steps that add the page to the Home
// Screen of an iPhone or iPad, where Safari offers push only to web apps
// opened from there.
func homeScreenSteps() goapp.UI {
	steps := []string{
		tr("Tap the Share button (a square with an arrow pointing up). If the toolbar does not show it, look for it under the ⋯ button."),
		tr("Choose Add to Home Screen (scroll down the list if needed)."),
		tr("On iOS and iPadOS 26 and later, leave Open as Web App switched on: switched off, it adds a plain bookmark, which gets no push."),
		tr("Tap Add."),
		tr("Open pushstart from the Home Screen, then tap Enable notifications there."),
	}
	return goapp.Div().Body(
		goapp.Ol().Class("steps").Body(
			goapp.Range(steps).Slice(func(i int) goapp.UI { return goapp.Li().Text(steps[i]) }),
		),
		goapp.P().Text(tr("Other browsers on iPhone and iPad may offer Add to Home Screen in their Share menu too; if yours does not, open this page in Safari.")),
	)
}
