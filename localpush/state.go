package localpush

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"pushstart/push"
)

// maxPendingPerSubscription bounds the messages kept for one subscription
// while its browser is away; the oldest goes first.
const maxPendingPerSubscription = 100

// subscription is one push subscription as this service knows it.
type subscription struct {
	token     string // the last path segment of the endpoint: the capability
	browser   string // Firefox or Chromium
	owner     string // the Firefox uaid or the Chromium android id
	channelID string // Firefox's channel id
	subtype   string // Chromium's X-subtype
	sender    string // Chromium's sender, the VAPID key as sent
	key       []byte // the applicationServerKey, decoded; nil when the subscription has none
	endpoint  string // the endpoint as the browser shows it, as well as it is known
}

// message is one accepted push, kept until the browser acknowledges it or
// its TTL runs out.
type message struct {
	id       string
	sub      *subscription
	endpoint string // the endpoint of the push request that brought it: events about it name it
	body     []byte
	ttl      int
	urgency  string
	topic    string
	received time.Time
	expires  time.Time
	sentOn   conn          // the connection it was last handed to; nil if none yet
	delay    time.Duration // the latency fault's wait before it is handed over; 0 once it has waited
}

// conn is a browser's live connection, of either protocol.
type conn interface {
	// deliver hands one message to the browser, calling before with the
	// protocol frame (see Event.Frame) just before it is written.
	deliver(m *message, before func(frame string)) error
	// close ends the connection (it was replaced by a newer one).
	close()
	// drop ends the connection at once, as a lost network would.
	drop()
}

// owner is one browser instance: its subscriptions, its connection and the
// messages waiting for it.
type owner struct {
	browser string
	id      string
	subs    map[string]*subscription // by channel id (Firefox) or token (Chromium)
	conn    conn                     // nil while offline
	queue   []*message               // pending until acknowledged, oldest first

	// The offline fault: reconnections wait until offlineUntil. The
	// endpoint it was armed for stays until the browser is back, so that
	// the connect event can name it.
	offlineUntil    time.Time
	offlineEndpoint string
}

// state is everything the service remembers, in memory only.
type state struct {
	mu     sync.Mutex
	subs   map[string]*subscription // by token
	gone   map[string]string        // unsubscribed tokens, to browser name, for 410
	owners map[string]*owner        // by browser + " " + id
	msgs   map[string]*message      // by id
	// forgotten holds the Firefox uaids the reset fault forgot: a hello
	// with one is answered with a new uaid (see helloUAID), and a register
	// with one refused.
	forgotten map[string]forgottenUAID
}

// forgottenUAID is a Firefox uaid the reset fault forgot.
type forgottenUAID struct {
	endpoint string // the endpoint the fault was armed for, for the reset events
	renewed  string // the uaid a hello with the forgotten one is answered with
}

func newState() *state {
	return &state{
		subs:      map[string]*subscription{},
		gone:      map[string]string{},
		owners:    map[string]*owner{},
		msgs:      map[string]*message{},
		forgotten: map[string]forgottenUAID{},
	}
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// randomID returns n random bytes as base64url: message ids and endpoint
// tokens, which are capabilities and so must not be guessable.
func randomID(n int) string {
	return push.EncodeBase64URL(randomBytes(n))
}

func (st *state) ownerLocked(browser, id string) *owner {
	k := browser + " " + id
	o := st.owners[k]
	if o == nil {
		o = &owner{browser: browser, id: id, subs: map[string]*subscription{}}
		st.owners[k] = o
	}
	return o
}

// addSubscription records sub for its owner under the given key (channel id
// or token). A subscription already under that key with the same
// application server key is kept and returned; one with another key is
// replaced and its token becomes gone. It returns nil for a Firefox uaid the
// reset fault forgot: a register that was still on its way on the
// connection the fault drops must not bring the forgotten browser back.
func (st *state) addSubscription(sub *subscription, key string) (got *subscription, replaced *subscription) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, forgotten := st.forgotten[sub.owner]; forgotten && sub.browser == Firefox {
		return nil, nil
	}
	o := st.ownerLocked(sub.browser, sub.owner)
	if old := o.subs[key]; old != nil {
		if string(old.key) == string(sub.key) {
			return old, nil
		}
		_ = st.removeSubscriptionLocked(o, old)
		replaced = old
	}
	o.subs[key] = sub
	st.subs[sub.token] = sub
	delete(st.gone, sub.token)
	return sub, replaced
}

