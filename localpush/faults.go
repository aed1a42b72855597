package localpush

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"pushstart/internal/httpjson"
	"pushstart/push"
)

// Fault kinds other than an HTTP status.
const (
	// faultHang holds a push request open until the client gives up or the
	// service closes.
	faultHang = "hang"
	// faultExpire forgets the subscription at once, as a push service
	// forgets an expired one.
	faultExpire = "expire"
	// faultOffline drops the browser's connection and keeps it away for a
	// while.
	faultOffline = "offline"
	// faultLatency makes messages wait before they are handed over.
	faultLatency = "latency"
	// faultReset forgets the browser that owns the subscription, as a push
	// service that lost a client's record does, and lets the browser learn
	// it the way it would (see Service.reset).
	faultReset = "reset"
)

// Bounds of the faults' parameters.
const (
	maxOfflineSeconds = 600
	maxLatencyMs      = 60000
)

// FaultRequest is the body of POST /v1/faults. A status kind or "hang": the
// next Count push requests to Endpoint get that answer instead of being
// processed. "expire": the subscription is forgotten now, as a push service
// forgets an expired one (its waiting messages are dropped, every later
// push answers 410). "offline": the browser that owns the subscription
// loses its connection now and its reconnections are held unanswered for
// Seconds, so that messages wait for it (or, with TTL 0, are dropped).
// "latency": each of the next Count messages accepted for Endpoint waits
// DelayMs before it is handed to the browser (the push request is answered
// at once). "reset": the push service forgets the browser that owns the
// subscription, so every subscription of that browser, not only this one,
// is gone (410, waiting messages dropped). Firefox learns it as from
// autopush: its connection is dropped and its next hello is answered with a
// new uaid, upon which it drops all its subscriptions and fires
// pushsubscriptionchange in each of their service workers. Chromium is not
// told: nothing a push service sends makes it fire the event.
type FaultRequest struct {
	Endpoint   string `json:"endpoint"`             // the endpoint URL as the browser gave it
	Kind       string `json:"kind"`                 // "410", "429", "500" (any status 400-599), "hang", "expire", "offline", "latency" or "reset"
	Count      int    `json:"count,omitempty"`      // how many requests (status kinds, hang) or messages (latency); default 1
	RetryAfter *int   `json:"retryAfter,omitempty"` // seconds for Retry-After on 429 and 503; default 1
	Seconds    int    `json:"seconds,omitempty"`    // offline: how long the browser's connection is refused (1 to 600)
	DelayMs    int    `json:"delayMs,omitempty"`    // latency: how long each of the next Count messages waits before it is handed to the browser (1 to 60000)
}

// ErrUnknownSubscription is in the chain of SetFault's error when the
// fault's endpoint names no current subscription: never issued, expired,
// unsubscribed, or issued before the service restarted.
var ErrUnknownSubscription = errors.New("names no current subscription")

// SetFault arms a fault as POST /v1/faults does, for a program that runs the
// service in-process. Its endpoint must be spelled as the service serves it
// (see Serves).
func (s *Service) SetFault(req FaultRequest) error {
	key, ft, err := s.parseFault(req)
	if err != nil {
		return err
	}
	switch ft.kind {
	case faultExpire:
		return s.expire(key)
	case faultReset:
		return s.reset(key, req.Endpoint)
	case faultOffline:
		return s.goOffline(key, req.Endpoint, ft.seconds)
	case faultLatency:
		// Armed, then checked: a subscription removed meanwhile has had
		// its faults forgotten, or has them forgotten here.
		s.faults.setLatency(key, ft)
		if !s.state.current(key) {
			s.faults.forget(key)
			return unknownSubscription()
		}
	default:
		s.faults.set(key, ft)
	}
	return nil
}

// ClearLatency disarms the latency fault armed for endpoint's subscription,
// if any: for a program that armed one for a push the push service then
// refused, so that it does not hold back a later push.
func (s *Service) ClearLatency(endpoint string) {
	if key, ok := s.served(endpoint); ok {
		s.faults.disarm(key, faultLatency, 0)
	}
}

// Serves reports whether endpoint is one of the endpoints this service
// hands out, spelled as it hands it out: /wpush/<token> at the service's own
// origin (Firefox's), or /fcm/send/<token> or /wp/<token> at its own origin
// or at a host Reroutes reports (Chromium's, whose host Chromium picks
// itself). Only such an endpoint names a subscription in a fault: another
// URL ending in the same token (another host, another spelling) is someone
// else's URL, not this service's subscription.
func (s *Service) Serves(endpoint string) bool {
	_, ok := s.served(endpoint)
	return ok
}

