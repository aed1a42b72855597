// Package sender delivers push messages to browsers' push services with
// webpush-go, and does what that library leaves to its caller: validating
// messages and subscriptions before encrypting, one shared HTTP client with
// timeouts and connection reuse, draining every response, reading the push
// service's status (RFC 8030 and RFC 8292), retrying only what may succeed
// later, and pruning subscriptions that are gone.
//
// Deliver sends one message to one subscription and returns the outcome; the
// delivery engine (package delivery) calls it for every subscription of a
// broadcast and records the outcomes itself, in batches. Send is Deliver
// plus an entry in the store's delivery log, for a single push such as a
// test send.
//
// The sender is polite to each push service (host and port) across every
// caller of one Sender: at most Options.MaxPerHost requests are in flight to
// a host at once, and a 429 or 503 with Retry-After pauses every send to
// that host, not only the retry of the subscription that got it. A process
// should therefore share one Sender.
//
// A push endpoint is a secret capability URL; the sender logs and records
// push.Fingerprint of it and its host, never the endpoint, the keys or the
// VAPID token.
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
	Keys    vapid.Keys
	Subject string       // as configured ("mailto:a@b" or "https://..."); sender calls vapid.Subject
	Client  *http.Client // nil: a client on NewTransport(MaxPerHost)
	Store   Store        // required: prunes gone subscriptions; Send records in its delivery log
	// MaxPerHost bounds the requests in flight to one push service (URL
	// host and port) across every caller of the Sender; the others wait
	// for a turn. Default DefaultMaxConnsPerHost. A Client's transport
	// should allow as many connections (NewTransport(MaxPerHost)).
	MaxPerHost  int
	MaxAttempts int           // default 4
	BaseDelay   time.Duration // default 500ms (exponential, full jitter)
	MaxDelay    time.Duration // default 30s; the longest Retry-After waited for, and the longest pause of a host
	Log         *slog.Logger  // nil: discard
	// CheckEndpoint, when set, is asked before every send whether the
	// subscription's endpoint is still one the server may post to (the
	// push service allowlist); a refused endpoint is not sent to. Rows saved
	// under another configuration are checked again here, so the allowlist
	// holds at send time and not only when a subscription is saved.
	CheckEndpoint func(endpoint string) error
	// Trace, when set, is told every step of each push to a subscription
	// someone follows (the Flow panel's trace); nil traces nothing.
	Trace Tracer
	// Breaks are the break switches that live in the sender (the wrong
	// VAPID key); nil, everywhere but local mode, has none.
	Breaks *Breaks
}

// Store is what the sender needs of the kit's store (store.Store has it
// all): Delete prunes a subscription its push service says is gone, and
// RecordDelivery takes the outcome of a Send.
type Store interface {
	Delete(ctx context.Context, endpoint string) (deleted bool, err error)
	RecordDelivery(ctx context.Context, d store.Delivery) error
}

// Defaults for Options.
const (
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
)

// Sender sends push messages. It is safe for concurrent use.
type Sender struct {
	keys       vapid.Keys
	subscriber string
	// appleRefusal is why Apple's push service would refuse the subject
	// (vapid.CheckApple), nil when it would not: pushes to Apple are then
	// not sent at all.
	appleRefusal  error
	client        *http.Client
	store         Store
	maxAttempts   int
	baseDelay     time.Duration
	maxDelay      time.Duration
	log           *slog.Logger
	checkEndpoint func(string) error
	tracer        Tracer
	breaks        *Breaks
	// hosts holds each push service's turns and pause.
	hosts *hostLimits
	// vapidRefusals rate-limits the log of push services refusing the
	// VAPID credentials: any caller able to save a subscription can point
	// one at an endpoint answering 401.
	vapidRefusals refusalLog

	// sleep waits d or until ctx is done; tests replace it, with now, to
	// spend waits on a clock of their own.
	sleep func(ctx context.Context, d time.Duration) error
	// now is the clock of Retry-After dates and host pauses.
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
		"MaxPerHost": int64(o.MaxPerHost), "MaxAttempts": int64(o.MaxAttempts),
		"BaseDelay": int64(o.BaseDelay), "MaxDelay": int64(o.MaxDelay),
	} {
		if v < 0 {
			return nil, fmt.Errorf("sender: Options.%s must not be negative", name)
		}
	}
	perHost := cmp.Or(o.MaxPerHost, DefaultMaxConnsPerHost)
	s := &Sender{
		keys:          o.Keys,
		subscriber:    subscriber,
		appleRefusal:  vapid.CheckApple(o.Subject),
		client:        o.Client,
		store:         o.Store,
		maxAttempts:   cmp.Or(o.MaxAttempts, DefaultMaxAttempts),
		baseDelay:     cmp.Or(o.BaseDelay, DefaultBaseDelay),
		maxDelay:      cmp.Or(o.MaxDelay, DefaultMaxDelay),
		log:           o.Log,
		checkEndpoint: o.CheckEndpoint,
		tracer:        o.Trace,
		breaks:        o.Breaks,
		hosts:         newHostLimits(perHost),
		sleep:         sleepContext,
		now:           time.Now,
	}
	if s.client == nil {
		s.client = newHTTPClient(nil, perHost)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.baseDelay > s.maxDelay {
		s.baseDelay = s.maxDelay
	}
	return s, nil
}

