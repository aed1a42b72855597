package app

import (
	"errors"
	"slices"
	"strings"
	"time"

	"pushstart/api"
)

// pageState is everything the home page shows: where the user stands, the
// last error, the last test outcome and the flow log. It is changed only on
// the UI goroutine (inside ctx.Dispatch); the flows send their changes
// through pageUI.
type pageState struct {
	Checked    bool     // the load-time check has finished
	Features   Features // what the browser offers
	SupportErr error    // why push cannot work here; nil when it can
	Permission PermissionState
	Subscribed bool             // the browser has a push subscription
	Saved      bool             // the server confirmed it stores that subscription
	Sub        api.Subscription // the subscription, when Subscribed
	Tags       []string         // its topics as the server stores them, when Saved
	Choosing   []string         // the topics being saved, ticked until the server answers; nil when none
	Busy       string           // the action under way, "" when idle
	Waiting    bool             // watching for a push service's late answer
	Alert      string           // the last error, shown in the role="alert" region
	Outcome    string           // the server's reply to the last test send, pretty-printed
	Entries    []flowEntry      // the flow log, oldest first
	// Pruned: a push to this subscription found it gone (404/410) and the
	// server deleted it; the browser still holds the dead subscription
	// until the user subscribes again.
	Pruned bool
	// Flow is what the server offers for the live flow (GET /api/flow);
	// FlowKnown is false until it answered.
	Flow      api.FlowInfo
	FlowKnown bool
	// Slow is the "Slow motion" choice: trace steps wait in Pending and
	// are revealed one at a time (revealNext).
	Slow    bool
	Pending []flowEntry
	// Offline: the browser says it has no network (navigator.onLine is
	// false); the page runs from the service worker's cache.
	Offline bool
	// Unreachable: the last request to the server got no answer.
	Unreachable bool
	// CacheOnly: the page has had neither network nor server since it
	// started (the browser said it was offline, or the load-time check got
	// no answer), so it runs from the service worker's cache alone. It
	// ends once the server answers, or an action succeeds online.
	CacheOnly bool
	// PrivateGuess: the last subscribe was refused the way Chrome refuses
	// an Incognito window (ErrPrivateWindow). Only a guess from one
	// refusal, which a policy or the system can cause as well: the page
	// shows what to do about private windows, and Enable stays on.
	PrivateGuess error
}

// begin marks an action as running.
func (s *pageState) begin(what string) {
	s.Busy = what
	s.Waiting = false
	s.Alert = ""
	s.PrivateGuess = nil
}

// finish ends the running action (or the load-time check) and shows err, if
// any. The checkboxes show the stored topics again: the new ones when the
// save succeeded, the old ones when it failed.
func (s *pageState) finish(err error) {
	loadTime := !s.Checked
	s.Busy = ""
	s.Checked = true
	s.Choosing = nil
	if err != nil {
		s.fail(err)
		if loadTime && s.Unreachable {
			s.CacheOnly = true
		}
		return
	}
	s.Unreachable = false
	if !s.Offline {
		s.CacheOnly = false
	}
}

// fail shows err in the alert region and the flow log, which keeps the
// browser's own words. A request the server never answered reads as the
// page being offline rather than as the browser's "Failed to fetch"; any
// answer, even an error, shows the server is reached again. The Incognito
// refusal of a subscribe leaves push support as it was (PrivateGuess).
func (s *pageState) fail(err error) {
	s.Alert = err.Error()
	var ae *apiError
	if errors.As(err, &ae) {
		s.Unreachable = ae.Status == 0
		if s.Unreachable {
			s.Alert = trf("The server did not answer %s %s: this browser is offline, or the server is not running.", ae.Method, ae.Path)
		} else {
			s.CacheOnly = false
		}
	}
	if errors.Is(err, ErrPrivateWindow) && s.SupportErr == nil {
		s.PrivateGuess = err
	}
	s.addEntry(flowEntry{At: time.Now(), Level: flowError, Actor: api.ActorPage, Title: errorTitle(err), Detail: errorDetail(err)})
}

// setOnline records what the browser says of its network (navigator.onLine
// and its online and offline events), and reports whether the page should
// run its load-time check again: back online after a request the server
// never answered, with nothing else running. Offline before the load-time
// check ends, the page started from the cache.
func (s *pageState) setOnline(online bool) (recheck bool) {
	s.Offline = !online
	if !online && !s.Checked {
		s.CacheOnly = true
	}
	return online && s.Unreachable && s.Checked && s.Busy == ""
}

