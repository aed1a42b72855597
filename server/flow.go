//go:build !wasm

package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/localpush"
	"pushstart/push"
	"pushstart/server/sender"
	"pushstart/server/store"
)

// The live flow of the home page's Flow panel: a trace stream of one
// subscription's pushes, for the browser that proves it owns it, and in
// local mode the switches that break the next push on purpose.

// Slow motion (api.TestSend.SlowMotion): the server pauses before each
// request of the push, and in local mode the local push service waits
// before handing the message to the browser.
const (
	slowMotionPause   = 1200 * time.Millisecond
	slowMotionLatency = 1500 * time.Millisecond
)

// Answers of the throttle switch, as api.BreakThrottle documents them.
const throttleRetryAfter = 2

// flowInfo is what GET /api/flow answers on this server.
func (s *Server) flowInfo() api.FlowInfo {
	info := api.FlowInfo{Local: s.local != nil, Breaks: []string{}}
	if info.Local {
		info.Breaks = []string{api.BreakExpire, api.BreakThrottle, api.BreakError, api.BreakWrongKey, api.BreakOffline}
	}
	return info
}

func (s *Server) handleFlowInfo(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, s.flowInfo())
}

// errNotOwner answers a trace or a break for a subscription the caller did
// not prove it owns: the same for an unknown endpoint and a wrong secret,
// so that an endpoint without its secret reveals nothing.
var errNotOwner = &apiError{Status: http.StatusNotFound, Field: "endpoint", Message: "unknown subscription"}

// ownedSubscription returns the stored subscription of endpoint when auth is
// its auth secret (keys.auth, base64url with or without padding), compared
// in constant time.
func (s *Server) ownedSubscription(ctx context.Context, endpoint, auth string) (store.Subscription, error) {
	if endpoint == "" || len(endpoint) > s.allow.maxBytes {
		return store.Subscription{}, badField("endpoint", fmt.Sprintf("endpoint is required, at most %d bytes", s.allow.maxBytes))
	}
	given, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(auth, "="))
	if auth == "" || len(auth) > 64 || err != nil {
		return store.Subscription{}, badField("auth", "auth is required: the subscription's keys.auth, base64url")
	}
	sub, err := s.store.Get(ctx, endpoint)
	if errors.Is(err, store.ErrNotFound) {
		return store.Subscription{}, errNotOwner
	}
	if err != nil {
		return store.Subscription{}, err
	}
	stored, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sub.Auth, "="))
	if err != nil || subtle.ConstantTimeCompare(given, stored) != 1 {
		return store.Subscription{}, errNotOwner
	}
	return sub, nil
}

