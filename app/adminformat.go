package app

import (
	"strconv"
	"strings"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// How the admin console's panels write numbers, times and statuses.

// progress is how far a broadcast has come: the subscriptions whose turn
// has passed (sent, failed, pruned or skipped) of its total.
type progress struct {
	Done, Total int
	Complete    bool // the broadcast is done, even one for nobody
}

// broadcastProgress is b's progress. A canceled broadcast shows where it
// stopped.
func broadcastProgress(b api.BroadcastStatus) progress {
	return progress{
		Done:     b.Sent + b.Failed + b.Pruned + b.Skipped,
		Total:    b.Total,
		Complete: b.Status == api.StatusDone,
	}
}

// Bar is the value and max of a <progress> element showing p: max is at
// least 1, so a complete broadcast for nobody shows a full bar, and value
// is at most max, though a total counted again at the start may be below
// the outcomes already recorded.
func (p progress) Bar() (value, maxValue int) {
	maxValue = max(p.Total, 1)
	switch {
	case p.Complete:
		return maxValue, maxValue
	case p.Done <= 0:
		return 0, maxValue
	}
	return min(p.Done, maxValue), maxValue
}

// String is "7 of 10".
func (p progress) String() string {
	return strconv.Itoa(p.Done) + " of " + strconv.Itoa(p.Total)
}

// percent writes a fraction from 0 to 1 as a percentage with at most one
// decimal, without a trailing ".0": "0%", "12.5%", "100%".
func percent(f float64) string {
	if f != f || f < 0 { // NaN or negative: nothing to show
		f = 0
	}
	s := strconv.FormatFloat(f*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// ratio is n / of as a fraction, 0 when of is 0.
func ratio(n, of int) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// shortTime writes t for a table cell, in the browser's time zone: the time
// of day when t is today, the day and time this year, the full date
// otherwise.
func shortTime(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04:05")
	case t.Year() == now.Year():
		return t.Format("Jan 2, 15:04")
	default:
		return t.Format("2006-01-02 15:04")
	}
}

// timeCell is a <time> element for t, or a dash for a time that never was.
func timeCell(t *time.Time, now time.Time) goapp.UI {
	if t == nil || t.IsZero() {
		return goapp.Span().Class("none").Text("—")
	}
	return goapp.Time().
		DateTime("%s", t.UTC().Format(time.RFC3339)).
		Title("%s", t.Local().Format("2006-01-02 15:04:05 MST")).
		Text(shortTime(*t, now))
}

// statusLabel is how the console names a broadcast status.
func statusLabel(status string) string {
	switch status {
	case api.StatusScheduled:
		return "Scheduled"
	case api.StatusQueued:
		return "Queued"
	case api.StatusSending:
		return "Sending"
	case api.StatusDone:
		return "Done"
	case api.StatusCanceled:
		return "Canceled"
	}
	return status
}

// shortID is the start of a long id, enough to tell broadcasts apart in a
// table; the whole id is in the title attribute.
func shortID(id string) string {
	const n = 12
	if len(id) <= n {
		return id
	}
	return id[:n] + "…"
}
