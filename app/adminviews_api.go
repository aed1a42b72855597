package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pushstart/api"
	"pushstart/internal/sse"
)

// The admin console's follow-up panels read the kit server's admin API with
// these calls. Each carries the session cookie the browser keeps (same
// origin), so a 401 means the session ended: see signedOutError.

// withID fills the {id} of one of the API's path patterns.
func withID(pattern, id string) string {
	return strings.Replace(pattern, "{id}", url.PathEscape(id), 1)
}

// withQuery appends q, leaving out its empty values, to path.
func withQuery(path string, q url.Values) string {
	for k, vs := range q {
		if len(vs) == 0 || vs[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// pageQuery is the limit and before of a paged list.
func pageQuery(limit int, before string) url.Values {
	q := url.Values{"before": {before}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// getJSON reads the JSON answer of GET path into a T.
func getJSON[T any](ctx context.Context, c *apiClient, path string) (T, error) {
	var out T
	ex, err := c.do(ctx, apiTimeout, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(ex.Response, &out); err != nil {
		return out, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: "reading the answer: " + err.Error()}
	}
	return out, nil
}

// listBroadcasts reads a page of broadcasts, newest first: the first page
// when before is "", else the one after the page whose Next it is. A limit
// of 0 leaves the page's size to the server.
func (c *apiClient) listBroadcasts(ctx context.Context, limit int, before string) (api.BroadcastList, error) {
	l, err := getJSON[api.BroadcastList](ctx, c, withQuery(api.PathNotifications, pageQuery(limit, before)))
	if l.Broadcasts == nil {
		l.Broadcasts = []api.BroadcastStatus{}
	}
	return l, err
}

// broadcast reads one broadcast's status.
func (c *apiClient) broadcast(ctx context.Context, id string) (api.BroadcastStatus, error) {
	return getJSON[api.BroadcastStatus](ctx, c, withID(api.PathNotification, id))
}

// cancelBroadcast stops a broadcast that has not finished and returns its
// status after the cancel.
func (c *apiClient) cancelBroadcast(ctx context.Context, id string) (api.BroadcastStatus, error) {
	var st api.BroadcastStatus
	ex, err := c.do(ctx, apiTimeout, http.MethodDelete, withID(api.PathNotification, id), nil, http.StatusOK)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(ex.Response, &st); err != nil {
		return st, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: "reading the answer: " + err.Error()}
	}
	return st, nil
}

// errStreamEnded is a broadcast's event stream that ended before the
// broadcast finished: the connection dropped, or the server stopped.
var errStreamEnded = errors.New("the event stream ended before the broadcast finished")

// followBroadcast calls onStatus with the broadcast's status as the server
// streams it (PathNotification + "/events"): the status now, then each
// change. It returns nil once a status says done or canceled, ctx's error
// when ctx ends first, and errStreamEnded or an *apiError when the stream
// fails. Go's net/http streams a fetch's body in the browser, so this is
// the same code there and natively.
func (c *apiClient) followBroadcast(ctx context.Context, id string, onStatus func(api.BroadcastStatus)) error {
	path := withID(api.PathNotification, id) + "/events"
	resp, err := c.openStream(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	finished := false
	err = sse.Read(resp.Body, func(ev sse.Event) error {
		if ev.Type != "status" {
			return nil
		}
		var st api.BroadcastStatus
		if err := json.Unmarshal(ev.Data, &st); err != nil {
			return &apiError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Message: "reading an event: " + err.Error()}
		}
		onStatus(st)
		finished = broadcastFinished(st.Status)
		return nil
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	case !finished:
		return errStreamEnded
	}
	return nil
}

// openStream asks for a Server-Sent Events stream at path, with body as
// JSON when it is not nil, and returns the open answer, whose body the
// caller reads with package sse and closes. A refusal is an *apiError with
// the server's message; ctx's error when ctx ended first.
func (c *apiClient) openStream(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &apiError{Method: method, Path: path, Message: err.Error() + " (offline, or the server is not running?)"}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
		return nil, answerError(method, path, resp.StatusCode, b)
	}
	return resp, nil
}

// broadcastFinished reports whether a broadcast's status is final.
func broadcastFinished(status string) bool {
	return status == api.StatusDone || status == api.StatusCanceled
}

// funnel reads what a broadcast achieved: sent, shown, clicked, closed.
func (c *apiClient) funnel(ctx context.Context, id string) (api.Funnel, error) {
	f, err := getJSON[api.Funnel](ctx, c, withID(api.PathNotification, id)+"/funnel")
	if f.ByBrowser == nil {
		f.ByBrowser = []api.BrowserFunnel{}
	}
	if f.Actions == nil {
		f.Actions = []api.Count{}
	}
	return f, err
}

// subscriptionStats reads how many subscriptions there are, by push
// service, browser and tag.
func (c *apiClient) subscriptionStats(ctx context.Context) (api.SubscriptionStats, error) {
	return getJSON[api.SubscriptionStats](ctx, c, api.PathAdminSubscriptionStats)
}

// subscriptionPage reads a page of subscriptions, newest first, as
// listBroadcasts does broadcasts.
func (c *apiClient) subscriptionPage(ctx context.Context, limit int, before string) (api.SubscriptionPage, error) {
	p, err := getJSON[api.SubscriptionPage](ctx, c, withQuery(api.PathAdminSubscriptions, pageQuery(limit, before)))
	if p.Subscriptions == nil {
		p.Subscriptions = []api.SubscriptionInfo{}
	}
	return p, err
}

// deleteSubscriptionByID removes a subscription by its SubscriptionInfo.ID.
// One already gone (404) is an *apiError; the caller decides what it means.
func (c *apiClient) deleteSubscriptionByID(ctx context.Context, id int64) error {
	path := withID(api.PathAdminSubscription, strconv.FormatInt(id, 10))
	_, err := c.do(ctx, apiTimeout, http.MethodDelete, path, nil, http.StatusNoContent, http.StatusOK)
	return err
}

// deliveryFilter chooses the entries of the delivery log; "" is any.
type deliveryFilter struct {
	Broadcast string // a broadcast's id
	Outcome   string // a push.Outcome
	Service   string // an api.Service* key
}

// deliveryPage reads a page of the delivery log, newest first, as
// listBroadcasts does broadcasts.
func (c *apiClient) deliveryPage(ctx context.Context, f deliveryFilter, limit int, before string) (api.DeliveryPage, error) {
	q := pageQuery(limit, before)
	q.Set("broadcast", f.Broadcast)
	q.Set("outcome", f.Outcome)
	q.Set("service", f.Service)
	p, err := getJSON[api.DeliveryPage](ctx, c, withQuery(api.PathAdminDeliveries, q))
	if p.Deliveries == nil {
		p.Deliveries = []api.DeliveryInfo{}
	}
	return p, err
}
