package app

import goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

// onOnline follows the browser's network state (watchOnline), on the UI
// goroutine. Back online after a request the server never answered, the
// home page runs its load-time check again, which stores the subscription
// and reopens its trace.
func (h *home) onOnline(ctx goapp.Context, online bool) {
	if h.state.setOnline(online) {
		h.start(ctx, tr("Back online: checking again…"), h.flows.load)
	}
}
