//go:build !wasm

package server

import (
	"fmt"
	"net/http"
	"strconv"
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
	maxStreamsPerAddress      = 8   // a few browsers behind one address, each with a tab or two
	maxStreams                = 256 // in all, for the instance
	// streamBuffer is how many steps a stream may fall behind before it
	// loses the newest: a slow reader must never slow a send.
	streamBuffer = 64
	// streamLifetime is how long a stream lasts at most: it then ends
	// with an "end" event and the page opens another, so that a stream
	// left open holds nothing for good.
	streamLifetime = 30 * time.Minute
)

// TraceHub hands the steps of each followed subscription's pushes to the
// trace streams that follow it: the sender's steps (it is the sender's
// Tracer) and, in local mode, the local push service's. One hub serves one
// instance: a stream sees the pushes this instance sends.
//
// A subscription is followed by its endpoint exactly as stored, which is
// the URL the sender posts to and the local push service names in its
// events: another spelling of it is another subscription, whoever saved it.
type TraceHub struct {
	// streams counts the open streams, so that Watching and Publish cost
	// one atomic load while nobody follows anything.
	streams atomic.Int32
	mu      sync.Mutex
	subs    map[string]*followed // by endpoint, exactly as stored
	byAddr  map[string]int       // open streams by client address
	now     func() time.Time
	// local is the local push service whose events are forwarded while
	// any stream is open (stopLocal ends that); nil outside local mode.
	// watchMu, not mu, guards stopLocal: a watch over HTTP begins with a
	// request, which must not hold up Publish.
	local     LocalPush
	watchMu   sync.Mutex
	stopLocal func()
}

var _ sender.Tracer = (*TraceHub)(nil)

// followed is one subscription and the streams following it.
type followed struct {
	streams map[*traceStream]struct{}
}

// traceStream is one open trace stream.
type traceStream struct {
	events chan api.TraceEvent
	seq    int64 // the last Seq given; a gap tells the reader it lost steps
}

// NewTraceHub returns a hub with no streams; local, when not nil, is the
// local push service whose events about followed subscriptions it forwards.
func NewTraceHub(local LocalPush) *TraceHub {
	return &TraceHub{subs: map[string]*followed{}, byAddr: map[string]int{}, now: time.Now, local: local}
}

// Watching reports whether a stream follows endpoint.
func (h *TraceHub) Watching(endpoint string) bool {
	if h.streams.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.subs[endpoint]
	return ok
}

