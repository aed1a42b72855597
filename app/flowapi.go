package app

import (
	"context"
	"encoding/json"
	"net/http"

	"pushstart/api"
	"pushstart/internal/sse"
)

// The live flow's calls: what the server offers, the trace stream of this
// browser's subscription, and the break switches.

// flowInfo asks whether the server runs the local push service, and which
// break switches it offers.
func (c *apiClient) flowInfo(ctx context.Context) (api.FlowInfo, exchange, error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodGet, api.PathFlow, nil, http.StatusOK)
	if err != nil {
		return api.FlowInfo{}, ex, err
	}
	var info api.FlowInfo
	err = decodeReply(ex, &info)
	return info, ex, err
}

// flowBreak arms a break switch for the next push to the subscription of
// req; the server answers 204 once it is armed.
func (c *apiClient) flowBreak(ctx context.Context, req api.FlowBreakRequest) (exchange, error) {
	return c.do(ctx, apiTimeout, http.MethodPost, api.PathFlowBreak, req, http.StatusNoContent)
}

// errTraceEnded is a trace stream that ended without the page closing it:
// the connection dropped, or the server stopped. A type, not errors.New,
// so that its text is in the page's language, which is chosen after the
// package's variables are set.
var errTraceEnded error = traceEnded{}

type traceEnded struct{}

func (traceEnded) Error() string { return tr("the trace stream ended") }

// followTrace opens the trace of the subscription req names (POST
// PathFlowTrace: the endpoint and auth secret travel in the body, never in
// the URL) and calls onOpen once the server accepted it, then onEvent with
// each step as it comes. It returns ctx's error when ctx ends, an *apiError
// when the server refuses the stream (404: it does not know the
// subscription), and errTraceEnded or another error when the stream drops.
// Go's net/http streams a fetch's body in the browser, so this is the same
// code there and natively.
func (c *apiClient) followTrace(ctx context.Context, req api.FlowTraceRequest, onOpen func(), onEvent func(api.TraceEvent)) error {
	const path = api.PathFlowTrace
	resp, err := c.openStream(ctx, http.MethodPost, path, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	onOpen()
	err = sse.Read(resp.Body, func(ev sse.Event) error {
		if ev.Type != "trace" {
			return nil
		}
		var te api.TraceEvent
		if err := json.Unmarshal(ev.Data, &te); err != nil {
			return &apiError{Method: http.MethodPost, Path: path, Status: resp.StatusCode, Message: trf("reading a trace event: %v", err)}
		}
		onEvent(te)
		return nil
	})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	}
	return errTraceEnded
}
