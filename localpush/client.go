package localpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"pushstart/push"
)

// Client is a local push service running in another process on this
// machine (a `pushstart push-service`, or another kit's in-process one),
// used over its HTTP test API. It has the methods of a Service that a
// program using the service needs, so that a kit can run on a service it
// did not start (PUSH_SERVICE=<URL>): several kits, or a test suite's many
// kits, sharing one service and so one browser connection each. Make one
// with Dial; Close ends its watches.
type Client struct {
	base string      // the URL dialed, as CheckServiceURL returned it: every request goes there
	info ServiceInfo // as GET /v1/config answered at Dial
	http *http.Client
	log  *slog.Logger

	// ctx is cancelled by Close: it ends every watch and its request.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the watches' goroutines
	mu     sync.Mutex
	closed bool
}

// Timings of the Client.
const (
	// dialWait is how long Dial keeps trying while the connection is
	// refused: a service started at the same time as its client is given
	// time to listen.
	dialWait = 10 * time.Second
	// requestTimeout bounds a test API request, beyond a long poll's wait.
	requestTimeout = 10 * time.Second
	// watchWait is the long poll of a watch, in seconds (the service
	// allows up to maxEventsWait).
	watchWait = 25
	// watchRetry and watchRetryMax are the waits of a watch after a failed
	// request, doubling from the first to the second.
	watchRetry    = time.Second
	watchRetryMax = 10 * time.Second
)

// maxAnswer bounds what the Client reads of an answer of the test API: a
// thousand events with their frames fit well within it.
const maxAnswer = 16 << 20

// CheckServiceURL validates the URL of a running local push service and
// returns it as its base, "http://host:port": an http:// URL whose host is
// loopback (127.0.0.0/8, ::1 or localhost), with no path but "/", and no
// query, fragment, user or password. Its error says what is wanted.
func CheckServiceURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return "", errors.New("want the http:// URL of a running local push service, e.g. http://127.0.0.1:8900")
	}
	if u.User != nil {
		return "", errors.New("want no user or password in the URL")
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New("the local push service is on loopback only: want the host 127.0.0.1 (or another 127.x.y.z), [::1] or localhost")
	}
	if u.Path != "" && u.Path != "/" || u.RawPath != "" {
		return "", errors.New("want the service's base URL, with no path, e.g. http://127.0.0.1:8900")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", errors.New("want no query or fragment in the URL")
	}
	return "http://" + strings.ToLower(u.Host), nil
}

