package sender

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/api"
	"pushstart/push"
	"pushstart/server/vapid"
)

// Tracer follows chosen subscriptions' pushes step by step, for the home
// page's Flow panel: the sender asks it once per push whether anyone follows
// the push's subscription and, if so, hands it every step of that push.
type Tracer interface {
	// Watching reports whether someone follows endpoint's pushes. It is
	// asked for every push, so it must be cheap when nobody follows any.
	Watching(endpoint string) bool
	// Publish hands one step of a push to endpoint's followers; the
	// tracer sets its Seq and At. It must not block.
	Publish(endpoint string, ev api.TraceEvent)
}

type paceKey struct{}

// WithPace returns a context whose pushes pause d before each attempt,
// after the payload step (or the retry step) is traced and before the
// attempt waits for its host's turn: the Flow panel's slow motion, so that
// a class can follow the steps as they happen. The pause holds none of the
// host's request slots.
func WithPace(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, paceKey{}, d)
}

func paceOf(ctx context.Context) time.Duration {
	d, _ := ctx.Value(paceKey{}).(time.Duration)
	return d
}

// Breaks are the break switches that live in the sender, for the Flow
// panel's "Break it" card in local mode. A Sender given none (Options.Breaks
// nil, everywhere but local mode) has none.
type Breaks struct {
	armed    atomic.Int32 // len(wrongKey): the fast path of every push
	mu       sync.Mutex
	wrongKey map[string]struct{}
}

// maxArmed bounds the switches armed at once; each needs a subscription's
// auth secret and is rate-limited, so reaching it takes a flood.
const maxArmed = 1024

// NewBreaks returns a set of break switches, none armed.
func NewBreaks() *Breaks { return &Breaks{wrongKey: map[string]struct{}{}} }

// WrongKey arms the wrong-key switch for endpoint (as stored): the next
// push to it is signed with a throwaway VAPID key pair, made for that push
// alone, so that the push service's check refuses it with 403.
func (b *Breaks) WrongKey(endpoint string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.wrongKey) >= maxArmed {
		// Forgetting the switches of a flood costs a demo its break,
		// never the memory.
		clear(b.wrongKey)
	}
	b.wrongKey[endpoint] = struct{}{}
	b.armed.Store(int32(len(b.wrongKey)))
}

// takeWrongKey disarms endpoint's wrong-key switch, reporting whether it
// was armed.
func (b *Breaks) takeWrongKey(endpoint string) bool {
	if b == nil || b.armed.Load() == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.wrongKey[endpoint]
	delete(b.wrongKey, endpoint)
	b.armed.Store(int32(len(b.wrongKey)))
	return ok
}

// pushTrace is one push being followed or paced: it publishes the push's
// steps, all under one short id, when its subscription is followed, and
// holds the pause of slow motion.
type pushTrace struct {
	tracer    Tracer // nil: the push is paced, not followed
	endpoint  string
	id        string
	pace      time.Duration
	plaintext int
	wrongKey  bool // signed with a throwaway key (Breaks.WrongKey)
	attempt   int
}

// traceOf returns the trace of a push to endpoint sent with ctx: nil when
// nobody follows the subscription and the push is not paced, the common
// case, which costs one call of Tracer.Watching.
func (s *Sender) traceOf(ctx context.Context, endpoint string) *pushTrace {
	followed := s.tracer != nil && s.tracer.Watching(endpoint)
	pace := paceOf(ctx)
	if !followed && pace <= 0 {
		return nil
	}
	t := &pushTrace{endpoint: endpoint, pace: pace}
	if followed {
		t.tracer = s.tracer
		t.id = newPushID()
	}
	return t
}

// newPushID returns a short random id for one push's steps.
func newPushID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// followed reports whether t's steps go anywhere; a nil t is a push nobody
// follows.
func (t *pushTrace) followed() bool { return t != nil && t.tracer != nil }

func (t *pushTrace) publish(ev api.TraceEvent) {
	if !t.followed() {
		return
	}
	ev.Push = t.id
	if ev.Actor == "" {
		ev.Actor = api.ActorServer
	}
	t.tracer.Publish(t.endpoint, ev)
}

