package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/push"
)

// home is the kit's only page. It owns the state and runs the three flows
// (enable, disable, send a test), plus the check that re-syncs the
// subscription with the server on every load. Browser and network calls run
// in ctx.Async; state changes happen in ctx.Dispatch, on the UI goroutine.
type home struct {
	goapp.Compo

	api     *apiClient
	state   pageState
	entries []flowEntry
	alert   string // the last error, shown in the role="alert" region
	outcome string // the server's reply to the last test send

	// actions counts the actions started; a background watch ends when the
	// user starts another one.
	actions atomic.Uint64
}

func newHome() *home { return &home{} }

// OnMount runs in the browser only: it checks support and permission, and
// re-syncs an existing subscription with the server. It never asks for
// permission; only the Enable button does.
func (h *home) OnMount(ctx goapp.Context) {
	h.api = newAPIClient(originOf(goapp.Window().URL()), nil)
	h.state.Busy = "Checking this browser…"
	ctx.Async(func() { h.finish(ctx, h.resync(ctx)) })
}

func (h *home) Render() goapp.UI {
	s := h.state
	return goapp.Div().Class("page").Body(
		goapp.Header().Class("masthead").Body(
			goapp.Img().Class("logo").Src(iconSVGPath).Alt("").Width(56).Height(56),
			goapp.Div().Body(
				goapp.H1().Text("pushstart"),
				goapp.P().Class("tagline").Text("Web Push notifications, one visible step at a time."),
			),
		),
		goapp.Main().Body(
			goapp.Div().Class("alert").Role("alert").Body(
				goapp.If(h.alert != "", func() goapp.UI {
					return goapp.P().Body(goapp.Strong().Text("Error: "), goapp.Text(h.alert))
				}),
			),
			goapp.Div().Class("columns").Body(
				goapp.Div().Class("column").Body(
					newStatusPanel(s),
					goapp.Section().Class("card").Body(
						goapp.H2().Text("Notifications"),
						goapp.P().Class("hint").Text("Enabling asks for permission, fetches the server's VAPID public key, subscribes at the browser's push service and stores the subscription on the server."),
						goapp.Div().Class("buttons").Body(
							goapp.Button().
								Type("button").
								Class("primary").
								Disabled(!s.canEnable()).
								OnClick(h.onEnable).
								Text("Enable notifications"),
							goapp.Button().
								Type("button").
								Disabled(!s.canDisable()).
								OnClick(h.onDisable).
								Text("Disable notifications"),
						),
					),
					newTestForm(!s.canSendTest(), h.outcome, h.onSendTest),
					newSubscriptionView(s.Subscribed, s.Sub),
				),
				goapp.Div().Class("column").Body(
					newFlowLog(h.entries),
				),
			),
		),
		goapp.Footer().Body(
			goapp.P().Text("Your browser's service worker (/app-worker.js) shows the notifications, even with this page closed."),
		),
	)
}

// onEnable asks for permission, then subscribes and stores the subscription.
func (h *home) onEnable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canEnable() {
		return
	}
	h.begin(ctx, "Enabling notifications…")
	ctx.Async(func() { h.finish(ctx, h.enable(ctx)) })
}

// onDisable unsubscribes in the browser and deletes the subscription on the
// server.
func (h *home) onDisable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canDisable() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	h.begin(ctx, "Disabling notifications…")
	ctx.Async(func() { h.finish(ctx, h.disable(ctx, endpoint)) })
}

// onSendTest asks the server to push a notification to this browser.
func (h *home) onSendTest(ctx goapp.Context, title, body string) {
	if !h.state.canSendTest() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	h.begin(ctx, "Sending a test notification…")
	ctx.Async(func() { h.finish(ctx, h.sendTest(ctx, endpoint, title, body)) })
}

