package localpush

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"pushstart/internal/vapidverify"
	"pushstart/push"
)

// Limits of the push resource.
const (
	// maxBody is the largest push message body accepted (RFC 8030 section
	// 7.2).
	maxBody = 4096
	// maxTTL is the longest a message is kept (28 days): a larger TTL is
	// lowered to it, and the reply's TTL header says so (RFC 8030 section
	// 5.2).
	maxTTL = 28 * 24 * 60 * 60
	// maxTopic is the longest Topic (RFC 8030 section 5.4).
	maxTopic = 32
)

// Reroutes reports whether host (without a port) is one of the hosts of
// the endpoints Chromium shows: Transport sends requests for them to the
// local push service.
func Reroutes(host string) bool {
	return slices.Contains(reroutedHosts, host)
}

// reroutedHosts are the hosts Reroutes reports: stable Chrome's and
// Debian's Chromium's.
var reroutedHosts = []string{"fcm.googleapis.com", "jmt17.google.com"}

// handleFirefoxPush serves POST /wpush/{token}, the endpoints given to
// Firefox. Their origin, and so the VAPID aud, is this service's URL.
func (s *Service) handleFirefoxPush(w http.ResponseWriter, r *http.Request) {
	s.handlePush(w, r, Firefox, s.url)
}

// handleChromiumPush serves POST /fcm/send/{token} and POST /wp/{token}, the
// endpoints Chromium shows. Requests that Transport rerouted keep the FCM
// Host, whose https origin is the VAPID aud; a request made to this service
// directly has this service's origin.
func (s *Service) handleChromiumPush(w http.ResponseWriter, r *http.Request) {
	origin, host := s.url, r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	if Reroutes(host) {
		origin = "https://" + r.Host
	}
	s.handlePush(w, r, Chromium, origin)
}

// pushHeaders are the request headers recorded in push events.
func pushHeaders(r *http.Request) map[string]string {
	h := map[string]string{}
	for _, k := range []string{"TTL", "Urgency", "Topic", "Content-Encoding"} {
		if v := r.Header.Get(k); v != "" {
			h[k] = v
		}
	}
	return h
}

// handlePush is the push resource of RFC 8030 section 5: it checks the
// request as a real push service would and keeps or delivers the message.
func (s *Service) handlePush(w http.ResponseWriter, r *http.Request, browser, origin string) {
	token := r.PathValue("token")
	endpoint := origin + r.URL.Path
	ev := Event{Browser: browser, Endpoint: endpoint, Headers: pushHeaders(r)}
	if r.ContentLength > 0 {
		ev.BodySize = int(r.ContentLength)
	}
	reject := func(status int, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		ev.Type, ev.Status, ev.Detail = EventReject, status, msg
		s.events.add(ev)
		s.log.Info("push rejected", "endpoint", push.Fingerprint(endpoint), "status", status, "reason", msg)
		http.Error(w, msg, status)
	}

	key := faultKey{browser, token}
	if ft, ok := s.faults.take(key); ok {
		s.injectFault(w, r, ev, ft)
		return
	}

	sub, gone := s.state.lookup(token, browser)
	switch {
	case gone:
		reject(http.StatusGone, "subscription was unsubscribed")
		return
	case sub == nil:
		reject(http.StatusNotFound, "no such subscription")
		return
	}

	vapid := vapidverify.Expect{Endpoint: endpoint, Key: sub.key, Now: s.now()}
	if _, err := vapidverify.Verify(r.Header.Get("Authorization"), vapid); err != nil {
		reject(vapidStatus(err), "VAPID: %v", err)
		return
	}

	if r.ContentLength > maxBody {
		reject(http.StatusRequestEntityTooLarge, "body of %d bytes is over %d", r.ContentLength, maxBody)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reject(http.StatusRequestEntityTooLarge, "body is over %d bytes", maxBody)
		return
	case err != nil:
		reject(http.StatusBadRequest, "reading the body: %v", err)
		return
	}
	ev.BodySize = len(body)

	if len(body) > 0 || r.Header.Get("Content-Encoding") != "" {
		if ce := r.Header.Get("Content-Encoding"); !strings.EqualFold(ce, "aes128gcm") {
			if ce == "" {
				reject(http.StatusBadRequest, "missing Content-Encoding (aes128gcm required)")
			} else {
				reject(http.StatusBadRequest, "Content-Encoding %q is not supported (only aes128gcm)", ce)
			}
			return
		}
	}
	ttl, err := parseTTL(r.Header.Values("TTL"))
	if err != nil {
		reject(http.StatusBadRequest, "%v", err)
		return
	}
	urgency := r.Header.Get("Urgency")
	switch urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		reject(http.StatusBadRequest, "Urgency %q is not very-low, low, normal or high", urgency)
		return
	}
	topic := r.Header.Get("Topic")
	if len(r.Header.Values("Topic")) > 0 {
		if err := checkTopic(topic); err != nil {
			reject(http.StatusBadRequest, "%v", err)
			return
		}
	}

	if browser == Chromium && endpoint != s.state.endpointOf(sub) && origin != s.url {
		s.state.setEndpoint(sub, endpoint)
	}
	now := s.now()
	delay := s.faults.takeLatency(key)
	m := &message{
		id: randomID(16), sub: sub, endpoint: endpoint, body: body, ttl: ttl, urgency: urgency, topic: topic,
		received: now, expires: now.Add(time.Duration(ttl) * time.Second),
		delay: delay,
	}
	res := s.state.push(m)
	s.recordExpired(res.expired)

	ev.Type, ev.Status, ev.Message, ev.TTL = EventPush, http.StatusCreated, m.id, ttl
	ev.Handed = res.to != nil
	if ev.Handed {
		ev.DelayMs = int(delay.Milliseconds())
	}
	switch {
	case res.dropped:
		ev.Detail = "dropped: TTL 0 and the browser is not connected"
	case res.to != nil:
		ev.Detail = "delivering"
	default:
		ev.Detail = fmt.Sprintf("queued for %d s until the browser connects", ttl)
	}
	if res.replaced != nil {
		ev.Detail += fmt.Sprintf("; replaced undelivered message %s with the same topic", res.replaced.id)
	}
	if res.evicted != nil {
		ev.Detail += fmt.Sprintf("; dropped the oldest pending message %s (at most %d kept)", res.evicted.id, maxPendingPerSubscription)
	}
	if delay > 0 && !res.dropped {
		ev.Detail += fmt.Sprintf("; handed over %d ms late (latency fault)", delay.Milliseconds())
	}
	s.events.add(ev)
	s.log.Debug("push accepted", "endpoint", push.Fingerprint(endpoint), "bytes", len(body), "ttl", ttl, "detail", ev.Detail)
	s.recordNotKept(m, res)

	if res.to != nil {
		s.goDeliver(res.to, []*message{m})
	}
	w.Header().Set("Location", s.url+"/m/"+m.id)
	w.Header().Set("TTL", strconv.Itoa(ttl))
	w.WriteHeader(http.StatusCreated)
}