// Dial checks rawURL (CheckServiceURL), reads the service's ServiceInfo at
// GET /v1/config, retrying for up to 10 s while the connection is refused,
// and checks that the service speaks this package's APIVersion. log
// receives the client's log lines (nil discards them).
func Dial(ctx context.Context, rawURL string, log *slog.Logger) (*Client, error) {
	base, err := CheckServiceURL(rawURL)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the service is on loopback: never through a proxy
	// Nor anywhere else: "localhost" is whatever /etc/hosts or DNS says.
	t.DialContext = (&net.Dialer{Timeout: requestTimeout, Control: dialLoopbackOnly}).DialContext
	c := &Client{
		base: base,
		log:  log,
		http: &http.Client{
			Transport: t,
			// Requests go to the URL given and nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.info, err = c.config(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	return c, nil
}

// config fetches GET /v1/config, trying again while the connection is
// refused for up to dialWait, and checks the answer.
func (c *Client) config(ctx context.Context) (ServiceInfo, error) {
	var info ServiceInfo
	deadline := time.Now().Add(dialWait)
	for {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		res, err := c.do(rctx, http.MethodGet, APIPrefix+"/config", nil)
		if err == nil {
			err = decodeAnswer(res, &info)
			cancel()
			if err != nil {
				return info, fmt.Errorf("the local push service at %s: GET %s/config: %w", c.base, APIPrefix, err)
			}
			break
		}
		cancel()
		unreachable := func(err error) error {
			return fmt.Errorf("cannot reach the local push service at %s (is `pushstart push-service` running there?): %w", c.base, err)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) || ctx.Err() != nil {
			return info, unreachable(err)
		}
		select {
		case <-ctx.Done():
			return info, unreachable(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if info.API != APIVersion {
		return info, fmt.Errorf("%s speaks test API version %d; this kit speaks %d", c.base, info.API, APIVersion)
	}
	if u, err := CheckServiceURL(info.URL); err != nil || u != info.URL {
		return info, fmt.Errorf("the local push service at %s names its URL %q, not a loopback base URL", c.base, info.URL)
	}
	// Within version 1, fields were added: a service of an older build
	// answers no "last" (where Watch starts) and ignores DELETE's body
	// (ClearLatency would disarm every fault).
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	res, err := c.do(rctx, http.MethodGet, APIPrefix+"/events?since="+strconv.FormatUint(^uint64(0), 10), nil)
	if err != nil {
		return info, fmt.Errorf("the local push service at %s: GET %s/events: %w", c.base, APIPrefix, err)
	}
	var probe struct {
		Last *uint64 `json:"last"`
	}
	if err := decodeAnswer(res, &probe); err != nil {
		return info, fmt.Errorf("the local push service at %s: GET %s/events: %w", c.base, APIPrefix, err)
	}
	if probe.Last == nil {
		return info, fmt.Errorf("the local push service at %s is of an older build than this kit (its GET %s/events answers no \"last\"): run the push service of this kit's version", c.base, APIPrefix)
	}
	return info, nil
}

// dialLoopbackOnly refuses a connection to an address that is not loopback.
func dialLoopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: the local push service is on loopback only", host)
	}
	return nil
}

// do sends one request to the service's test API, with body as JSON when
// not nil. It carries no Origin: the service refuses requests of web pages.
func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.http.Do(req)
}

// decodeAnswer reads a 200 answer's JSON into v and closes its body; any
// other status is an *APIError.
func decodeAnswer(res *http.Response, v any) error {
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return apiError(res)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(v); err != nil {
		return fmt.Errorf("answer is not the JSON expected: %w", err)
	}
	return nil
}

// APIError is an answer of the service's test API other than the one
// expected: its status, and its message and field when it sent them
// ({"error", "field"}). errors.Is(err, ErrUnknownSubscription) holds when
// the service said the endpoint names no current subscription.
type APIError struct {
	Status  int
	Message string // the service's error, or its text answer
	Field   string // the field it refused; "" when it named none
	unknown bool
}

func (e *APIError) Error() string {
	return fmt.Sprintf("local push service: %d %s", e.Status, e.Message)
}

// Unwrap is ErrUnknownSubscription when the service said so, else nil.
func (e *APIError) Unwrap() error {
	if e.unknown {
		return ErrUnknownSubscription
	}
	return nil
}

// apiError reads an unexpected answer. The service says an endpoint names
// no current subscription with 404 (DELETE /v1/faults) or, documented so
// for POST /v1/faults, 400 on the field endpoint with that phrase.
func apiError(res *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	e := &APIError{Status: res.StatusCode, Message: strings.TrimSpace(string(b))}
	var body struct{ Error, Field string }
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message, e.Field = body.Error, body.Field
	}
	e.unknown = res.StatusCode == http.StatusNotFound && e.Field == "endpoint" ||
		res.StatusCode == http.StatusBadRequest && e.Field == "endpoint" && strings.HasSuffix(e.Message, ErrUnknownSubscription.Error())
	return e
}

// URL is the service's base URL as it names itself, "http://127.0.0.1:P".
func (c *Client) URL() string { return c.info.URL }

// EndpointPrefix begins every endpoint the service hands out to Firefox
// (see Service.EndpointPrefix).
func (c *Client) EndpointPrefix() string { return c.info.URL + "/wpush/" }

// Browser returns the Chromium switches and Firefox prefs that make the
// browsers use the service, as it answered at Dial.
func (c *Client) Browser() BrowserConfig {
	b := c.info.Browser
	b.ChromiumArgs = slices.Clone(b.ChromiumArgs)
	b.FirefoxPrefs = maps.Clone(b.FirefoxPrefs)
	return b
}

// Info is the service's ServiceInfo, as it answered at Dial.
func (c *Client) Info() ServiceInfo {
	info := c.info
	info.Browser = c.Browser()
	info.Sender.Env = maps.Clone(info.Sender.Env)
	return info
}

// Serves reports whether endpoint is one of the endpoints the service hands
// out, spelled as it hands it out (see Service.Serves).
func (c *Client) Serves(endpoint string) bool {
	_, ok := servedBy(c.info.URL, endpoint)
	return ok
}

// Transport returns a RoundTripper that sends requests for Chromium's
// endpoint hosts to the service over plain http (see Service.Transport).
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	return rerouteTo(c.info.URL, base)
}

