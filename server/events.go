//go:build !wasm

package server

import (
	"fmt"
	"net/http"
	"slices"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/push"
	"pushstart/server/store"
)

// Bounds of the service worker's reports.
const (
	maxEventBody   = 1 << 10
	maxEventAction = 256
)

// handleEvent counts one report of the service worker on one push of a
// broadcast (api.Event). Anyone may report, so what a report can count is
// fixed by its message id, which the server issued for that one push and
// signed: once per type, for the broadcast and subscription the push was
// for. A repeat is answered like the first report, 204, and counts nothing.
func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	if !s.limit(w, r, s.eventLimit, limitKey(clientAddr(r, s.trustedHeader)), "notification reports from this address (EVENT_RATE)") {
		return
	}
	var req api.Event
	if err := decodeJSON(w, r, maxEventBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch req.Type {
	case api.EventShown, api.EventClicked, api.EventClosed:
	default:
		s.writeError(w, r, badField("type", fmt.Sprintf("type must be %q, %q or %q", api.EventShown, api.EventClicked, api.EventClosed)))
		return
	}
	if req.Action != "" && req.Type != api.EventClicked {
		s.writeError(w, r, badField("action", fmt.Sprintf("action is only for type %q", api.EventClicked)))
		return
	}
	if len(req.Action) > maxEventAction {
		s.writeError(w, r, badField("action", fmt.Sprintf("action is longer than %d bytes", maxEventAction)))
		return
	}
	if req.MessageID == "" {
		s.writeError(w, r, badField("messageId", "messageId is required: the payload's messageId"))
		return
	}
	var bid string
	var sub int64
	ok := false
	if s.messageIDs != nil {
		bid, sub, ok = s.messageIDs.Verify(req.MessageID)
	}
	if !ok {
		s.writeError(w, r, badField("messageId", "messageId is not a message id this server issued"))
		return
	}
	if req.Action != "" {
		// Clicks are counted by action: only the notification's own keep
		// that breakdown as short as its list of buttons.
		if err := s.checkAction(r, bid, req.Action); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	recorded, err := s.store.RecordEvent(r.Context(), store.Event{
		BroadcastID: bid, SubscriptionID: sub, Type: req.Type, Action: req.Action, Browser: browserOf(r.UserAgent()),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The id itself stays out of the log: its MAC would let anyone who
	// reads the log report for that push.
	s.log.Debug("notification event", "broadcast", bid, "subscription", sub, "type", req.Type, "recorded", recorded)
	w.WriteHeader(http.StatusNoContent)
}

// checkAction refuses an action that broadcast bid's notification does not
// have.
func (s *Server) checkAction(r *http.Request, bid, action string) error {
	b, err := s.store.GetBroadcast(r.Context(), bid)
	if err != nil {
		return err
	}
	// Broadcasts stored before the payload became Declarative Web Push
	// have the earlier shape: ReadPayload reads both.
	n, err := push.ReadPayload(b.Message.Payload)
	if err != nil {
		return fmt.Errorf("broadcast %s: %w", bid, err)
	}
	if !slices.ContainsFunc(n.Actions, func(a push.Action) bool { return a.Action == action }) {
		return badField("action", "action is not one of this notification's actions")
	}
	return nil
}

// handleFunnel answers what a broadcast achieved (api.Funnel): pushes sent,
// from its outcomes; shown, clicked and closed, from the service worker's
// reports.
func (s *Server) handleFunnel(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBroadcast(w, r)
	if !ok {
		return
	}
	f, err := s.store.Funnel(r.Context(), b.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, funnel(b, f))
}

// funnel is the API's view of a broadcast's funnel.
func funnel(b store.Broadcast, f store.FunnelCounts) api.Funnel {
	out := api.Funnel{
		ID: b.ID, Sent: b.Sent, Shown: f.Shown, Clicked: f.Clicked, Closed: f.Closed,
		ByBrowser: []api.BrowserFunnel{}, Actions: []api.Count{},
	}
	if b.Sent > 0 {
		out.ClickThrough = float64(f.Clicked) / float64(b.Sent)
	}
	for _, c := range f.ByBrowser {
		out.ByBrowser = append(out.ByBrowser, api.BrowserFunnel{Browser: c.Browser, Shown: c.Shown, Clicked: c.Clicked, Closed: c.Closed})
	}
	for _, a := range f.Actions {
		out.Actions = append(out.Actions, api.Count{Key: a.Action, Count: a.Count})
	}
	return out
}
