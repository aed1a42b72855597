package app

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// How the broadcasts panel follows progress and funnels.
const (
	// maxStreams bounds the event streams open at once. Over HTTP/1.1 a
	// browser opens at most six connections to a server; the rest are for
	// the console's other calls. More unfinished broadcasts wait for a
	// stream to end.
	maxStreams = 3
	// followCheck is how often the panel looks for broadcasts to follow:
	// one whose stream dropped, or a scheduled one about to start.
	followCheck = 5 * time.Second
	// followAhead is how soon a scheduled broadcast must be due to be
	// followed: one for tomorrow would hold a connection all night.
	followAhead = time.Minute
	// funnelRefresh is how often an open funnel is read again: the
	// browsers' reports keep coming after a broadcast is done.
	funnelRefresh = 3 * time.Second
)

// broadcastsPanel lists the broadcasts, newest first, with live progress
// for the unfinished ones, a Cancel button for them, and the funnel of the
// one the admin opens.
type broadcastsPanel struct {
	goapp.Compo

	env  adminEnv
	life panelLife

	list      []api.BroadcastStatus
	next      string // the before= of the next page; "" when none
	loading   bool
	loaded    bool
	errText   string
	streams   map[string]*stream // by broadcast id
	noStream  map[string]bool    // broadcasts the server refused to stream
	canceling map[string]bool

	funnelID   string // the broadcast whose funnel is open; "" when none
	funnel     *api.Funnel
	funnelErr  string
	funnelStop context.CancelFunc
}

// stream is one broadcast's event stream, told apart from a later one of
// the same broadcast by its address.
type stream struct{ stop context.CancelFunc }

// newBroadcastsPanel is the admin console's Broadcasts tab.
func newBroadcastsPanel(env adminEnv) goapp.Composer {
	return &broadcastsPanel{env: env}
}

// OnMount loads the first page and starts following progress.
func (p *broadcastsPanel) OnMount(ctx goapp.Context) {
	p.life.start(ctx)
	p.streams = map[string]*stream{}
	p.noStream = map[string]bool{}
	p.canceling = map[string]bool{}
	p.load(ctx, "")
	life := p.life.ctx
	ctx.Async(func() {
		t := time.NewTicker(followCheck)
		defer t.Stop()
		for {
			select {
			case <-life.Done():
				return
			case <-t.C:
				ctx.Dispatch(p.follow)
			}
		}
	})
}

// OnDismount ends the panel's streams and calls.
func (p *broadcastsPanel) OnDismount() {
	p.life.stop()
}

func (p *broadcastsPanel) Render() goapp.UI {
	now := time.Now()
	var open *api.BroadcastStatus
	if i := p.index(p.funnelID); i >= 0 {
		open = &p.list[i]
	}
	return goapp.Section().Class("card admin-panel broadcasts-panel").Aria("labelledby", "broadcasts-heading").Body(
		goapp.Div().Class("panel-head").Body(
			goapp.H2().ID("broadcasts-heading").Text("Broadcasts"),
			goapp.Button().Type("button").Disabled(p.loading).OnClick(p.onRefresh).Text("Refresh broadcasts"),
		),
		goapp.P().Class("hint").Text("Newest first. Unfinished broadcasts update live; open a funnel to see what one achieved."),
		panelError(p.errText),
		goapp.Div().Class("table-scroll").Body(
			goapp.Table().Class("admin-table broadcasts").Body(
				goapp.THead().Body(goapp.Tr().Body(
					goapp.Th().Scope("col").Text("Title"),
					goapp.Th().Scope("col").Text("Audience"),
					goapp.Th().Scope("col").Text("Created"),
					goapp.Th().Scope("col").Text("Send time"),
					goapp.Th().Scope("col").Text("Status"),
					goapp.Th().Scope("col").Text("Progress"),
					goapp.Th().Scope("col").Class("num").Text("Sent"),
					goapp.Th().Scope("col").Class("num").Text("Failed"),
					goapp.Th().Scope("col").Class("num").Text("Pruned"),
					goapp.Th().Scope("col").Text("Actions"),
				)),
				goapp.TBody().Body(
					goapp.If(p.loaded && len(p.list) == 0, func() goapp.UI { return emptyRow(10, "No broadcasts yet.") }),
					goapp.If(!p.loaded && p.errText == "", func() goapp.UI { return emptyRow(10, "Loading…") }),
					goapp.Range(p.list).Slice(func(i int) goapp.UI { return p.row(p.list[i], now) }),
				),
			),
		),
		moreButton("More broadcasts", p.next, p.loading && p.loaded, p.onMore),
		goapp.If(open != nil, func() goapp.UI {
			return funnelView(*open, p.funnel, p.funnelErr, p.onCloseFunnel)
		}),
	)
}