// resync runs on every load: support check, permission, and, when the
// browser has a subscription, a comparison of its VAPID key with the
// server's. Same key: the subscription is stored again (an upsert). Another
// key (the server's keys were rotated): the old subscription is replaced.
func (h *home) resync(ctx goapp.Context) error {
	f := Support()
	supErr := f.Err()
	perm := Permission()
	h.update(ctx, func(s *pageState) { s.Features, s.SupportErr, s.Permission = f, supErr, perm })
	if supErr != nil {
		h.log(ctx, flowError, "Support check: push is unavailable here", featuresDetail(f))
		return supErr
	}
	h.log(ctx, flowOK, "Support check: service worker, Push API and Notification API present", featuresDetail(f))
	h.log(ctx, flowInfo, "Permission: "+string(perm), permissionDetail(perm))

	if err := h.ready(ctx); err != nil {
		return err
	}
	sub, err := GetSubscription(ctx)
	if err != nil {
		return err
	}
	if sub == nil {
		h.log(ctx, flowInfo, "No push subscription in this browser", "pushManager.getSubscription() returned null.")
		return nil
	}
	sj, err := sub.JSON()
	if err != nil {
		return err
	}
	h.gotSubscription(ctx, "Found this browser's subscription", sj)

	key, err := h.fetchKey(ctx)
	if err != nil {
		return err
	}
	subKey := sub.ApplicationServerKey()
	if subKey == "" || sameKey(subKey, key) {
		if subKey != "" {
			h.log(ctx, flowOK, "The subscription uses the server's current VAPID key", "options.applicationServerKey:\n"+subKey)
		}
		return h.save(ctx, sj)
	}

	h.log(ctx, flowInfo, "The server's VAPID key changed: subscribing again", fmt.Sprintf(
		"Subscription made with:\n%s\nServer key now:\n%s\n\nPush services refuse messages signed with another key than the subscription's, so the old subscription is replaced.",
		subKey, key))
	if err := sub.Unsubscribe(ctx); err != nil {
		return err
	}
	h.log(ctx, flowOK, "Unsubscribed the old subscription", "")
	h.update(ctx, func(s *pageState) { s.Subscribed, s.Saved, s.Sub = false, false, SubscriptionJSON{} })
	if perm != PermissionGranted {
		_ = h.deleteOnServer(ctx, sj.Endpoint)
		return &PushError{Kind: ErrPermissionDismissed, Op: "re-subscribing", Message: "notification permission is " + string(perm),
			Hint: "Click Enable notifications to subscribe with the new key"}
	}
	return h.subscribeAndStore(ctx, key, sj.Endpoint)
}

// enable is the Enable notifications flow.
func (h *home) enable(ctx goapp.Context) error {
	h.log(ctx, flowInfo, "Asking for permission", "Notification.requestPermission(): the browser shows its prompt.")
	perm, err := RequestPermission(ctx)
	h.update(ctx, func(s *pageState) { s.Permission = perm })
	if err != nil {
		return err
	}
	h.log(ctx, flowOK, "Permission: granted", "")

	key, err := h.fetchKey(ctx)
	if err != nil {
		return err
	}
	if err := h.ready(ctx); err != nil {
		return err
	}
	return h.subscribeAndStore(ctx, key, "")
}

// disable is the Disable notifications flow. endpoint is the subscription
// the page knew of, deleted on the server even if the browser lost it.
func (h *home) disable(ctx goapp.Context, endpoint string) error {
	sub, err := GetSubscription(ctx)
	if err != nil {
		return err
	}
	if sub != nil {
		endpoint = sub.Endpoint()
		if err := sub.Unsubscribe(ctx); err != nil {
			return err
		}
		h.log(ctx, flowOK, "Unsubscribed in the browser", "PushSubscription.unsubscribe() resolved true: the push service forgot this endpoint.")
	} else {
		h.log(ctx, flowInfo, "The browser has no subscription any more", "pushManager.getSubscription() returned null.")
	}
	h.update(ctx, func(s *pageState) { s.Subscribed, s.Saved, s.Sub = false, false, SubscriptionJSON{} })
	if endpoint == "" {
		return nil
	}
	return h.deleteOnServer(ctx, endpoint)
}

// testTag groups the test notifications: a new one replaces the previous one
// (and, with renotify, alerts again) instead of piling up.
const testTag = "pushstart-test"

// sendTest is the Send test notification flow.
func (h *home) sendTest(ctx goapp.Context, endpoint, title, body string) error {
	n := push.Notification{
		Title:    title,
		Body:     body,
		Icon:     iconPath,
		Badge:    badgePath,
		Tag:      testTag,
		Renotify: true,
		Data:     json.RawMessage(`{"url":"/"}`),
	}
	// The same checks as the server's, so an oversized message is refused
	// here with the limit it breaks.
	if _, err := n.Marshal(); err != nil {
		return err
	}
	res, ex, err := h.api.sendTest(ctx, endpoint, n)
	h.logExchange(ctx, ex)
	if ex.Status != 0 {
		out := prettyJSON(ex.Response)
		h.update(ctx, func(*pageState) { h.outcome = out })
	}
	if res.Pruned {
		h.update(ctx, func(s *pageState) { s.Saved = false })
	}
	if err != nil {
		return err
	}
	h.log(ctx, flowOK, "The push service accepted the message",
		fmt.Sprintf("Push service status %d after %d attempt(s). The browser now decrypts it and the service worker's push handler shows it.", res.Status, res.Attempts))
	return nil
}

