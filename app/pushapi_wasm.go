//go:build wasm

package app

import (
	"context"
	"encoding/json"
	"errors"
	"syscall/js"

	"pushstart/api"
	"pushstart/push"
)

// Support inspects what the browser offers for Web Push. It asks nothing of
// the user and may be called on every load.
func Support() Features {
	g := js.Global()
	nav := g.Get("navigator")
	ua := nav.Get("userAgent").String()
	touch := 0
	if tp := nav.Get("maxTouchPoints"); tp.Type() == js.TypeNumber {
		touch = tp.Int()
	}
	standalone := nav.Get("standalone").Truthy()
	if mm := g.Get("matchMedia"); mm.Type() == js.TypeFunction {
		standalone = standalone || g.Call("matchMedia", "(display-mode: standalone)").Get("matches").Truthy()
	}
	return Features{
		Browser:       true,
		SecureContext: g.Get("isSecureContext").Truthy(),
		ServiceWorker: present(nav, "serviceWorker"),
		PushManager:   present(g, "PushManager"),
		Notification:  present(g, "Notification"),
		AppleMobile:   isAppleMobile(ua, touch),
		Standalone:    standalone,
		UserAgent:     ua,
	}
}

// Permission returns Notification.permission, or PermissionUnsupported when
// the browser has no Notification API.
func Permission() PermissionState {
	n := js.Global().Get("Notification")
	if !n.Truthy() {
		return PermissionUnsupported
	}
	return PermissionState(n.Get("permission").String())
}

// RequestPermission shows the browser's notification prompt. Browsers only
// show it in answer to a user's click, so call it from a click handler.
// "granted" returns nil; "denied" an ErrPermissionDenied error; a closed or
// unanswered prompt an ErrPermissionDismissed error.
func RequestPermission(ctx context.Context) (PermissionState, error) {
	const op = "Notification.requestPermission"
	n := js.Global().Get("Notification")
	if !n.Truthy() {
		return PermissionUnsupported, &PushError{Kind: ErrUnsupported, Op: op, Message: tr("this browser has no Notification API")}
	}
	ctx, cancel := context.WithTimeout(ctx, permissionTimeout)
	defer cancel()
	p, err := call(n, "requestPermission")
	if err != nil {
		return Permission(), asJSPushError(ErrPermissionDismissed, op, err)
	}
	v, err := await(ctx, p)
	if errors.Is(err, context.DeadlineExceeded) {
		return Permission(), &PushError{Kind: ErrPermissionDismissed, Op: op,
			Message: trf("the permission prompt got no answer within %s", humanDuration(permissionTimeout)),
			Hint:    tr("Click Enable notifications to ask again")}
	}
	if err != nil {
		return Permission(), asJSPushError(ErrPermissionDismissed, op, err)
	}
	perm := PermissionState(v.String())
	return perm, permissionError(perm)
}

// Ready waits, up to 30 seconds, for navigator.serviceWorker.ready: the
// registration whose active worker will receive push events.
func Ready(ctx context.Context) (WorkerInfo, error) {
	reg, err := ready(ctx)
	if err != nil {
		return WorkerInfo{}, err
	}
	info := WorkerInfo{Scope: reg.Get("scope").String()}
	if w := reg.Get("active"); w.Truthy() {
		info.ScriptURL = w.Get("scriptURL").String()
		info.State = w.Get("state").String()
	}
	return info, nil
}

func ready(ctx context.Context) (js.Value, error) {
	const op = "navigator.serviceWorker.ready"
	sw := js.Global().Get("navigator").Get("serviceWorker")
	if !sw.Truthy() {
		return js.Undefined(), &PushError{Kind: ErrUnsupported, Op: op, Message: tr("navigator.serviceWorker is missing")}
	}
	tctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	reg, err := await(tctx, sw.Get("ready"))
	if err == nil {
		return reg, nil
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return js.Undefined(), asJSPushError(ErrNoServiceWorker, op, err)
	}
	// ready never rejects: say what is known about the registration instead.
	msg := trf("no active service worker after %s", humanDuration(readyTimeout))
	if p, err := call(sw, "getRegistration"); err == nil {
		qctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if r, err := await(qctx, p); err == nil {
			switch {
			case !r.Truthy():
				msg += tr("; no service worker is registered for this page (did /app-worker.js fail to load? see the console)")
			case r.Get("installing").Truthy():
				msg += tr("; the worker is still installing (it caches the app first)")
			case r.Get("waiting").Truthy():
				msg += tr("; a worker is installed but waiting")
			}
		}
	}
	return js.Undefined(), &PushError{Kind: ErrNoServiceWorker, Op: op, Message: msg,
		Hint: tr("Reload the page; if it persists, check the service worker in the browser's developer tools")}
}

// Subscription is a PushSubscription of this browser.
type Subscription struct {
	v js.Value
}

