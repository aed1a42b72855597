package app

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"pushstart/api"
	"pushstart/push"
)

// pageUI is how the flows change what the page shows. The home component
// applies each change on the UI goroutine (ctx.Dispatch) and runs background
// work with ctx.Async; tests apply the changes in place.
type pageUI interface {
	// update applies f to the page state.
	update(f func(*pageState))
	// async runs f in the background.
	async(f func())
}

// flows are the page's actions: the load-time re-sync, enable, disable, send
// a test and choose the topics. They block on the browser and the network, so the component
// runs them inside ctx.Async; they never touch the page state but through ui.
type flows struct {
	browser browser
	server  *apiClient
	ui      pageUI

	// lateWatch and latePoll are how long and how often the page looks for
	// a subscription after it stopped waiting for pushManager.subscribe.
	lateWatch, latePoll time.Duration
	// traceRetry is how long the page waits before it opens a dropped
	// trace stream again.
	traceRetry time.Duration

	// actions counts the actions started; a background watch ends when the
	// user starts another one.
	actions atomic.Uint64
	// key is the server's last answer to GET /api/vapid-public-key, nil
	// before the first: the origin of its links is in it.
	key atomic.Pointer[api.VAPIDKey]
}

// How long the page keeps looking for a subscription after it stopped
// waiting for pushManager.subscribe. Chromium, for one, retries its push
// service with a back-off and may resolve a minute or more later.
const (
	lateWatch = 4 * time.Minute
	latePoll  = 2 * time.Second
)

// newFlows runs the flows against b and server, reporting to ui.
func newFlows(b browser, server *apiClient, ui pageUI) *flows {
	return &flows{browser: b, server: server, ui: ui, lateWatch: lateWatch, latePoll: latePoll, traceRetry: traceRetry}
}

// begin counts an action the user started, which ends any background watch
// of an earlier one.
func (fl *flows) begin() { fl.actions.Add(1) }

// finish ends the running action and shows err, if any, in the alert region
// and the flow log.
func (fl *flows) finish(err error) {
	fl.ui.update(func(s *pageState) { s.finish(err) })
}

// load runs on every load: support check, permission, and, when the
// browser has a subscription, a comparison of its VAPID key with the
// server's. Same key: the subscription is stored again (an upsert). Another
// key (the server's keys were rotated): the old subscription is replaced.
// It never asks for permission; only the Enable button does.
func (fl *flows) load(ctx context.Context) error {
	f := fl.browser.Support()
	supErr := f.Err()
	perm := fl.browser.Permission()
	fl.ui.update(func(s *pageState) { s.Features, s.SupportErr, s.Permission = f, supErr, perm })
	if supErr != nil {
		fl.log(flowError, onPage, tr("Support check: push is unavailable here"), featuresDetail(f))
		return supErr
	}
	fl.log(flowOK, onPage, tr("Support check: service worker, Push API and Notification API present"), featuresDetail(f))
	fl.log(flowInfo, browserToPage, permissionTitle(perm), permissionDetail(perm))

	if err := fl.ready(ctx); err != nil {
		return err
	}
	sub, err := fl.browser.GetSubscription(ctx)
	if err != nil {
		return err
	}
	if sub == nil {
		fl.log(flowInfo, browserToPage, tr("No push subscription in this browser"), tr("pushManager.getSubscription() returned null."))
		return nil
	}
	sj, err := sub.JSON()
	if err != nil {
		return err
	}
	fl.gotSubscription(tr("Found this browser's subscription"), sj)

	key, err := fl.fetchKey(ctx)
	if err != nil {
		return err
	}
	subKey := sub.ApplicationServerKey()
	if subKey == "" || sameKey(subKey, key) {
		if subKey != "" {
			fl.log(flowOK, onPage, tr("The subscription uses the server's current VAPID key"), "options.applicationServerKey:\n"+subKey)
		}
		_, err := fl.save(ctx, sj)
		return err
	}

	fl.log(flowInfo, onPage, tr("The server's VAPID key changed: subscribing again"), trf(
		"Subscription made with:\n%s\nServer key now:\n%s\n\nPush services refuse messages signed with another key than the subscription's, so the old subscription is replaced.",
		subKey, key))
	if err := sub.Unsubscribe(ctx); err != nil {
		return err
	}
	fl.log(flowOK, pageToBrowser, tr("Unsubscribed the old subscription"), "")
	fl.ui.update(func(s *pageState) { s.unsubscribed() })
	if perm != PermissionGranted {
		_ = fl.deleteOnServer(ctx, sj.Endpoint)
		return &PushError{Kind: ErrPermissionDismissed, Op: tr("re-subscribing"), Message: permissionTitle(perm),
			Hint: tr("Click Enable notifications to subscribe with the new key")}
	}
	return fl.subscribeAndStore(ctx, key, sj.Endpoint)
}

