package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"pushstart/api"
	"pushstart/internal/sse"
)

// event is one Server-Sent Event.
type event struct {
	name string // "message" when the stream names none
	data string
}

// maxEventLine bounds one line of an event stream.
const maxEventLine = sse.MaxLine

// readEvents reads a text/event-stream with sse.Read and calls fn with each
// complete event until fn returns true or the stream ends.
func readEvents(r io.Reader, fn func(event) (stop bool)) error {
	return sse.Read(r, func(ev sse.Event) error {
		if fn(event{name: ev.Type, data: string(ev.Data)}) {
			return sse.ErrStop
		}
		return nil
	})
}

// events reads a broadcast's event stream (GET
// /api/notifications/{id}/events), calling fn with each status until fn
// returns true or the stream ends. It returns nil when the stream ended
// cleanly or fn stopped it.
func (c *client) events(ctx context.Context, id string, idle time.Duration, fn func(api.BroadcastStatus) (stop bool)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := c.newRequest(ctx, http.MethodGet, broadcastPath(id)+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readAnswerError(resp)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/event-stream" {
		return &answerError{Status: resp.StatusCode, StatusLine: resp.Status,
			Why: fmt.Sprintf("the events are %s, not text/event-stream: is --url a pushstart server?", contentType(resp))}
	}
	silent := fmt.Errorf("the event stream was silent for %v", idle)
	timer := time.AfterFunc(idle, func() { cancel(silent) })
	defer timer.Stop()
	var bad error
	err = readEvents(&idleReader{resp.Body, timer, idle}, func(ev event) bool {
		if ev.name != "status" && ev.name != "message" {
			return false // another kind of event, for another reader
		}
		var s api.BroadcastStatus
		if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
			bad = &answerError{Status: resp.StatusCode, StatusLine: resp.Status, Why: "an event is not a broadcast's status: " + err.Error()}
			return true
		}
		return fn(s)
	})
	if bad != nil {
		return bad
	}
	if context.Cause(ctx) == silent {
		return silent
	}
	return err
}

// idleReader restarts a timer each time something is read.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}

// finished reports whether a broadcast has reached its last status.
func finished(s api.BroadcastStatus) bool {
	return s.Status == api.StatusDone || s.Status == api.StatusCanceled
}

// changed reports whether b says something a does not, in a progress line.
func changed(a, b api.BroadcastStatus) bool {
	return a.Status != b.Status || a.Total != b.Total || a.Sent != b.Sent ||
		a.Failed != b.Failed || a.Pruned != b.Pruned || a.Skipped != b.Skipped
}

// followPolicy is how follow deals with a server that went away: it
// waits Delay, doubling up to 16 times Delay, and gives up after Attempts
// failures in a row. A stream silent for Idle is taken for a dead
// connection (a laptop that slept, a NAT that forgot it).
type followPolicy struct {
	Delay    time.Duration
	Attempts int
	Idle     time.Duration
}

// followDefaults let a server restart (a deploy) in the middle of a
// broadcast without losing the follower: over a minute in all.
// The server sends a comment every 15 s when it has nothing to say.
var followDefaults = followPolicy{Delay: time.Second, Attempts: 8, Idle: time.Minute}

// follow follows broadcast id from cur, its last known status, until it is
// done or canceled, calling show with each status that changed. The stream
// may end or break before then (a proxy's idle timeout, a server
// restarting): follow then asks for the status itself and opens the stream
// again, so nothing is missed whether or not the server repeats the current
// status on a new stream.
func (c *client) follow(ctx context.Context, id string, cur api.BroadcastStatus, show func(api.BroadcastStatus), policy followPolicy, warn io.Writer) (api.BroadcastStatus, error) {
	update := func(s api.BroadcastStatus) bool {
		if changed(cur, s) {
			show(s)
		}
		cur = s
		return finished(s)
	}
	failures := 0
	for !finished(cur) {
		heard := false // the stream brought an event: failures before do not count
		err := c.events(ctx, id, policy.Idle, func(s api.BroadcastStatus) bool {
			heard = true
			return update(s)
		})
		if finished(cur) || ctx.Err() != nil {
			break
		}
		if fatal(err) {
			return cur, err
		}
		s, gerr := c.get(ctx, id)
		if ctx.Err() != nil {
			break
		}
		if fatal(gerr) {
			return cur, gerr
		}
		if gerr == nil && update(s) {
			break
		}
		// A stream that opened and ended cleanly (nothing new to say
		// before a proxy closed it) is not a failure; anything else is,
		// and only failures in a row count.
		wait := policy.Delay
		if err != nil || gerr != nil {
			if heard {
				failures = 0
			}
			cause := cmp.Or(err, gerr)
			if failures++; failures >= policy.Attempts {
				return cur, fmt.Errorf("lost touch with the server: %w", cause)
			}
			wait = policy.Delay << min(failures-1, 4)
			fmt.Fprintf(warn, "pushstart send: %v; trying again in %v\n", cause, wait)
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return cur, ctx.Err()
}

// fatal reports whether err ends following: an answer that trying again
// will not change, such as 401 or 404. The network's errors and 5xx
// answers may pass.
func fatal(err error) bool {
	var ae *answerError
	return errors.As(err, &ae) && !ae.transient()
}
