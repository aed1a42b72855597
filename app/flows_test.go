package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/api"
	"pushstart/push"
)

// fakeKit is the kit server's API in memory: the VAPID public key, the
// stored subscriptions, and every request received. fail makes a route
// answer an api.Error with the given status instead.
type fakeKit struct {
	mu       sync.Mutex
	key      string
	origin   string // the origin its notifications link to; "" for none given
	subs     map[string]api.Subscription
	fail     map[string]int     // "METHOD path": status
	pushGone bool               // the push service answers 410 to a test send
	during   func(route string) // when set, called as each request arrives
	requests []kitRequest
	url      string

	// The live flow: what GET /api/flow answers, the handler of the
	// trace stream (404 when nil), and the switch armed for each endpoint,
	// which the next test send to it plays as the local push service and
	// the server would.
	flow  api.FlowInfo
	trace http.HandlerFunc
	armed map[string]string
}

// kitRequest is one request the fake kit received.
type kitRequest struct {
	Route  string // "METHOD path"
	Body   string
	URI    string // as sent: path and query
	Accept string
}

// startFakeKit serves the API with key as the server's VAPID public key.
func startFakeKit(t *testing.T, key string) *fakeKit {
	t.Helper()
	k := &fakeKit{key: key, subs: map[string]api.Subscription{}, fail: map[string]int{}, armed: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathVAPIDKey, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, api.VAPIDKey{PublicKey: k.key, PublicURL: k.origin})
	})
	mux.HandleFunc("POST "+api.PathSubscriptions, func(w http.ResponseWriter, r *http.Request) {
		var sub api.Subscription
		if !decode(w, r, &sub) {
			return
		}
		// As the server does: without "tags" the stored topics stay (those
		// of oldEndpoint's row for a renewal), and the row of oldEndpoint
		// is replaced.
		prev, known := k.subs[sub.Endpoint]
		if sub.OldEndpoint != "" {
			if old, ok := k.subs[sub.OldEndpoint]; ok && !known {
				prev = old
			}
			delete(k.subs, sub.OldEndpoint)
			sub.OldEndpoint = ""
		}
		if sub.Tags == nil {
			sub.Tags = prev.Tags
		} else if len(*sub.Tags) == 0 {
			sub.Tags = nil // stored as no topics
		} else {
			tags := slices.Sorted(slices.Values(*sub.Tags))
			sub.Tags = &tags
		}
		k.subs[sub.Endpoint] = sub
		status := http.StatusCreated
		if known {
			status = http.StatusOK
		}
		tags := []string{}
		if sub.Tags != nil {
			tags = *sub.Tags
		}
		reply(w, status, api.Saved{Endpoint: sub.Endpoint, Created: !known, Tags: tags})
	})
	mux.HandleFunc("DELETE "+api.PathSubscriptions, func(w http.ResponseWriter, r *http.Request) {
		var u api.Unsubscribe
		if !decode(w, r, &u) {
			return
		}
		delete(k.subs, u.Endpoint)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+api.PathTestSend, func(w http.ResponseWriter, r *http.Request) {
		var ts api.TestSend
		if !decode(w, r, &ts) {
			return
		}
		if _, ok := k.subs[ts.Endpoint]; !ok {
			reply(w, http.StatusNotFound, api.Error{Error: "subscription not found"})
			return
		}
		kind := k.armed[ts.Endpoint]
		delete(k.armed, ts.Endpoint)
		switch {
		case k.pushGone || kind == api.BreakExpire:
			delete(k.subs, ts.Endpoint)
			reply(w, http.StatusGone, api.Result{Outcome: push.Gone, Status: 410, Attempts: 1, Pruned: true, Error: "push service answered 410"})
		case kind == api.BreakWrongKey:
			reply(w, http.StatusBadGateway, api.Result{Outcome: push.Unauthorized, Status: 403, Attempts: 1, Error: "push service answered 403: VAPID signature refused"})
		case kind == api.BreakThrottle:
			reply(w, http.StatusOK, api.Result{Outcome: push.Sent, Status: 201, Attempts: 2})
		case kind == api.BreakError:
			reply(w, http.StatusOK, api.Result{Outcome: push.Sent, Status: 201, Attempts: 3})
		default:
			if kind == api.BreakOffline {
				k.armed[ts.Endpoint] = kind // still offline for the next push
			}
			reply(w, http.StatusOK, api.Result{Outcome: push.Sent, Status: 201, Attempts: 1})
		}
	})
	mux.HandleFunc("GET "+api.PathFlow, func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, k.flow)
	})
	mux.HandleFunc("POST "+api.PathFlowBreak, func(w http.ResponseWriter, r *http.Request) {
		var req api.FlowBreakRequest
		if !decode(w, r, &req) {
			return
		}
		sub, ok := k.subs[req.Endpoint]
		if !k.flow.Local || !ok || sub.Keys.Auth != req.Auth || !slices.Contains(k.flow.Breaks, req.Kind) {
			reply(w, http.StatusNotFound, api.Error{Error: "no such subscription or switch here"})
			return
		}
		k.armed[req.Endpoint] = req.Kind
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		route := r.Method + " " + r.URL.Path
		k.mu.Lock()
		k.requests = append(k.requests, kitRequest{Route: route, Body: string(body), URI: r.RequestURI, Accept: r.Header.Get("Accept")})
		if k.during != nil {
			k.during(route)
		}
		if status := k.fail[route]; status != 0 {
			k.mu.Unlock()
			reply(w, status, api.Error{Error: "database is locked"})
			return
		}
		if route == "POST "+api.PathFlowTrace {
			// A stream lasts: the other requests go on meanwhile.
			trace := k.trace
			k.mu.Unlock()
			if trace == nil {
				reply(w, http.StatusNotFound, api.Error{Error: "subscription not found"})
				return
			}
			trace(w, r)
			return
		}
		defer k.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	k.url = srv.URL
	return k
}

// decode reads the JSON body into v, refusing fields the API does not have.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		reply(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// routes lists the requests received so far, as "METHOD path".
func (k *fakeKit) routes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var rs []string
	for _, r := range k.requests {
		rs = append(rs, r.Route)
	}
	return rs
}