// enable is the Enable notifications flow: it asks for permission, then
// subscribes and stores the subscription.
func (fl *flows) enable(ctx context.Context) error {
	fl.log(flowInfo, pageToBrowser, tr("Asking for permission"), tr("Notification.requestPermission(): the browser shows its prompt."))
	perm, err := fl.browser.RequestPermission(ctx)
	fl.ui.update(func(s *pageState) { s.Permission = perm })
	if err != nil {
		return err
	}
	fl.log(flowOK, browserToPage, permissionTitle(PermissionGranted), "")

	key, err := fl.fetchKey(ctx)
	if err != nil {
		return err
	}
	if err := fl.ready(ctx); err != nil {
		return err
	}
	return fl.subscribeAndStore(ctx, key, "")
}

// disable is the Disable notifications flow: it unsubscribes in the browser
// and deletes the subscription on the server. endpoint is the subscription
// the page knew of, deleted on the server even if the browser lost it.
func (fl *flows) disable(ctx context.Context, endpoint string) error {
	sub, err := fl.browser.GetSubscription(ctx)
	if err != nil {
		return err
	}
	if sub != nil {
		endpoint = sub.Endpoint()
		if err := sub.Unsubscribe(ctx); err != nil {
			return err
		}
		fl.log(flowOK, pageToBrowser, tr("Unsubscribed in the browser"), tr("PushSubscription.unsubscribe() resolved true: the push service forgot this endpoint."))
	} else {
		fl.log(flowInfo, browserToPage, tr("The browser has no subscription any more"), tr("pushManager.getSubscription() returned null."))
	}
	fl.ui.update(func(s *pageState) { s.unsubscribed() })
	if endpoint == "" {
		return nil
	}
	return fl.deleteOnServer(ctx, endpoint)
}

// testTag groups the test notifications: a new one replaces the previous one
// (and, with renotify, alerts again) instead of piling up.
const testTag = "pushstart-test"

// testPush is one test notification: its texts, and how it is sent.
type testPush struct {
	Title, Body string
	// Tag is the notification's tag; "" for testTag. The break scenarios
	// give each of their pushes its own, so that both would show.
	Tag string
	// TTL and Topic are the push's headers: nil for the server's default
	// TTL, "" for no Topic.
	TTL   *int
	Topic string
	// Slow asks the server to space its steps out (slow motion).
	Slow bool
}

// sendTest is the Send test notification flow: it asks the server to push a
// notification to this browser's endpoint.
func (fl *flows) sendTest(ctx context.Context, endpoint string, p testPush) error {
	res, err := fl.pushTest(ctx, endpoint, p)
	if err != nil {
		return err
	}
	fl.log(flowOK, onPage, tr("The push service accepted the message"),
		trf("Push service status %d after %d attempt(s). The browser now decrypts it and the service worker's push handler shows it.", res.Status, res.Attempts))
	return nil
}

// pushTest sends p to endpoint through the server and shows the server's
// answer; a push the server found gone shows the subscription pruned. The
// server's result comes back whenever it sent one, also with the error of a
// push that was not delivered.
func (fl *flows) pushTest(ctx context.Context, endpoint string, p testPush) (api.Result, error) {
	tag := p.Tag
	if tag == "" {
		tag = testTag
	}
	n := push.Notification{
		Title:    p.Title,
		Body:     p.Body,
		Icon:     iconPath,
		Badge:    badgePath,
		Tag:      tag,
		Renotify: true,
		Data:     json.RawMessage(`{"url":"/"}`),
	}
	// The same checks as the server's, with the links it writes, so an
	// oversized message (a body of 1,024 bytes that JSON escapes, such as
	// "<", is six times as long) is refused here with the limit it breaks.
	var key api.VAPIDKey
	if k := fl.key.Load(); k != nil {
		key = *k
	}
	origin, err := linkOrigin(key, fl.server.base)
	if err != nil {
		return api.Result{}, err
	}
	if _, err := n.Marshal(origin); err != nil {
		return api.Result{}, err
	}
	req := api.TestSend{Endpoint: endpoint, Notification: &n, TTL: p.TTL, Topic: p.Topic, SlowMotion: p.Slow}
	// The request first, so that the diagram draws the page asking before
	// the server's steps arrive; the answer, once the push is done, goes
	// back from the server.
	fl.log(flowInfo, pageToServer, tr("Asking the server to push to this browser"),
		trf("POST %s: this subscription's endpoint and the notification:\n%s", api.PathTestSend, notificationJSON(n)))
	res, ex, err := fl.server.sendTest(ctx, req)
	fl.logExchangeAs(ex, serverToPage)
	if ex.Status != 0 {
		out := prettyJSON(ex.Response)
		fl.ui.update(func(s *pageState) { s.Outcome = out })
	}
	if res.Pruned {
		fl.ui.update(func(s *pageState) { s.pruned(endpoint) })
	}
	return res, err
}