// Result is the outcome of one Deliver or Send.
type Result struct {
	Outcome  push.Outcome
	Status   int   // last HTTP status, 0 if none
	Attempts int   // requests made
	Pruned   bool  // subscription deleted (404/410)
	Err      error // nil when Sent
	// Interrupted is set on a Failed result when the context ended before
	// the push service gave a final answer (shutdown, a job's timeout):
	// the failure says nothing about the subscription, and a caller that
	// can try again later should not record it as its outcome.
	Interrupted bool
}

// Delivery is r as an entry of the delivery log for sub, without the
// BroadcastID, which the caller sets for a broadcast's push.
func (r Result) Delivery(sub store.Subscription) store.Delivery {
	d := store.Delivery{
		SubscriptionID: sub.ID,
		EndpointHash:   push.Fingerprint(sub.Endpoint),
		Host:           store.EndpointHost(sub.Endpoint),
		Outcome:        string(r.Outcome),
		Status:         r.Status,
		Attempts:       r.Attempts,
	}
	if r.Err != nil {
		d.Error = r.Err.Error()
	}
	return d
}

// Deliver encrypts m for sub and posts it to sub's push service, retrying
// 429, 5xx and network errors up to MaxAttempts attempts in all, and
// waiting for its host's turn and pause before each. A subscription that is
// gone (404, 410) is deleted from the store. The result is logged and
// returned, not recorded (see Send and Result.Delivery); Deliver never
// panics on bad input.
func (s *Sender) Deliver(ctx context.Context, sub store.Subscription, m push.Message) Result {
	tr := s.traceOf(ctx, sub.Endpoint)
	// The wrong-key switch makes a refusal on purpose: finish must know it
	// whether or not anyone follows the push.
	wrongKey := s.breaks.takeWrongKey(sub.Endpoint)
	if wrongKey && tr != nil {
		tr.wrongKey = true
	}
	res := s.finish(ctx, sub, s.deliver(ctx, sub, m, tr, wrongKey), tr, wrongKey)
	tr.outcome(res)
	return res
}

// Breaks returns the sender's break switches: nil unless Options.Breaks
// gave some (local mode).
func (s *Sender) Breaks() *Breaks { return s.breaks }

// Send is Deliver, then the result is recorded in the store's delivery log,
// interrupted or not: it is meant for a single push nobody will retry.
func (s *Sender) Send(ctx context.Context, sub store.Subscription, m push.Message) Result {
	res := s.Deliver(ctx, sub, m)
	// The outcome reaches the log even when the caller has gone.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.RecordDelivery(bg, res.Delivery(sub)); err != nil {
		s.log.WarnContext(ctx, "push: could not record the delivery", "endpoint_hash", push.Fingerprint(sub.Endpoint), "err", err)
	}
	return res
}