// faultKey names what a fault is armed for: a token, and the browser whose
// endpoints the path is for (/wpush/ Firefox's, the others Chromium's).
// The push resource serves a token only on its browser's paths, so a fault
// armed through the other browser's path never meets the subscription.
type faultKey struct{ browser, token string }

// served returns the fault key of an endpoint Serves accepts.
func (s *Service) served(endpoint string) (faultKey, bool) { return servedBy(s.url, endpoint) }

// servedBy returns the fault key of endpoint when it is one of the
// endpoints the service at base ("http://127.0.0.1:P") hands out, spelled as
// it hands it out (see Service.Serves): the one rule of both the in-process
// Service and the Client.
func servedBy(base, endpoint string) (faultKey, bool) {
	if t, ok := strings.CutPrefix(endpoint, base+"/wpush/"); ok {
		return faultKey{Firefox, t}, isToken(t)
	}
	origins := []string{base}
	for _, h := range reroutedHosts {
		origins = append(origins, "https://"+h)
	}
	for _, o := range origins {
		for _, p := range []string{"/fcm/send/", "/wp/"} {
			if t, ok := strings.CutPrefix(endpoint, o+p); ok {
				return faultKey{Chromium, t}, isToken(t)
			}
		}
	}
	return faultKey{}, false
}

// isToken reports whether t can be a token the service issued: both
// Mozilla's and GCM's are base64url, so no escape, query or path can hide
// in one.
func isToken(t string) bool {
	return t != "" && len(t) <= maxToken && push.IsBase64URL(t)
}

// maxToken bounds a token in a fault's endpoint, well above the ones the
// service issues (32 and 43 characters).
const maxToken = 256

// Token returns the token that ends an endpoint of this service, whatever
// its host (Chromium's endpoints name FCM hosts): two endpoints name the same
// subscription when their tokens are equal. It does not check the origin:
// whether an endpoint is really this service's is Serves' question.
func Token(endpoint string) (string, error) { return tokenOf(endpoint) }

// fault is an armed fault for one endpoint.
type fault struct {
	kind       string // a fault kind, or a status code as text
	status     int    // 0 but for a status kind
	left       int
	retryAfter int
	seconds    int           // faultOffline
	delay      time.Duration // faultLatency
}

// faults holds the armed faults by fault key: the ones that answer push
// requests, and the latency ones, which apply to accepted messages and so
// can be armed beside them.
type faults struct {
	mu      sync.Mutex
	m       map[faultKey]*fault
	latency map[faultKey]*fault
}

// setLatency arms a latency fault for key.
func (f *faults) setLatency(key faultKey, ft *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.latency == nil {
		f.latency = map[faultKey]*fault{}
	}
	f.latency[key] = ft
}

// takeLatency consumes one message's worth of the latency fault armed for
// key, returning its delay, or 0 when there is none.
func (f *faults) takeLatency(key faultKey) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.latency[key]
	if ft == nil {
		return 0
	}
	ft.left--
	if ft.left <= 0 {
		delete(f.latency, key)
	}
	return ft.delay
}

// forget disarms every fault armed for key: its subscription is gone.
func (f *faults) forget(key faultKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
	delete(f.latency, key)
}

// armed is how many faults are armed, of both kinds.
func (f *faults) armed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m) + len(f.latency)
}

// take consumes one request's worth of the fault armed for key, if any,
// returning a copy with left set to the requests still to be faulted.
func (f *faults) take(key faultKey) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.m[key]
	if ft == nil {
		return fault{}, false
	}
	ft.left--
	if ft.left <= 0 {
		delete(f.m, key)
	}
	return *ft, true
}

func (f *faults) set(key faultKey, ft *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[faultKey]*fault{}
	}
	f.m[key] = ft
}

// disarm disarms the faults armed for key: the latency one for
// faultLatency, the one answering push requests when it is of kind (status,
// when not 0, compared as a number), both when kind is "".
func (f *faults) disarm(key faultKey, kind string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if kind == "" || kind == faultLatency {
		delete(f.latency, key)
	}
	if ft := f.m[key]; ft != nil && (kind == "" || kind == ft.kind && status == 0 || status != 0 && status == ft.status) {
		delete(f.m, key)
	}
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.m)
	clear(f.latency)
}