// serverAnswers records that the server answered the page's quiet check
// (its /healthz): the load-time check it then runs again may fail for
// another reason, and must not make the page check again and again.
func (s *pageState) serverAnswers() {
	s.Unreachable = false
	s.CacheOnly = false
}

// subscribed shows sub as the browser's subscription, not yet confirmed by
// the server.
func (s *pageState) subscribed(sub api.Subscription) {
	s.Subscribed, s.Saved, s.Sub, s.Tags, s.Pruned = true, false, sub, nil, false
}

// unsubscribed shows that the browser has no subscription.
func (s *pageState) unsubscribed() {
	s.Subscribed, s.Saved, s.Sub, s.Tags, s.Pruned = false, false, api.Subscription{}, nil, false
}

// pruned shows that the server deleted the subscription of endpoint after
// its push service answered that it is gone.
func (s *pageState) pruned(endpoint string) {
	if s.Sub.Endpoint == endpoint {
		s.Saved, s.Tags, s.Pruned = false, nil, true
	}
}

// stored shows that the server stores the subscription of endpoint, with
// tags as its topics. An answer about another subscription than the one
// shown changes nothing.
func (s *pageState) stored(endpoint string, tags []string) {
	if s.Sub.Endpoint == endpoint {
		s.Saved, s.Tags = true, tags
	}
}

// chooseTopics shows tags ticked while the action that saves them runs.
func (s *pageState) chooseTopics(tags []string) { s.Choosing = tags }

// maxFlowEntries bounds the flow log of a long session; the oldest go first.
const maxFlowEntries = 300

// addEntry appends e to the flow log; after the steps still waiting to be
// revealed, if any, so that the log keeps the order things happened in.
func (s *pageState) addEntry(e flowEntry) {
	if len(s.Pending) > 0 {
		s.Pending = bounded(inTimeOrder(s.Pending, e))
		return
	}
	s.Entries = bounded(inTimeOrder(s.Entries, e))
}

// maxReorder is how far back a step that arrived late may be placed.
const maxReorder = 16

// inTimeOrder appends e to entries, before the last few entries that
// happened after it. Steps reach the page by two ways, the server's stream
// and the service worker's messages, and the worker's can overtake the
// server's: the push service's "handed to the browser" may arrive after the
// worker's "push event received" that it caused. Each way keeps its own
// order, so only entries of another way move.
func inTimeOrder(entries []flowEntry, e flowEntry) []flowEntry {
	entries = append(entries, e)
	for i := len(entries) - 1; i > 0 && i > len(entries)-1-maxReorder; i-- {
		if !happenedAfter(entries[i-1], entries[i]) {
			break
		}
		entries[i-1], entries[i] = entries[i], entries[i-1]
	}
	return entries
}

// happenedAfter reports whether a happened after b. The times of the steps
// the worker posts are whole milliseconds (Date.now), the server's finer:
// within one millisecond a worker's posted step comes after the server's,
// whose step (the push handed to the browser) caused it, even though its
// truncated time reads earlier. The page's own steps (no Step name, even
// the one it logs for the worker) are logged as they happen, in order.
func happenedAfter(a, b flowEntry) bool {
	if a.Step == "" || b.Step == "" {
		return a.At.After(b.At)
	}
	ams, bms := a.At.Truncate(time.Millisecond), b.At.Truncate(time.Millisecond)
	if ams.Equal(bms) {
		return a.Actor == api.ActorWorker && b.Actor != api.ActorWorker
	}
	return ams.After(bms)
}

// bounded keeps the newest maxFlowEntries of entries.
func bounded(entries []flowEntry) []flowEntry {
	if n := len(entries) - maxFlowEntries; n > 0 {
		return append([]flowEntry(nil), entries[n:]...)
	}
	return entries
}

// reveal shows a trace step: at once, or, in slow motion, after the steps
// waiting before it (revealNext).
func (s *pageState) reveal(e flowEntry) {
	if s.Slow {
		s.Pending = bounded(inTimeOrder(s.Pending, e))
		return
	}
	s.addEntry(e)
}

// revealNext moves the oldest waiting step to the log, and reports whether
// more wait.
func (s *pageState) revealNext() bool {
	if len(s.Pending) == 0 {
		return false
	}
	e := s.Pending[0]
	s.Pending = s.Pending[1:]
	s.Entries = bounded(append(s.Entries, e))
	return len(s.Pending) > 0
}

// setSlow turns slow motion on or off; off reveals every waiting step at
// once.
func (s *pageState) setSlow(on bool) {
	s.Slow = on
	if !on {
		s.Entries = bounded(append(s.Entries, s.Pending...))
		s.Pending = nil
	}
}