// removeSubscription forgets the subscription under key (channel id or
// token) of the given owner, and returns it, or nil when there was none.
// Its token is remembered as gone, and its pending messages are dropped.
func (st *state) removeSubscription(browser, ownerID, key string) *subscription {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.owners[browser+" "+ownerID]
	if o == nil || o.subs[key] == nil {
		return nil
	}
	sub := o.subs[key]
	_ = st.removeSubscriptionLocked(o, sub)
	return sub
}

// expireSubscription forgets the subscription of token as a push service
// forgets an expired one: its token becomes gone. It returns the
// subscription and the messages that were waiting for it, or nil when the
// token names no subscription of browser.
func (st *state) expireSubscription(token, browser string) (*subscription, []*message) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub := st.subs[token]
	if sub == nil || sub.browser != browser {
		return nil, nil
	}
	return sub, st.removeSubscriptionLocked(st.owners[sub.browser+" "+sub.owner], sub)
}

// resetOwner forgets the browser that owns token's subscription of browser,
// as a push service forgets a client's record: every subscription of it
// becomes gone and the messages waiting for them are dropped. A Firefox
// owner is forgotten whole: its connection is taken away and returned for
// the caller to drop, and its uaid is remembered as forgotten, with
// endpoint and the new uaid its hellos will get. A Chromium owner keeps its connection (its
// android id is the check-in's, which the push service does not forget). It
// returns the forgotten subscriptions, nil when token names no subscription
// of browser.
func (st *state) resetOwner(token, browser, endpoint string) (subs []*subscription, dropped []*message, c conn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub := st.subs[token]
	if sub == nil || sub.browser != browser {
		return nil, nil, nil
	}
	o := st.owners[sub.browser+" "+sub.owner]
	for _, s := range o.subs {
		subs = append(subs, s)
	}
	for _, s := range subs {
		dropped = append(dropped, st.removeSubscriptionLocked(o, s)...)
	}
	if browser == Firefox {
		c, o.conn = o.conn, nil
		delete(st.owners, sub.browser+" "+sub.owner)
		st.forgotten[sub.owner] = forgottenUAID{endpoint: endpoint, renewed: strings.ReplaceAll(randomUUID(), "-", "")}
	}
	return subs, dropped, c
}

// helloUAID returns the uaid a Firefox hello with uaid goes on with. For a
// uaid the reset fault forgot that is the new uaid it was given, with the
// fault's endpoint and renewed true; and so for every such hello until one
// with the new uaid shows that Firefox has it: a reply lost with its
// connection must not let the old uaid back in as a fresh browser's.
func (st *state) helloUAID(uaid string) (use, endpoint string, renewed bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if f, ok := st.forgotten[uaid]; ok {
		return f.renewed, f.endpoint, true
	}
	for old, f := range st.forgotten {
		if f.renewed == uaid {
			delete(st.forgotten, old)
		}
	}
	return uaid, "", false
}

// removeSubscriptionLocked forgets sub and returns the messages that were
// waiting for it.
func (st *state) removeSubscriptionLocked(o *owner, sub *subscription) (dropped []*message) {
	for k, s := range o.subs {
		if s == sub {
			delete(o.subs, k)
		}
	}
	delete(st.subs, sub.token)
	st.gone[sub.token] = sub.browser
	o.queue = st.filterLocked(o.queue, func(m *message) bool {
		if m.sub == sub {
			dropped = append(dropped, m)
			return false
		}
		return true
	})
	return dropped
}