// deliver is Deliver before its result is finished; wrongKey signs the push
// with a throwaway key pair (Breaks.WrongKey).
func (s *Sender) deliver(ctx context.Context, sub store.Subscription, m push.Message, tr *pushTrace, wrongKey bool) Result {
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
	apple := isApple(sub.Endpoint)
	if apple && s.appleRefusal != nil {
		// Apple would answer 403 BadJwtToken, a reason that says nothing
		// of the subject; the kit knows the cause and says it instead.
		return Result{Outcome: push.Unauthorized, Err: s.appleRefusal}
	}
	// webpush-go appends the padding to the slice it is given; with spare
	// capacity that would write into the caller's array, shared by every
	// concurrent send of a broadcast. A copy with cap == len cannot be.
	body := make([]byte, len(m.Payload))
	copy(body, m.Payload)

	keys := s.keys
	if wrongKey {
		throwaway, err := vapid.Generate()
		if err != nil {
			return Result{Outcome: push.Rejected, Err: fmt.Errorf("making a throwaway VAPID key pair: %w", err)}
		}
		keys = throwaway
	}
	tr.payload(m)

	wsub := &webpush.Subscription{
		Endpoint: sub.Endpoint,
		Keys:     webpush.Keys{Auth: sub.Auth, P256dh: sub.P256dh},
	}
	opts := &webpush.Options{
		HTTPClient:      tr.client(s.client),
		Subscriber:      s.subscriber,
		Topic:           m.Topic,
		TTL:             m.TTL,
		Urgency:         webpush.Urgency(m.Urgency),
		VAPIDPublicKey:  keys.Public,
		VAPIDPrivateKey: keys.Private,
	}
	host := s.hosts.join(store.EndpointHost(sub.Endpoint))
	defer func() { s.hosts.leave(host, s.now()) }()

	var res Result
	for attempt := 1; ; attempt++ {
		// Slow motion's pause comes before the turn is taken: it must not
		// hold one of the host's request slots.
		if pace := tr.paced(); pace > 0 {
			if err := s.sleep(ctx, pace); err != nil {
				return interrupted(ctx, res)
			}
		}
		if err := s.waitTurn(ctx, host); err != nil {
			return interrupted(ctx, res)
		}
		res.Attempts = attempt
		if tr != nil {
			tr.attempt = attempt
		}
		resp, err := webpush.SendNotificationWithContext(ctx, body, wsub, opts)
		var detail string
		retryAfter, paused := time.Duration(-1), false
		if err == nil {
			detail = drain(resp)
			tr.response(resp)
			// Before the turn is given back, so that no send waiting
			// for it slips in ahead of the pause.
			retryAfter, paused = s.readRetryAfter(resp, host)
		}
		host.done()

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
				return interrupted(ctx, res)
			}
			tr.noAnswer()
			res.Err = &redactedError{msg: "request to push service: " + redact(uerr.Err.Error(), sub.Endpoint), err: uerr.Err}
		} else {
			res.Status = resp.StatusCode
			switch code := resp.StatusCode; {
			case code >= 200 && code < 300:
				res.Outcome, res.Err = push.Sent, nil
				return res
			case code == http.StatusNotFound || code == http.StatusGone:
				res.Outcome, res.Err = push.Gone, s.answerError(resp, detail, sub.Endpoint, apple)
				return res
			case code == http.StatusUnauthorized || code == http.StatusForbidden:
				res.Outcome, res.Err = push.Unauthorized, s.answerError(resp, detail, sub.Endpoint, apple)
				return res
			case code == http.StatusTooManyRequests || code >= 500:
				res.Err = s.answerError(resp, detail, sub.Endpoint, apple)
			default: // 413, 400 and the rest of 4xx, unfollowed 3xx
				res.Outcome, res.Err = push.Rejected, s.answerError(resp, detail, sub.Endpoint, apple)
				return res
			}
		}
		// Only 429, 5xx and network errors get here: worth another try.
		if attempt >= s.maxAttempts {
			res.Outcome = push.Failed
			return res
		}
		if retryAfter > s.maxDelay {
			// Retrying sooner than the push service asked would only earn
			// another 429; waiting longer would hold the caller too long.
			res.Outcome = push.Failed
			res.Err = fmt.Errorf("%w; Retry-After %v exceeds the %v the sender waits at most", res.Err, retryAfter, s.maxDelay)
			return res
		}
		wait := s.backoff(attempt)
		if retryAfter >= 0 {
			wait = retryAfter
		}
		s.log.DebugContext(ctx, "push: retrying", "endpoint_hash", push.Fingerprint(sub.Endpoint),
			"status", res.Status, "attempt", attempt, "wait", wait, "err", res.Err)
		tr.retry(res.Status, wait, retryAfter >= 0, attempt+1)
		if paused {
			continue // waitTurn waits out the host's pause
		}
		if err := s.sleep(ctx, wait); err != nil {
			return interrupted(ctx, res)
		}
	}
}