// body is the body of the last request to route.
func (k *fakeKit) body(t *testing.T, route string) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := len(k.requests) - 1; i >= 0; i-- {
		if k.requests[i].Route == route {
			return k.requests[i].Body
		}
	}
	t.Fatalf("no request %s", route)
	return ""
}

// bodies is the bodies of every request to route, in order.
func (k *fakeKit) bodies(route string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.requests {
		if r.Route == route {
			out = append(out, r.Body)
		}
	}
	return out
}

// stored is the subscriptions the server holds.
func (k *fakeKit) stored() map[string]api.Subscription {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := make(map[string]api.Subscription, len(k.subs))
	for e, s := range k.subs {
		m[e] = s
	}
	return m
}

// hold makes the server store sub, as an earlier visit would have.
func (k *fakeKit) hold(sub api.Subscription) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.subs[sub.Endpoint] = sub
}

// setPushGone makes the push service answer 410 to every test send.
func (k *fakeKit) setPushGone() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pushGone = true
}

// onRequest makes f be called with each request's route as it arrives.
func (k *fakeKit) onRequest(f func(route string)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.during = f
}

// setFail makes route answer status with an api.Error.
func (k *fakeKit) setFail(route string, status int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail[route] = status
}

// testUI is the flows' pageUI in tests: a change applies at once, under a
// lock, and wait waits for the background work.
type testUI struct {
	mu    sync.Mutex
	state pageState
	bg    sync.WaitGroup
}

func (u *testUI) update(f func(*pageState)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.state)
}

func (u *testUI) async(f func()) { u.bg.Go(f) }

func (u *testUI) wait() { u.bg.Wait() }

// now is a copy of the page state.
func (u *testUI) now() pageState {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.state
	s.Entries = slices.Clone(s.Entries)
	return s
}

// flowEnv is a page under test: the flows between a fake browser and a fake
// kit server.
type flowEnv struct {
	browser *fakeBrowser
	kit     *fakeKit
	ui      *testUI
	flows   *flows
}

func newFlowEnv(t *testing.T, b *fakeBrowser, serverKey string) *flowEnv {
	t.Helper()
	kit := startFakeKit(t, serverKey)
	ui := &testUI{}
	return &flowEnv{browser: b, kit: kit, ui: ui, flows: newFlows(b, newAPIClient(kit.url, nil), ui)}
}

// load runs the load-time check as OnMount does.
func (e *flowEnv) load(ctx context.Context) error {
	e.ui.update(func(s *pageState) { s.Busy = "Checking this browser…" })
	err := e.flows.load(ctx)
	e.flows.finish(err)
	return err
}

// click runs action as the page's buttons do: begin, the flow, finish.
func (e *flowEnv) click(ctx context.Context, action func(context.Context) error) error {
	e.flows.begin()
	e.ui.update(func(s *pageState) { s.begin("Working…") })
	err := action(ctx)
	e.flows.finish(err)
	return err
}

func (e *flowEnv) enable(ctx context.Context) error { return e.click(ctx, e.flows.enable) }

func (e *flowEnv) disable(ctx context.Context) error {
	endpoint := e.ui.now().Sub.Endpoint
	return e.click(ctx, func(ctx context.Context) error { return e.flows.disable(ctx, endpoint) })
}

func (e *flowEnv) sendTest(ctx context.Context, title, body string) error {
	endpoint := e.ui.now().Sub.Endpoint
	return e.click(ctx, func(ctx context.Context) error {
		return e.flows.sendTest(ctx, endpoint, testPush{Title: title, Body: body})
	})
}

// setTopic ticks (on) or unticks tag's checkbox as the page does: the full
// list of topics is shown while the flow saves it.
func (e *flowEnv) setTopic(ctx context.Context, tag string, on bool) error {
	s := e.ui.now()
	if !s.canChooseTopics() {
		return errors.New("the topics cannot be chosen now")
	}
	tags := withTopic(s.Tags, tag, on)
	e.ui.update(func(s *pageState) { s.chooseTopics(tags) })
	return e.click(ctx, func(ctx context.Context) error { return e.flows.setTopics(ctx, s.Sub.Endpoint, tags) })
}