// paced returns slow motion's pause for t's push, 0 for none.
func (t *pushTrace) paced() time.Duration {
	if t == nil {
		return 0
	}
	return t.pace
}

// client returns the HTTP client of one attempt: c itself for a push nobody
// follows, else c behind a tap that traces the request webpush-go built
// (the bytes that go on the wire).
func (t *pushTrace) client(c *http.Client) webpush.HTTPClient {
	if !t.followed() {
		return c
	}
	return tapClient{next: c, trace: t}
}

// tapClient is the HTTP client of a followed push.
type tapClient struct {
	next  *http.Client
	trace *pushTrace
}

func (c tapClient) Do(req *http.Request) (*http.Response, error) {
	t := c.trace
	t.publish(t.encryptStep(req))
	t.publish(t.vapidStep(req))
	t.publish(t.requestStep(req))
	return c.next.Do(req)
}

// payload traces the message as it is before encryption.
func (t *pushTrace) payload(m push.Message) {
	if t == nil {
		return
	}
	t.plaintext = len(m.Payload)
	if !t.followed() {
		return
	}
	var pretty bytes.Buffer
	detail := string(m.Payload)
	if json.Indent(&pretty, m.Payload, "", "  ") == nil {
		detail = pretty.String()
	}
	t.publish(api.TraceEvent{
		Step:  api.StepPayload,
		Title: fmt.Sprintf("The payload: %d bytes of JSON, as the service worker will read it once decrypted", len(m.Payload)),
		Fields: []api.TraceField{
			{Name: "bytes", Value: strconv.Itoa(len(m.Payload))},
			{Name: "TTL", Value: strconv.Itoa(m.TTL)},
			{Name: "Urgency", Value: orNone(m.Urgency)},
			{Name: "Topic", Value: orNone(m.Topic)},
		},
		Detail: detail,
		OK:     true,
	})
}

// Sizes of RFC 8188's aes128gcm content coding.
const (
	saltLen = 16
	tagLen  = 16 // AES-GCM's authentication tag, at the end of each record
)

// encryptStep reads RFC 8291's encryption off the request body that goes on
// the wire: the aes128gcm header (salt, record size, key id: the server's
// one-time ECDH public key) and the one record's lengths.
func (t *pushTrace) encryptStep(req *http.Request) api.TraceEvent {
	ev := api.TraceEvent{Step: api.StepEncrypt}
	var body []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			body, _ = io.ReadAll(io.LimitReader(rc, 64<<10))
			rc.Close()
		}
	}
	if len(body) < saltLen+5 || len(body) < saltLen+5+int(body[saltLen+4]) {
		ev.Title = "The body is not an aes128gcm message the trace can read"
		return ev
	}
	salt := body[:saltLen]
	rs := binary.BigEndian.Uint32(body[saltLen : saltLen+4])
	idlen := int(body[saltLen+4])
	keyid := body[saltLen+5 : saltLen+5+idlen]
	ciphertext := len(body) - (saltLen + 5 + idlen)
	padding := ciphertext - tagLen - 1 - t.plaintext
	b64 := base64.RawURLEncoding.EncodeToString
	ev.OK = true
	ev.Title = fmt.Sprintf("Encrypted for this browser alone (RFC 8291, aes128gcm): %d bytes of plaintext became one record of %d", t.plaintext, ciphertext)
	ev.Fields = []api.TraceField{
		{Name: "salt", Value: b64(salt)},
		{Name: "rs", Value: strconv.FormatUint(uint64(rs), 10)},
		{Name: "idlen", Value: strconv.Itoa(idlen)},
		{Name: "keyid", Value: b64(keyid)},
		{Name: "plaintext length", Value: strconv.Itoa(t.plaintext)},
		{Name: "ciphertext length", Value: strconv.Itoa(ciphertext)},
		{Name: "padding", Value: strconv.Itoa(padding)},
		{Name: "body length", Value: strconv.Itoa(len(body))},
	}
	ev.Detail = fmt.Sprintf(`The body, as sent (RFC 8188 header, then one record):
  salt     %2d bytes  %s  (random, new for every push)
  rs        4 bytes  %d  (record size)
  idlen     1 byte   %d
  keyid    %2d bytes  %s
                     (the server's one-time ECDH public key: with the browser's p256dh
                      and auth secret it derives the key and nonce; never reused)
  record %4d bytes  AES-128-GCM ciphertext
The record is %d bytes of plaintext + 1 delimiter byte (0x02, last record)
+ %d bytes of zero padding + %d bytes of authentication tag.`,
		len(salt), b64(salt), rs, idlen, idlen, b64(keyid), ciphertext,
		t.plaintext, padding, tagLen)
	return ev
}