// traceWanted is the endpoint whose trace the page should follow, given
// that it follows current ("" for none): the subscription once the server
// stores it, and still after the server pruned it, to show what came of
// that; none without a subscription.
func (s pageState) traceWanted(current string) string {
	switch {
	case !s.Subscribed:
		return ""
	case s.Saved || s.Sub.Endpoint == current:
		return s.Sub.Endpoint
	default:
		return ""
	}
}

// canBreak: the break switches are offered by a server in local mode, for
// the subscription it stores, while nothing else runs.
func (s pageState) canBreak() bool {
	return s.supported() && s.Busy == "" && s.showBreaks()
}

// showBreaks: the "Break it" card is shown in local mode while the browser
// is subscribed and the server stores the subscription.
func (s pageState) showBreaks() bool {
	return s.FlowKnown && s.Flow.Local && s.Subscribed && s.Saved && len(s.Flow.Breaks) > 0
}

// canSubscribeAgain: the server pruned the subscription and nothing runs.
func (s pageState) canSubscribeAgain() bool {
	return s.supported() && s.Busy == "" && s.Subscribed && s.Pruned
}

func (s pageState) supported() bool { return s.Checked && s.SupportErr == nil }

// canEnable: push works here, nothing is running, no subscription exists,
// and the user has not blocked notifications (the browser would not ask).
func (s pageState) canEnable() bool {
	return s.supported() && s.Busy == "" && !s.Subscribed && s.Permission != PermissionDenied
}

func (s pageState) canDisable() bool { return s.supported() && s.Busy == "" && s.Subscribed }

func (s pageState) canSendTest() bool {
	return s.supported() && s.Busy == "" && s.Subscribed && s.Permission == PermissionGranted
}

// canChooseTopics: the topics can change once the server has said which it
// stores, and while nothing else runs.
func (s pageState) canChooseTopics() bool {
	return s.supported() && s.Busy == "" && s.Subscribed && s.Saved
}

// topicChecked says whether tag's checkbox is ticked: the topics being
// saved, else the stored ones.
func (s pageState) topicChecked(tag string) bool {
	if s.Choosing != nil {
		return slices.Contains(s.Choosing, tag)
	}
	return slices.Contains(s.Tags, tag)
}

// topicsText says which topics the server stores for this subscription.
func (s pageState) topicsText() string {
	switch {
	case !s.Saved:
		return tr("Topics can be chosen once the server stores this subscription.")
	case len(s.Tags) == 0:
		return tr("Stored on the server: no topics")
	default:
		return trf("Stored on the server: %s", strings.Join(s.Tags, ", "))
	}
}

// supportText is the "Push support" status line.
func (s pageState) supportText() string {
	switch {
	case !s.Checked && !s.Features.Browser:
		return tr("Push support: checking…")
	case s.SupportErr == nil && s.PrivateGuess != nil:
		return tr("Push support: subscribing refused, as in a private window")
	case s.SupportErr == nil:
		return tr("Push support: available")
	}
	var pe *PushError
	if errors.As(s.SupportErr, &pe) {
		switch pe.Kind {
		case ErrInsecureContext:
			return tr("Push support: unavailable, not a secure context")
		case ErrNeedsHomeScreen:
			return tr("Push support: unavailable until added to the home screen")
		case ErrPrivateWindow:
			return tr("Push support: unavailable in a private window")
		}
	}
	if m := s.Features.Missing(); len(m) > 0 && s.Features.Browser {
		return trf("Push support: unavailable, missing %s", strings.Join(m, ", "))
	}
	return tr("Push support: unavailable")
}

// connectionText says the page works offline; "" while it is online and
// the server answers.
func (s pageState) connectionText() string {
	switch {
	case s.Offline:
		return tr("Offline: this browser has no network connection")
	case s.Unreachable:
		return tr("Server: no answer (offline, or not running)")
	default:
		return ""
	}
}

// permissionText is the "Permission" status line; test suites look for
// "Permission: granted" and the like.
func (s pageState) permissionText() string {
	switch {
	case !s.Checked && s.Permission == "":
		return tr("Permission: checking…")
	case s.Permission == "":
		return tr("Permission: unknown")
	default:
		return permissionTitle(s.Permission)
	}
}

// subscriptionText is exactly "Subscribed" or "Not subscribed" once known.
func (s pageState) subscriptionText() string {
	switch {
	case !s.Checked:
		return tr("Checking subscription…")
	case s.Subscribed:
		return tr("Subscribed")
	default:
		return tr("Not subscribed")
	}
}