// wantCalls fails unless the browser recorded exactly want.
func wantCalls(t *testing.T, b *fakeBrowser, want ...string) {
	t.Helper()
	if got := b.recorded(); !slices.Equal(got, want) {
		t.Errorf("browser calls %q, want %q", got, want)
	}
}

// wantRoutes fails unless the server received exactly want.
func wantRoutes(t *testing.T, k *fakeKit, want ...string) {
	t.Helper()
	if got := k.routes(); !slices.Equal(got, want) {
		t.Errorf("server requests %q, want %q", got, want)
	}
}

// wantStored fails unless the server holds exactly subs.
func wantStored(t *testing.T, k *fakeKit, subs ...api.Subscription) {
	t.Helper()
	want := map[string]api.Subscription{}
	for _, s := range subs {
		want[s.Endpoint] = s
	}
	if got := k.stored(); !reflect.DeepEqual(got, want) {
		t.Errorf("server stores %+v, want %+v", got, want)
	}
}

// wantStoredShown fails unless the page shows sub as subscribed and stored.
func wantStoredShown(t *testing.T, s pageState, sub api.Subscription) {
	t.Helper()
	if !s.Subscribed || !s.Saved || !reflect.DeepEqual(s.Sub, sub) {
		t.Errorf("page shows subscribed %v, saved %v, %+v; want %+v stored", s.Subscribed, s.Saved, s.Sub, sub)
	}
	if s.subscriptionText() != "Subscribed" || s.serverText() != "Server: stores this subscription" {
		t.Errorf("status reads %q, %q", s.subscriptionText(), s.serverText())
	}
	if s.Alert != "" || s.Busy != "" {
		t.Errorf("alert %q, busy %q after success", s.Alert, s.Busy)
	}
}

// wantTopicsShown fails unless the page shows exactly tags as the stored
// topics, with the offered topics' checkboxes ticked accordingly.
func wantTopicsShown(t *testing.T, s pageState, tags ...string) {
	t.Helper()
	if !slices.Equal(s.Tags, tags) || s.Tags == nil {
		t.Errorf("page shows topics %#v, want %#v", s.Tags, tags)
	}
	for _, tp := range offeredTopics() {
		if got, want := s.topicChecked(tp.Tag), slices.Contains(tags, tp.Tag); got != want {
			t.Errorf("%s ticked %v, want %v", tp.Label, got, want)
		}
	}
	if s.Choosing != nil {
		t.Errorf("still choosing %q", s.Choosing)
	}
}

// postedTags is the "tags" of the last subscription POSTed; absent is nil.
func postedTags(t *testing.T, k *fakeKit) *[]string {
	t.Helper()
	var sub api.Subscription
	if err := json.Unmarshal([]byte(k.body(t, "POST "+api.PathSubscriptions)), &sub); err != nil {
		t.Fatal(err)
	}
	return sub.Tags
}

// hasEntry reports whether the flow log has an entry titled title.
func hasEntry(s pageState, level flowLevel, title string) bool {
	return slices.ContainsFunc(s.Entries, func(e flowEntry) bool { return e.Level == level && e.Title == title })
}

// subJSON is the body the page must POST for sub: PushSubscription.toJSON()
// exactly, with no field of its own.
func subJSON(sub api.Subscription) string {
	old := ""
	if sub.OldEndpoint != "" {
		old = `,"oldEndpoint":"` + sub.OldEndpoint + `"`
	}
	return `{"endpoint":"` + sub.Endpoint + `","expirationTime":null,"keys":{"p256dh":"` + sub.Keys.P256dh + `","auth":"` + sub.Keys.Auth + `"}` + old + `}`
}

func TestEnableSubscribesAndStores(t *testing.T) {
	b := newFakeBrowser(PermissionDefault)
	e := newFlowEnv(t, b, keyA)
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	if s := e.ui.now(); !s.canEnable() || s.Subscribed {
		t.Fatalf("after load: can enable %v, subscribed %v", s.canEnable(), s.Subscribed)
	}

	if err := e.enable(t.Context()); err != nil {
		t.Fatalf("enable: %v", err)
	}
	wantCalls(t, b, "requestPermission", "subscribe "+keyA)
	sub := b.current()
	if sub == nil || sub.key != keyA {
		t.Fatalf("browser subscription %+v, want one made with the server's key", sub)
	}
	want, _ := sub.JSON()
	wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions)
	if got := e.kit.body(t, "POST "+api.PathSubscriptions); got != subJSON(want) {
		t.Errorf("POST body\n%s\nwant\n%s", got, subJSON(want))
	}
	wantStored(t, e.kit, want)
	s := e.ui.now()
	wantStoredShown(t, s, want)
	if s.Permission != PermissionGranted || !s.canDisable() || !s.canSendTest() || s.canEnable() {
		t.Errorf("permission %q, buttons enable/disable/test %v/%v/%v", s.Permission, s.canEnable(), s.canDisable(), s.canSendTest())
	}
	if !hasEntry(s, flowOK, "POST /api/subscriptions → 201 Created") {
		t.Errorf("flow log lacks the stored subscription: %+v", s.Entries)
	}
}

