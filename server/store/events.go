package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"pushstart/api"
)

// Event is one report of the service worker on one push of a broadcast:
// that its notification was shown, clicked or closed.
type Event struct {
	BroadcastID    string
	SubscriptionID int64     // the subscription the push was sent to
	Type           string    // api.EventShown, api.EventClicked or api.EventClosed
	Action         string    // of a click: the action's name, "" for the notification's body
	Browser        string    // the reporting browser, as its User-Agent names it
	At             time.Time // set to the current time when zero
}

// FunnelCounts is what the events of one broadcast add up to: how many
// subscriptions reported each type (each at most once per type). Closed
// counts those that closed the notification without clicking it.
type FunnelCounts struct {
	Shown, Clicked, Closed int
	// ByBrowser is the same counts per browser, most shown first, then by
	// name.
	ByBrowser []BrowserCounts
	// Actions counts clicks by action ("" for the body), most first, then
	// by name.
	Actions []ActionCount
}

// BrowserCounts is a funnel's events from one browser.
type BrowserCounts struct {
	Browser                string
	Shown, Clicked, Closed int
}

// ActionCount is how many clicks one action of a notification had.
type ActionCount struct {
	Action string
	Count  int
}

// recordEventSQL inserts an event of a broadcast that exists, once. The
// casts type the parameters for PostgreSQL, which reads a bare one in a
// SELECT list as text.
const recordEventSQL = `INSERT INTO events (broadcast_id, type, subscription_id, action, browser, at)
	SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT)
	WHERE EXISTS (SELECT 1 FROM broadcasts WHERE id = ?)
	ON CONFLICT (broadcast_id, type, subscription_id) DO NOTHING`

// RecordEvent records e once per (broadcast, type, subscription).
func (s *DB) RecordEvent(ctx context.Context, e Event) (bool, error) {
	if e.BroadcastID == "" || e.SubscriptionID <= 0 || e.Type == "" {
		return false, fmt.Errorf("store: record event: broadcast, subscription and type are required")
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	n, err := s.w.exec(ctx, recordEventSQL,
		e.BroadcastID, e.Type, e.SubscriptionID, e.Action, e.Browser, ms(at), e.BroadcastID)
	if err != nil {
		return false, fmt.Errorf("store: record event: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	// A repeat, or no broadcast to count it for.
	if _, err := getBroadcast(ctx, s.w, e.BroadcastID); err != nil {
		return false, wrapNotFound("record event", err)
	}
	return false, nil
}

// Funnel counts the events of broadcast id in one query: its rows are
// bounded by browsers x types x the notification's actions. A closed
// notification counts only when it was not clicked: browsers close a
// notification as it is clicked, and some report that close too, in either
// order.
func (s *DB) Funnel(ctx context.Context, id string) (FunnelCounts, error) {
	rs, err := s.r.query(ctx,
		`SELECT browser, type, action, COUNT(*) FROM events e
		WHERE broadcast_id = ? AND NOT (type = ? AND EXISTS (
			SELECT 1 FROM events c WHERE c.broadcast_id = e.broadcast_id AND c.type = ? AND c.subscription_id = e.subscription_id))
		GROUP BY browser, type, action`, id, api.EventClosed, api.EventClicked)
	if err != nil {
		return FunnelCounts{}, fmt.Errorf("store: funnel: %w", err)
	}
	defer rs.Close()
	var f FunnelCounts
	browsers := map[string]*BrowserCounts{}
	actions := map[string]int{}
	for rs.Next() {
		var browser, typ, action string
		var n int
		if err := rs.Scan(&browser, &typ, &action, &n); err != nil {
			return FunnelCounts{}, fmt.Errorf("store: funnel: %w", err)
		}
		b := browsers[browser]
		if b == nil {
			b = &BrowserCounts{Browser: browser}
			browsers[browser] = b
		}
		switch typ {
		case api.EventShown:
			f.Shown += n
			b.Shown += n
		case api.EventClicked:
			f.Clicked += n
			b.Clicked += n
			actions[action] += n
		case api.EventClosed:
			f.Closed += n
			b.Closed += n
		}
	}
	if err := rs.Err(); err != nil {
		return FunnelCounts{}, fmt.Errorf("store: funnel: %w", err)
	}
	for _, b := range browsers {
		f.ByBrowser = append(f.ByBrowser, *b)
	}
	slices.SortFunc(f.ByBrowser, func(a, b BrowserCounts) int {
		return cmp.Or(cmp.Compare(b.Shown, a.Shown), cmp.Compare(a.Browser, b.Browser))
	})
	for a, n := range actions {
		f.Actions = append(f.Actions, ActionCount{Action: a, Count: n})
	}
	slices.SortFunc(f.Actions, func(a, b ActionCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Action, b.Action))
	})
	return f, nil
}
