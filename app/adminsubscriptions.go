package app

import (
	"errors"
	"net/http"
	"strings"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// subscriptionsPanel shows how many subscriptions there are, by push
// service, browser and tag, and lists them newest first, each with a
// Delete button that asks once more before it deletes.
type subscriptionsPanel struct {
	goapp.Compo

	env  adminEnv
	life panelLife

	stats    *api.SubscriptionStats // nil until loaded
	list     []api.SubscriptionInfo
	next     string
	loading  bool
	loaded   bool
	errText  string
	confirm  int64 // the subscription whose Delete was clicked once; 0 when none
	deleting map[int64]bool
}

// newSubscriptionsPanel is the admin console's Subscriptions tab.
func newSubscriptionsPanel(env adminEnv) goapp.Composer {
	return &subscriptionsPanel{env: env}
}

// OnMount loads the counts and the first page.
func (p *subscriptionsPanel) OnMount(ctx goapp.Context) {
	p.life.start(ctx)
	p.deleting = map[int64]bool{}
	p.loadStats(ctx)
	p.load(ctx, "")
}

// OnDismount ends the panel's calls.
func (p *subscriptionsPanel) OnDismount() {
	p.life.stop()
}

func (p *subscriptionsPanel) Render() goapp.UI {
	now := time.Now()
	return goapp.Section().Class("card admin-panel subscriptions-panel").Aria("labelledby", "subscriptions-heading").Body(
		goapp.Div().Class("panel-head").Body(
			goapp.H2().ID("subscriptions-heading").Text("Subscriptions"),
			goapp.Button().Type("button").Disabled(p.loading).OnClick(p.onRefresh).Text("Refresh subscriptions"),
		),
		panelError(p.errText),
		p.renderStats(),
		goapp.Div().Class("table-scroll").Body(
			goapp.Table().Class("admin-table subscriptions").Body(
				goapp.THead().Body(goapp.Tr().Body(
					goapp.Th().Scope("col").Text("Endpoint"),
					goapp.Th().Scope("col").Text("Push service"),
					goapp.Th().Scope("col").Text("Browser"),
					goapp.Th().Scope("col").Text("Tags"),
					goapp.Th().Scope("col").Text("User"),
					goapp.Th().Scope("col").Text("Created"),
					goapp.Th().Scope("col").Text("Last success"),
					goapp.Th().Scope("col").Text("Last failure"),
					goapp.Th().Scope("col").Text("Actions"),
				)),
				goapp.TBody().Body(
					goapp.If(p.loaded && len(p.list) == 0, func() goapp.UI { return emptyRow(9, "No subscriptions.") }),
					goapp.If(!p.loaded && p.errText == "", func() goapp.UI { return emptyRow(9, "Loading…") }),
					goapp.Range(p.list).Slice(func(i int) goapp.UI { return p.row(p.list[i], now) }),
				),
			),
		),
		moreButton("More subscriptions", p.next, p.loading && p.loaded, p.onMore),
	)
}

func (p *subscriptionsPanel) renderStats() goapp.UI {
	s := p.stats
	if s == nil {
		return goapp.P().Class("hint").Text("Counting the subscriptions…")
	}
	return goapp.Div().Class("stats").Body(
		goapp.Dl().Class("stat-total").Body(
			goapp.Dt().Text("Subscriptions"),
			goapp.Dd().DataSet("stat", "total").Text(s.Total),
		),
		statGroup("By push service", "service", s.ByService, api.ServiceName),
		statGroup("By browser", "browser", s.ByBrowser, nil),
		statGroup("By tag", "tag", s.ByTag, nil),
	)
}

// statGroup is one breakdown of the counts: each count's dd has
// data-stat="kind:key", such as data-stat="service:local".
func statGroup(title, kind string, counts []api.Count, name func(string) string) goapp.UI {
	return goapp.Div().Class("stat-group").DataSet("stats", kind).Body(
		goapp.H3().Text(title),
		goapp.If(len(counts) == 0, func() goapp.UI { return goapp.P().Class("hint").Text("None.") }),
		goapp.If(len(counts) > 0, func() goapp.UI {
			return goapp.Dl().Body(
				goapp.Range(counts).Slice(func(i int) goapp.UI {
					c := counts[i]
					label := c.Key
					if name != nil {
						label = name(c.Key)
					}
					return goapp.Div().Class("stat").Body(
						goapp.Dt().Text(label),
						goapp.Dd().DataSet("stat", kind+":"+c.Key).Text(c.Count),
					)
				}),
			)
		}),
	)
}

func (p *subscriptionsPanel) row(s api.SubscriptionInfo, now time.Time) goapp.UI {
	id := s.ID
	browser := s.Browser
	if browser == "" {
		browser = "Unknown"
	}
	deleteText := "Delete"
	switch {
	case p.deleting[id]:
		deleteText = "Deleting…"
	case p.confirm == id:
		deleteText = "Confirm delete"
	}
	return goapp.Tr().DataSet("subscription-id", id).Body(
		goapp.Th().Scope("row").Body(goapp.Code().Class("hash").Text(s.EndpointHash)),
		goapp.Td().Body(
			goapp.Div().Text(api.ServiceName(s.Service)),
			goapp.Div().Class("sub").Text(s.Host),
		),
		goapp.Td().Title("%s", s.UserAgent).Body(
			goapp.Div().Text(browser),
			goapp.Div().Class("sub ua").Text(s.UserAgent),
		),
		goapp.Td().Text(tagList(s.Tags)),
		goapp.Td().Text(s.UserID),
		goapp.Td().Body(timeCell(&s.CreatedAt, now)),
		goapp.Td().Body(timeCell(s.LastSuccess, now)),
		goapp.Td().Body(timeCell(s.LastFailure, now)),
		goapp.Td().Class("actions").Body(
			goapp.Button().
				Type("button").
				Class("danger").
				Disabled(p.deleting[id]).
				Aria("label", deleteText+" subscription "+s.EndpointHash).
				OnClick(func(ctx goapp.Context, e goapp.Event) { p.onDelete(ctx, id) }).
				Text(deleteText),
			goapp.If(p.confirm == id && !p.deleting[id], func() goapp.UI {
				return goapp.Button().
					Type("button").
					OnClick(func(ctx goapp.Context, e goapp.Event) { p.confirm = 0 }).
					Text("Keep")
			}),
		),
	)
}

// tagList writes a subscription's tags, or a dash for none.
func tagList(tags []string) string {
	if len(tags) == 0 {
		return "—"
	}
	return strings.Join(tags, ", ")
}

func (p *subscriptionsPanel) onRefresh(ctx goapp.Context, e goapp.Event) {
	p.loadStats(ctx)
	p.load(ctx, "")
}

func (p *subscriptionsPanel) onMore(ctx goapp.Context, e goapp.Event) { p.load(ctx, p.next) }

func (p *subscriptionsPanel) loadStats(ctx goapp.Context) {
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		st, err := c.subscriptionStats(life)
		ctx.Dispatch(func(ctx goapp.Context) {
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.stats = &st
		})
	})
}