// GetSubscription returns the browser's current push subscription, or nil
// when there is none.
func GetSubscription(ctx context.Context) (*Subscription, error) {
	const op = "pushManager.getSubscription"
	reg, err := ready(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p, err := call(reg.Get("pushManager"), "getSubscription")
	if err != nil {
		return nil, asJSPushError(ErrPushService, op, err)
	}
	v, err := await(ctx, p)
	if err != nil {
		return nil, asJSPushError(ErrPushService, op, err)
	}
	if !v.Truthy() {
		return nil, nil
	}
	return &Subscription{v: v}, nil
}

// Subscribe asks the browser's push service for a subscription tied to the
// server's VAPID public key (base64url). Push messages must be shown to the
// user (userVisibleOnly), the only mode browsers allow. It gives up after 60
// seconds: a browser that cannot reach its push service waits forever.
func Subscribe(ctx context.Context, vapidPublicKey string) (*Subscription, error) {
	const op = "pushManager.subscribe"
	key, err := decodeKey(vapidPublicKey)
	if err != nil {
		return nil, err
	}
	reg, err := ready(ctx)
	if err != nil {
		return nil, err
	}
	arr := js.Global().Get("Uint8Array").New(len(key))
	js.CopyBytesToJS(arr, key)
	opts := map[string]any{"userVisibleOnly": true, "applicationServerKey": arr}

	ctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	p, err := call(reg.Get("pushManager"), "subscribe", opts)
	if err != nil {
		return nil, subscribeError(err)
	}
	v, err := await(ctx, p)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, &PushError{Kind: ErrPushService, Op: op,
			Message: trf("the push service did not answer within %s", humanDuration(subscribeTimeout)), Err: err,
			Hint: tr("The browser could not reach its push service (Google FCM for Chrome and Edge, Mozilla autopush for Firefox, Apple for Safari): check the network, proxy, firewall or VPN")}
	}
	if err != nil {
		return nil, subscribeError(err)
	}
	return &Subscription{v: v}, nil
}

// subscribeError is the *PushError of a failed pushManager.subscribe,
// read with the permission it failed under (see pushServiceError).
func subscribeError(err error) error {
	var je *jsError
	if errors.As(err, &je) {
		return pushServiceError(je.name, je.message, Permission())
	}
	return &PushError{Kind: ErrPushService, Op: "pushManager.subscribe", Message: err.Error()}
}

// Endpoint is the subscription's push service URL. It is a secret capability:
// whoever knows it (and the keys) can push to this browser.
func (s *Subscription) Endpoint() string { return s.v.Get("endpoint").String() }

// JSON returns PushSubscription.toJSON(), the form the server stores.
func (s *Subscription) JSON() (api.Subscription, error) {
	text := js.Global().Get("JSON").Call("stringify", s.v).String()
	var sj api.Subscription
	if err := json.Unmarshal([]byte(text), &sj); err != nil {
		return sj, &PushError{Kind: ErrPushService, Op: "PushSubscription.toJSON", Message: err.Error()}
	}
	return sj, nil
}

// ApplicationServerKey returns the VAPID public key the subscription was made
// with, as base64url, or "" when the browser does not expose it. A key that
// differs from the server's means the server's keys were rotated.
func (s *Subscription) ApplicationServerKey() string {
	opts := s.v.Get("options")
	if !opts.Truthy() {
		return ""
	}
	buf := opts.Get("applicationServerKey")
	if !buf.Truthy() {
		return ""
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	b := make([]byte, arr.Get("length").Int())
	js.CopyBytesToGo(b, arr)
	return push.EncodeBase64URL(b)
}

// Unsubscribe ends the subscription at the push service. Afterwards its
// endpoint answers 404 or 410 to the server.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	const op = "PushSubscription.unsubscribe"
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p, err := call(s.v, "unsubscribe")
	if err != nil {
		return asJSPushError(ErrPushService, op, err)
	}
	v, err := await(ctx, p)
	if err != nil {
		return asJSPushError(ErrPushService, op, err)
	}
	if !v.Truthy() {
		return &PushError{Kind: ErrPushService, Op: op, Message: tr("the browser reported that nothing was unsubscribed")}
	}
	return nil
}

// jsError is a JavaScript exception or promise rejection: usually a
// DOMException with a name such as "AbortError" and a message.
type jsError struct {
	name, message string
}

func (e *jsError) Error() string {
	if e.name == "" {
		return e.message
	}
	return e.name + ": " + e.message
}

func jsErrorOf(v js.Value) *jsError {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if name.Type() == js.TypeString || msg.Type() == js.TypeString {
			e := &jsError{}
			if name.Type() == js.TypeString {
				e.name = name.String()
			}
			if msg.Type() == js.TypeString {
				e.message = msg.String()
			}
			return e
		}
	}
	return &jsError{message: js.Global().Call("String", v).String()}
}

// asJSPushError wraps err into a *PushError of kind, keeping the browser's
// exception name and message.
func asJSPushError(kind ErrorKind, op string, err error) error {
	e := &PushError{Kind: kind, Op: op, Message: err.Error()}
	var je *jsError
	if errors.As(err, &je) {
		e.Name, e.Message = je.name, je.message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		e.Message = tr("no answer in time")
	}
	return e
}

// call calls a JavaScript method, turning a thrown exception into an error
// instead of a panic.
func call(v js.Value, method string, args ...any) (result js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = jsErrorOf(je.Value)
				return
			}
			panic(r)
		}
	}()
	return v.Call(method, args...), nil
}

// await waits for a promise to settle or ctx to end. A rejection becomes a
// *jsError carrying the DOMException's name and message.
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	if promise.Type() != js.TypeObject || promise.Get("then").Type() != js.TypeFunction {
		return promise, nil // a plain value: already settled
	}
	done := make(chan result, 1)
	var onResolve, onReject js.Func
	release := func() {
		onResolve.Release()
		onReject.Release()
	}
	onResolve = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: firstArg(args)}
		release()
		return nil
	})
	onReject = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: jsErrorOf(firstArg(args))}
		release()
		return nil
	})
	promise.Call("then", onResolve, onReject)
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		// The callbacks stay alive until the promise settles, if ever.
		return js.Undefined(), ctx.Err()
	}
}

func firstArg(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// present reports whether obj has the property name with a usable value:
// some private windows define navigator.serviceWorker as undefined.
func present(obj js.Value, name string) bool {
	return obj.Truthy() && obj.Get(name).Truthy()
}