// vapidStep decodes the request's VAPID Authorization (RFC 8292): the JWT's
// header and claims, its signature shortened; the key k. The private key it
// was signed with is nowhere in the request.
func (t *pushTrace) vapidStep(req *http.Request) api.TraceEvent {
	ev := api.TraceEvent{Step: api.StepVAPID}
	jwt, k := parseVAPID(req.Header.Get("Authorization"))
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		ev.Title = "The Authorization header is not a VAPID JWT the trace can read"
		return ev
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	claimsJSON, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(claimsJSON, &claims)
	exp := time.Unix(claims.Exp, 0).UTC()
	ahead := time.Until(exp).Round(time.Second)
	sig := shorten(parts[2], 8)

	ev.OK = true
	ev.Title = "Signed with VAPID (RFC 8292): a JWT for the push service's origin, signed with the server's private key"
	if t.wrongKey {
		ev.Title = "Signed with VAPID, but with a throwaway key pair (the wrong-key switch): the push service should refuse it"
	}
	ev.Fields = []api.TraceField{
		{Name: "aud", Value: claims.Aud},
		{Name: "exp", Value: fmt.Sprintf("%s (in %s)", exp.Format(time.RFC3339), ahead)},
		{Name: "sub", Value: claims.Sub},
		{Name: "signature", Value: sig},
		{Name: "k", Value: k},
	}
	if t.wrongKey {
		ev.Fields = append(ev.Fields, api.TraceField{Name: "key pair", Value: "throwaway, made for this push (the wrong-key switch)"})
	}
	ev.Detail = "JWT header:\n" + indent(header) + "\nJWT claims:\n" + indent(claimsJSON) +
		"\nsignature: " + sig + " (ES256 over header.claims; the private key never leaves the server)" +
		"\nk: " + k + " (the public key of the pair that signed the JWT; the push service checks that it is the\n" +
		"   applicationServerKey the subscription was made with)"
	return ev
}

// parseVAPID splits "vapid t=<JWT>, k=<key>" into its parameters.
func parseVAPID(h string) (jwt, k string) {
	scheme, params, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "vapid") {
		return "", ""
	}
	for p := range strings.SplitSeq(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch name {
		case "t":
			jwt = value
		case "k":
			k = value
		}
	}
	return jwt, k
}

// requestStep describes the request to the push service without its
// secrets: the endpoint's host and a shortened path, the headers, the
// Authorization's scheme alone.
func (t *pushTrace) requestStep(req *http.Request) api.TraceEvent {
	h := req.Header
	path := shortPath(req.URL)
	scheme, _, _ := strings.Cut(h.Get("Authorization"), " ")
	length := strconv.FormatInt(req.ContentLength, 10)
	fields := []api.TraceField{
		{Name: "attempt", Value: strconv.Itoa(t.attempt)},
		{Name: "method", Value: req.Method},
		{Name: "host", Value: req.URL.Host},
		{Name: "path", Value: path},
		{Name: "TTL", Value: h.Get("TTL")},
		{Name: "Urgency", Value: orNone(h.Get("Urgency"))},
		{Name: "Topic", Value: orNone(h.Get("Topic"))},
		{Name: "Content-Encoding", Value: h.Get("Content-Encoding")},
		{Name: "Content-Length", Value: length},
		{Name: "Authorization", Value: scheme},
	}
	var d strings.Builder
	fmt.Fprintf(&d, "%s %s HTTP/1.1\nHost: %s\n", req.Method, path, req.URL.Host)
	for _, name := range []string{"TTL", "Urgency", "Topic", "Content-Encoding", "Content-Type"} {
		if v := h.Get(name); v != "" {
			fmt.Fprintf(&d, "%s: %s\n", name, v)
		}
	}
	fmt.Fprintf(&d, "Content-Length: %s\nAuthorization: %s t=<the JWT above>, k=<the public key>\n", length, scheme)
	title := "POST to the push service at " + req.URL.Host
	if t.attempt > 1 {
		title = fmt.Sprintf("POST to the push service at %s again (attempt %d)", req.URL.Host, t.attempt)
	}
	return api.TraceEvent{Step: api.StepRequest, To: api.ActorPushService, Title: title, Fields: fields, Detail: d.String(), OK: true}
}

