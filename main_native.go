//go:build !wasm

package main

import (
	"context"
	"embed"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"pushstart/app"
	"pushstart/server"
	"pushstart/server/cli"
)

// web is the page's folder as `make build` leaves it: app.wasm (built before
// this binary) with its precompressed copies, icons and CSS. Built into the
// server, it makes bin/pushstart the whole kit in one file. A plain
// `go build` without app.wasm still compiles; the server then serves a page
// that says to run `make build`.
//
//go:embed web
var web embed.FS

// serve runs the subcommand the arguments name (pushstart help lists them)
// or else the server, until SIGINT or SIGTERM, then exits with its status.
func serve(version string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if code, ok := cli.Main(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}); ok {
		stop()
		os.Exit(code)
	}
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	code := server.Main(ctx, os.Args[1:], os.Getenv, os.Stderr, server.Build{Version: version, Web: files, Page: app.Handler()})
	stop()
	os.Exit(code)
}