// serverText says whether the server holds the subscription.
func (s pageState) serverText() string {
	switch {
	case !s.Subscribed:
		return tr("Server: no subscription to store")
	case s.Saved:
		return tr("Server: stores this subscription")
	case s.Pruned:
		return tr("Server: deleted this subscription, gone at the push service")
	default:
		return tr("Server: not confirmed")
	}
}

// statusMark is the look of a status line: good, in the way, neutral, or
// under way. The CSS draws a symbol for each, so colour is not the only cue.
type statusMark string

const (
	markOK      statusMark = "ok"
	markBad     statusMark = "bad"
	markNeutral statusMark = "neutral"
	markBusy    statusMark = "busy"
)

// mark picks markOK when good, markBad when bad, else markNeutral.
func mark(good, bad bool) statusMark {
	switch {
	case good:
		return markOK
	case bad:
		return markBad
	default:
		return markNeutral
	}
}

func (s pageState) supportMark() statusMark {
	return mark(s.Checked && s.SupportErr == nil && s.PrivateGuess == nil, s.SupportErr != nil || s.PrivateGuess != nil)
}

func (s pageState) permissionMark() statusMark {
	return mark(s.Permission == PermissionGranted,
		s.Permission == PermissionDenied || s.Permission == PermissionUnsupported)
}

// browserFamily names the browser for the permission instructions.
func browserFamily(ua string) string {
	switch {
	case strings.Contains(ua, "Edg/") || strings.Contains(ua, "EdgA/") || strings.Contains(ua, "EdgiOS/"):
		return "edge"
	case strings.Contains(ua, "Firefox/") || strings.Contains(ua, "FxiOS/"):
		return "firefox"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "safari" // every iOS browser is Safari's engine and settings
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		return "chrome"
	case strings.Contains(ua, "Safari/"):
		return "safari"
	default:
		return ""
	}
}

// reenableStep is how one browser lets the user allow notifications again.
type reenableStep struct {
	Family  string
	Browser string
	How     string
}

// reenableSteps lists every browser's way back from "denied", the user's own
// browser first. The menu names are those of the browsers' own help pages
// (Chrome, Firefox) or of their settings pages (Edge); Safari's are Apple's
// wording as reported, not checked on a device.
func reenableSteps(ua string) []reenableStep {
	all := []reenableStep{
		{"chrome", "Chrome / Chromium", tr("click View site information, left of the address > Site settings, set Notifications to Allow, then reload this page. For every site: ⋮ > Settings > Privacy and security > Site settings > Notifications.")},
		{"edge", "Edge", tr("⋯ > Settings > Cookies and site permissions > Notifications (edge://settings/content/notifications): allow this site there, then reload this page.")},
		{"firefox", "Firefox", tr("click the padlock left of the address > Connection secure > More information > Permissions: under Send Notifications, untick Use Default and choose Allow, then reload this page. For every site: ☰ > Settings > Privacy & Security > Permissions > Settings… next to Notifications.")},
		{"safari", "Safari", tr("on a Mac: Safari > Settings (Preferences before macOS Ventura) > Websites > Notifications, set this site to Allow, then reload this page. On iPhone and iPad (home screen app): Settings > Notifications > pushstart > Allow Notifications.")},
	}
	fam := browserFamily(ua)
	for i, st := range all {
		if st.Family == fam && i > 0 {
			all[0], all[i] = all[i], all[0]
			break
		}
	}
	return all
}

// flowLevel marks a flow entry as progress, success or failure.
type flowLevel string

const (
	flowInfo  flowLevel = "info"
	flowOK    flowLevel = "ok"
	flowError flowLevel = "error"
)

// flowEntry is one step of the flow log, with the real data it saw: a step
// of the page itself, or a trace step of the server, the push service or the
// service worker (traceEntry).
type flowEntry struct {
	At     time.Time
	Level  flowLevel
	Actor  string // who took the step: one of the api.Actor* names
	To     string // whom it went to, "" for a step within Actor
	Step   string // the api.Step* name of a trace step; "" for the page's own
	Push   string // the push it belongs to (api.TraceEvent.Push); "" for none
	Title  string
	Fields []api.TraceField
	Detail string // preformatted: JSON, request and answer, error text
}

// route is who took one of the page's steps and whom it went to.
type route struct{ from, to string }

// The routes of the page's own steps.
var (
	onPage        = route{api.ActorPage, ""}
	pageToBrowser = route{api.ActorPage, api.ActorBrowser}
	browserToPage = route{api.ActorBrowser, api.ActorPage}
	pageToServer  = route{api.ActorPage, api.ActorServer}
	serverToPage  = route{api.ActorServer, api.ActorPage}
	workerToPage  = route{api.ActorWorker, api.ActorPage}
)