// tokenOf returns the token of an endpoint URL of this service, whatever
// its host: Chromium's endpoints name FCM hosts.
func tokenOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint is not an absolute URL")
	}
	// The paths of the push resource, each followed by the endpoint's token.
	for _, p := range []string{"/wpush/", "/fcm/send/", "/wp/"} {
		if t, ok := strings.CutPrefix(u.Path, p); ok && t != "" && !strings.Contains(t, "/") {
			return t, nil
		}
	}
	return "", fmt.Errorf("endpoint path is not /wpush/<token>, /fcm/send/<token> or /wp/<token>")
}

// fieldError is an invalid FaultRequest field; err, when set, is the
// sentinel it stands for.
type fieldError struct {
	field, msg string
	err        error
}

func (e *fieldError) Error() string { return e.field + " " + e.msg }

func (e *fieldError) Unwrap() error { return e.err }

// unknownSubscription is the error of a fault whose endpoint names no
// current subscription.
func unknownSubscription() error {
	return &fieldError{field: "endpoint", msg: ErrUnknownSubscription.Error(), err: ErrUnknownSubscription}
}

// parseFault validates a FaultRequest. Parameters that do not apply to the
// kind are refused rather than ignored, so that a caller's mistake shows.
func (s *Service) parseFault(req FaultRequest) (key faultKey, ft *fault, err error) {
	key, ok := s.served(req.Endpoint)
	if !ok {
		return key, nil, &fieldError{field: "endpoint", msg: "is not an endpoint of this service, spelled as it hands it out: " +
			s.url + "/wpush/<token>, or /fcm/send/<token> or /wp/<token> at " + s.url + " or https://" + strings.Join(reroutedHosts, ", https://")}
	}
	ft = &fault{kind: req.Kind, left: req.Count, retryAfter: 1}
	if ft.left == 0 {
		ft.left = 1
	}
	if ft.left < 0 {
		return faultKey{}, nil, &fieldError{field: "count", msg: "must be positive"}
	}
	if req.RetryAfter != nil {
		if *req.RetryAfter < 0 {
			return faultKey{}, nil, &fieldError{field: "retryAfter", msg: "must not be negative"}
		}
		ft.retryAfter = *req.RetryAfter
	}
	if req.Seconds != 0 && req.Kind != faultOffline {
		return faultKey{}, nil, &fieldError{field: "seconds", msg: `applies only to the "offline" fault`}
	}
	if req.DelayMs != 0 && req.Kind != faultLatency {
		return faultKey{}, nil, &fieldError{field: "delayMs", msg: `applies only to the "latency" fault`}
	}
	switch req.Kind {
	case faultExpire, faultOffline, faultReset:
		if req.Count != 0 {
			return faultKey{}, nil, &fieldError{field: "count", msg: fmt.Sprintf("does not apply to the %q fault", req.Kind)}
		}
		if req.RetryAfter != nil {
			return faultKey{}, nil, &fieldError{field: "retryAfter", msg: fmt.Sprintf("does not apply to the %q fault", req.Kind)}
		}
		if req.Kind == faultOffline {
			if req.Seconds < 1 || req.Seconds > maxOfflineSeconds {
				return faultKey{}, nil, &fieldError{field: "seconds", msg: fmt.Sprintf("must be 1 to %d for the \"offline\" fault", maxOfflineSeconds)}
			}
			ft.seconds = req.Seconds
		}
	case faultLatency:
		if req.RetryAfter != nil {
			return faultKey{}, nil, &fieldError{field: "retryAfter", msg: `does not apply to the "latency" fault`}
		}
		if req.DelayMs < 1 || req.DelayMs > maxLatencyMs {
			return faultKey{}, nil, &fieldError{field: "delayMs", msg: fmt.Sprintf("must be 1 to %d for the \"latency\" fault", maxLatencyMs)}
		}
		ft.delay = time.Duration(req.DelayMs) * time.Millisecond
	case faultHang:
	default:
		n, err := strconv.Atoi(req.Kind)
		if err != nil || n < 400 || n > 599 {
			return faultKey{}, nil, &fieldError{field: "kind", msg: `must be "hang", "expire", "offline", "latency", "reset" or an HTTP status 400-599 such as "410", "429" or "500"`}
		}
		ft.status = n
	}
	return key, ft, nil
}