// SetFault arms a fault with POST /v1/faults. The service's refusal is an
// *APIError naming the field; errors.Is(err, ErrUnknownSubscription) when
// the endpoint names no current subscription.
func (c *Client) SetFault(req FaultRequest) error {
	ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
	defer cancel()
	return c.noContent(ctx, http.MethodPost, req)
}

// ClearLatency disarms the latency fault armed for endpoint's subscription,
// if any (DELETE /v1/faults with a body; see Service.ClearLatency). A
// failure is only logged: the fault, at worst, holds back one later push.
func (c *Client) ClearLatency(endpoint string) {
	ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
	defer cancel()
	err := c.noContent(ctx, http.MethodDelete, ClearRequest{Endpoint: endpoint, Kind: faultLatency})
	if err != nil && !errors.Is(err, ErrUnknownSubscription) {
		c.log.Warn("local push service: clearing a latency fault", "endpoint", push.Fingerprint(endpoint), "err", err)
	}
}

// noContent sends body to /v1/faults and expects 204.
func (c *Client) noContent(ctx context.Context, method string, body any) error {
	res, err := c.do(ctx, method, APIPrefix+"/faults", body)
	if err != nil {
		return fmt.Errorf("local push service: %s %s/faults: %w", method, APIPrefix, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return apiError(res)
	}
	return nil
}

// events long-polls GET /v1/events.
func (c *Client) events(ctx context.Context, since uint64, wait int) (EventsAnswer, error) {
	var ans EventsAnswer
	ctx, cancel := context.WithTimeout(ctx, requestTimeout+time.Duration(wait)*time.Second)
	defer cancel()
	res, err := c.do(ctx, http.MethodGet, APIPrefix+"/events?since="+strconv.FormatUint(since, 10)+"&wait="+strconv.Itoa(wait), nil)
	if err != nil {
		return ans, err
	}
	return ans, decodeAnswer(res, &ans)
}

// Watch returns every event the service records from now on, in order,
// as Service.Watch does: a goroutine long-polls GET /v1/events from the
// newest sequence number at the time of the call (read before Watch
// returns, when the service answers within requestTimeout), and a watcher
// that falls more than 256 events behind misses the newest ones. After a
// failed request it waits (1 s, doubling to 10 s) and tries again; a
// service that restarted is followed from its newest event. stop ends the
// watch, with its request in flight, and closes the channel.
func (c *Client) Watch() (events <-chan Event, stop func()) {
	ch := make(chan Event, watcherBuffer)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	c.wg.Add(1)
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(c.ctx)
	// "From now" is read here, not in the goroutine: an event recorded
	// after Watch returns must not be taken for a past one.
	ans, err := c.events(ctx, ^uint64(0), 0)
	known := err == nil
	if err != nil {
		c.log.Warn("local push service: reading its newest event; the watch starts from its next answer", "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer c.wg.Done()
		defer close(done)
		defer close(ch)
		c.follow(ctx, ans.Last, known, ch)
	}()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// follow sends the events after since to ch until ctx is done; known is
// false when since is still to be read from the service.
func (c *Client) follow(ctx context.Context, since uint64, known bool, ch chan<- Event) {
	retry := watchRetry
	for {
		wait := watchWait
		from := since
		if !known {
			wait, from = 0, ^uint64(0)
		}
		ans, err := c.events(ctx, from, wait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("local push service: following its events; trying again", "in", retry, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, watchRetryMax)
			continue
		}
		retry = watchRetry
		if !known || ans.Last < since {
			// The first answer, or a service started again, whose
			// numbers began again at 1: from its newest event on.
			since, known = ans.Last, true
			continue
		}
		for _, e := range ans.Events {
			select {
			case ch <- e:
			default: // a watcher that does not keep up loses events, as in-process
			}
			since = max(since, e.Seq)
		}
	}
}

// Close ends every watch, waiting for their goroutines. The service itself
// runs on. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.http.CloseIdleConnections()
	return nil
}