func TestLoadResyncsExistingSubscription(t *testing.T) {
	tests := []struct {
		name       string
		serverKey  string
		keyHidden  bool
		stored     bool // the server still holds the subscription
		wantStatus string
	}{
		{name: "the server lost it", serverKey: keyA, wantStatus: "201 Created"},
		{name: "the server holds it", serverKey: keyA, stored: true, wantStatus: "200 OK"},
		{name: "the server's key is padded", serverKey: keyA + "=", wantStatus: "201 Created"},
		{name: "the browser hides the subscription's key", serverKey: keyB, keyHidden: true, wantStatus: "201 Created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBrowser(PermissionGranted)
			old := b.addSubscription(keyA)
			old.keyHidden = tt.keyHidden
			want, _ := old.JSON()
			e := newFlowEnv(t, b, tt.serverKey)
			if tt.stored {
				e.kit.hold(want)
			}

			if err := e.load(t.Context()); err != nil {
				t.Fatalf("load: %v", err)
			}
			wantCalls(t, b) // neither a prompt nor a new subscription
			if b.current() != old {
				t.Error("the browser's subscription changed")
			}
			wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions)
			if got := e.kit.body(t, "POST "+api.PathSubscriptions); got != subJSON(want) {
				t.Errorf("POST body\n%s\nwant\n%s", got, subJSON(want))
			}
			wantStored(t, e.kit, want)
			s := e.ui.now()
			wantStoredShown(t, s, want)
			if !s.Checked || !hasEntry(s, flowOK, "POST /api/subscriptions → "+tt.wantStatus) {
				t.Errorf("checked %v; flow log lacks the upsert answered %s: %+v", s.Checked, tt.wantStatus, s.Entries)
			}
		})
	}
}

func TestLoadAfterKeyRotationSubscribesAgain(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	old := b.addSubscription(keyA)
	oldJSON, _ := old.JSON()
	e := newFlowEnv(t, b, keyB)
	e.kit.hold(oldJSON)

	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	sub := b.current()
	if sub == nil || sub == old || sub.key != keyB {
		t.Fatalf("browser subscription %+v, want a new one made with the new key", sub)
	}
	wantCalls(t, b, "unsubscribe "+old.endpoint, "subscribe "+keyB)
	wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions, "DELETE "+api.PathSubscriptions)
	want, _ := sub.JSON()
	// The new subscription replaces the old one in one request, so that a
	// server at its MAX_SUBSCRIPTIONS ceiling still takes it.
	posted := want
	posted.OldEndpoint = old.endpoint
	if got := e.kit.body(t, "POST "+api.PathSubscriptions); got != subJSON(posted) {
		t.Errorf("POST body\n%s\nwant\n%s", got, subJSON(posted))
	}
	if got := e.kit.body(t, "DELETE "+api.PathSubscriptions); got != `{"endpoint":"`+old.endpoint+`"}` {
		t.Errorf("DELETE body %s, want the old endpoint", got)
	}
	wantStored(t, e.kit, want)
	s := e.ui.now()
	wantStoredShown(t, s, want)
	if !hasEntry(s, flowInfo, "The server's VAPID key changed: subscribing again") {
		t.Errorf("flow log does not say why it subscribed again: %+v", s.Entries)
	}
}

func TestLoadAfterKeyRotationWithoutPermission(t *testing.T) {
	// Permission went back to "default" (reset by the user) after the
	// subscription was made: the page may not ask on load, so it drops the
	// dead subscription and asks the user to enable again.
	b := newFakeBrowser(PermissionDefault)
	old := b.addSubscription(keyA)
	oldJSON, _ := old.JSON()
	e := newFlowEnv(t, b, keyB)
	e.kit.hold(oldJSON)

	err := e.load(t.Context())
	if !errors.Is(err, ErrPermissionDismissed) {
		t.Fatalf("load: %v, want a permission error", err)
	}
	wantCalls(t, b, "unsubscribe "+old.endpoint)
	wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "DELETE "+api.PathSubscriptions)
	wantStored(t, e.kit)
	s := e.ui.now()
	if s.Subscribed || !s.canEnable() {
		t.Errorf("subscribed %v, can enable %v; want the page ready to enable again", s.Subscribed, s.canEnable())
	}
	if !strings.Contains(s.Alert, "Click Enable notifications to subscribe with the new key") {
		t.Errorf("alert %q does not say what to do", s.Alert)
	}
}

func TestDisableUnsubscribesAndDeletes(t *testing.T) {
	t.Run("browser and server forget it", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		sub := b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := e.disable(t.Context()); err != nil {
			t.Fatalf("disable: %v", err)
		}
		wantCalls(t, b, "unsubscribe "+sub.endpoint)
		if b.current() != nil {
			t.Error("the browser still has a subscription")
		}
		wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions, "DELETE "+api.PathSubscriptions)
		if got := e.kit.body(t, "DELETE "+api.PathSubscriptions); got != `{"endpoint":"`+sub.endpoint+`"}` {
			t.Errorf("DELETE body %s", got)
		}
		wantStored(t, e.kit)
		s := e.ui.now()
		if s.Subscribed || s.subscriptionText() != "Not subscribed" || !s.canEnable() || s.Alert != "" {
			t.Errorf("after disable: %q, can enable %v, alert %q", s.subscriptionText(), s.canEnable(), s.Alert)
		}
	})
	t.Run("the browser lost it", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		e := newFlowEnv(t, b, keyA)
		const endpoint = "https://push.example/lost"
		e.kit.hold(api.Subscription{Endpoint: endpoint})
		err := e.click(t.Context(), func(ctx context.Context) error { return e.flows.disable(ctx, endpoint) })
		if err != nil {
			t.Fatalf("disable: %v", err)
		}
		wantCalls(t, b)
		wantRoutes(t, e.kit, "DELETE "+api.PathSubscriptions)
		wantStored(t, e.kit)
	})
}

