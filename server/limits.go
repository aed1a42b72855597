//go:build !wasm

package server

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter allows each key (a client address, an endpoint's fingerprint)
// perMinute requests a minute, in bursts of as many. Keys idle long enough to
// have their whole burst back are forgotten, so a flood of addresses costs
// memory only while it lasts.
type keyedLimiter struct {
	perMinute int // 0: no limit
	mu        sync.Mutex
	keys      map[string]*keyState
	lastSweep time.Time
}

type keyState struct {
	lim  *rate.Limiter
	seen time.Time
}

func newKeyedLimiter(perMinute int) *keyedLimiter {
	return &keyedLimiter{perMinute: perMinute, keys: map[string]*keyState{}}
}

// allow takes one request of key from its budget. When the budget is spent
// it takes nothing and returns how long until the next request would be
// allowed.
func (l *keyedLimiter) allow(key string) (ok bool, retryAfter time.Duration) {
	ok, retryAfter, _ = l.take(key)
	return ok, retryAfter
}

// take is allow for a limit on failures: it takes one request of key from
// its budget before the outcome is known, so that requests arriving together
// cannot all pass a check made before any of them failed, and giveBack
// returns it when the request turned out not to be a failure.
func (l *keyedLimiter) take(key string) (ok bool, retryAfter time.Duration, giveBack func()) {
	if l == nil || l.perMinute <= 0 {
		return true, 0, func() {}
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	st := l.keys[key]
	if st == nil {
		if len(l.keys) >= maxKeys {
			// A flood from more addresses than a minute's sweep can hold:
			// starting over costs a few requests more, never the memory.
			clear(l.keys)
		}
		st = &keyState{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.keys[key] = st
	}
	st.seen = now
	r := st.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, func() {}
	}
	// At the reservation's own time: rate gives back nothing for a
	// reservation whose time has passed.
	return true, 0, func() { r.CancelAt(now) }
}

// blocked reports, taking nothing, whether key's budget is spent, and if so
// how long until it has a request again: for a limit on failures, checked
// before a request whose success must not count.
func (l *keyedLimiter) blocked(key string) (bool, time.Duration) {
	if l == nil || l.perMinute <= 0 {
		return false, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.keys[key]
	if st == nil {
		return false, 0
	}
	tokens := st.lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / float64(st.lim.Limit()) * float64(time.Second))
}

// maxKeys bounds the keys a limiter remembers.
const maxKeys = 1 << 17

// refill is how long an idle key takes to get its whole burst back (a
// minute's worth of requests); after that, forgetting it changes nothing.
const refill = time.Minute + time.Second

// sweep forgets the keys that have their whole burst back, at most once per
// refill period.
func (l *keyedLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < refill {
		return
	}
	l.lastSweep = now
	for k, st := range l.keys {
		if now.Sub(st.seen) >= refill {
			delete(l.keys, k)
		}
	}
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// clientAddr is the address a request came from: the connection's peer, or,
// behind a reverse proxy named by TRUSTED_PROXY_HEADER, the address the
// proxy says it served. Of X-Forwarded-For only the last entry counts: the
// one the trusted proxy appended; anything before it came from the client.
func clientAddr(r *http.Request, trustedHeader string) string {
	if fromProxy(r, trustedHeader) {
		values := r.Header.Values(trustedHeader)
		if len(values) > 0 {
			parts := strings.Split(values[len(values)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fromProxy reports whether r's forwarding headers are to be believed: a
// proxy header is configured and the connection comes from where a reverse
// proxy runs, this machine or a private network. Anyone else reaching the
// port directly could write the headers themselves.
func fromProxy(r *http.Request, trustedHeader string) bool {
	if trustedHeader == "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// limitKey is the key a client address is limited by: the address itself,
// or for IPv6 its /64, which one host can fill with addresses of its own.
func limitKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// forwardingHeaders are set by reverse proxies; a request carrying one came
// through a proxy, whatever its peer address.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host"}

// fromLoopback reports whether a request came from this machine itself: its
// peer is a loopback address, it did not come through a reverse proxy, and,
// behind a trusted proxy, the proxy's client was loopback too.
func fromLoopback(r *http.Request, trustedHeader string) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return false
	}
	if fromProxy(r, trustedHeader) {
		ip := net.ParseIP(clientAddr(r, trustedHeader))
		return ip != nil && ip.IsLoopback()
	}
	for _, h := range forwardingHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}