// ready waits for the active service worker and logs it.
func (h *home) ready(ctx goapp.Context) error {
	info, err := Ready(ctx)
	if err != nil {
		return err
	}
	h.log(ctx, flowOK, "Service worker active", fmt.Sprintf("scope: %s\nscript: %s\nstate: %s", info.Scope, info.ScriptURL, info.State))
	return nil
}

// fetchKey gets the server's VAPID public key and logs it.
func (h *home) fetchKey(ctx goapp.Context) (string, error) {
	key, ex, err := h.api.vapidPublicKey(ctx)
	h.logExchange(ctx, ex)
	if err != nil {
		return "", err
	}
	if _, err := decodeKey(key); err != nil {
		return "", err
	}
	h.log(ctx, flowOK, "VAPID public key fetched", key+"\n\n65-byte P-256 public key, base64url: the applicationServerKey of the subscription.")
	return key, nil
}

// lateWatch is how long the page keeps looking for a subscription after it
// stopped waiting for pushManager.subscribe. Chromium, for one, retries its
// push service with a back-off and may resolve a minute or more later.
const (
	lateWatch = 4 * time.Minute
	latePoll  = 2 * time.Second
)

// subscribeAndStore subscribes with key, stores the subscription on the
// server, then deletes oldEndpoint there (a replaced subscription), if any.
// When the push service does not answer in time, the page reports it and
// keeps watching in the background for the browser's late answer.
func (h *home) subscribeAndStore(ctx goapp.Context, key, oldEndpoint string) error {
	h.log(ctx, flowInfo, "Subscribing at the browser's push service",
		"pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: <the key's 65 bytes> })")
	sub, err := Subscribe(ctx, key)
	if errors.Is(err, context.DeadlineExceeded) {
		gen := h.actions.Load()
		h.update(ctx, func(s *pageState) { s.Waiting = true })
		ctx.Async(func() { h.watchLate(ctx, gen, key, oldEndpoint) })
	}
	if err != nil {
		return err
	}
	sj, err := sub.JSON()
	if err != nil {
		return err
	}
	h.gotSubscription(ctx, "Subscribed: the push service created this subscription", sj)
	return h.store(ctx, sj, oldEndpoint)
}

// store saves sj on the server and deletes oldEndpoint there, if any.
func (h *home) store(ctx goapp.Context, sj SubscriptionJSON, oldEndpoint string) error {
	if err := h.save(ctx, sj); err != nil {
		return err
	}
	if oldEndpoint == "" || oldEndpoint == sj.Endpoint {
		return nil
	}
	return h.deleteOnServer(ctx, oldEndpoint)
}

// watchLate looks for the subscription a timed-out pushManager.subscribe may
// still produce, and stores it when it appears. It stops when the user
// starts another action (gen is the action that timed out).
func (h *home) watchLate(ctx goapp.Context, gen uint64, key, oldEndpoint string) {
	defer func() {
		if h.actions.Load() == gen {
			h.update(ctx, func(s *pageState) { s.Waiting = false })
		}
	}()
	for deadline := time.Now().Add(lateWatch); time.Now().Before(deadline); {
		time.Sleep(latePoll)
		if h.actions.Load() != gen {
			return
		}
		sub, err := GetSubscription(ctx)
		if err != nil || sub == nil {
			continue
		}
		if k := sub.ApplicationServerKey(); k != "" && !sameKey(k, key) {
			continue
		}
		sj, err := sub.JSON()
		if err == nil {
			h.gotSubscription(ctx, "Subscribed after all: the push service answered late", sj)
			err = h.store(ctx, sj, oldEndpoint)
		}
		ctx.Dispatch(func(goapp.Context) {
			if err != nil {
				h.alert = err.Error()
				h.addEntry(flowEntry{At: time.Now(), Level: flowError, Title: errorTitle(err), Detail: errorDetail(err)})
				return
			}
			h.alert = "" // the timeout reported earlier is resolved
		})
		return
	}
	h.log(ctx, flowInfo, "Stopped waiting for the push service", "No subscription appeared within "+humanDuration(lateWatch)+" after the timeout.")
}

// gotSubscription shows sj as the browser's subscription.
func (h *home) gotSubscription(ctx goapp.Context, title string, sj SubscriptionJSON) {
	h.log(ctx, flowOK, title, "Endpoint: "+sj.Endpoint+"\n\n"+sj.Pretty())
	h.update(ctx, func(s *pageState) { s.Subscribed, s.Saved, s.Sub = true, false, sj })
}