// handleSetFault serves POST /v1/faults.
func (s *Service) handleSetFault(w http.ResponseWriter, r *http.Request) {
	var req FaultRequest
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFaultBody))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON fault: " + err.Error()})
		return
	}
	if err := s.SetFault(req); err != nil {
		body := map[string]string{"error": err.Error()}
		var fe *fieldError
		if errors.As(err, &fe) {
			body["field"] = fe.field
		}
		httpjson.Write(w, http.StatusBadRequest, body)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ClearRequest is the optional body of DELETE /v1/faults: disarm only the
// faults armed for one subscription, of one kind or of every kind.
type ClearRequest struct {
	Endpoint string `json:"endpoint"`       // the endpoint as the service hands it out (see Serves)
	Kind     string `json:"kind,omitempty"` // "latency", "offline", "hang" or a status such as "410"; "" for every kind
}

// maxFaultBody bounds the bodies of POST and DELETE /v1/faults.
const maxFaultBody = 64 << 10

// handleClearFaults serves DELETE /v1/faults. Without a body every armed
// fault is disarmed, and the browsers kept offline come back at their next
// try; with a ClearRequest, only that subscription's faults (clearFaultsOf).
func (s *Service) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultBody))
	if err != nil {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.faults.clear()
		s.state.clearOffline()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var req ClearRequest
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "body must be empty or a JSON {\"endpoint\", \"kind\"}: " + err.Error()})
		return
	}
	if err := s.clearFaultsOf(req); err != nil {
		var fe *fieldError
		errors.As(err, &fe)
		status := http.StatusBadRequest
		if errors.Is(err, ErrUnknownSubscription) {
			status = http.StatusNotFound
		}
		httpjson.Write(w, status, map[string]string{"error": err.Error(), "field": fe.field})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clearFaultsOf disarms the faults armed for req.Endpoint's subscription:
// of req.Kind, or of every kind when it is "". "offline" ends the offline
// window of the browser that owns the subscription. Its errors are
// *fieldError; an endpoint of the service that names no current
// subscription is ErrUnknownSubscription.
func (s *Service) clearFaultsOf(req ClearRequest) error {
	key, ok := s.served(req.Endpoint)
	if !ok {
		return &fieldError{field: "endpoint", msg: "is not an endpoint of this service, spelled as it hands it out"}
	}
	status := 0
	switch req.Kind {
	case "", faultLatency, faultOffline, faultHang:
	case faultExpire, faultReset:
		return &fieldError{field: "kind", msg: fmt.Sprintf("%q acts at once: nothing of it stays armed to disarm", req.Kind)}
	default:
		n, err := strconv.Atoi(req.Kind)
		if err != nil || n < 400 || n > 599 {
			return &fieldError{field: "kind", msg: `must be "latency", "offline", "hang", an HTTP status 400-599 such as "410", or left out for every kind`}
		}
		status = n
	}
	if !s.state.current(key) {
		return unknownSubscription()
	}
	if req.Kind == "" || req.Kind == faultOffline {
		s.state.clearOfflineOf(key.token, key.browser)
	}
	if req.Kind != faultOffline {
		s.faults.disarm(key, req.Kind, status)
	}
	return nil
}

// expire forgets the subscription of key now, as a push service forgets an
// expired subscription: its waiting messages are dropped and every later
// push to it answers 410. The browser is not told, as it would not be.
func (s *Service) expire(key faultKey) error {
	sub, dropped := s.state.expireSubscription(key.token, key.browser)
	if sub == nil {
		return unknownSubscription()
	}
	if sub.browser == Chromium {
		// The same subscription registered again gets a new token.
		s.gcm.Forget(key.token)
	}
	s.faults.forget(key)
	endpoint := s.state.endpointOf(sub)
	s.events.add(Event{Type: EventUnregister, Browser: sub.browser, Endpoint: endpoint,
		Detail: "expired by a fault: the push service forgot the subscription; pushes to it get 410"})
	for _, m := range dropped {
		s.events.add(Event{Type: EventDrop, Browser: sub.browser, Endpoint: m.endpoint, Message: m.id,
			BodySize: len(m.body), TTL: m.ttl, Detail: "the subscription expired before the browser took it"})
	}
	s.log.Info("subscription expired by a fault", "endpoint", push.Fingerprint(endpoint), "dropped", len(dropped))
	return nil
}

// reset forgets the browser that owns key's subscription, as a push service
// forgets a client whose record it lost: every subscription of that browser
// is gone (pushes answer 410) and the messages waiting for them are
// dropped. The browser learns it as it would from the real service:
//
//   - Firefox (Mozilla's protocol): its connection is dropped, and the next
//     hello with its old uaid is answered with a new one (see serveMozilla
//     and state.helloUAID); a register still on its way on the dropped
//     connection is refused (see mozRegister).
//     Firefox then drops all its subscriptions and fires
//     pushsubscriptionchange in the service worker of each.
//   - Chromium (GCM): nothing. Its connection stays, and no message of
//     GCM's makes Chromium drop a subscription and tell the worker:
//     PushMessagingServiceImpl fires the event only behind the
//     PushSubscriptionChangeEvent feature (off by default), and then only
//     when the notification permission is revoked; a GCM store reset (a
//     check-in refused with 401) drops every subscription without an event.
func (s *Service) reset(key faultKey, endpoint string) error {
	subs, dropped, c := s.state.resetOwner(key.token, key.browser, endpoint)
	if subs == nil {
		return unknownSubscription()
	}
	detail := fmt.Sprintf("reset by a fault: the push service forgot the browser and its %d subscriptions; ", len(subs))
	if key.browser == Firefox {
		detail += "its connection is dropped and its next hello gets a new uaid"
	} else {
		detail += "Chromium is not told (no GCM message makes it fire pushsubscriptionchange)"
	}
	s.events.add(Event{Type: EventReset, Browser: key.browser, Endpoint: endpoint, Detail: detail})
	for _, sub := range subs {
		if sub.browser == Chromium {
			s.gcm.Forget(sub.token)
		}
		s.faults.forget(faultKey{sub.browser, sub.token})
		s.events.add(Event{Type: EventUnregister, Browser: sub.browser, Endpoint: s.state.endpointOf(sub),
			Detail: "reset by a fault: the push service forgot the browser; pushes to it get 410"})
	}
	for _, m := range dropped {
		s.events.add(Event{Type: EventDrop, Browser: m.sub.browser, Endpoint: m.endpoint, Message: m.id,
			BodySize: len(m.body), TTL: m.ttl, Detail: "the push service forgot the browser before it took the message"})
	}
	s.log.Info("browser reset by a fault", "endpoint", push.Fingerprint(endpoint), "subscriptions", len(subs), "dropped", len(dropped))
	if c != nil {
		c.drop()
	}
	return nil
}

// goOffline starts the offline fault for the browser that owns key's
// subscription: its connection is dropped as a lost network would drop it,
// and its reconnections are held for seconds (see holdOffline).
func (s *Service) goOffline(key faultKey, endpoint string, seconds int) error {
	sub, c := s.state.goOffline(key.token, key.browser, endpoint, s.now().Add(time.Duration(seconds)*time.Second))
	if sub == nil {
		return unknownSubscription()
	}
	detail := fmt.Sprintf("connection dropped; reconnections refused for %d s", seconds)
	if c == nil {
		detail = fmt.Sprintf("the browser is not connected; its reconnections are refused for %d s", seconds)
	}
	s.events.add(Event{Type: EventOffline, Browser: sub.browser, Endpoint: endpoint, Detail: detail})
	s.log.Info("browser offline by a fault", "endpoint", push.Fingerprint(endpoint), "seconds", seconds)
	if c != nil {
		c.drop()
	}
	return nil
}

// holdStep is the longest a held reconnection waits before the offline
// fault is read again, so that a fault cleared early is noticed.
const holdStep = 250 * time.Millisecond

// offlineWait is how long a reconnection of a browser must still be held
// by the offline fault. held is how long it has been held so far: at the
// first call (0), a held reconnection is recorded.
//
// Why hold rather than refuse: a refused reconnection sends a browser into
// its back-off, Firefox's dom.push.retryBaseInterval doubling per failure
// and Chromium's 10 s doubling with up to 50% less (connection_factory_impl
// .cc), so it would come back up to a whole window late. A reconnection
// whose handshake (Mozilla's hello, MCS's LoginRequest) goes unanswered
// until the window ends comes back when it ends: Firefox waits for the
// hello reply without a timeout, Chromium for the LoginResponse up to 30 s.
func (s *Service) offlineWait(browser, id string, held time.Duration) time.Duration {
	d, endpoint := s.state.offlineWait(browser, id, s.now())
	if d > 0 && held == 0 {
		s.events.add(Event{Type: EventOffline, Browser: browser, Endpoint: endpoint, Held: true,
			Detail: fmt.Sprintf("the browser reconnected; held unanswered until the fault ends in %.1f s", d.Seconds())})
	}
	return d
}

// holdOffline holds a Firefox reconnection while the offline fault lasts.
// It returns false if the service closed meanwhile.
func (s *Service) holdOffline(uaid string) bool {
	start := time.Now()
	for first := true; ; first = false {
		held := time.Since(start)
		if first {
			held = 0
		}
		d := s.offlineWait(Firefox, uaid, held)
		if d <= 0 {
			return true
		}
		t := time.NewTimer(min(d, holdStep))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