func TestDeniedPermissionBlocks(t *testing.T) {
	t.Run("the user denies the prompt", func(t *testing.T) {
		b := newFakeBrowser(PermissionDefault)
		b.prompt = PermissionDenied
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		err := e.enable(t.Context())
		if !errors.Is(err, ErrPermissionDenied) {
			t.Fatalf("enable: %v, want permission denied", err)
		}
		wantCalls(t, b, "requestPermission")
		wantRoutes(t, e.kit)
		s := e.ui.now()
		wantBlocked(t, s)
		if !strings.Contains(s.Alert, "notifications are blocked for this site") {
			t.Errorf("alert %q", s.Alert)
		}
	})
	t.Run("blocked before the page loaded", func(t *testing.T) {
		b := newFakeBrowser(PermissionDenied)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		wantCalls(t, b)
		wantRoutes(t, e.kit)
		wantBlocked(t, e.ui.now())
	})
}

// wantBlocked fails unless the page shows the blocked state: permission
// denied, nothing subscribed, Enable notifications disabled.
func wantBlocked(t *testing.T, s pageState) {
	t.Helper()
	if s.Permission != PermissionDenied || s.permissionText() != "Permission: denied" || s.permissionMark() != markBad {
		t.Errorf("permission %q (%q, %q), want denied", s.Permission, s.permissionText(), s.permissionMark())
	}
	if s.Subscribed || s.canEnable() || s.canDisable() || s.canSendTest() {
		t.Errorf("subscribed %v, buttons enable/disable/test %v/%v/%v; want all disabled", s.Subscribed, s.canEnable(), s.canDisable(), s.canSendTest())
	}
}

func TestFailedServerCallNamesTheCall(t *testing.T) {
	tests := []struct {
		name       string
		perm       PermissionState
		subscribed bool // the browser has a subscription made with keyA
		loaded     bool // the page has loaded before the server fails
		failing    string
		status     int
		action     func(*flowEnv, context.Context) error
		wantAlert  string
	}{
		{
			name: "enable: the key", perm: PermissionDefault, loaded: true,
			failing: "GET " + api.PathVAPIDKey, status: 503,
			action:    (*flowEnv).enable,
			wantAlert: "GET /api/vapid-public-key answered 503 Service Unavailable: database is locked",
		},
		{
			name: "enable: storing", perm: PermissionDefault, loaded: true,
			failing: "POST " + api.PathSubscriptions, status: 500,
			action:    (*flowEnv).enable,
			wantAlert: "POST /api/subscriptions answered 500 Internal Server Error: database is locked",
		},
		{
			name: "load: the re-sync", perm: PermissionGranted, subscribed: true,
			failing: "POST " + api.PathSubscriptions, status: 500,
			action:    (*flowEnv).load,
			wantAlert: "POST /api/subscriptions answered 500 Internal Server Error: database is locked",
		},
		{
			name: "disable", perm: PermissionGranted, subscribed: true, loaded: true,
			failing: "DELETE " + api.PathSubscriptions, status: 500,
			action:    (*flowEnv).disable,
			wantAlert: "DELETE /api/subscriptions answered 500 Internal Server Error: database is locked",
		},
		{
			name: "test send", perm: PermissionGranted, subscribed: true, loaded: true,
			failing: "POST " + api.PathTestSend, status: 500,
			action:    func(e *flowEnv, ctx context.Context) error { return e.sendTest(ctx, "Hi", "there") },
			wantAlert: "POST /api/subscriptions/test answered 500 Internal Server Error: database is locked",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBrowser(tt.perm)
			if tt.subscribed {
				b.addSubscription(keyA)
			}
			e := newFlowEnv(t, b, keyA)
			if tt.loaded {
				if err := e.load(t.Context()); err != nil {
					t.Fatalf("load: %v", err)
				}
			}
			e.kit.setFail(tt.failing, tt.status)

			err := tt.action(e, t.Context())
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want a failed call to the server", err)
			}
			s := e.ui.now()
			if s.Alert != tt.wantAlert {
				t.Errorf("alert %q, want %q", s.Alert, tt.wantAlert)
			}
			last := s.Entries[len(s.Entries)-1]
			if want := tt.failing + " failed"; last.Level != flowError || last.Title != want {
				t.Errorf("last flow entry %s %q, want error %q", last.Level, last.Title, want)
			}
			if s.Busy != "" || !s.Checked {
				t.Errorf("busy %q, checked %v after the failure", s.Busy, s.Checked)
			}
		})
	}
}

