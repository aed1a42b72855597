//go:build !wasm

package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pushstart/api"
	"pushstart/localpush"
	"pushstart/server/sender"
)

// Bounds of the trace streams (POST /api/flow/trace): each holds a buffer
// and, in local mode, a share of the local push service's events.
const (
	maxStreamsPerSubscription = 4   // a page open in a few tabs
	maxStreams                = 256 // in all, for the instance
	// streamBuffer is how many steps a stream may fall behind before it
	// loses the newest: a slow reader must never slow a send.
	streamBuffer = 64
)

// TraceHub hands the steps of each followed subscription's pushes to the
// trace streams that follow it: the sender's steps (it is the sender's
// Tracer) and, in local mode, the local push service's. One hub serves one
// instance: a stream sees the pushes this instance sends.
type TraceHub struct {
	// streams counts the open streams, so that Watching and Publish cost
	// one atomic load while nobody follows anything.
	streams atomic.Int32
	mu      sync.Mutex
	subs    map[string]*followed // by canonicalEndpoint
	now     func() time.Time
	// local is the local push service whose events are forwarded while
	// any stream is open (stopLocal ends that); nil outside local mode.
	local     *localpush.Service
	stopLocal func()
}

var _ sender.Tracer = (*TraceHub)(nil)

// followed is one subscription and the streams following it.
type followed struct {
	token   string // the local push service's token of the endpoint; "" outside local mode
	streams map[*traceStream]struct{}
}

// traceStream is one open trace stream.
type traceStream struct {
	events chan api.TraceEvent
	seq    int64 // the last Seq given; a gap tells the reader it lost steps
}

// NewTraceHub returns a hub with no streams; local, when not nil, is the
// local push service whose events about followed subscriptions it forwards.
func NewTraceHub(local *localpush.Service) *TraceHub {
	return &TraceHub{subs: map[string]*followed{}, now: time.Now, local: local}
}

// Watching reports whether a stream follows endpoint.
func (h *TraceHub) Watching(endpoint string) bool {
	if h.streams.Load() == 0 {
		return false
	}
	key := canonicalEndpoint(endpoint)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.subs[key]
	return ok
}

// Publish hands ev to every stream following endpoint, setting its Seq for
// each stream and its At. A stream whose buffer is full loses it.
func (h *TraceHub) Publish(endpoint string, ev api.TraceEvent) {
	if h.streams.Load() == 0 {
		return
	}
	key := canonicalEndpoint(endpoint)
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.subs[key]; f != nil {
		h.sendLocked(f, ev)
	}
}

func (h *TraceHub) sendLocked(f *followed, ev api.TraceEvent) {
	ev.At = h.now().UTC()
	for st := range f.streams {
		st.seq++
		ev.Seq = st.seq
		select {
		case st.events <- ev:
		default: // the reader is behind: it loses this step, the send goes on
		}
	}
}

// follow opens a stream of endpoint's steps; stop closes it. Beyond
// maxStreamsPerSubscription for endpoint, or maxStreams in all, it refuses
// with 429.
func (h *TraceHub) follow(endpoint string) (st *traceStream, stop func(), err error) {
	key := canonicalEndpoint(endpoint)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams.Load() >= maxStreams {
		return nil, nil, &apiError{Status: http.StatusTooManyRequests, RetryAfter: time.Minute,
			Message: fmt.Sprintf("this server has %d trace streams open, the most it keeps; try again later", maxStreams)}
	}
	f := h.subs[key]
	if f != nil && len(f.streams) >= maxStreamsPerSubscription {
		return nil, nil, &apiError{Status: http.StatusTooManyRequests, RetryAfter: time.Minute,
			Message: fmt.Sprintf("this subscription already has %d trace streams open, the most it may; close one (another tab?)", maxStreamsPerSubscription)}
	}
	if f == nil {
		f = &followed{streams: map[*traceStream]struct{}{}}
		if h.local != nil {
			f.token, _ = localpush.Token(endpoint)
		}
		h.subs[key] = f
	}
	st = &traceStream{events: make(chan api.TraceEvent, streamBuffer)}
	f.streams[st] = struct{}{}
	if h.streams.Add(1) == 1 && h.local != nil {
		events, stopWatch := h.local.Watch()
		h.stopLocal = stopWatch
		go h.forward(events)
	}
	var once sync.Once
	return st, func() { once.Do(func() { h.unfollow(key, st) }) }, nil
}

func (h *TraceHub) unfollow(key string, st *traceStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.subs[key]
	delete(f.streams, st)
	if len(f.streams) == 0 {
		delete(h.subs, key)
	}
	// Nobody follows anything: the local push service's events are no
	// longer read (forward ends when the watch closes its channel).
	if h.streams.Add(-1) == 0 && h.stopLocal != nil {
		h.stopLocal()
		h.stopLocal = nil
	}
}

// publishToken is Publish for the local push service's events, which name
// a subscription by its endpoint's token: Chromium's endpoints carry FCM
// hosts the service does not have.
func (h *TraceHub) publishToken(token string, ev api.TraceEvent) {
	if token == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.subs {
		if f.token == token {
			h.sendLocked(f, ev)
		}
	}
}

func (h *TraceHub) followsToken(token string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.subs {
		if token != "" && f.token == token {
			return true
		}
	}
	return false
}