// handleFlowTrace streams the steps of the pushes to one subscription as
// Server-Sent Events: "ready" with api.FlowInfo first, then one "trace"
// event per step, until the client goes, the server shuts down, or the
// stream's lifetime ends it with an "end" event.
func (s *Server) handleFlowTrace(w http.ResponseWriter, r *http.Request) {
	addr := limitKey(clientAddr(r, s.trustedHeader))
	if !s.limit(w, r, s.subscribeLimit, addr, "subscription changes and trace streams from this address (SUBSCRIBE_RATE)") {
		return
	}
	var req api.FlowTraceRequest
	if err := decodeJSON(w, r, maxSubscriptionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := s.ownedSubscription(r.Context(), req.Endpoint, req.Auth)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, stop, err := s.trace.follow(sub.Endpoint, addr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer stop()
	rc, err := openEventStream(w)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Debug("trace stream opened", "endpoint", push.Fingerprint(sub.Endpoint))
	if writeEvent(w, "ready", s.flowInfo()) != nil || rc.Flush() != nil {
		return
	}
	keepAlive := time.NewTicker(eventKeepAlive)
	defer keepAlive.Stop()
	lifetime := time.NewTimer(s.streamLifetime)
	defer lifetime.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.streamsEnd:
			return
		case <-lifetime.C:
			// The page opens another stream; this one frees its place.
			if writeEvent(w, "end", struct{}{}) == nil {
				rc.Flush()
			}
			return
		case ev := <-st.events:
			if writeEvent(w, "trace", ev) != nil {
				return
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// handleFlowBreak arms a break switch for the next push to one
// subscription: local mode only.
func (s *Server) handleFlowBreak(w http.ResponseWriter, r *http.Request) {
	if s.local == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Message: "the break switches exist only with the local push service (PUSH_SERVICE=local, or the URL of a running one)"})
		return
	}
	if !s.limit(w, r, s.testSendLimit, limitKey(clientAddr(r, s.trustedHeader)), "test sends and break switches from this address (TEST_SEND_RATE)") {
		return
	}
	var req api.FlowBreakRequest
	if err := decodeJSON(w, r, maxSubscriptionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch req.Kind {
	case api.BreakExpire, api.BreakThrottle, api.BreakError, api.BreakWrongKey, api.BreakOffline:
	default:
		s.writeError(w, r, badField("kind", "kind must be one of "+strings.Join(s.flowInfo().Breaks, ", ")))
		return
	}
	seconds := req.Seconds
	switch {
	case req.Kind != api.BreakOffline && seconds != 0:
		s.writeError(w, r, badField("seconds", "seconds is only for the offline switch"))
		return
	case req.Kind == api.BreakOffline && seconds == 0:
		seconds = api.DefaultOfflineSeconds
	case req.Kind == api.BreakOffline && (seconds < api.MinOfflineSeconds || seconds > api.MaxOfflineSeconds):
		s.writeError(w, r, badField("seconds", fmt.Sprintf("seconds must be between %d and %d", api.MinOfflineSeconds, api.MaxOfflineSeconds)))
		return
	}
	sub, err := s.ownedSubscription(r.Context(), req.Endpoint, req.Auth)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.local.Serves(sub.Endpoint) {
		s.writeError(w, r, badField("endpoint", "the break switches work on the local push service's subscriptions only"))
		return
	}
	ev := api.TraceEvent{Actor: api.ActorServer, Step: api.StepBreak, OK: true,
		Fields: []api.TraceField{{Name: "kind", Value: req.Kind}}}
	fault := localpush.FaultRequest{Endpoint: sub.Endpoint}
	switch req.Kind {
	case api.BreakExpire:
		fault.Kind = "expire"
		ev.Title = "Break armed: the push service forgets the subscription now; the next push gets 410 and the server deletes it"
	case api.BreakThrottle:
		retryAfter := throttleRetryAfter
		fault.Kind, fault.Count, fault.RetryAfter = "429", 1, &retryAfter
		ev.Title = "Break armed: the next push gets 429 with Retry-After: 2; the server waits 2 s and tries again"
	case api.BreakError:
		fault.Kind, fault.Count = "500", 2
		ev.Title = "Break armed: the next two attempts get 500; the server backs off and tries again"
	case api.BreakWrongKey:
		ev.Title = "Break armed: the server signs the next push with a throwaway VAPID key; the push service answers 403 and nothing is deleted"
	case api.BreakOffline:
		fault.Kind, fault.Seconds = "offline", seconds
		ev.Title = fmt.Sprintf("Break armed: the push service drops the browser's connection and keeps it from reconnecting for %d s; "+
			"a push with TTL 0 is dropped, one with a TTL waits, and of two with one Topic only the newer arrives", seconds)
		ev.Fields = append(ev.Fields, api.TraceField{Name: "seconds", Value: fmt.Sprint(seconds)})
	}
	if req.Kind == api.BreakWrongKey {
		breaks := s.sender.Breaks()
		if breaks == nil {
			s.writeError(w, r, errors.New("flow break: the sender has no break switches in local mode"))
			return
		}
		breaks.WrongKey(sub.Endpoint)
	} else if err := s.local.SetFault(fault); errors.Is(err, localpush.ErrUnknownSubscription) {
		// Saved here, unknown there: the local push service restarted, or
		// expired it; the page subscribes again.
		s.log.Info("break refused: the local push service knows no such subscription", "kind", req.Kind, "endpoint", push.Fingerprint(sub.Endpoint))
		s.writeError(w, r, errNotOwner)
		return
	} else if err != nil {
		s.writeError(w, r, fmt.Errorf("flow break %s: %w", req.Kind, err))
		return
	}
	s.trace.Publish(sub.Endpoint, ev)
	s.log.Debug("break armed", "kind", req.Kind, "endpoint", push.Fingerprint(sub.Endpoint))
	w.WriteHeader(http.StatusNoContent)
}

// slowMotion prepares a test send to sub in slow motion: ctx paces the
// sender, and in local mode the local push service holds the message before
// handing it to the browser. after is called with the send's result: a
// push the push service did not accept took no latency, which must not
// hold back a later one.
func (s *Server) slowMotion(ctx context.Context, sub store.Subscription) (paced context.Context, after func(sender.Result)) {
	after = func(sender.Result) {}
	if s.local != nil && s.local.Serves(sub.Endpoint) {
		err := s.local.SetFault(localpush.FaultRequest{Endpoint: sub.Endpoint, Kind: "latency", Count: 1, DelayMs: int(s.slowLatency.Milliseconds())})
		switch {
		case errors.Is(err, localpush.ErrUnknownSubscription):
			// The push will say so (404 or 410).
		case err != nil:
			s.log.Warn("slow motion: the local push service's latency", "endpoint", push.Fingerprint(sub.Endpoint), "err", err)
		default:
			after = func(res sender.Result) {
				if res.Outcome != push.Sent {
					s.local.ClearLatency(sub.Endpoint)
				}
			}
		}
	}
	return sender.WithPace(ctx, s.slowPause), after
}

// openEventStream starts a Server-Sent Events answer on w: no write
// deadline (the server's is for ordinary answers; a stream lasts), no
// caching or buffering on the way.
func openEventStream(w http.ResponseWriter) (*http.ResponseController, error) {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	return rc, nil
}

// writeEvent writes one event of a stream: its type, and v as JSON data.
func writeEvent(w http.ResponseWriter, event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
	return err
}
