// Package sender delivers push messages to browsers' push services with
// webpush-go, and does what that library leaves to its caller: validating
// messages and subscriptions before encrypting, one shared HTTP client with
// timeouts and connection reuse, draining every response, reading the push
// service's status (RFC 8030 and RFC 8292), retrying only what may succeed
// later, pruning subscriptions that are gone, and recording every outcome in
// the store's delivery log.
//
// A push endpoint is a secret capability URL; the sender logs and records
// push.Fingerprint of it, never the endpoint, the keys or the VAPID token.
package sender

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/push"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// Options configure a Sender. Zero values take the defaults noted.
type Options struct {
	Keys        vapid.Keys
	Subject     string        // as configured ("mailto:a@b" or "https://..."); sender calls vapid.Subject
	Client      *http.Client  // nil: NewHTTPClient(nil)
	Store       store.Store   // prune 404/410 via Delete; RecordDelivery for every outcome
	Workers     int           // fan-out pool size, default 16
	MaxAttempts int           // default 4
	BaseDelay   time.Duration // default 500ms (exponential, full jitter)
	MaxDelay    time.Duration // default 30s; Retry-After capped to this
	Log         *slog.Logger  // nil: discard
	// CheckEndpoint, when set, is asked before every send whether the
	// subscription's endpoint is still one the server may post to (the
	// push service allowlist); a refused endpoint is not sent to. Rows saved
	// under another configuration are checked again here, so the allowlist
	// holds at send time and not only when a subscription is saved.
	CheckEndpoint func(endpoint string) error
}

// Defaults for Options.
const (
	DefaultWorkers     = 16
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
)

// Sender sends push messages. It is safe for concurrent use.
type Sender struct {
	keys          vapid.Keys
	subscriber    string
	client        *http.Client
	store         store.Store
	workers       int
	maxAttempts   int
	baseDelay     time.Duration
	maxDelay      time.Duration
	log           *slog.Logger
	checkEndpoint func(string) error
	// vapidRefusals rate-limits the log of push services refusing the
	// VAPID credentials: any caller able to save a subscription can point
	// one at an endpoint answering 401.
	vapidRefusals refusalLog

	// sleep waits d or until ctx is done; tests replace it to record the
	// waits without spending them.
	sleep func(ctx context.Context, d time.Duration) error
	// now is the clock Retry-After dates are read against.
	now func() time.Time
}

