package sender

import (
	"sync"
	"time"
)

// maxIdleHosts bounds the hosts remembered while no send to them runs, for
// a pause that has not ended yet. Hosts with a send under way are always
// kept, so their limit holds; they are bounded by the callers' concurrency.
const maxIdleHosts = 1024

// hostLimits is the state the Sender keeps per push service host: the
// requests in flight and the pause a Retry-After asked for.
type hostLimits struct {
	perHost int

	mu    sync.Mutex
	hosts map[string]*hostState
}

func newHostLimits(perHost int) *hostLimits {
	return &hostLimits{perHost: perHost, hosts: map[string]*hostState{}}
}

// hostState is one host's turns and pause.
type hostState struct {
	key string
	// slots holds a token per request in flight; sending one blocks while
	// perHost are.
	slots chan struct{}
	users int // deliveries between join and leave; guarded by hostLimits.mu

	mu    sync.Mutex
	until time.Time // no request starts before this
}

// join returns the state of host, to be given back with leave once the
// delivery is over.
func (l *hostLimits) join(host string) *hostState {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[host]
	if h == nil {
		h = &hostState{key: host, slots: make(chan struct{}, l.perHost)}
		l.hosts[host] = h
	}
	h.users++
	return h
}

// leave ends a delivery's use of h. A host no delivery uses is forgotten
// once its pause is over, and sooner when too many are remembered.
func (l *hostLimits) leave(h *hostState, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.users--
	if h.users > 0 {
		return
	}
	if h.pausedFor(now) <= 0 {
		delete(l.hosts, h.key)
		return
	}
	if len(l.hosts) > maxIdleHosts {
		l.forgetIdle(now)
	}
}

// forgetIdle drops the hosts no delivery uses whose pause is over; if more
// than half the bound remain, it drops idle paused hosts, in no particular
// order, down to half: a pause is a courtesy to the push service, not worth
// unbounded memory.
func (l *hostLimits) forgetIdle(now time.Time) {
	for k, h := range l.hosts {
		if h.users == 0 && h.pausedFor(now) <= 0 {
			delete(l.hosts, k)
		}
	}
	for k, h := range l.hosts {
		if len(l.hosts) <= maxIdleHosts/2 {
			return
		}
		if h.users == 0 {
			delete(l.hosts, k)
		}
	}
}

// pause holds back every request to h until until; a pause already longer
// is kept.
func (h *hostState) pause(until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if until.After(h.until) {
		h.until = until
	}
}

// pausedFor returns how long h's pause lasts after now; <= 0 when none.
func (h *hostState) pausedFor(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until.Sub(now)
}

// done gives back the slot of a request that is over.
func (h *hostState) done() { <-h.slots }