// forward publishes the local push service's events about followed
// subscriptions until the watch ends.
func (h *TraceHub) forward(events <-chan localpush.Event) {
	// A connect event names the subscription whose offline switch it ends,
	// when the service knows it; otherwise the subscriptions whose browser
	// the switch cut off, by browser, are the ones it brings back.
	offline := map[string]map[string]bool{}
	for e := range events {
		token, _ := localpush.Token(e.Endpoint)
		switch e.Type {
		case localpush.EventConnect:
			back := offline[e.Browser]
			delete(offline, e.Browser)
			if token != "" {
				back = map[string]bool{token: true}
			}
			for tok := range back {
				h.publishToken(tok, api.TraceEvent{Actor: api.ActorBrowser, To: api.ActorPushService, Step: api.StepOnline, OK: true,
					Title:  "The browser is connected to the push service again: what waited for it is handed over now",
					Fields: []api.TraceField{{Name: "browser", Value: e.Browser}}, Detail: e.Detail})
			}
			continue
		case localpush.EventOffline:
			if token != "" && h.followsToken(token) {
				if offline[e.Browser] == nil {
					offline[e.Browser] = map[string]bool{}
				}
				offline[e.Browser][token] = true
			}
		}
		if ev, ok := localTraceEvent(e); ok {
			h.publishToken(token, ev)
		}
	}
}

// localTraceEvent is the trace step of a local push service's event about
// one subscription, false for the events a trace does not show.
func localTraceEvent(e localpush.Event) (api.TraceEvent, bool) {
	ev := api.TraceEvent{Push: e.Message, Actor: api.ActorPushService, OK: true}
	fields := func(kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				ev.Fields = append(ev.Fields, api.TraceField{Name: kv[i], Value: kv[i+1]})
			}
		}
	}
	bytes := ""
	if e.BodySize > 0 {
		bytes = strconv.Itoa(e.BodySize)
	}
	switch e.Type {
	case localpush.EventPush:
		ev.Step = api.StepQueued
		switch {
		case strings.HasPrefix(e.Detail, "delivering") && strings.Contains(e.Detail, "latency"):
			ev.Title = "Accepted: handing it to the browser after a pause (slow motion)"
		case strings.HasPrefix(e.Detail, "delivering"):
			ev.Title = "Accepted: handing it to the browser now"
		case strings.HasPrefix(e.Detail, "queued"):
			ev.Title = "Accepted: waiting for the browser for " + e.Headers["TTL"] + " s (its TTL)"
		case strings.HasPrefix(e.Detail, "dropped"):
			ev.Title = "Accepted, but not kept: TTL 0 and the browser is not connected"
		default:
			ev.Title = "Accepted: " + e.Detail
		}
		fields("status", strconv.Itoa(e.Status), "message id", e.Message, "TTL", e.Headers["TTL"],
			"Urgency", e.Headers["Urgency"], "Topic", e.Headers["Topic"], "bytes", bytes)
		ev.Detail = e.Detail
	case localpush.EventReject, localpush.EventFault:
		ev.Step, ev.To, ev.OK = api.StepRefused, api.ActorServer, false
		ev.Title = fmt.Sprintf("Refused with %d %s", e.Status, http.StatusText(e.Status))
		if e.Type == localpush.EventFault {
			ev.Title = fmt.Sprintf("Answered %d %s: a fault armed on purpose", e.Status, http.StatusText(e.Status))
		}
		fields("status", strconv.Itoa(e.Status))
		ev.Detail = e.Detail
	case localpush.EventDrop:
		ev.Step, ev.OK = api.StepDropped, false
		ev.Title = "Dropped: " + e.Detail
		if strings.HasPrefix(e.Detail, "TTL 0") {
			ev.Title = "Dropped: TTL 0 and the browser is not connected, so the message is not kept"
		}
		fields("message id", e.Message, "TTL", e.Headers["TTL"])
		ev.Detail = e.Detail
	case localpush.EventReplace:
		ev.Step, ev.OK = api.StepReplaced, false
		ev.Title = "Replaced: a newer message with the same Topic takes this waiting one's place"
		fields("message id", e.Message, "Topic", e.Headers["Topic"])
		ev.Detail = e.Detail
	case localpush.EventExpire:
		ev.Step, ev.OK = api.StepExpired, false
		ev.Title = "Expired: its TTL ran out before the browser came to take it"
		fields("message id", e.Message, "TTL", e.Headers["TTL"])
		ev.Detail = e.Detail
	case localpush.EventDeliver:
		ev.Step, ev.To = api.StepDeliver, api.ActorBrowser
		protocol := "Mozilla WebSocket push protocol, notification message"
		if e.Browser == localpush.Chromium {
			protocol = "MCS DataMessageStanza (tag 8) over TLS"
		}
		ev.Title = "Handed to the browser over its own connection: " + protocol
		fields("protocol", protocol, "message id", e.Message, "bytes", bytes)
		ev.Detail = e.Frame
	case localpush.EventAck, localpush.EventNack:
		ev.Actor, ev.To, ev.Step = api.ActorBrowser, api.ActorPushService, api.StepAck
		ev.Title = "The browser acknowledged the message: the push service forgets it"
		if e.Type == localpush.EventNack {
			ev.OK = false
			ev.Title = "The browser reported that the service worker's push handler failed"
		}
		fields("message id", e.Message, "result", e.Detail)
		ev.Detail = e.Frame
	case localpush.EventOffline:
		ev.Step, ev.To, ev.OK = api.StepOffline, api.ActorBrowser, false
		ev.Title = "The browser's connection was dropped: the push service cannot reach it for now"
		if strings.Contains(e.Detail, "reconnected") {
			ev.Title = "The browser tried to connect again: held unanswered until the offline switch ends"
		}
		fields("browser", e.Browser)
		ev.Detail = e.Detail
	default:
		return api.TraceEvent{}, false
	}
	return ev, true
}
