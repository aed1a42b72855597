package localpush

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"pushstart/internal/httpjson"
)

// Event types recorded in the feed served at GET /v1/events.
const (
	EventRegister   = "register"   // a browser subscribed
	EventUnregister = "unregister" // a browser unsubscribed
	EventConnect    = "connect"    // a browser connected (Mozilla hello done, or MCS login done)
	EventDisconnect = "disconnect" // a browser's connection ended
	EventPush       = "push"       // a push request was accepted (201)
	EventDeliver    = "deliver"    // a message was handed to the browser's connection
	EventAck        = "ack"        // the browser confirmed a message
	EventNack       = "nack"       // Firefox reported that the service worker's push handler failed
	EventReject     = "reject"     // a push request was refused (VAPID, headers, size, unknown or gone endpoint)
	EventFault      = "fault"      // a push request got an injected fault
	EventDrop       = "drop"       // an accepted message was not kept: TTL 0 and the browser away
	EventReplace    = "replace"    // a waiting message was replaced by a newer one with the same Topic (Message is the replaced one)
	EventExpire     = "expire"     // a waiting message's TTL ran out before the browser took it
	EventOffline    = "offline"    // the offline fault dropped a browser's connection; it is refused until the fault ends
	EventReset      = "reset"      // the reset fault forgot a browser, or Firefox said hello with the uaid it forgot and got a new one
)

// Browser names used in events.
const (
	Firefox  = "firefox"
	Chromium = "chromium"
)

// eventCapacity bounds the feed: older events are dropped first.
const eventCapacity = 1000

// Event is one entry of the feed served at GET /v1/events. The feed is a
// loopback-only test API, so it carries endpoints in full. Events about a
// message name the endpoint of the push request that brought it; offline
// events, and the connect event that ends an offline fault, the endpoint
// the fault was armed for. Detail is prose for people; the other fields
// are the facts a program reads.
type Event struct {
	Seq      uint64            `json:"seq"`
	Time     time.Time         `json:"time"`
	Type     string            `json:"type"`
	Browser  string            `json:"browser,omitempty"`
	Endpoint string            `json:"endpoint,omitempty"`
	Message  string            `json:"message,omitempty"` // the message id, as in the push reply's Location
	Status   int               `json:"status,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	BodySize int               `json:"bodySize,omitempty"`
	Detail   string            `json:"detail,omitempty"`
	// Frame is the protocol message as it went to or came from the
	// browser, for deliver, ack and nack events: Mozilla's JSON frame, or the
	// fields of Chromium's MCS stanza, as indented JSON with the encrypted
	// body shortened.
	Frame string `json:"frame,omitempty"`
	// TTL is the message's TTL in seconds as the service keeps it (the
	// header, lowered to 28 days at most), on push, drop and expire
	// events. A push event with TTL 0 that was not Handed is a message
	// dropped: TTL 0 and the browser away.
	TTL int `json:"ttl,omitempty"`
	// Handed is set on a push event whose message goes to the browser's
	// live connection at once (after DelayMs, when set), rather than
	// waiting for the browser.
	Handed bool `json:"handed,omitempty"`
	// DelayMs is, on a push event, how long the latency fault holds the
	// message before it is handed over.
	DelayMs int `json:"delayMs,omitempty"`
	// Held is set on an offline event about a reconnection held
	// unanswered until the fault ends, rather than a connection dropped.
	Held bool `json:"held,omitempty"`
}

// watcherBuffer is how many events a slow watcher may fall behind before
// the newest are dropped for it.
const watcherBuffer = 256

// eventLog is a bounded ring of events with increasing sequence numbers.
type eventLog struct {
	mu       sync.Mutex
	next     uint64
	ring     []Event // circular once full; start is the oldest
	start    int
	now      func() time.Time
	watchers map[*chan Event]struct{}
}

// Watch returns every event recorded from now on, in order, for a program
// that runs the service in-process (the kit's server follows a subscription's
// messages with it). A watcher that falls more than 256 events behind misses
// the newest ones. stop ends the watch and closes the channel.
func (s *Service) Watch() (events <-chan Event, stop func()) {
	return s.events.watch()
}

func (l *eventLog) watch() (<-chan Event, func()) {
	ch := make(chan Event, watcherBuffer)
	l.mu.Lock()
	if l.watchers == nil {
		l.watchers = map[*chan Event]struct{}{}
	}
	l.watchers[&ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.watchers, &ch)
			l.mu.Unlock()
			close(ch)
		})
	}
}

func newEventLog(now func() time.Time) *eventLog {
	return &eventLog{next: 1, now: now}
}

// add records e, setting its sequence number and time.
func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = l.next
	l.next++
	e.Time = l.now().UTC()
	for w := range l.watchers {
		select {
		case *w <- e:
		default: // a watcher that does not keep up loses events, not the service
		}
	}
	if len(l.ring) < eventCapacity {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.start] = e
	l.start = (l.start + 1) % len(l.ring)
}

// since returns the events whose sequence number is greater than seq, and
// the newest sequence number recorded so far (0 when none), read together:
// no event up to last is left out of events.
func (l *eventLog) since(seq uint64) (events []Event, last uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sinceLocked(seq), l.next - 1
}

// waitSince returns what since does; when there are no events after seq
// yet, it waits for one until wait has passed or ctx is done, and then
// returns what there is, maybe nothing. It waits as a watcher, so an event
// recorded between its first look and its wait is not missed.
func (l *eventLog) waitSince(ctx context.Context, seq uint64, wait time.Duration) ([]Event, uint64) {
	if wait <= 0 {
		return l.since(seq)
	}
	added, stop := l.watch()
	defer stop()
	if out, last := l.since(seq); len(out) > 0 {
		return out, last
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-added:
			if out, last := l.since(seq); len(out) > 0 {
				return out, last
			}
		case <-timer.C:
			return l.since(seq)
		case <-ctx.Done():
			return l.since(seq)
		}
	}
}

func (l *eventLog) sinceLocked(seq uint64) []Event {
	out := []Event{}
	for i := range l.ring {
		e := l.ring[(l.start+i)%len(l.ring)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

// EventsAnswer is the answer of GET /v1/events.
type EventsAnswer struct {
	Events []Event `json:"events"` // the events after since, oldest first; empty, never null, when none
	Last   uint64  `json:"last"`   // the newest sequence number recorded so far, 0 when none
}

// maxEventsWait bounds the long poll of GET /v1/events, in seconds.
const maxEventsWait = 30

// handleEvents serves GET /v1/events?since=N&wait=S: the events after N,
// waiting up to S seconds for one when there is none yet, and last, the
// newest sequence number so far, from which a client can follow "from now". The wait ends
// early when the client goes away or the service closes (the request's
// context is the service's).
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	var since uint64
	q := r.URL.Query()
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "since must be a non-negative integer", "field": "since"})
			return
		}
		since = n
	}
	var wait int
	if v := q.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxEventsWait {
			httpjson.Write(w, http.StatusBadRequest, map[string]string{
				"error": fmt.Sprintf("wait must be a whole number of seconds, 0 to %d", maxEventsWait), "field": "wait"})
			return
		}
		wait = n
	}
	events, last := s.events.waitSince(r.Context(), since, time.Duration(wait)*time.Second)
	httpjson.Write(w, http.StatusOK, EventsAnswer{Events: events, Last: last})
}
