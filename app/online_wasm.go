//go:build wasm

package app

import (
	"syscall/js"
	"time"
)

// onlineRecheck is how often watchOnline reports the network state without
// an event: a server that comes back sends none, and neither does every
// browser or emulation that ends an offline spell.
const onlineRecheck = 10 * time.Second

// watchOnline calls f with navigator.onLine now, on each of the window's
// online and offline events, and every onlineRecheck. stop ends the
// watching.
func watchOnline(f func(online bool)) (stop func()) {
	w := js.Global()
	read := func() bool {
		v := w.Get("navigator").Get("onLine")
		return v.Type() != js.TypeBoolean || v.Bool()
	}
	handler := js.FuncOf(func(js.Value, []js.Value) any {
		f(read())
		return nil
	})
	w.Call("addEventListener", "online", handler)
	w.Call("addEventListener", "offline", handler)
	timer := w.Call("setInterval", handler, onlineRecheck.Milliseconds())
	f(read())
	return func() {
		w.Call("removeEventListener", "online", handler)
		w.Call("removeEventListener", "offline", handler)
		w.Call("clearInterval", timer)
		handler.Release()
	}
}