// ready waits for the active service worker and logs it.
func (fl *flows) ready(ctx context.Context) error {
	info, err := fl.browser.Ready(ctx)
	if err != nil {
		return err
	}
	fl.log(flowOK, workerToPage, tr("Service worker active"), trf("scope: %s\nscript: %s\nstate: %s", info.Scope, info.ScriptURL, info.State))
	return nil
}

// fetchKey gets the server's VAPID public key and logs it.
func (fl *flows) fetchKey(ctx context.Context) (string, error) {
	answer, ex, err := fl.server.vapidPublicKey(ctx)
	fl.logExchange(ex)
	if err != nil {
		return "", err
	}
	key := answer.PublicKey
	if _, err := decodeKey(key); err != nil {
		return "", err
	}
	fl.key.Store(&answer)
	fl.log(flowOK, serverToPage, tr("VAPID public key fetched"), key+"\n\n"+tr("65-byte P-256 public key, base64url: the applicationServerKey of the subscription."))
	return key, nil
}

// subscribeAndStore subscribes with key, stores the subscription on the
// server, then deletes oldEndpoint there (a replaced subscription), if any.
// When the push service does not answer in time, the page reports it and
// keeps watching in the background for the browser's late answer.
func (fl *flows) subscribeAndStore(ctx context.Context, key, oldEndpoint string) error {
	fl.log(flowInfo, pageToBrowser, tr("Subscribing at the browser's push service"),
		tr("pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: <the key's 65 bytes> })"))
	sub, err := fl.browser.Subscribe(ctx, key)
	if errors.Is(err, context.DeadlineExceeded) {
		gen := fl.actions.Load()
		fl.ui.update(func(s *pageState) { s.Waiting = true })
		fl.ui.async(func() { fl.watchLate(ctx, gen, key, oldEndpoint) })
	}
	if err != nil {
		return err
	}
	sj, err := sub.JSON()
	if err != nil {
		return err
	}
	fl.gotSubscription(tr("Subscribed: the push service created this subscription"), sj)
	return fl.store(ctx, sj, oldEndpoint)
}

// store saves sj on the server and deletes oldEndpoint there, if any.
func (fl *flows) store(ctx context.Context, sj api.Subscription, oldEndpoint string) error {
	if oldEndpoint != sj.Endpoint {
		// The server replaces the old row with the new one in one step, so
		// a server at its ceiling of subscriptions still takes the renewal.
		sj.OldEndpoint = oldEndpoint
	}
	if _, err := fl.save(ctx, sj); err != nil {
		return err
	}
	if oldEndpoint == "" || oldEndpoint == sj.Endpoint {
		return nil
	}
	return fl.deleteOnServer(ctx, oldEndpoint)
}

// watchLate looks for the subscription a timed-out pushManager.subscribe may
// still produce, and stores it when it appears. It stops when the user
// starts another action (gen is the action that timed out).
func (fl *flows) watchLate(ctx context.Context, gen uint64, key, oldEndpoint string) {
	defer func() {
		if fl.actions.Load() == gen {
			fl.ui.update(func(s *pageState) { s.Waiting = false })
		}
	}()
	for deadline := time.Now().Add(fl.lateWatch); time.Now().Before(deadline); {
		time.Sleep(fl.latePoll)
		if fl.actions.Load() != gen {
			return
		}
		sub, err := fl.browser.GetSubscription(ctx)
		if err != nil || sub == nil {
			continue
		}
		if k := sub.ApplicationServerKey(); k != "" && !sameKey(k, key) {
			continue
		}
		sj, err := sub.JSON()
		if err == nil {
			fl.gotSubscription(tr("Subscribed after all: the push service answered late"), sj)
			err = fl.store(ctx, sj, oldEndpoint)
		}
		fl.ui.update(func(s *pageState) {
			if err != nil {
				s.fail(err)
				return
			}
			s.Alert = "" // the timeout reported earlier is resolved
		})
		return
	}
	fl.log(flowInfo, onPage, tr("Stopped waiting for the push service"), trf("No subscription appeared within %s after the timeout.", humanDuration(fl.lateWatch)))
}

