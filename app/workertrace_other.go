//go:build !wasm

package app

import "pushstart/api"

// listenWorker does nothing outside the browser: no service worker posts
// steps there.
func listenWorker(func(api.TraceEvent), func(error)) (stop func()) { return func() {} }
