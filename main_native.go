//go:build !wasm

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"pushstart/server"
)

// serve runs the server until SIGINT or SIGTERM, then exits with its status.
func serve(version string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Main(ctx, os.Args[1:], os.Getenv, os.Stderr, version)
	stop()
	os.Exit(code)
}