// readRetryAfter returns how long a 429 or 5xx answer asks to wait before
// the next request, -1 when it does not say. A 429 or 503 saying it is the
// push service asking for a break, not this subscription: h is paused for
// the time asked, MaxDelay at most, and paused is true.
func (s *Sender) readRetryAfter(resp *http.Response, h *hostState) (wait time.Duration, paused bool) {
	code := resp.StatusCode
	if code != http.StatusTooManyRequests && code < 500 {
		return -1, false
	}
	// A 503 may say when to come back, as a 429 does.
	wait = parseRetryAfter(resp.Header.Get("Retry-After"), s.now())
	if wait < 0 || (code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable) {
		return wait, false
	}
	h.pause(s.now().Add(min(wait, s.maxDelay)))
	return wait, true
}

// interrupted is res failed because ctx ended before a final answer.
func interrupted(ctx context.Context, res Result) Result {
	res.Outcome, res.Interrupted = push.Failed, true
	if res.Err == nil {
		res.Err = fmt.Errorf("gave up: %w", context.Cause(ctx))
	} else {
		res.Err = fmt.Errorf("gave up after %v: %w", res.Err, context.Cause(ctx))
	}
	return res
}

// waitTurn waits until h is not paused and has a request slot free, and
// takes the slot; the caller gives it back with h.done. It fails only when
// ctx ends.
func (s *Sender) waitTurn(ctx context.Context, h *hostState) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d := h.pausedFor(s.now()); d > 0 {
			if err := s.sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if ctx.Err() == nil && h.pausedFor(s.now()) <= 0 {
			return nil
		}
		// The context ended, or the host was paused while this send
		// waited for its slot: give the slot back and look again.
		h.done()
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

// finish prunes a gone subscription and logs the result, and traces both.
// wrongKey says the push was signed with a throwaway key on purpose.
func (s *Sender) finish(ctx context.Context, sub store.Subscription, res Result, tr *pushTrace, wrongKey bool) Result {
	if res.Outcome == push.Sent && !s.log.Enabled(ctx, slog.LevelDebug) {
		return res // the common case, thousands a second in a broadcast
	}
	hash := push.Fingerprint(sub.Endpoint)
	if res.Outcome == push.Gone {
		// A 410 already answered must prune even if the caller has gone.
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		deleted, err := s.store.Delete(bg, sub.Endpoint)
		cancel()
		if err != nil {
			s.log.ErrorContext(ctx, "push: could not delete a gone subscription", "endpoint_hash", hash, "err", err)
			res.Err = errors.Join(res.Err, fmt.Errorf("deleting the subscription: %w", err))
		}
		res.Pruned = deleted
		if err == nil {
			tr.prune(res.Status, deleted)
		}
	}
	var subjectRefused *vapid.AppleSubjectError
	if res.Outcome == push.Unauthorized {
		errors.As(res.Err, &subjectRefused)
		tr.configFault(res.Status, subjectRefused)
	}

	attrs := []any{"endpoint_hash", hash, "outcome", string(res.Outcome), "status", res.Status, "attempts", res.Attempts}
	if res.Err != nil {
		attrs = append(attrs, "err", res.Err.Error())
	}
	switch {
	case res.Outcome == push.Sent:
		s.log.DebugContext(ctx, "push: sent", attrs...)
	case res.Interrupted:
		// Shutdown or a job's timeout: says nothing about the push
		// service, and may concern many sends at once.
		s.log.DebugContext(ctx, "push: interrupted before a final answer", attrs...)
	case res.Outcome == push.Gone:
		s.log.InfoContext(ctx, "push: subscription gone", append(attrs, "pruned", res.Pruned)...)
	case subjectRefused != nil:
		// Not sent, so nothing was refused yet, but it is the same fault
		// as a refusal and as many sends may meet it: said as rarely.
		host := store.EndpointHost(sub.Endpoint)
		if s.vapidRefusals.first(host, s.now()) {
			s.log.ErrorContext(ctx, "push: not sent to Apple's push service, which would refuse the VAPID subject; "+
				"change VAPID_SUBJECT (no subscription was deleted; said once per host every "+
				vapidRefusalEvery.String()+")", append(attrs, "host", host)...)
		} else {
			s.log.DebugContext(ctx, "push: not sent to Apple's push service, VAPID subject refused again", append(attrs, "host", host)...)
		}
	case res.Outcome == push.Unauthorized && wrongKey:
		// Refused as it should be: saying nothing of the server's own
		// credentials, it must not use up the host's error report.
		s.log.InfoContext(ctx, "push: VAPID credentials refused, as the wrong-key switch meant them to be", attrs...)
	case res.Outcome == push.Unauthorized:
		host := store.EndpointHost(sub.Endpoint)
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