// gotSubscription shows sj as the browser's subscription.
func (fl *flows) gotSubscription(title string, sj api.Subscription) {
	fl.log(flowOK, browserToPage, title, trf("Endpoint: %s", sj.Endpoint)+"\n\n"+prettySubscription(sj))
	fl.ui.update(func(s *pageState) { s.subscribed(sj) })
}

// save stores the subscription on the server (an upsert) and shows the
// topics the server answers with. Without sj.Tags the server keeps the
// topics it has: a re-sync or a renewal learns them without changing them.
func (fl *flows) save(ctx context.Context, sj api.Subscription) (api.Saved, error) {
	saved, ex, err := fl.server.saveSubscription(ctx, sj)
	fl.logExchange(ex)
	if err != nil {
		return saved, err
	}
	what := tr("The server already knew this subscription (200).")
	if saved.Created {
		what = tr("The server stored a new subscription (201).")
	}
	fl.log(flowOK, serverToPage, tr("Subscription stored on the server"), what+"\n"+topicsDetail(saved.Tags))
	fl.ui.update(func(s *pageState) { s.stored(sj.Endpoint, saved.Tags) })
	return saved, nil
}

// setTopics is the Topics flow: it stores the browser's subscription with
// tags as its full list of topics, which replaces the stored one ([] clears
// it). endpoint is the subscription the page shows. The page then shows the
// topics the server answers with; when the save fails, the stored ones again
// (pageState.finish).
func (fl *flows) setTopics(ctx context.Context, endpoint string, tags []string) error {
	if tags == nil {
		tags = []string{} // sent as [], not left out, which would keep them
	}
	// The same check as the server's, so a bad topic is refused here.
	if err := push.CheckTags("tags", tags); err != nil {
		return err
	}
	// The browser's subscription rather than the one shown: the service
	// worker may have renewed it since, and storing the old endpoint again
	// would bring back a dead row.
	sub, err := fl.browser.GetSubscription(ctx)
	if err != nil {
		return err
	}
	if sub == nil {
		fl.ui.update(func(s *pageState) { s.unsubscribed() })
		return errors.New(tr("this browser has no push subscription any more: click Enable notifications to subscribe again"))
	}
	sj, err := sub.JSON()
	if err != nil {
		return err
	}
	if sj.Endpoint != endpoint {
		fl.gotSubscription(tr("The browser's subscription changed since the page showed it"), sj)
	}
	fl.log(flowInfo, onPage, tr("Saving the topics"),
		tr("The subscription is posted again with \"tags\", the full list: it replaces the topics the server stores.")+"\n"+topicsDetail(tags))
	sj.Tags = &tags
	saved, err := fl.save(ctx, sj)
	if err != nil {
		return err
	}
	what := tr("A broadcast to any of these tags now reaches this browser.")
	if len(saved.Tags) == 0 {
		what = tr("Broadcasts to tags no longer reach this browser; those to everyone still do.")
	}
	fl.log(flowOK, serverToPage, tr("Topics saved"), what+"\n"+topicsDetail(saved.Tags))
	return nil
}

// deleteOnServer makes the server forget endpoint.
func (fl *flows) deleteOnServer(ctx context.Context, endpoint string) error {
	ex, err := fl.server.deleteSubscription(ctx, endpoint)
	fl.logExchange(ex)
	return err
}

// log appends a step of the page to the flow log: r is who took it and
// whom it went to.
func (fl *flows) log(level flowLevel, r route, title, detail string) {
	e := flowEntry{At: time.Now(), Level: level, Actor: r.from, To: r.to, Title: title, Detail: detail}
	fl.ui.update(func(s *pageState) { s.addEntry(e) })
}

// logExchange logs a request to the server with its status and answer.
func (fl *flows) logExchange(ex exchange) { fl.logExchangeAs(ex, pageToServer) }

// notificationJSON is n as the page sends it, pretty-printed.
func notificationJSON(n push.Notification) string {
	b, err := json.Marshal(n)
	if err != nil {
		return err.Error()
	}
	return prettyJSON(b)
}

// logExchangeAs is logExchange drawn as r: an answer that comes long after
// its request is the server's step toward the page.
func (fl *flows) logExchangeAs(ex exchange, r route) {
	if ex.Method == "" {
		return
	}
	level := flowOK
	if ex.Status < 200 || ex.Status > 299 {
		level = flowError
	}
	fl.log(level, r, exchangeTitle(ex), exchangeDetail(ex))
}