func TestSendTestShowsTheOutcome(t *testing.T) {
	t.Run("sent", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		sub := b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := e.sendTest(t.Context(), "Hello", "World"); err != nil {
			t.Fatalf("sendTest: %v", err)
		}
		var got api.TestSend
		if err := json.Unmarshal([]byte(e.kit.body(t, "POST "+api.PathTestSend)), &got); err != nil {
			t.Fatal(err)
		}
		want := api.TestSend{Endpoint: sub.endpoint, Notification: &push.Notification{
			Title: "Hello", Body: "World", Icon: iconPath, Badge: badgePath, Tag: testTag, Renotify: true,
			Data: json.RawMessage(`{"url":"/"}`),
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("test send %+v, want %+v", got.Notification, want.Notification)
		}
		s := e.ui.now()
		if !strings.Contains(s.Outcome, `"outcome": "sent"`) || s.Alert != "" {
			t.Errorf("outcome %q, alert %q", s.Outcome, s.Alert)
		}
	})
	t.Run("the subscription is gone", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		e.kit.setPushGone()
		err := e.sendTest(t.Context(), "Hello", "World")
		if err == nil || !strings.Contains(err.Error(), "click Subscribe again") {
			t.Fatalf("sendTest: %v", err)
		}
		s := e.ui.now()
		if s.Saved || s.serverText() != "Server: deleted this subscription, gone at the push service" {
			t.Errorf("page still shows the subscription stored: %q", s.serverText())
		}
		if !s.Pruned || !s.canSubscribeAgain() {
			t.Errorf("pruned %v, can subscribe again %v: the page must offer Subscribe again", s.Pruned, s.canSubscribeAgain())
		}
		if !strings.Contains(s.Outcome, `"outcome": "gone"`) {
			t.Errorf("outcome %q", s.Outcome)
		}
	})
	t.Run("an invalid notification is refused before sending", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		err := e.sendTest(t.Context(), strings.Repeat("x", 300), "")
		var fe *push.FieldError
		if !errors.As(err, &fe) || fe.Field != "notification.title" {
			t.Fatalf("sendTest: %v, want a field error on the title", err)
		}
		wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions)
		if s := e.ui.now(); !hasEntry(s, flowError, "The notification is invalid") || s.Outcome != "" {
			t.Errorf("flow log %+v, outcome %q", s.Entries, s.Outcome)
		}
	})
	t.Run("the size is checked with the links the server writes", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := e.sendTest(t.Context(), "Hello", ""); err != nil {
			t.Fatalf("sendTest: %v", err)
		}
		var sent api.TestSend
		if err := json.Unmarshal([]byte(e.kit.body(t, "POST "+api.PathTestSend)), &sent); err != nil {
			t.Fatal(err)
		}
		pageOrigin, err := push.ParseOrigin(e.kit.url)
		if err != nil {
			t.Fatal(err)
		}
		empty, err := sent.Notification.Marshal(pageOrigin)
		if err != nil {
			t.Fatal(err)
		}
		// A body that JSON escapes ("<" is written \u003c) and that fills
		// the payload, within one character, when its links are on the
		// page's origin, which stands in while the server names none.
		body := strings.Repeat("<", (push.MaxPlaintext-len(empty)-len(`,"body":""`))/len(`\u003c`))
		if err := e.sendTest(t.Context(), "Hello", body); err != nil {
			t.Fatalf("sendTest of a payload that fits on the page's origin: %v", err)
		}

		// The server names its own, longer origin: the same body no
		// longer fits, and nothing is sent.
		e.kit.mu.Lock()
		e.kit.origin = "https://notifications.push.example.com"
		e.kit.mu.Unlock()
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		before := len(e.kit.routes())
		err = e.sendTest(t.Context(), "Hello", body)
		var fe *push.FieldError
		if !errors.As(err, &fe) || fe.Field != "notification" || !strings.Contains(fe.Message, "3993") {
			t.Fatalf("sendTest: %v, want the size limit refused on notification", err)
		}
		if got := e.kit.routes()[before:]; len(got) != 0 {
			t.Errorf("server requests %q after the refusal, want none", got)
		}
	})
}

func TestLateSubscriptionIsStored(t *testing.T) {
	timeout := &PushError{Kind: ErrPushService, Op: "pushManager.subscribe",
		Message: "the push service did not answer within 60 seconds", Err: context.DeadlineExceeded}
	setup := func(t *testing.T) *flowEnv {
		t.Helper()
		b := newFakeBrowser(PermissionDefault)
		b.subErr = timeout
		e := newFlowEnv(t, b, keyA)
		e.flows.latePoll = time.Millisecond
		e.flows.lateWatch = 5 * time.Second // a watch that does not stop fails in seconds, not minutes
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := e.enable(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("enable: %v, want the timeout", err)
		}
		if s := e.ui.now(); !s.Waiting || !strings.Contains(s.Alert, "did not answer") {
			t.Fatalf("waiting %v, alert %q after the timeout", s.Waiting, s.Alert)
		}
		return e
	}

	t.Run("the push service answers late", func(t *testing.T) {
		e := setup(t)
		sub := e.browser.addSubscription(keyA) // pushManager.subscribe resolves after all
		e.ui.wait()
		want, _ := sub.JSON()
		wantStored(t, e.kit, want)
		s := e.ui.now()
		wantStoredShown(t, s, want)
		if s.Waiting {
			t.Error("still waiting")
		}
	})
	t.Run("the user starts another action", func(t *testing.T) {
		e := setup(t)
		e.flows.begin()
		e.ui.wait() // returns only once the watch has stopped
		e.browser.addSubscription(keyA)
		if s := e.ui.now(); hasEntry(s, flowInfo, "Stopped waiting for the push service") {
			t.Error("the watch ran to its deadline instead of stopping for the new action")
		}
		wantStored(t, e.kit)
		wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey)
	})
}

