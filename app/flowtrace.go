package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"pushstart/api"
)

// The live flow: the steps the server, the local push service and the
// service worker take for this browser's subscription, shown in the Flow
// panel beside the page's own.

// How the page keeps its trace stream open.
const (
	// traceRetry is how long the page waits before opening a dropped
	// trace again: the server may be restarting.
	traceRetry = 3 * time.Second
	// traceMaxDrops is how many drops in a row the page takes before it
	// gives up; a stream that lasted traceStable or brought a step starts
	// the count again.
	traceMaxDrops = 5
	traceStable   = 30 * time.Second
)

// pushServiceHidden is what the Flow panel says outside local mode.
func pushServiceHidden() string {
	return tr("The push service's part happens inside FCM, Mozilla's autopush or Apple's push service and cannot be seen from here: only the server's request and the push service's answer can.")
}

// followTrace shows the trace of sub in the flow log until ctx ends: it
// asks the server what it offers (GET /api/flow), then opens the trace
// stream, and opens it again after a drop, a few seconds later and a
// bounded number of times. A server that does not know the subscription
// (404) or refuses the trace otherwise is reported, and not asked again.
func (fl *flows) followTrace(ctx context.Context, sub api.Subscription) {
	info, ex, err := fl.server.flowInfo(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		fl.logExchange(ex)
		fl.log(flowError, onPage, tr("No live trace: the server did not say what it offers"), err.Error())
		return
	}
	fl.ui.update(func(s *pageState) { s.Flow, s.FlowKnown = info, true })

	req := api.FlowTraceRequest{Endpoint: sub.Endpoint, Auth: sub.Keys.Auth}
	drops := 0
	for {
		opened, stepped := time.Time{}, false
		var seq int64 // the last step's Seq: numbers restart with each stream
		err := fl.server.followTrace(ctx, req,
			func() {
				opened = time.Now()
				fl.log(flowOK, serverToPage, tr("Following this subscription's pushes live"), traceOpenDetail(info))
			},
			func(ev api.TraceEvent) {
				stepped = true
				if ctx.Err() != nil {
					return // the page follows another subscription now
				}
				e := traceEntry(ev)
				if lost := ev.Seq - seq - 1; seq > 0 && lost > 0 {
					// The server never waits for a slow reader: it drops
					// steps instead, and the numbering shows the gap.
					gap := flowEntry{At: e.At, Level: flowError, Actor: api.ActorServer, To: api.ActorPage,
						Title:  trf("%d step(s) of the trace were lost", lost),
						Detail: tr("The server drops the steps a page reads too slowly rather than slow its pushes down; the steps before and after this line are complete.")}
					fl.ui.update(func(s *pageState) { s.reveal(gap) })
				}
				seq = ev.Seq
				fl.ui.update(func(s *pageState) { s.reveal(e) })
			})
		if ctx.Err() != nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			// Too many traces open (this address's, or the server's):
			// try again when the server says, a few times.
			drops++
			if drops > traceMaxDrops {
				fl.log(flowError, serverToPage, tr("Stopped asking for the live trace"), err.Error()+"\n"+tr("Reload the page to try again."))
				return
			}
			wait := min(max(ae.RetryAfter, fl.traceRetry), time.Minute)
			fl.log(flowInfo, serverToPage, trf("The server has too many live traces open: asking again in %s", humanDuration(wait)), err.Error())
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		if errors.Is(err, errTraceEnded) && !opened.IsZero() && time.Since(opened) >= traceStable {
			// The server ends a long-lived stream on purpose: open the
			// next one at once.
			drops = 0
			fl.log(flowInfo, onPage, trf("The live trace ended after %s: opening it again", humanDuration(time.Since(opened).Round(time.Second))), tr("The server closes a trace stream after a while, so that none is held forever."))
			continue
		}
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			title := tr("The server refused the live trace")
			if ae.Status == http.StatusNotFound {
				title = tr("The server does not know this subscription: no live trace")
			}
			fl.log(flowError, serverToPage, title, err.Error())
			return
		}
		if stepped || (!opened.IsZero() && time.Since(opened) >= traceStable) {
			drops = 0
		}
		drops++
		if drops > traceMaxDrops {
			fl.log(flowError, onPage, tr("Stopped following the live trace"),
				trf("The trace stream dropped %d times in a row: %v", drops, err)+"\n"+tr("Reload the page to try again."))
			return
		}
		fl.log(flowInfo, onPage, trf("The live trace dropped: opening it again in %s", humanDuration(fl.traceRetry)), err.Error())
		if !sleepCtx(ctx, fl.traceRetry) {
			return
		}
	}
}

// sleepCtx waits d, or less when ctx ends first; it reports whether the
// whole wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// traceOpenDetail says what the trace will show.
func traceOpenDetail(info api.FlowInfo) string {
	d := trf("POST %s with this subscription's endpoint and auth secret in the body (never in a URL): a Server-Sent Events stream of every step the server takes for a push to it.", api.PathFlowTrace)
	if info.Local {
		return d + "\n" + tr("Local mode: the local push service's steps (queued, delivered with its protocol frame, acknowledged) come too.")
	}
	return d + "\n" + pushServiceHidden()
}

// traceEntry is a trace step as the flow log shows it: a step that went
// wrong is an error, any other one done.
func traceEntry(ev api.TraceEvent) flowEntry {
	level := flowOK
	if !ev.OK {
		level = flowError
	}
	// The page's own steps show local times; so do the server's.
	at := ev.At.Local()
	if ev.At.IsZero() {
		at = time.Now()
	}
	return flowEntry{
		At:     at,
		Level:  level,
		Actor:  ev.Actor,
		To:     ev.To,
		Step:   ev.Step,
		Push:   ev.Push,
		Title:  ev.Title,
		Fields: ev.Fields,
		Detail: ev.Detail,
	}
}

// Bounds of a step the service worker posts: the page reads nothing
// larger.
const (
	maxWorkerStep   = 64 << 10
	maxWorkerFields = 32
)

// workerStep reads a step the service worker posted ({pushstartTrace:
// event}, event as JSON text). Only the worker's own steps are taken: the
// server's come from the server.
func workerStep(text string) (api.TraceEvent, error) {
	if len(text) > maxWorkerStep {
		return api.TraceEvent{}, fmt.Errorf(tr("a worker step of %d bytes, more than %d"), len(text), maxWorkerStep)
	}
	var ev api.TraceEvent
	if err := json.Unmarshal([]byte(text), &ev); err != nil {
		return api.TraceEvent{}, fmt.Errorf(tr("a worker step that is not a trace event: %w"), err)
	}
	switch {
	case ev.Actor != api.ActorWorker:
		return api.TraceEvent{}, fmt.Errorf(tr("a worker step with actor %q"), ev.Actor)
	case ev.Step == "" || ev.Title == "":
		return api.TraceEvent{}, errors.New(tr("a worker step without a step or a title"))
	case len(ev.Fields) > maxWorkerFields:
		return api.TraceEvent{}, fmt.Errorf(tr("a worker step with %d fields, more than %d"), len(ev.Fields), maxWorkerFields)
	}
	return ev, nil
}