// recordNotKept records what an accepted message m dropped or replaced:
// itself (TTL 0 with the browser away), a waiting message of its topic, the
// oldest waiting message when the queue was full. Each event names the
// endpoint of the message it is about.
func (s *Service) recordNotKept(m *message, res pushResult) {
	if res.dropped {
		s.events.add(Event{Type: EventDrop, Browser: m.sub.browser, Endpoint: m.endpoint, Message: m.id,
			BodySize: len(m.body), Detail: "TTL 0 and the browser is not connected: not kept"})
	}
	if p := res.replaced; p != nil {
		s.events.add(Event{Type: EventReplace, Browser: p.sub.browser, Endpoint: p.endpoint, Message: p.id,
			BodySize: len(p.body), TTL: p.ttl, Headers: map[string]string{"Topic": p.topic},
			Detail: fmt.Sprintf("replaced by the newer message %s with the same Topic %q before the browser took it", m.id, m.topic)})
	}
	if p := res.evicted; p != nil {
		s.events.add(Event{Type: EventDrop, Browser: p.sub.browser, Endpoint: p.endpoint, Message: p.id,
			BodySize: len(p.body), TTL: p.ttl,
			Detail: fmt.Sprintf("the oldest waiting message, dropped to make room (at most %d kept)", maxPendingPerSubscription)})
	}
}

// vapidStatus is the status of a push refused by vapidverify.Verify: 403 for
// a valid JWT whose k is not the key the subscription was made with (RFC 8292
// section 4.2), 401 for a missing or invalid one. An application server
// reading 403 knows its JWT is fine and its keys changed.
func vapidStatus(err error) int {
	var verr *vapidverify.Error
	if errors.As(err, &verr) && verr.Check == vapidverify.CheckKeyMatch {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// parseTTL validates the TTL header: required, one non-negative integer of
// seconds. Values above maxTTL are lowered to it.
func parseTTL(values []string) (int, error) {
	if len(values) == 0 {
		return 0, fmt.Errorf("missing TTL header (RFC 8030 section 5.2)")
	}
	if len(values) > 1 {
		return 0, fmt.Errorf("more than one TTL header")
	}
	v := strings.TrimSpace(values[0])
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("TTL %q is not a non-negative integer of seconds", values[0])
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > maxTTL {
		n = maxTTL
	}
	return n, nil
}

// checkTopic validates a Topic header: 1 to 32 characters of the base64url
// alphabet.
func checkTopic(t string) error {
	if t == "" || len(t) > maxTopic {
		return fmt.Errorf("Topic must be 1 to %d characters, got %d", maxTopic, len(t))
	}
	if !push.IsBase64URL(t) {
		return fmt.Errorf("Topic %q has characters outside the base64url alphabet", t)
	}
	return nil
}

// injectFault answers a push request with an armed fault.
func (s *Service) injectFault(w http.ResponseWriter, r *http.Request, ev Event, ft fault) {
	ev.Type = EventFault
	ev.Detail = fmt.Sprintf("injected %s, %d more to come", ft.kind, ft.left)
	if ft.kind == faultHang {
		ev.Detail = fmt.Sprintf("injected hang, %d more to come; held until the client gives up", ft.left)
		s.events.add(ev)
		s.log.Info("push fault injected", "kind", ft.kind, "endpoint", push.Fingerprint(ev.Endpoint))
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
		if s.ctx.Err() != nil {
			// Closing: drop the connection rather than answer 200 to a
			// request that was never processed.
			panic(http.ErrAbortHandler)
		}
		return
	}
	ev.Status = ft.status
	s.events.add(ev)
	s.log.Info("push fault injected", "kind", ft.kind, "endpoint", push.Fingerprint(ev.Endpoint))
	if ft.status == http.StatusTooManyRequests || ft.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(ft.retryAfter))
	}
	http.Error(w, "injected fault "+ft.kind, ft.status)
}

// handleCancel serves DELETE /m/{id}: a pending message is withdrawn
// (RFC 8030 section 7.3).
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	if s.state.cancel(r.PathValue("id")) == nil {
		http.Error(w, "no such pending message", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