// New checks o and returns a Sender.
func New(o Options) (*Sender, error) {
	if err := o.Keys.Check(); err != nil {
		return nil, fmt.Errorf("sender: VAPID keys: %w", err)
	}
	subscriber, err := vapid.Subject(o.Subject)
	if err != nil {
		return nil, fmt.Errorf("sender: VAPID subject: %w", err)
	}
	if o.Store == nil {
		return nil, errors.New("sender: Options.Store is required")
	}
	for name, v := range map[string]int64{
		"Workers": int64(o.Workers), "MaxAttempts": int64(o.MaxAttempts),
		"BaseDelay": int64(o.BaseDelay), "MaxDelay": int64(o.MaxDelay),
	} {
		if v < 0 {
			return nil, fmt.Errorf("sender: Options.%s must not be negative", name)
		}
	}
	s := &Sender{
		keys:          o.Keys,
		subscriber:    subscriber,
		client:        o.Client,
		store:         o.Store,
		workers:       cmp.Or(o.Workers, DefaultWorkers),
		maxAttempts:   cmp.Or(o.MaxAttempts, DefaultMaxAttempts),
		baseDelay:     cmp.Or(o.BaseDelay, DefaultBaseDelay),
		maxDelay:      cmp.Or(o.MaxDelay, DefaultMaxDelay),
		log:           o.Log,
		checkEndpoint: o.CheckEndpoint,
		sleep:         sleepContext,
		now:           time.Now,
	}
	if s.client == nil {
		s.client = newHTTPClient(nil, max(defaultIdlePerHost, s.workers), max(DefaultMaxConnsPerHost, s.workers))
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.baseDelay > s.maxDelay {
		s.baseDelay = s.maxDelay
	}
	return s, nil
}

// Result is the outcome of one Send.
type Result struct {
	Outcome  push.Outcome
	Status   int // last HTTP status, 0 if none
	Attempts int
	Pruned   bool  // subscription deleted (404/410)
	Err      error // nil when Sent
}

// Send encrypts m for sub and posts it to sub's push service, retrying 429,
// 5xx and network errors up to MaxAttempts attempts in all. A subscription
// that is gone (404, 410) is deleted from the store. The result is recorded
// in the store's delivery log and returned; Send never panics on bad input.
func (s *Sender) Send(ctx context.Context, sub store.Subscription, m push.Message) Result {
	return s.finish(ctx, sub, s.send(ctx, sub, m))
}

func (s *Sender) send(ctx context.Context, sub store.Subscription, m push.Message) Result {
	if err := m.Validate(); err != nil {
		return Result{Outcome: push.Rejected, Err: err}
	}
	if err := validateSubscription(sub); err != nil {
		return Result{Outcome: push.Rejected, Err: err}
	}
	if s.checkEndpoint != nil {
		if err := s.checkEndpoint(sub.Endpoint); err != nil {
			return Result{Outcome: push.Rejected, Err: fmt.Errorf("endpoint not allowed: %w", err)}
		}
	}
	// webpush-go appends the padding to the slice it is given; with spare
	// capacity that would write into the caller's array, shared by every
	// concurrent send of a broadcast. A copy with cap == len cannot be.
	body := make([]byte, len(m.Payload))
	copy(body, m.Payload)

	wsub := &webpush.Subscription{
		Endpoint: sub.Endpoint,
		Keys:     webpush.Keys{Auth: sub.Auth, P256dh: sub.P256dh},
	}
	opts := &webpush.Options{
		HTTPClient:      s.client,
		Subscriber:      s.subscriber,
		Topic:           m.Topic,
		TTL:             m.TTL,
		Urgency:         webpush.Urgency(m.Urgency),
		VAPIDPublicKey:  s.keys.Public,
		VAPIDPrivateKey: s.keys.Private,
	}
	hash := push.Fingerprint(sub.Endpoint)

	var res Result
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			res.Outcome, res.Err = push.Failed, fmt.Errorf("gave up: %w", context.Cause(ctx))
			return res
		}
		res.Attempts = attempt
		resp, err := webpush.SendNotificationWithContext(ctx, body, wsub, opts)
		retryAfter := time.Duration(-1) // none given
		if err != nil {
			res.Status = 0
			var uerr *url.Error
			if !errors.As(err, &uerr) {
				// Failed before any request was made (encryption, JWT):
				// the same input would fail again.
				res.Outcome, res.Err = push.Rejected, fmt.Errorf("encrypting the message: %w", err)
				return res
			}
			if ctx.Err() != nil {
				res.Outcome, res.Err = push.Failed, fmt.Errorf("gave up: %w", context.Cause(ctx))
				return res
			}
			res.Err = &redactedError{msg: "request to push service: " + redact(uerr.Err.Error(), sub.Endpoint), err: uerr.Err}
		} else {
			res.Status = resp.StatusCode
			detail := drain(resp)
			switch code := resp.StatusCode; {
			case code >= 200 && code < 300:
				res.Outcome, res.Err = push.Sent, nil
				return res
			case code == http.StatusNotFound || code == http.StatusGone:
				res.Outcome, res.Err = push.Gone, statusError(resp, detail, sub.Endpoint)
				return res
			case code == http.StatusUnauthorized || code == http.StatusForbidden:
				res.Outcome, res.Err = push.Unauthorized, statusError(resp, detail, sub.Endpoint)
				return res
			case code == http.StatusTooManyRequests || code >= 500:
				// A 503 may say when to come back, as a 429 does.
				res.Err = statusError(resp, detail, sub.Endpoint)
				retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.now())
			default: // 413, 400 and the rest of 4xx, unfollowed 3xx
				res.Outcome, res.Err = push.Rejected, statusError(resp, detail, sub.Endpoint)
				return res
			}
		}
		// Only 429, 5xx and network errors get here: worth another try.
		if attempt >= s.maxAttempts {
			res.Outcome = push.Failed
			return res
		}
		wait := s.backoff(attempt)
		if retryAfter > s.maxDelay {
			// Retrying sooner than the push service asked would only earn
			// another 429; waiting longer would hold the caller too long.
			res.Outcome = push.Failed
			res.Err = fmt.Errorf("%w; Retry-After %v exceeds the %v the sender waits at most", res.Err, retryAfter, s.maxDelay)
			return res
		}
		if retryAfter >= 0 {
			wait = retryAfter
		}
		s.log.DebugContext(ctx, "push: retrying", "endpoint_hash", hash,
			"status", res.Status, "attempt", attempt, "wait", wait, "err", res.Err)
		if err := s.sleep(ctx, wait); err != nil {
			res.Outcome, res.Err = push.Failed, fmt.Errorf("gave up after %v: %w", res.Err, context.Cause(ctx))
			return res
		}
	}
}