// filterLocked keeps the messages for which keep is true and forgets the
// others.
func (st *state) filterLocked(q []*message, keep func(*message) bool) []*message {
	out := q[:0]
	for _, m := range q {
		if keep(m) {
			out = append(out, m)
		} else {
			delete(st.msgs, m.id)
		}
	}
	clear(q[len(out):])
	return out
}

// goOffline starts the offline fault for the owner of token's subscription
// of browser: its connection is forgotten at once (so that pushes from now
// on wait or are dropped) and returned for the caller to drop, and its
// reconnections wait until until. endpoint is the endpoint the fault was
// armed for.
func (st *state) goOffline(token, browser, endpoint string, until time.Time) (sub *subscription, c conn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub = st.subs[token]
	if sub == nil || sub.browser != browser {
		return nil, nil
	}
	o := st.ownerLocked(sub.browser, sub.owner)
	c, o.conn = o.conn, nil
	o.offlineUntil, o.offlineEndpoint = until, endpoint
	return sub, c
}

// offlineWait returns how long a reconnection of the owner must still wait,
// and the endpoint the offline fault was armed for; 0 when there is none.
func (st *state) offlineWait(browser, id string, now time.Time) (time.Duration, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.owners[browser+" "+id]
	if o == nil || !now.Before(o.offlineUntil) {
		return 0, ""
	}
	return o.offlineUntil.Sub(now), o.offlineEndpoint
}

// clearOffline ends every offline fault (DELETE /v1/faults): the browsers
// kept away come back at their next try, and that connection ends no fault
// (its connect event names no endpoint).
func (st *state) clearOffline() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, o := range st.owners {
		o.offlineUntil, o.offlineEndpoint = time.Time{}, ""
	}
}

// clearOfflineOf ends the offline fault of the browser that owns token's
// subscription of browser, if any.
func (st *state) clearOfflineOf(token, browser string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub := st.subs[token]
	if sub == nil || sub.browser != browser {
		return
	}
	if o := st.owners[sub.browser+" "+sub.owner]; o != nil {
		o.offlineUntil, o.offlineEndpoint = time.Time{}, ""
	}
}

// takeDelay returns the latency m must still wait before it is handed over
// and clears it: a message waits once.
func (st *state) takeDelay(m *message) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	d := m.delay
	m.delay = 0
	return d
}

// handedTo reports whether m is still pending and was last handed to c: a
// delayed hand-over that is no longer so has nothing left to do.
func (st *state) handedTo(m *message, c conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.msgs[m.id] == m && m.sentOn == c
}

// current reports whether key names a current subscription.
func (st *state) current(key faultKey) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub := st.subs[key.token]
	return sub != nil && sub.browser == key.browser
}

// lookup finds the subscription of a token. gone is true when the token
// belonged to a subscription that was unsubscribed.
func (st *state) lookup(token, browser string) (sub *subscription, gone bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s := st.subs[token]; s != nil && s.browser == browser {
		return s, false
	}
	return nil, st.gone[token] == browser
}

// pushResult says what became of an accepted message.
type pushResult struct {
	to       conn       // the connection to hand it to now; nil when the browser is offline
	dropped  bool       // TTL 0 and the browser offline: not kept
	replaced *message   // an undelivered message with the same topic that this one replaced
	evicted  *message   // the oldest pending message, dropped to make room
	expired  []*message // waiting messages whose TTL had run out, found on the way
}