// load reads the page after before, or the first page again when before is
// "": then the list starts over.
func (p *subscriptionsPanel) load(ctx goapp.Context, before string) {
	if p.loading {
		return
	}
	p.loading = true
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		page, err := c.subscriptionPage(life, subscriptionPageSize, before)
		ctx.Dispatch(func(ctx goapp.Context) {
			p.loading = false
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.errText, p.loaded = "", true
			if before == "" {
				p.list, p.confirm = page.Subscriptions, 0
			} else {
				p.list = appendPage(p.list, page.Subscriptions, func(x api.SubscriptionInfo) int64 { return x.ID })
			}
			p.next = page.Next
		})
	})
}

// onDelete asks for a second click, then deletes the subscription, takes
// its row away and counts again. One already gone is taken away too.
func (p *subscriptionsPanel) onDelete(ctx goapp.Context, id int64) {
	if p.deleting[id] {
		return
	}
	if p.confirm != id {
		p.confirm = id
		return
	}
	p.confirm = 0
	p.deleting[id] = true
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		err := c.deleteSubscriptionByID(life, id)
		ctx.Dispatch(func(ctx goapp.Context) {
			delete(p.deleting, id)
			var ae *apiError
			if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.errText = ""
			p.list = removeSubscription(p.list, id)
			p.loadStats(ctx)
		})
	})
}

// removeSubscription is list without the subscription id.
func removeSubscription(list []api.SubscriptionInfo, id int64) []api.SubscriptionInfo {
	out := list[:0:0]
	for _, s := range list {
		if s.ID != id {
			out = append(out, s)
		}
	}
	return out
}