// tagged is sub as the server stores it with tags.
func tagged(sub api.Subscription, tags ...string) api.Subscription {
	sub.Tags = &tags
	return sub
}

func TestTopicsSaveTheFullList(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	sub := b.addSubscription(keyA)
	want, _ := sub.JSON()
	e := newFlowEnv(t, b, keyA)
	e.kit.hold(tagged(want, "reminders"))
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	wantTopicsShown(t, e.ui.now(), "reminders")

	// While a save runs, the boxes show the new choice and take no other.
	var (
		mu     sync.Mutex
		during []pageState
	)
	e.kit.onRequest(func(route string) {
		if route == "POST "+api.PathSubscriptions {
			mu.Lock()
			defer mu.Unlock()
			during = append(during, e.ui.now())
		}
	})
	steps := []struct {
		tag  string
		on   bool
		want []string
	}{
		{tag: "news", on: true, want: []string{"news", "reminders"}},
		{tag: "reminders", on: false, want: []string{"news"}},
		{tag: "news", on: false, want: []string{}}, // sent as [], which clears
	}
	for _, st := range steps {
		mu.Lock()
		during = nil
		mu.Unlock()
		if err := e.setTopic(t.Context(), st.tag, st.on); err != nil {
			t.Fatalf("set %s %v: %v", st.tag, st.on, err)
		}
		got := postedTags(t, e.kit)
		if got == nil || !slices.Equal(*got, st.want) {
			t.Errorf("set %s %v: posted tags %v, want %q", st.tag, st.on, got, st.want)
		}
		mu.Lock()
		seen := slices.Clone(during)
		mu.Unlock()
		if len(seen) != 1 {
			t.Fatalf("set %s %v: %d subscription POSTs, want 1", st.tag, st.on, len(seen))
		}
		if d := seen[0]; !slices.Equal(d.Choosing, st.want) || d.canChooseTopics() {
			t.Errorf("set %s %v: while saving, choosing %q (can choose %v), want %q shown and the boxes disabled",
				st.tag, st.on, d.Choosing, d.canChooseTopics(), st.want)
		}
		if len(st.want) > 0 {
			wantStored(t, e.kit, tagged(want, st.want...))
		} else {
			wantStored(t, e.kit, want)
		}
		s := e.ui.now()
		wantTopicsShown(t, s, st.want...)
		if s.Alert != "" || s.Busy != "" || !s.canChooseTopics() {
			t.Errorf("after saving: alert %q, busy %q, can choose %v", s.Alert, s.Busy, s.canChooseTopics())
		}
		if !hasEntry(s, flowInfo, "Saving the topics") || !hasEntry(s, flowOK, "Topics saved") {
			t.Errorf("flow log lacks the save: %+v", s.Entries)
		}
	}
	if got := e.ui.now().topicsText(); got != "Stored on the server: no topics" {
		t.Errorf("topics text %q", got)
	}
	wantCalls(t, b) // the subscription itself is unchanged
}

func TestTopicsShowTheServersAnswer(t *testing.T) {
	tests := []struct {
		name     string
		stored   []string // the server's topics before the load; nil for none
		wantText string
	}{
		{name: "none", wantText: "Stored on the server: no topics"},
		{name: "one", stored: []string{"news"}, wantText: "Stored on the server: news"},
		{name: "one the page does not offer", stored: []string{"beta", "reminders"}, wantText: "Stored on the server: beta, reminders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBrowser(PermissionGranted)
			sub := b.addSubscription(keyA)
			want, _ := sub.JSON()
			e := newFlowEnv(t, b, keyA)
			if tt.stored != nil {
				e.kit.hold(tagged(want, tt.stored...))
			}
			if s := e.ui.now(); s.Tags != nil || s.topicChecked("news") {
				t.Fatalf("topics %q shown before the server answered", s.Tags)
			}
			if err := e.load(t.Context()); err != nil {
				t.Fatalf("load: %v", err)
			}
			s := e.ui.now()
			wantTopicsShown(t, s, append([]string{}, tt.stored...)...)
			if got := s.topicsText(); got != tt.wantText {
				t.Errorf("topics text %q, want %q", got, tt.wantText)
			}
			if tt.stored == nil {
				return
			}
			// Topics set through the API stay when the user picks another.
			if err := e.setTopic(t.Context(), "news", true); err != nil {
				t.Fatal(err)
			}
			wantAll := withTopic(tt.stored, "news", true)
			if got := postedTags(t, e.kit); got == nil || !slices.Equal(*got, wantAll) {
				t.Errorf("posted tags %v, want %q", got, wantAll)
			}
			wantTopicsShown(t, e.ui.now(), wantAll...)
		})
	}
}