// push keeps m for its subscription's owner, replacing an undelivered
// message of the same topic, and says where to deliver it.
func (st *state) push(m *message) pushResult {
	st.mu.Lock()
	defer st.mu.Unlock()
	var res pushResult
	o := st.ownerLocked(m.sub.browser, m.sub.owner)
	res.expired = st.expireLocked(o, m.received)
	// A message that is not kept replaces nothing.
	if o.conn == nil && m.ttl == 0 {
		res.dropped = true
		return res
	}
	if m.topic != "" {
		o.queue = st.filterLocked(o.queue, func(p *message) bool {
			// Undelivered: never handed out, or handed to a connection that
			// has since gone without acknowledging it.
			undelivered := p.sentOn == nil || p.sentOn != o.conn
			if p.sub == m.sub && p.topic == m.topic && undelivered {
				res.replaced = p
				return false
			}
			return true
		})
	}
	n := 0
	for _, p := range o.queue {
		if p.sub == m.sub {
			n++
		}
	}
	if n >= maxPendingPerSubscription {
		for _, p := range o.queue {
			if p.sub == m.sub {
				res.evicted = p
				break
			}
		}
		o.queue = st.filterLocked(o.queue, func(p *message) bool { return p != res.evicted })
	}
	o.queue = append(o.queue, m)
	st.msgs[m.id] = m
	if o.conn != nil {
		m.sentOn = o.conn
		res.to = o.conn
	}
	return res
}

// expireLocked drops the owner's waiting messages whose TTL has run out,
// and returns them. A message in the hands of the live connection is not
// waiting: its acknowledgement is on the way.
func (st *state) expireLocked(o *owner, now time.Time) (expired []*message) {
	o.queue = st.filterLocked(o.queue, func(m *message) bool {
		if now.Before(m.expires) || (m.sentOn != nil && m.sentOn == o.conn) {
			return true
		}
		expired = append(expired, m)
		return false
	})
	return expired
}

// sweep drops every waiting message whose TTL has run out, and returns
// them.
func (st *state) sweep(now time.Time) (expired []*message) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, o := range st.owners {
		expired = append(expired, st.expireLocked(o, now)...)
	}
	return expired
}

// connected is what state.connect found.
type connected struct {
	old     conn       // the connection c replaces; nil if none
	pending []*message // the messages to hand to c, oldest first
	expired []*message // waiting messages whose TTL had run out
	back    string     // the endpoint of the offline fault this connection ends; "" if none
}

// connect makes c the owner's connection.
func (st *state) connect(browser, id string, c conn, now time.Time) connected {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.ownerLocked(browser, id)
	res := connected{old: o.conn, back: o.offlineEndpoint}
	o.conn = c
	o.offlineUntil, o.offlineEndpoint = time.Time{}, ""
	res.expired = st.expireLocked(o, now)
	for _, m := range o.queue {
		if m.sentOn != c {
			m.sentOn = c
			res.pending = append(res.pending, m)
		}
	}
	return res
}

// disconnect clears the owner's connection if it is still c. It reports
// whether it was.
func (st *state) disconnect(browser, id string, c conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.owners[browser+" "+id]
	if o == nil || o.conn != c {
		return false
	}
	o.conn = nil
	return true
}

// ack forgets the owner's message with the given id and returns it, or nil
// when the owner has no such message pending.
func (st *state) ack(browser, ownerID, id string) *message {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.msgs[id]
	if m == nil || m.sub.browser != browser || m.sub.owner != ownerID {
		return nil
	}
	o := st.owners[browser+" "+ownerID]
	o.queue = st.filterLocked(o.queue, func(p *message) bool { return p != m })
	return m
}

// cancel forgets a pending message (DELETE of its Location) and returns it,
// or nil when there is none.
func (st *state) cancel(id string) *message {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.msgs[id]
	if m == nil {
		return nil
	}
	o := st.owners[m.sub.browser+" "+m.sub.owner]
	o.queue = st.filterLocked(o.queue, func(p *message) bool { return p != m })
	return m
}

// setEndpoint records the endpoint a push request used, once the service
// learns it (Chromium's endpoint host is chosen by the browser).
func (st *state) setEndpoint(sub *subscription, endpoint string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	sub.endpoint = endpoint
}

// endpointOf returns the subscription's endpoint as well as it is known.
func (st *state) endpointOf(sub *subscription) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return sub.endpoint
}
