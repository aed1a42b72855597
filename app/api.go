package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/push"
)

// Time limits of the calls to the kit server. A test send may wait for the
// sender's retries against a slow push service, so it gets longer.
const (
	apiTimeout     = 20 * time.Second
	apiTestTimeout = 2 * time.Minute
	// maxReplyBytes bounds an answer the page reads: a page of the admin
	// console's delivery log or subscriptions, with their errors and user
	// agents, is the largest.
	maxReplyBytes = 1 << 20
)

// exchange is one request to the kit server and its answer, kept for the
// page's flow log.
type exchange struct {
	Method   string
	Path     string
	Request  []byte // JSON body sent; nil when none
	Status   int    // 0 when no answer arrived
	Response []byte // body received
}

// apiError is a failed call to the kit server, with the server's
// {"error": ..., "field": ...} when it sent one.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
	Field        string
	// RetryAfter is the server's Retry-After of a 429: how long to wait
	// before trying again; 0 when it sent none.
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	var b strings.Builder
	if e.Status == 0 {
		b.WriteString(trf("%s %s got no answer", e.Method, e.Path))
	} else {
		b.WriteString(trf("%s %s answered %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status)))
	}
	if e.Field != "" {
		b.WriteString(trf(": %s: %s", e.Field, e.Message))
	} else if e.Message != "" {
		b.WriteString(trf(": %s", e.Message))
	}
	return b.String()
}

// apiClient calls the kit server's HTTP API. In the browser Go's net/http
// uses fetch, so the requests are same-origin and pass the server's
// cross-origin protection.
type apiClient struct {
	base string // scheme://host of the page
	hc   *http.Client
}

func newAPIClient(base string, hc *http.Client) *apiClient {
	if hc == nil {
		hc = &http.Client{}
	}
	return &apiClient{base: strings.TrimSuffix(base, "/"), hc: hc}
}

// do sends body (JSON, unless nil) and reads the answer. A status outside
// okStatuses is an *apiError; the exchange is filled in either way.
func (c *apiClient) do(ctx context.Context, timeout time.Duration, method, path string, body any, okStatuses ...int) (exchange, error) {
	ex := exchange{Method: method, Path: path}
	var reqBody io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return ex, fmt.Errorf(tr("encoding the body of %s %s: %w"), method, path, err)
		}
		ex.Request = b
		reqBody = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reqBody)
	if err != nil {
		return ex, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		msg := trf("%v (offline, or the server is not running?)", err)
		if ctx.Err() != nil {
			msg = trf("no answer within %s", humanDuration(timeout))
		}
		return ex, &apiError{Method: method, Path: path, Message: msg}
	}
	defer resp.Body.Close()
	ex.Status = resp.StatusCode
	ex.Response, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return ex, &apiError{Method: method, Path: path, Status: resp.StatusCode, Message: trf("reading the answer: %v", err)}
	}
	if len(ex.Response) > maxReplyBytes {
		// Cut short, it would only fail as JSON, far from the cause.
		ex.Response = ex.Response[:maxReplyBytes]
		return ex, &apiError{Method: method, Path: path, Status: resp.StatusCode, Message: trf("the answer is longer than %d bytes", maxReplyBytes)}
	}
	for _, s := range okStatuses {
		if resp.StatusCode == s {
			return ex, nil
		}
	}
	e := answerError(method, path, resp.StatusCode, ex.Response)
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	return ex, e
}

// answerError is the *apiError of an answer with an unexpected status: the
// server's {"error", "field"} when the body is one, else the body's text.
func answerError(method, path string, status int, body []byte) *apiError {
	e := &apiError{Method: method, Path: path, Status: status}
	var reply api.Error
	if json.Unmarshal(body, &reply) == nil && reply.Error != "" {
		e.Message, e.Field = reply.Error, reply.Field
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// retryAfter reads a Retry-After header given in seconds, the form the
// server sends; 0 when there is none or it cannot be read.
func retryAfter(v string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// vapidPublicKey fetches the key that subscriptions must be made with, and
// the origin the server's notifications link to.
func (c *apiClient) vapidPublicKey(ctx context.Context) (api.VAPIDKey, exchange, error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodGet, api.PathVAPIDKey, nil, http.StatusOK)
	if err != nil {
		return api.VAPIDKey{}, ex, err
	}
	var reply api.VAPIDKey
	if err := json.Unmarshal(ex.Response, &reply); err != nil || reply.PublicKey == "" {
		return api.VAPIDKey{}, ex, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: tr(`the answer has no "publicKey"`)}
	}
	return reply, ex, nil
}

// linkOrigin is the origin a payload's links start with, for the checks of
// its size: the server's answer's (api.VAPIDKey.PublicURL), else the page's
// own, base, which is the same when PUBLIC_URL is set as it should be (an
// older server names none, and the answer may not have come yet).
func linkOrigin(answer api.VAPIDKey, base string) (push.Origin, error) {
	if o, err := push.ParseOrigin(answer.PublicURL); err == nil {
		return o, nil
	}
	o, err := push.ParseOrigin(base)
	if err != nil {
		return push.Origin{}, errors.New(trf("the page's origin %q: %v", base, err))
	}
	return o, nil
}

// saveSubscription stores (upserts) the subscription on the server and
// returns the server's account of it: whether it was new there (a 201), and
// its topics as stored, never nil.
func (c *apiClient) saveSubscription(ctx context.Context, sub api.Subscription) (api.Saved, exchange, error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodPost, api.PathSubscriptions, sub,
		http.StatusOK, http.StatusCreated)
	if err != nil {
		return api.Saved{}, ex, err
	}
	var saved api.Saved
	if err := json.Unmarshal(ex.Response, &saved); err != nil {
		return api.Saved{}, ex, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: trf("reading the answer: %v", err)}
	}
	saved.Created = ex.Status == http.StatusCreated
	if saved.Tags == nil {
		saved.Tags = []string{}
	}
	return saved, ex, nil
}

// deleteSubscription forgets the endpoint on the server; an endpoint it
// never knew is not an error.
func (c *apiClient) deleteSubscription(ctx context.Context, endpoint string) (exchange, error) {
	body := api.Unsubscribe{Endpoint: endpoint}
	return c.do(ctx, apiTimeout, http.MethodDelete, api.PathSubscriptions, body,
		http.StatusNoContent, http.StatusOK)
}

// sendTest asks the server to push a notification to this browser's
// endpoint. The server's outcome is returned whenever it sent one, also
// when the push service refused the message.
func (c *apiClient) sendTest(ctx context.Context, body api.TestSend) (api.Result, exchange, error) {
	ex, err := c.do(ctx, apiTestTimeout, http.MethodPost, api.PathTestSend, body, http.StatusOK)
	var res api.Result
	if ex.Status != 0 && json.Unmarshal(ex.Response, &res) == nil && res.Outcome != "" {
		if res.Outcome != push.Sent {
			msg := trf("the push was not delivered: outcome %q", res.Outcome)
			if res.Status != 0 {
				msg += trf(", push service status %d", res.Status)
			}
			if res.Error != "" {
				msg += trf(": %s", res.Error)
			}
			if res.Pruned {
				msg += tr(" (the server deleted this subscription: click Subscribe again)")
			}
			return res, ex, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: msg}
		}
		return res, ex, nil
	}
	if err == nil {
		err = &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: tr(`the answer has no "outcome"`)}
	}
	return res, ex, err
}

// originOf is the scheme and host of the page, the base of the API calls.
func originOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
