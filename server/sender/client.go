package sender

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Timeouts and pool sizes of the shared client.
const (
	// ClientTimeout bounds one push request from dial to the end of the
	// response body, so a hanging push service costs one attempt, not a
	// caller forever.
	ClientTimeout = 30 * time.Second

	// DefaultMaxConnsPerHost bounds the connections open to one push
	// service at once: requests beyond it wait for one to be free, so a
	// hanging push service holds at most this many. It is also the
	// default of Options.MaxPerHost, the requests in flight to one.
	DefaultMaxConnsPerHost = 64
	maxDrain               = 64 << 10
	maxDetail              = 512
)

// NewHTTPClient returns the client the sender shares across every send: a
// total timeout per request, redirects not followed (a push service answers
// directly; a 3xx is reported as a rejection), and rt as the transport, or,
// when rt is nil, NewTransport(DefaultMaxConnsPerHost).
func NewHTTPClient(rt http.RoundTripper) *http.Client {
	return newHTTPClient(rt, DefaultMaxConnsPerHost)
}

// NewTransport returns a pooled *http.Transport with dial, TLS handshake and
// response header timeouts, and at most maxConnsPerHost connections to one
// push service (0 for DefaultMaxConnsPerHost), each kept open for the next
// request. Callers may wrap it (the local push service's routing does).
func NewTransport(maxConnsPerHost int) *http.Transport {
	return newTransport(cmp.Or(maxConnsPerHost, DefaultMaxConnsPerHost))
}

func newHTTPClient(rt http.RoundTripper, maxConnsPerHost int) *http.Client {
	if rt == nil {
		rt = newTransport(maxConnsPerHost)
	}
	return &http.Client{
		Transport: rt,
		Timeout:   ClientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func newTransport(maxConnsPerHost int) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * maxConnsPerHost, // a few push services (FCM, Mozilla, Apple, Microsoft)
		MaxIdleConnsPerHost:   maxConnsPerHost,
		MaxConnsPerHost:       maxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 20 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// drain reads what is left of resp's body, up to a bound, and closes it, so
// the connection goes back to the pool. For a non-2xx answer it returns the
// start of the body, made printable, as detail for the error.
func drain(resp *http.Response) string {
	defer resp.Body.Close()
	var detail []byte
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		detail, _ = io.ReadAll(io.LimitReader(resp.Body, maxDetail))
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	return printable(string(detail), 200)
}

// printable collapses whitespace and control characters and cuts s to n
// runes, so a push service's error body fits one log line.
func printable(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			n--
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

// statusError describes a non-2xx answer, with the push service's own
// explanation when it gave one (Apple's "BadJwtToken", FCM's JSON errors).
func statusError(resp *http.Response, detail, endpoint string) error {
	if detail == "" {
		return fmt.Errorf("push service answered %s", resp.Status)
	}
	return fmt.Errorf("push service answered %s: %s", resp.Status, redact(detail, endpoint))
}

// redact removes the endpoint, and the token that ends its path, from text
// that came from the network, before it reaches a log or the delivery log.
func redact(text, endpoint string) string {
	if endpoint == "" {
		return text
	}
	text = strings.ReplaceAll(text, endpoint, "<endpoint>")
	if u, err := url.Parse(endpoint); err == nil {
		if len(u.Path) > 1 {
			text = strings.ReplaceAll(text, u.Path, "<path>")
		}
		if i := strings.LastIndexByte(u.Path, '/'); i >= 0 && len(u.Path)-i > 8 {
			text = strings.ReplaceAll(text, u.Path[i+1:], "<token>")
		}
	}
	return text
}

// parseRetryAfter reads a Retry-After header (RFC 9110 section 10.2.3):
// delay-seconds or an HTTP date. It returns -1 when the header is absent or
// unreadable, and 0 for a date already past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		const ceiling = 365 * 24 * 60 * 60 // beyond any MaxDelay; avoids overflow
		return time.Duration(min(secs, ceiling)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// sleepContext waits d, or less if ctx ends first.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
