// Package app is the kit's web page: a go-app progressive web app that
// subscribes the browser to Web Push and shows every step of the flow.
//
// The same package is compiled twice. In app.wasm it runs the page in the
// browser, calling the Push API through the wrapper in pushapi_wasm.go. In
// the server binary it only declares the routes and the goapp.Handler that
// serves the page, its manifest and its service worker; there the Push API
// functions return ErrUnsupported.
//
// The page's flows (flows.go) reach the browser through the small browser
// interface (browser.go) and the server through its JSON API (package api),
// so native tests run them against a fake browser and an httptest server.
// The Flow panel adds, for the page's own subscription, the server's and the
// push service's steps from the trace stream (flowtrace.go) and the service
// worker's from its messages, draws them as a sequence diagram
// (flowdiagram.go), and in local mode offers the break switches
// (flowbreak.go).
package app

import (
	"sync"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/sw"
)

// Paths of the icons in web/, used by the manifest, the page and the test
// notification.
const (
	iconPath         = "/web/icon-192.png"
	iconLargePath    = "/web/icon-512.png"
	iconMaskablePath = "/web/icon-maskable-512.png"
	iconSVGPath      = "/web/icon.svg"
	badgePath        = "/web/badge-96.png"
)

// registerOnce guards go-app's router, which is process-wide: Register and
// Handler may both be called, from main, the server and tests, in any order.
var registerOnce sync.Once

// Register declares the page's routes. Call it before
// goapp.RunWhenOnBrowser on both targets: the browser renders the routes, the
// server answers only for routed paths. Calling it again does nothing.
func Register() {
	registerOnce.Do(func() {
		setDocumentLanguage(chooseLanguage(browserLanguages()))
		goapp.Route("/", func() goapp.Composer { return newHome() })
		goapp.Route(adminPath, func() goapp.Composer { return newAdmin() })
	})
}

// Handler returns the settings of the page's goapp.Handler: names, icons,
// colours, the stylesheet and the service worker template. The caller adds
// Version, WasmContentLength and Env, and serves it. It declares the page's
// routes itself, since go-app answers 404 for a path nobody routed.
func Handler() *goapp.Handler {
	Register()
	return &goapp.Handler{
		Name:        "pushstart: Web Push starter kit",
		ShortName:   "pushstart",
		Title:       pageTitle,
		Description: "Subscribe this browser to Web Push notifications and watch every step: permission, VAPID key, subscription, and the push itself.",
		Lang:        "en",
		Icon: goapp.Icon{
			Default:  iconPath,
			Large:    iconLargePath,
			Maskable: iconMaskablePath,
			SVG:      iconSVGPath,
		},
		Image:                 iconLargePath,
		Styles:                []string{"/web/app.css", "/web/admin.css", "/web/admin-views.css"},
		CacheableResources:    []string{iconSVGPath, badgePath},
		LoadingLabel:          "Loading pushstart… {progress}%",
		ServiceWorkerTemplate: sw.Template,
		ThemeColor:            "#1d4ed8",
		BackgroundColor:       "#f8fafc",
	}
}
