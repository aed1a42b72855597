//go:build wasm

package app

import "syscall/js"

// watchOnline calls f with navigator.onLine now and on each of the
// window's online and offline events (the page rechecks a server that does
// not answer by itself: scheduleRecheck). stop ends the watching.
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
	f(read())
	return func() {
		w.Call("removeEventListener", "online", handler)
		w.Call("removeEventListener", "offline", handler)
		handler.Release()
	}
}
