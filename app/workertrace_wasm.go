//go:build wasm

package app

import (
	"syscall/js"

	"pushstart/api"
)

// listenWorker calls onStep with each step the service worker posts to this
// page (navigator.serviceWorker's "message" events carrying pushstartTrace),
// and onBad with the error of one it cannot read. stop ends the listening.
func listenWorker(onStep func(api.TraceEvent), onBad func(error)) (stop func()) {
	sw := js.Global().Get("navigator").Get("serviceWorker")
	if !sw.Truthy() {
		return func() {}
	}
	handler := js.FuncOf(func(_ js.Value, args []js.Value) any {
		data := firstArg(args).Get("data")
		if data.Type() != js.TypeObject || data.IsNull() {
			return nil
		}
		step := data.Get("pushstartTrace")
		if step.Type() != js.TypeObject || step.IsNull() {
			return nil // another message
		}
		ev, err := workerStep(js.Global().Get("JSON").Call("stringify", step).String())
		if err != nil {
			onBad(err)
			return nil
		}
		onStep(ev)
		return nil
	})
	sw.Call("addEventListener", "message", handler)
	return func() {
		sw.Call("removeEventListener", "message", handler)
		handler.Release()
	}
}