// Publish hands ev to every stream following endpoint, setting its Seq for
// each stream and its At. A stream whose buffer is full loses it.
func (h *TraceHub) Publish(endpoint string, ev api.TraceEvent) {
	if h.streams.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.subs[endpoint]; f != nil {
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
}

// follow opens a stream of endpoint's steps (endpoint as stored) for the
// client at addr; stop closes it. Beyond maxStreamsPerSubscription for
// endpoint, maxStreamsPerAddress for addr, or maxStreams in all, it
// refuses with 429.
func (h *TraceHub) follow(endpoint, addr string) (st *traceStream, stop func(), err error) {
	st, remove, err := h.register(endpoint, addr)
	if err != nil {
		return nil, nil, err
	}
	h.syncWatch()
	var once sync.Once
	return st, func() {
		once.Do(func() {
			remove()
			h.syncWatch()
		})
	}, nil
}

// syncWatch starts or stops the watch of the local push service's events
// so that it runs while any stream is open. Whatever order concurrent
// calls come in, the last one sees the final count of streams.
func (h *TraceHub) syncWatch() {
	if h.local == nil {
		return
	}
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	switch open := h.streams.Load() > 0; {
	case open && h.stopLocal == nil:
		events, stop := h.local.Watch()
		h.stopLocal = stop
		go h.forward(events)
	case !open && h.stopLocal != nil:
		// Nobody follows anything: the events are no longer read
		// (forward ends when the watch closes its channel).
		h.stopLocal()
		h.stopLocal = nil
	}
}

// register adds a stream of endpoint's steps for addr, within the limits
// follow documents; stop, called once, removes it.
func (h *TraceHub) register(endpoint, addr string) (st *traceStream, stop func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tooMany := func(msg string, a ...any) error {
		return &apiError{Status: http.StatusTooManyRequests, RetryAfter: time.Minute, Message: fmt.Sprintf(msg, a...)}
	}
	if h.streams.Load() >= maxStreams {
		return nil, nil, tooMany("this server has %d trace streams open, the most it keeps; try again later", maxStreams)
	}
	if h.byAddr[addr] >= maxStreamsPerAddress {
		return nil, nil, tooMany("this address already has %d trace streams open, the most it may; close one (another tab?)", maxStreamsPerAddress)
	}
	f := h.subs[endpoint]
	if f != nil && len(f.streams) >= maxStreamsPerSubscription {
		return nil, nil, tooMany("this subscription already has %d trace streams open, the most it may; close one (another tab?)", maxStreamsPerSubscription)
	}
	if f == nil {
		f = &followed{streams: map[*traceStream]struct{}{}}
		h.subs[endpoint] = f
	}
	st = &traceStream{events: make(chan api.TraceEvent, streamBuffer)}
	f.streams[st] = struct{}{}
	h.byAddr[addr]++
	h.streams.Add(1)
	return st, func() { h.unfollow(endpoint, addr, st) }, nil
}

func (h *TraceHub) unfollow(endpoint, addr string, st *traceStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.subs[endpoint]
	delete(f.streams, st)
	if len(f.streams) == 0 {
		delete(h.subs, endpoint)
	}
	if h.byAddr[addr]--; h.byAddr[addr] <= 0 {
		delete(h.byAddr, addr)
	}
	h.streams.Add(-1)
}

// forward publishes the local push service's events about followed
// subscriptions until the watch ends. An event reaches the streams of the
// endpoint it names, exactly: a message's events name the endpoint its push
// request was made to (the stored endpoint the sender posted to), the
// offline fault's events the endpoint it was armed for. An event naming
// none (another browser's connection, say) concerns no trace.
func (h *TraceHub) forward(events <-chan localpush.Event) {
	for e := range events {
		if e.Endpoint == "" {
			continue
		}
		if ev, ok := localTraceEvent(e); ok {
			h.Publish(e.Endpoint, ev)
		}
	}
}

// localTraceEvent is the trace step of a local push service's event about
// one subscription, false for the events a trace does not show. It reads
// the event's structured fields; Detail, prose for people, is shown, never
// parsed.
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
	ttl := ""
	if e.TTL > 0 {
		ttl = strconv.Itoa(e.TTL)
	}
	switch e.Type {
	case localpush.EventPush:
		ev.Step = api.StepQueued
		switch {
		case e.Handed && e.DelayMs > 0:
			ev.Title = fmt.Sprintf("Accepted: handing it to the browser after a pause of %d ms (slow motion)", e.DelayMs)
		case e.Handed:
			ev.Title = "Accepted: handing it to the browser now"
		case e.TTL == 0:
			ev.Title = "Accepted, but not kept: TTL 0 and the browser is not connected"
		default:
			ev.Title = fmt.Sprintf("Accepted: waiting for the browser for %d s (its TTL)", e.TTL)
		}
		fields("status", strconv.Itoa(e.Status), "message id", e.Message, "TTL", strconv.Itoa(e.TTL),
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
		fields("message id", e.Message, "TTL", ttl)
		ev.Detail = e.Detail
	case localpush.EventReplace:
		ev.Step, ev.OK = api.StepReplaced, false
		ev.Title = "Replaced: a newer message with the same Topic takes this waiting one's place"
		fields("message id", e.Message, "Topic", e.Headers["Topic"])
		ev.Detail = e.Detail
	case localpush.EventExpire:
		ev.Step, ev.OK = api.StepExpired, false
		ev.Title = "Expired: its TTL ran out before the browser came to take it"
		fields("message id", e.Message, "TTL", ttl)
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
		if e.Held {
			ev.Title = "The browser tried to connect again: held unanswered until the offline switch ends"
		}
		fields("browser", e.Browser)
		ev.Detail = e.Detail
	case localpush.EventConnect:
		// Only the connection that ends an offline switch names an
		// endpoint. Its Detail names the browser instance (a uaid, an
		// android id), which is no business of the trace: a uaid can
		// take over a Mozilla connection.
		ev.Actor, ev.To, ev.Step = api.ActorBrowser, api.ActorPushService, api.StepOnline
		ev.Title = "The browser is connected to the push service again: what waited for it is handed over now"
		fields("browser", e.Browser)
	default:
		return api.TraceEvent{}, false
	}
	return ev, true
}