// redactedError carries a network error whose text has had the endpoint
// removed, while errors.Is and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// backoff returns the wait before attempt+1: "full jitter", a uniformly
// random duration up to BaseDelay * 2^(attempt-1), capped at MaxDelay.
func (s *Sender) backoff(attempt int) time.Duration {
	ceiling := s.maxDelay
	if shift := attempt - 1; shift < 62 {
		if d := s.baseDelay << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

// finish prunes a gone subscription, logs the result and records it.
func (s *Sender) finish(ctx context.Context, sub store.Subscription, res Result) Result {
	// Bookkeeping outlives a cancelled request: a 410 already answered must
	// still prune, and the outcome must still reach the delivery log.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	hash := push.Fingerprint(sub.Endpoint)

	if res.Outcome == push.Gone {
		deleted, err := s.store.Delete(bg, sub.Endpoint)
		if err != nil {
			s.log.ErrorContext(ctx, "push: could not delete a gone subscription", "endpoint_hash", hash, "err", err)
			res.Err = errors.Join(res.Err, fmt.Errorf("deleting the subscription: %w", err))
		}
		res.Pruned = deleted
	}

	attrs := []any{"endpoint_hash", hash, "outcome", string(res.Outcome), "status", res.Status, "attempts", res.Attempts}
	if res.Err != nil {
		attrs = append(attrs, "err", res.Err.Error())
	}
	switch res.Outcome {
	case push.Sent:
		s.log.DebugContext(ctx, "push: sent", attrs...)
	case push.Gone:
		s.log.InfoContext(ctx, "push: subscription gone", append(attrs, "pruned", res.Pruned)...)
	case push.Unauthorized:
		host := endpointHost(sub.Endpoint)
		if s.vapidRefusals.first(host, s.now()) {
			s.log.ErrorContext(ctx, "push: this push service refused our VAPID credentials; "+
				"check the VAPID key pair and subject (no subscription was deleted; said once per host every "+
				vapidRefusalEvery.String()+")", append(attrs, "host", host)...)
		} else {
			s.log.DebugContext(ctx, "push: VAPID credentials refused again", append(attrs, "host", host)...)
		}
	default:
		s.log.WarnContext(ctx, "push: not delivered", attrs...)
	}

	d := store.Delivery{
		EndpointHash: hash,
		Outcome:      string(res.Outcome),
		Status:       res.Status,
		Attempts:     res.Attempts,
	}
	if res.Err != nil {
		d.Error = res.Err.Error()
	}
	if err := s.store.RecordDelivery(bg, d); err != nil {
		s.log.WarnContext(ctx, "push: could not record the delivery", "endpoint_hash", hash, "err", err)
	}
	return res
}

// vapidRefusalEvery is how often a push service refusing the VAPID
// credentials is logged as an error, per host.
const vapidRefusalEvery = 10 * time.Minute

// refusalLog remembers when each host was last reported.
type refusalLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// first reports whether host was not reported in the last
// vapidRefusalEvery, and records now as its report when so.
func (l *refusalLog) first(host string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[host]; ok && now.Sub(t) < vapidRefusalEvery {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if len(l.last) >= 1024 {
		// Hosts are few in practice; forget them all rather than grow.
		clear(l.last)
	}
	l.last[host] = now
	return true
}

// endpointHost is the host of an endpoint, safe to log: the secret part of
// an endpoint is its path.
func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return ""
}