// response traces the push service's answer. Its body is not relayed, as it
// is not to the anonymous caller of a test send (see the package comment):
// the status says what the sender does next.
func (t *pushTrace) response(resp *http.Response) {
	if !t.followed() {
		return
	}
	code := resp.StatusCode
	fields := []api.TraceField{{Name: "status", Value: strconv.Itoa(code) + " " + http.StatusText(code)}}
	if loc := resp.Header.Get("Location"); loc != "" {
		fields = append(fields, api.TraceField{Name: "Location", Value: shortURL(loc)})
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		fields = append(fields, api.TraceField{Name: "Retry-After", Value: ra})
	}
	var title string
	switch {
	case code >= 200 && code < 300:
		title = fmt.Sprintf("The push service accepted the message (%d): it is now its job to hand it to the browser", code)
	case code == http.StatusNotFound || code == http.StatusGone:
		title = fmt.Sprintf("The push service says the subscription is gone (%d)", code)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		title = fmt.Sprintf("The push service refused the VAPID credentials (%d)", code)
	case code == http.StatusTooManyRequests:
		title = "The push service asks the server to slow down (429)"
	case code >= 500:
		title = fmt.Sprintf("The push service failed (%d): worth another try", code)
	default:
		title = fmt.Sprintf("The push service refused the message (%d)", code)
	}
	t.publish(api.TraceEvent{Actor: api.ActorPushService, To: api.ActorServer, Step: api.StepResponse,
		Title: title, Fields: fields, OK: code >= 200 && code < 300})
}

// noAnswer traces an attempt that got no answer. The network error's text
// is not relayed: it would tell the follower about the server's network.
func (t *pushTrace) noAnswer() {
	t.publish(api.TraceEvent{Actor: api.ActorPushService, To: api.ActorServer, Step: api.StepResponse,
		Title: "No answer from the push service (a network error or a timeout)", OK: false,
		Fields: []api.TraceField{{Name: "status", Value: "none"}}})
}

// retry traces the wait before another attempt.
func (t *pushTrace) retry(status int, wait time.Duration, asked bool, next int) {
	if !t.followed() {
		return
	}
	why := "no answer"
	if status != 0 {
		why = strconv.Itoa(status) + " " + http.StatusText(status)
	}
	how := "exponential backoff with jitter"
	if asked {
		how = "as the push service's Retry-After asked"
	}
	t.publish(api.TraceEvent{Step: api.StepRetry, OK: true,
		Title: fmt.Sprintf("Waiting %s (%s), then attempt %d", wait.Round(time.Millisecond), how, next),
		Fields: []api.TraceField{
			{Name: "why", Value: why},
			{Name: "wait", Value: wait.Round(time.Millisecond).String()},
			{Name: "next attempt", Value: strconv.Itoa(next)},
		}})
}

// prune traces the deletion of a gone subscription.
func (t *pushTrace) prune(status int, deleted bool) {
	title := "The subscription is gone: the server deleted it; the page can subscribe again"
	if !deleted {
		title = "The subscription is gone; it was already deleted on the server"
	}
	t.publish(api.TraceEvent{Step: api.StepPrune, Title: title, OK: false,
		Fields: []api.TraceField{
			{Name: "status", Value: strconv.Itoa(status)},
			{Name: "deleted", Value: strconv.FormatBool(deleted)},
		}})
}

