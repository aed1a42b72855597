// Command pushstart is a Web Push starter kit: one Go program that is both the
// WebAssembly page (built with GOOS=js GOARCH=wasm into web/app.wasm) and the
// native server that stores push subscriptions and sends notifications.
package main

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/app"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app.Register()
	// In the browser this starts the page and never returns; natively it
	// returns at once and the server starts.
	goapp.RunWhenOnBrowser()
	serve(version)
}
