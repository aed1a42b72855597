//go:build wasm

package main

// serve is never reached in the browser: RunWhenOnBrowser does not return.
func serve(string) {}