func (p *broadcastsPanel) row(b api.BroadcastStatus, now time.Time) goapp.UI {
	pr := broadcastProgress(b)
	barValue, barMax := pr.Bar()
	id := b.ID
	sendTime := b.SendAt
	if sendTime == nil {
		sendTime = b.StartedAt
	}
	title := b.Title
	if title == "" {
		title = "(no title)"
	}
	return goapp.Tr().
		DataSet("broadcast-id", b.ID).
		DataSet("status", b.Status).
		Class(rowClass(p.funnelID == b.ID)).
		Body(
			goapp.Th().Scope("row").Class("title").Title("%s", b.ID).Text(title),
			goapp.Td().Text(b.Audience),
			goapp.Td().Body(timeCell(&b.CreatedAt, now)),
			goapp.Td().Body(timeCell(sendTime, now)),
			goapp.Td().Body(
				goapp.Span().Class("badge badge-"+b.Status).Text(statusLabel(b.Status)),
			),
			goapp.Td().Class("progress-cell").Body(
				goapp.Progress().
					Class("progress").
					Max(barMax).
					Value(barValue).
					Aria("label", "Progress of "+title+": "+pr.String()),
				goapp.Span().Class("progress-text").Text(pr.String()),
			),
			goapp.Td().Class("num").DataSet("count", "sent").Text(b.Sent),
			goapp.Td().Class("num").DataSet("count", "failed").Text(b.Failed),
			goapp.Td().Class("num").DataSet("count", "pruned").Text(b.Pruned),
			goapp.Td().Class("actions").Body(
				goapp.Button().
					Type("button").
					Aria("pressed", p.funnelID == id).
					OnClick(func(ctx goapp.Context, e goapp.Event) { p.openFunnel(ctx, id) }).
					Text("Funnel"),
				goapp.If(!broadcastFinished(b.Status), func() goapp.UI {
					text := "Cancel"
					if p.canceling[id] {
						text = "Canceling…"
					}
					return goapp.Button().
						Type("button").
						Class("danger").
						Disabled(p.canceling[id]).
						OnClick(func(ctx goapp.Context, e goapp.Event) { p.cancel(ctx, id) }).
						Text(text)
				}),
			),
		)
}

func rowClass(selected bool) string {
	if selected {
		return "selected"
	}
	return ""
}

func (p *broadcastsPanel) onRefresh(ctx goapp.Context, e goapp.Event) { p.load(ctx, "") }

func (p *broadcastsPanel) onMore(ctx goapp.Context, e goapp.Event) { p.load(ctx, p.next) }

// load reads the page after before, or the first page again when before is
// "": then the list starts over.
func (p *broadcastsPanel) load(ctx goapp.Context, before string) {
	if p.loading {
		return
	}
	p.loading = true
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		page, err := c.listBroadcasts(life, broadcastPageSize, before)
		ctx.Dispatch(func(ctx goapp.Context) {
			p.loading = false
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.errText, p.loaded = "", true
			if before == "" {
				p.list = page.Broadcasts
			} else {
				p.list = appendPage(p.list, page.Broadcasts, func(x api.BroadcastStatus) string { return x.ID })
			}
			p.next = page.Next
			p.follow(ctx)
		})
	})
}

func (p *broadcastsPanel) index(id string) int {
	if id == "" {
		return -1
	}
	return slices.IndexFunc(p.list, func(b api.BroadcastStatus) bool { return b.ID == id })
}

// show puts a status the server sent in its row.
func (p *broadcastsPanel) show(st api.BroadcastStatus) {
	if i := p.index(st.ID); i >= 0 {
		p.list[i] = st
	}
}