// save stores the subscription on the server (an upsert).
func (h *home) save(ctx goapp.Context, sj SubscriptionJSON) error {
	created, ex, err := h.api.saveSubscription(ctx, sj)
	h.logExchange(ctx, ex)
	if err != nil {
		return err
	}
	what := "The server already knew this subscription (200): nothing changed."
	if created {
		what = "The server stored a new subscription (201)."
	}
	h.log(ctx, flowOK, "Subscription stored on the server", what)
	h.update(ctx, func(s *pageState) {
		if s.Sub.Endpoint == sj.Endpoint {
			s.Saved = true
		}
	})
	return nil
}

// deleteOnServer makes the server forget endpoint.
func (h *home) deleteOnServer(ctx goapp.Context, endpoint string) error {
	ex, err := h.api.deleteSubscription(ctx, endpoint)
	h.logExchange(ctx, ex)
	return err
}

// begin marks an action as running; it is called on the UI goroutine.
func (h *home) begin(ctx goapp.Context, what string) {
	h.actions.Add(1)
	h.state.Busy = what
	h.state.Waiting = false
	h.alert = ""
	ctx.Update()
}

// finish ends the running action and shows err, if any, in the alert region
// and the flow log.
func (h *home) finish(ctx goapp.Context, err error) {
	ctx.Dispatch(func(goapp.Context) {
		h.state.Busy = ""
		h.state.Checked = true
		if err == nil {
			return
		}
		h.alert = err.Error()
		h.addEntry(flowEntry{At: time.Now(), Level: flowError, Title: errorTitle(err), Detail: errorDetail(err)})
	})
}

// update changes the page state on the UI goroutine.
func (h *home) update(ctx goapp.Context, f func(*pageState)) {
	ctx.Dispatch(func(goapp.Context) { f(&h.state) })
}

// log appends a step to the flow log.
func (h *home) log(ctx goapp.Context, level flowLevel, title, detail string) {
	e := flowEntry{At: time.Now(), Level: level, Title: title, Detail: detail}
	ctx.Dispatch(func(goapp.Context) { h.addEntry(e) })
}

// maxFlowEntries bounds the flow log of a long session; the oldest go first.
const maxFlowEntries = 300

// addEntry appends to the flow log; on the UI goroutine only.
func (h *home) addEntry(e flowEntry) {
	h.entries = append(h.entries, e)
	if n := len(h.entries) - maxFlowEntries; n > 0 {
		h.entries = append([]flowEntry(nil), h.entries[n:]...)
	}
}

// logExchange logs a request to the server with its status and answer.
func (h *home) logExchange(ctx goapp.Context, ex exchange) {
	if ex.Method == "" {
		return
	}
	level := flowOK
	if ex.Status < 200 || ex.Status > 299 {
		level = flowError
	}
	h.log(ctx, level, exchangeTitle(ex), exchangeDetail(ex))
}

// errorTitle names the failed step for the flow log.
func errorTitle(err error) string {
	if pe, ok := asPushError(err); ok {
		return pe.Op + " failed (" + string(pe.Kind) + ")"
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Method + " " + ae.Path + " failed"
	}
	var fe *push.FieldError
	if errors.As(err, &fe) {
		return "The notification is invalid"
	}
	return "Failed"
}

// errorDetail is the whole error, with the browser's exception when there
// was one.
func errorDetail(err error) string {
	pe, ok := asPushError(err)
	if !ok {
		return err.Error()
	}
	d := ""
	if pe.Name != "" {
		d += "Browser exception: " + pe.Name + "\n"
	}
	if pe.Message != "" {
		d += "Message: " + pe.Message + "\n"
	}
	if pe.Hint != "" {
		d += "What to do: " + pe.Hint + "\n"
	}
	return d
}

// permissionDetail explains a permission state in the flow log.
func permissionDetail(p PermissionState) string {
	switch p {
	case PermissionGranted:
		return "Notification.permission is \"granted\": the page may subscribe without asking."
	case PermissionDenied:
		return "Notification.permission is \"denied\": the browser will not ask again; the user must allow notifications in the site settings."
	case PermissionDefault:
		return "Notification.permission is \"default\": the user has not decided. The page asks only when Enable notifications is clicked."
	default:
		return "No Notification API."
	}
}

// originOf is the scheme and host of the page, the base of the API calls.
func originOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
