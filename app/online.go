package app

import (
	"context"
	"net/http"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// probeTimeout bounds the quiet check that the server answers again.
const probeTimeout = 5 * time.Second

// onlineRecheck is how often, while the server does not answer, the page
// checks again by itself: a server that comes back sends no event, and
// neither does every browser or emulation that ends an offline spell.
const onlineRecheck = 10 * time.Second

// onOnline follows the browser's network state (watchOnline), on the UI
// goroutine. Online after a request the server never answered, the page
// asks the server's /healthz quietly, and once it answers runs its
// load-time check again, which stores the subscription and reopens its
// trace. The flow log thus gets no line per failed attempt.
func (h *home) onOnline(ctx goapp.Context, online bool) {
	if !h.state.setOnline(online) || h.probing {
		return
	}
	h.probing = true
	ctx.Async(func() {
		up := h.flows.server.answers(ctx)
		ctx.Dispatch(func(ctx goapp.Context) {
			h.probing = false
			if up && h.state.setOnline(true) {
				h.state.serverAnswers()
				h.start(ctx, tr("Back online: checking again…"), h.flows.load)
			}
		})
	})
}

// scheduleRecheck, while the server does not answer, runs onOnline again
// in onlineRecheck, and so on until it answers. Nothing is scheduled, and
// the page is not redrawn, while all is well.
func (h *home) scheduleRecheck(ctx goapp.Context) {
	if h.rechecking || !h.state.Unreachable {
		return
	}
	h.rechecking = true
	ctx.Async(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(onlineRecheck):
		}
		ctx.Dispatch(func(ctx goapp.Context) {
			h.rechecking = false
			h.onOnline(ctx, !h.state.Offline)
			h.scheduleRecheck(ctx)
		})
	})
}

// answers reports whether the server answers GET /healthz.
func (c *apiClient) answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