// follow opens the event streams the list calls for (see toFollow). Call
// it on the UI goroutine.
func (p *broadcastsPanel) follow(ctx goapp.Context) {
	if p.life.ctx.Err() != nil {
		return
	}
	skip := map[string]bool{}
	for id := range p.streams {
		skip[id] = true
	}
	for id := range p.noStream {
		skip[id] = true
	}
	for _, id := range toFollow(p.list, skip, maxStreams-len(p.streams), time.Now()) {
		sctx, stop := context.WithCancel(p.life.ctx)
		s := &stream{stop: stop}
		p.streams[id] = s
		c := p.env.api
		ctx.Async(func() {
			err := c.followBroadcast(sctx, id, func(st api.BroadcastStatus) {
				ctx.Dispatch(func(goapp.Context) { p.show(st) })
			})
			ctx.Dispatch(func(ctx goapp.Context) { p.streamEnded(ctx, id, s, err) })
		})
	}
}

// streamEnded forgets a finished stream and opens the next one. A stream
// that dropped (no answer, a 5xx, the server shutting down) is opened
// again at the next check, not at once: while the server is away, at once
// would be as often as the failing request returns. One the server refused
// (4xx) is not opened again.
func (p *broadcastsPanel) streamEnded(ctx goapp.Context, id string, s *stream, err error) {
	s.stop()
	if p.streams[id] == s {
		delete(p.streams, id)
	}
	if err == nil {
		p.follow(ctx)
		return
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		if ae.Status == http.StatusUnauthorized {
			p.env.failure(ctx, err)
			return
		}
		p.noStream[id] = true
		p.errText = p.env.failure(ctx, err)
	}
}

// toFollow picks the broadcasts of list whose progress to stream, at most
// slots of them: the unfinished ones not in skip, those already sending or
// queued first, then the scheduled ones due within followAhead of now;
// newest first within each.
func toFollow(list []api.BroadcastStatus, skip map[string]bool, slots int, now time.Time) []string {
	var running, soon []string
	for _, b := range list {
		switch {
		case skip[b.ID] || broadcastFinished(b.Status):
		case b.Status != api.StatusScheduled:
			running = append(running, b.ID)
		case b.SendAt == nil || b.SendAt.Before(now.Add(followAhead)):
			soon = append(soon, b.ID)
		}
	}
	ids := append(running, soon...)
	if slots <= 0 {
		return nil
	}
	if len(ids) > slots {
		ids = ids[:slots]
	}
	return ids
}

// cancel stops a broadcast and shows its status after the cancel.
func (p *broadcastsPanel) cancel(ctx goapp.Context, id string) {
	if p.canceling[id] {
		return
	}
	p.canceling[id] = true
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		st, err := c.cancelBroadcast(life, id)
		ctx.Dispatch(func(ctx goapp.Context) {
			delete(p.canceling, id)
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.errText = ""
			p.show(st)
		})
	})
}

// openFunnel shows the funnel of broadcast id and reads it again every
// funnelRefresh while it is open, until the server refuses it; a second
// click closes it.
func (p *broadcastsPanel) openFunnel(ctx goapp.Context, id string) {
	if p.funnelID == id {
		p.closeFunnel()
		return
	}
	p.closeFunnel()
	fctx, stop := context.WithCancel(p.life.ctx)
	p.funnelID, p.funnelStop = id, stop
	c := p.env.api
	ctx.Async(func() {
		for {
			f, err := c.funnel(fctx, id)
			if fctx.Err() != nil {
				return
			}
			// A refusal (no such broadcast, signed out) would only repeat.
			var ae *apiError
			refused := errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500
			ctx.Dispatch(func(ctx goapp.Context) {
				if p.funnelID != id {
					return
				}
				if err != nil {
					p.funnelErr = p.env.failure(ctx, err)
					return
				}
				p.funnel, p.funnelErr = &f, ""
			})
			if refused {
				return
			}
			select {
			case <-fctx.Done():
				return
			case <-time.After(funnelRefresh):
			}
		}
	})
}

func (p *broadcastsPanel) onCloseFunnel(ctx goapp.Context, e goapp.Event) { p.closeFunnel() }

func (p *broadcastsPanel) closeFunnel() {
	if p.funnelStop != nil {
		p.funnelStop()
	}
	p.funnelID, p.funnel, p.funnelErr, p.funnelStop = "", nil, "", nil
}
