//go:build !wasm

package app

// watchOnline does nothing outside the browser, which has no network state
// to watch.
func watchOnline(func(online bool)) (stop func()) { return func() {} }