// configFault traces a refusal of the server's VAPID credentials, or,
// when subject is set, a push not sent to Apple's push service because it
// would refuse the VAPID subject.
func (t *pushTrace) configFault(status int, subject *vapid.AppleSubjectError) {
	if !t.followed() {
		return
	}
	if subject != nil {
		// Advice, not the error: the trace reaches the page, which is not
		// told the server's configuration.
		t.publish(api.TraceEvent{Step: api.StepConfigFault, OK: false,
			Title:  "Configuration fault: not sent, Apple's push service would refuse the server's VAPID subject; nothing deleted",
			Fields: []api.TraceField{{Name: "status", Value: "0"}, {Name: "deleted", Value: "false"}},
			Detail: subject.Advice() + "."})
		return
	}
	detail := "A 401 or 403 is about the server's VAPID credentials, not this subscription: nothing is deleted.\n" +
		"Check that VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are one pair, that the subscription was made with this\n" +
		"public key (the page subscribes again when the key changes), and that VAPID_SUBJECT is a mailto: or\n" +
		"https: URI the push service accepts."
	if t.wrongKey {
		detail = "This push was signed with a throwaway key pair on purpose (the wrong-key switch), so the push\n" +
			"service's check failed as it should. " + detail
	}
	t.publish(api.TraceEvent{Step: api.StepConfigFault, OK: false,
		Title:  fmt.Sprintf("Configuration fault: the push service refused the server's VAPID credentials (%d); nothing deleted", status),
		Fields: []api.TraceField{{Name: "status", Value: strconv.Itoa(status)}, {Name: "deleted", Value: "false"}},
		Detail: detail})
}

// outcome traces the push's final result.
func (t *pushTrace) outcome(res Result) {
	if !t.followed() {
		return
	}
	var title string
	switch res.Outcome {
	case push.Sent:
		title = "Sent: the push service has the message"
	case push.Gone:
		title = "Gone: the subscription no longer exists"
	case push.Unauthorized:
		title = "Unauthorized: the VAPID credentials were refused"
		var subject *vapid.AppleSubjectError
		if errors.As(res.Err, &subject) {
			title = "Unauthorized: not sent, the VAPID subject would be refused"
		}
	case push.Rejected:
		title = "Rejected: the message or the subscription cannot be sent as it is"
	default:
		title = "Failed: no attempt was accepted"
		if res.Interrupted {
			title = "Failed: the send was interrupted before the push service answered"
		}
	}
	t.publish(api.TraceEvent{Step: api.StepOutcome, Title: title, OK: res.Outcome == push.Sent,
		Fields: []api.TraceField{
			{Name: "outcome", Value: string(res.Outcome)},
			{Name: "status", Value: strconv.Itoa(res.Status)},
			{Name: "attempts", Value: strconv.Itoa(res.Attempts)},
			{Name: "pruned", Value: strconv.FormatBool(res.Pruned)},
		}})
}

// shortURL is a URL with its path shortened (shortPath), for a header
// naming a capability, such as a push reply's Location.
func shortURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return shorten(raw, 4)
	}
	if u.Host == "" {
		return shortPath(u)
	}
	return u.Scheme + "://" + u.Host + shortPath(u)
}

// shortPath is u's path with each long segment shortened and any query
// hidden: an endpoint's path ends in the subscription's token (some push
// services keep it in the query), which is a secret.
func shortPath(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if len(s) > 12 {
			segs[i] = shorten(s, 4)
		}
	}
	p := strings.Join(segs, "/")
	if u.RawQuery != "" {
		p += "?" + shorten(u.RawQuery, 0)
	}
	return p
}

// shorten keeps the first n bytes of s and says how long it was.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…(%d chars)", s[:n], len(s))
}

// indent pretty-prints JSON, or returns it as it is.
func indent(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