func TestResyncKeepsTheTopics(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	sub := b.addSubscription(keyA)
	want, _ := sub.JSON()
	e := newFlowEnv(t, b, keyA)
	e.kit.hold(tagged(want, "news", "reminders"))
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	// The re-sync posts PushSubscription.toJSON() alone: no "tags", which
	// keeps the stored ones.
	if got := e.kit.body(t, "POST "+api.PathSubscriptions); got != subJSON(want) {
		t.Errorf("POST body\n%s\nwant\n%s", got, subJSON(want))
	}
	wantStored(t, e.kit, tagged(want, "news", "reminders"))
	wantTopicsShown(t, e.ui.now(), "news", "reminders")
}

func TestFailedTopicsSaveRestoresTheCheckbox(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	sub := b.addSubscription(keyA)
	want, _ := sub.JSON()
	e := newFlowEnv(t, b, keyA)
	e.kit.hold(tagged(want, "reminders"))
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	e.kit.setFail("POST "+api.PathSubscriptions, 500)

	err := e.setTopic(t.Context(), "news", true)
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("set news: %v, want a failed call to the server", err)
	}
	s := e.ui.now()
	wantTopicsShown(t, s, "reminders") // News unticked again
	if want := "POST /api/subscriptions answered 500 Internal Server Error: database is locked"; s.Alert != want {
		t.Errorf("alert %q, want %q", s.Alert, want)
	}
	if last := s.Entries[len(s.Entries)-1]; last.Level != flowError || last.Title != "POST /api/subscriptions failed" {
		t.Errorf("last flow entry %s %q", last.Level, last.Title)
	}
	if !s.canChooseTopics() || !s.Saved {
		t.Errorf("can choose %v, saved %v after the failure; want the boxes usable again", s.canChooseTopics(), s.Saved)
	}
	wantStored(t, e.kit, tagged(want, "reminders"))
}

func TestInvalidTopicIsRefusedBeforeSaving(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	b.addSubscription(keyA)
	e := newFlowEnv(t, b, keyA)
	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	err := e.click(t.Context(), func(ctx context.Context) error {
		return e.flows.setTopics(ctx, e.ui.now().Sub.Endpoint, []string{"News"})
	})
	var fe *push.FieldError
	if !errors.As(err, &fe) || fe.Field != "tags[0]" {
		t.Fatalf("setTopics: %v, want a field error on tags[0]", err)
	}
	wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions)
	if s := e.ui.now(); !hasEntry(s, flowError, "The topics are invalid") {
		t.Errorf("flow log %+v", s.Entries)
	}
}

func TestTopicsFollowTheBrowsersSubscription(t *testing.T) {
	t.Run("renewed since the page showed it", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		old := b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		// The service worker subscribed again (pushsubscriptionchange) and
		// stored the new subscription in place of the old one.
		renewed := b.addSubscription(keyA)
		renewedJSON, _ := renewed.JSON()
		posted := renewedJSON
		posted.OldEndpoint = old.endpoint
		body, _ := json.Marshal(posted)
		resp, err := http.Post(e.kit.url+api.PathSubscriptions, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		if err := e.setTopic(t.Context(), "news", true); err != nil {
			t.Fatalf("set news: %v", err)
		}
		wantStored(t, e.kit, tagged(renewedJSON, "news"))
		s := e.ui.now()
		if s.Sub.Endpoint != renewed.endpoint {
			t.Errorf("page shows %s, want the renewed subscription", s.Sub.Endpoint)
		}
		wantTopicsShown(t, s, "news")
	})
	t.Run("gone from the browser", func(t *testing.T) {
		b := newFakeBrowser(PermissionGranted)
		sub := b.addSubscription(keyA)
		e := newFlowEnv(t, b, keyA)
		if err := e.load(t.Context()); err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := sub.Unsubscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := e.setTopic(t.Context(), "news", true); err == nil {
			t.Fatal("set news: no error without a subscription")
		}
		s := e.ui.now()
		if s.Subscribed || !s.canEnable() || !strings.Contains(s.Alert, "Enable notifications") {
			t.Errorf("subscribed %v, can enable %v, alert %q", s.Subscribed, s.canEnable(), s.Alert)
		}
		wantRoutes(t, e.kit, "GET "+api.PathVAPIDKey, "POST "+api.PathSubscriptions)
	})
}

func TestLoadAfterKeyRotationKeepsTheTopics(t *testing.T) {
	b := newFakeBrowser(PermissionGranted)
	old := b.addSubscription(keyA)
	oldJSON, _ := old.JSON()
	e := newFlowEnv(t, b, keyB)
	e.kit.hold(tagged(oldJSON, "news"))

	if err := e.load(t.Context()); err != nil {
		t.Fatalf("load: %v", err)
	}
	sub := b.current()
	want, _ := sub.JSON()
	// The renewal names the old endpoint and no "tags": the server carries
	// the old row's topics over.
	posted := want
	posted.OldEndpoint = old.endpoint
	if got := e.kit.body(t, "POST "+api.PathSubscriptions); got != subJSON(posted) {
		t.Errorf("POST body\n%s\nwant\n%s", got, subJSON(posted))
	}
	wantStored(t, e.kit, tagged(want, "news"))
	wantTopicsShown(t, e.ui.now(), "news")
}
