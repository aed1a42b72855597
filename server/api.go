//go:build !wasm

package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/push"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// Request body limits: a subscription is well under 1 KiB; a notification
// request carries at most push.MaxPlaintext bytes of payload plus framing.
const (
	maxSubscriptionBody = 8 << 10
	maxNotificationBody = 32 << 10
)

// Defaults for pushes the server sends.
const (
	testTTL         = 300 // a test notification is worth little after five minutes
	testSendTimeout = 90 * time.Second
	broadcastTTL    = 86400 // one day, unless the admin asks otherwise
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.Count(r.Context()); err != nil {
		s.log.Error("health check: store", "err", err)
		httpjson.Write(w, http.StatusServiceUnavailable, api.Health{Status: "store unavailable"})
		return
	}
	httpjson.Write(w, http.StatusOK, api.Health{Status: "ok"})
}

func (s *Server) handleVAPIDKey(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, api.VAPIDKey{PublicKey: s.keys.Public, PublicURL: s.origin.String()})
}

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.limit(w, r, s.subscribeLimit, limitKey(clientAddr(r, s.trustedHeader)), "subscription changes from this address (SUBSCRIBE_RATE)") {
		return
	}
	var req api.Subscription
	if err := decodeJSON(w, r, maxSubscriptionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.allow.Check(req.Endpoint); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := push.CheckKeys(req.Keys.P256dh, req.Keys.Auth); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.ExpirationTime != nil && *req.ExpirationTime < 0 {
		s.writeError(w, r, badField("expirationTime", "expirationTime must be null or milliseconds since the epoch"))
		return
	}
	if len(req.OldEndpoint) > s.allow.maxBytes {
		s.writeError(w, r, badField("oldEndpoint", fmt.Sprintf("oldEndpoint is longer than %d bytes", s.allow.maxBytes)))
		return
	}
	if req.Tags != nil {
		if err := push.CheckTags("tags", *req.Tags); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	user, err := s.userOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub := store.Subscription{
		Endpoint:       req.Endpoint,
		P256dh:         strings.TrimRight(req.Keys.P256dh, "="),
		Auth:           strings.TrimRight(req.Keys.Auth, "="),
		ExpirationTime: req.ExpirationTime,
		UserAgent:      truncate(r.UserAgent(), 256),
		UserID:         user,
	}
	if req.Tags != nil {
		sub.Tags = append([]string{}, *req.Tags...)
	}
	created, err := s.save(r.Context(), sub, req.OldEndpoint)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	saved, err := s.store.Get(r.Context(), sub.Endpoint)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.log.Debug("subscription saved", "endpoint", push.Fingerprint(sub.Endpoint), "created", created,
		"replaced", req.OldEndpoint != "")
	httpjson.Write(w, status, api.Saved{Endpoint: sub.Endpoint, Created: created, Tags: append([]string{}, saved.Tags...)})
}

func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.limit(w, r, s.subscribeLimit, limitKey(clientAddr(r, s.trustedHeader)), "subscription changes from this address (SUBSCRIBE_RATE)") {
		return
	}
	var req api.Unsubscribe
	if err := decodeJSON(w, r, maxSubscriptionBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Endpoint == "" || len(req.Endpoint) > s.allow.maxBytes {
		s.writeError(w, r, badField("endpoint", fmt.Sprintf("endpoint is required, at most %d bytes", s.allow.maxBytes)))
		return
	}
	deleted, err := s.store.Delete(r.Context(), req.Endpoint)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Debug("subscription deleted", "endpoint", push.Fingerprint(req.Endpoint), "existed", deleted)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleTestSend(w http.ResponseWriter, r *http.Request) {
	if !s.limit(w, r, s.testSendLimit, limitKey(clientAddr(r, s.trustedHeader)), "test sends from this address (TEST_SEND_RATE)") {
		return
	}
	var req api.TestSend
	if err := decodeJSON(w, r, maxNotificationBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Endpoint == "" {
		s.writeError(w, r, badField("endpoint", "endpoint is required"))
		return
	}
	ttl := testTTL
	if req.TTL != nil {
		ttl = *req.TTL
	}
	msg, err := notificationMessage(req.Notification, s.origin, ttl, "high", req.Topic)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := s.store.Get(r.Context(), req.Endpoint)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Pushes go out under the server's VAPID identity: a push service that
	// sees too many throttles the key, or the address, for every user.
	if !s.limit(w, r, s.testEndpointLimit, push.Fingerprint(canonicalEndpoint(sub.Endpoint)), "test sends to this subscription (TEST_SEND_ENDPOINT_RATE)") {
		return
	}
	// The page waits for the answer: bound the retries well inside the
	// server's write timeout, so the outcome always reaches it.
	ctx, cancel := context.WithTimeout(r.Context(), testSendTimeout)
	defer cancel()
	after := func(sender.Result) {}
	if req.SlowMotion {
		ctx, after = s.slowMotion(ctx, sub)
	}
	res := s.sender.Send(ctx, sub, msg)
	after(res)
	out := api.Result{Outcome: res.Outcome, Status: res.Status, Attempts: res.Attempts, Pruned: res.Pruned}
	if res.Outcome != push.Sent {
		// The caller is anonymous: what the push service answered, or the
		// socket error, is logged by the sender, never relayed.
		out.Error = publicReason(res)
		s.writeError(w, r, &sendError{out})
		return
	}
	httpjson.Write(w, http.StatusOK, out)
}

// notificationMessage validates n and the delivery options and builds the
// message to send, its links on origin.
func notificationMessage(n *push.Notification, origin push.Origin, ttl int, urgency, topic string) (push.Message, error) {
	return message(n, ttl, urgency, topic, func() ([]byte, error) { return n.Marshal(origin) })
}

// broadcastMessage is notificationMessage for a broadcast, whose payload
// leaves push.MessageIDReserve bytes free for the message id each of its
// pushes carries.
func broadcastMessage(n *push.Notification, origin push.Origin, ttl int, urgency, topic string) (push.Message, error) {
	return message(n, ttl, urgency, topic, func() ([]byte, error) { return n.MarshalBroadcast(origin) })
}

// message checks n and the delivery options, and writes n with marshal.
func message(n *push.Notification, ttl int, urgency, topic string, marshal func() ([]byte, error)) (push.Message, error) {
	if n == nil {
		return push.Message{}, badField("notification", "notification is required")
	}
	body, err := marshal()
	if err != nil {
		return push.Message{}, err
	}
	m := push.Message{Payload: body, TTL: ttl, Urgency: urgency, Topic: topic}
	if err := m.Validate(); err != nil {
		return push.Message{}, err
	}
	return m, nil
}

// handleLocalPush tells tests and the demo launcher how to point a browser at
// the local push service. It exists only in local mode, and only for
// loopback clients.
func (s *Server) handleLocalPush(w http.ResponseWriter, r *http.Request) {
	if s.local == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Message: "the local push service is off (start with PUSH_SERVICE=local, or the URL of a running one)"})
		return
	}
	if !fromLoopback(r, s.trustedHeader) {
		s.writeError(w, r, &apiError{Status: http.StatusForbidden, Message: "the local push service is for loopback clients only"})
		return
	}
	httpjson.Write(w, http.StatusOK, s.local.Browser())
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// save stores sub, replacing oldEndpoint's row when given, unless that would
// take the store past MAX_SUBSCRIPTIONS. The check and the write are one
// step for concurrent requests, or a burst of them would all see room.
func (s *Server) save(ctx context.Context, sub store.Subscription, oldEndpoint string) (bool, error) {
	if s.maxSubscriptions > 0 {
		s.ceilingMu.Lock()
		defer s.ceilingMu.Unlock()
		if err := s.checkCeiling(ctx, sub.Endpoint, oldEndpoint); err != nil {
			return false, err
		}
	}
	if oldEndpoint != "" && oldEndpoint != sub.Endpoint {
		return s.store.Replace(ctx, oldEndpoint, sub)
	}
	return s.store.Upsert(ctx, sub)
}

// checkCeiling refuses a new subscription once MAX_SUBSCRIPTIONS are stored.
// A known endpoint, or one replacing a stored one, does not add a row.
func (s *Server) checkCeiling(ctx context.Context, endpoint, oldEndpoint string) error {
	for _, e := range []string{endpoint, oldEndpoint} {
		if e == "" {
			continue
		}
		_, err := s.store.Get(ctx, e)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	n, err := s.store.Count(ctx)
	if err != nil {
		return err
	}
	if n >= s.maxSubscriptions {
		s.log.Warn("subscription refused: the ceiling is reached", "subscriptions", n, "max", s.maxSubscriptions)
		return &apiError{Status: http.StatusTooManyRequests, RetryAfter: time.Hour,
			Message: fmt.Sprintf("this server stores at most %d subscriptions (MAX_SUBSCRIPTIONS) and has no room for another", s.maxSubscriptions)}
	}
	return nil
}

// publicReason says why a push was not delivered in words safe for an
// anonymous caller: the outcome and the push service's status, never its
// body or a network error's text. Two things more are safe and say what to
// change: why the server did not send to Apple's push service (what it
// refuses, not the configured subject), and the one-word reason Apple's
// push service gives, with the hint the sender has for it.
func publicReason(res sender.Result) string {
	outcome, status, attempts := res.Outcome, res.Status, res.Attempts
	var subject *vapid.AppleSubjectError
	if errors.As(res.Err, &subject) {
		return "the server did not send: " + subject.Advice()
	}
	answered := ""
	if status != 0 {
		answered = fmt.Sprintf(" (HTTP %d %s)", status, http.StatusText(status))
	}
	var apple *sender.AppleRefusal
	if errors.As(res.Err, &apple) {
		answered = fmt.Sprintf(" (HTTP %d %s, reason %s)", status, http.StatusText(status), apple.Reason)
		if hint := apple.Hint(); hint != "" {
			answered += ": " + hint
		}
	}
	switch outcome {
	case push.Gone:
		return "the push service says this subscription no longer exists" + answered + "; the server deleted it"
	case push.Unauthorized:
		return "the push service refused the server's VAPID credentials" + answered
	case push.Rejected:
		if status == 0 {
			return "the server could not send to this subscription"
		}
		return "the push service refused the message" + answered
	default:
		if status == 0 {
			return fmt.Sprintf("the push service could not be reached; gave up after %d attempts", attempts)
		}
		return fmt.Sprintf("the push service did not accept the message%s; gave up after %d attempts", answered, attempts)
	}
}

// canonicalEndpoint writes an endpoint the way its push service reads it,
// so that spellings of one endpoint (host case, a default port written out)
// share one budget. The query stays: some push services keep the
// subscription's token there.
func canonicalEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(u.Scheme == "https" && port == "443") && !(u.Scheme == "http" && port == "80") {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host = host
	u.Scheme = strings.ToLower(u.Scheme)
	return u.String()
}
