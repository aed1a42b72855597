package app

import (
	"strconv"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
	"pushstart/push"
)

// deliveryOutcomes are the outcome filter's choices, after "any".
var deliveryOutcomes = []push.Outcome{push.Sent, push.Gone, push.Failed, push.Rejected, push.Unauthorized}

// deliveriesPanel is the delivery log: each push's final outcome, newest
// first, filtered by broadcast, outcome and push service.
type deliveriesPanel struct {
	goapp.Compo

	env  adminEnv
	life panelLife

	filter     deliveryFilter
	broadcasts []api.BroadcastStatus // recent ones, for the broadcast filter
	list       []api.DeliveryInfo
	next       string
	loading    bool
	loaded     bool
	errText    string
	generation int // counts the reloads, so a slow answer to an older filter is dropped
}

// newDeliveriesPanel is the admin console's Delivery log tab.
func newDeliveriesPanel(env adminEnv) goapp.Composer {
	return &deliveriesPanel{env: env}
}

// OnMount loads the recent broadcasts for the filter and the first page.
func (p *deliveriesPanel) OnMount(ctx goapp.Context) {
	p.life.start(ctx)
	c, life := p.env.api, p.life.ctx
	ctx.Async(func() {
		l, err := c.listBroadcasts(life, 100, "")
		ctx.Dispatch(func(ctx goapp.Context) {
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.broadcasts = l.Broadcasts
		})
	})
	p.reload(ctx)
}

// OnDismount ends the panel's calls.
func (p *deliveriesPanel) OnDismount() {
	p.life.stop()
}

func (p *deliveriesPanel) Render() goapp.UI {
	now := time.Now()
	return goapp.Section().Class("card admin-panel deliveries-panel").Aria("labelledby", "deliveries-heading").Body(
		goapp.Div().Class("panel-head").Body(
			goapp.H2().ID("deliveries-heading").Text("Delivery log"),
			goapp.Button().Type("button").Disabled(p.loading).OnClick(p.onRefresh).Text("Refresh deliveries"),
		),
		goapp.P().Class("hint").Text("Each push's final outcome after retries, newest first. Test sends have no broadcast."),
		goapp.Div().Class("filters").Body(
			filterSelect("filter-broadcast", "Broadcast", p.filter.Broadcast, p.broadcastOptions(), func(ctx goapp.Context, v string) {
				p.filter.Broadcast = v
				p.reload(ctx)
			}),
			filterSelect("filter-outcome", "Outcome", p.filter.Outcome, outcomeOptions(), func(ctx goapp.Context, v string) {
				p.filter.Outcome = v
				p.reload(ctx)
			}),
			filterSelect("filter-service", "Push service", p.filter.Service, serviceOptions(), func(ctx goapp.Context, v string) {
				p.filter.Service = v
				p.reload(ctx)
			}),
		),
		panelError(p.errText),
		goapp.Div().Class("table-scroll").Body(
			goapp.Table().Class("admin-table deliveries").Aria("busy", p.loading).Body(
				goapp.THead().Body(goapp.Tr().Body(
					goapp.Th().Scope("col").Text("Time"),
					goapp.Th().Scope("col").Text("Broadcast"),
					goapp.Th().Scope("col").Text("Endpoint"),
					goapp.Th().Scope("col").Text("Push service"),
					goapp.Th().Scope("col").Text("Outcome"),
					goapp.Th().Scope("col").Class("num").Text("HTTP status"),
					goapp.Th().Scope("col").Class("num").Text("Attempts"),
					goapp.Th().Scope("col").Text("Error"),
				)),
				goapp.TBody().Body(
					goapp.If(p.loaded && len(p.list) == 0, func() goapp.UI { return emptyRow(8, "No deliveries match.") }),
					goapp.If(!p.loaded && p.errText == "", func() goapp.UI { return emptyRow(8, "Loading…") }),
					goapp.Range(p.list).Slice(func(i int) goapp.UI { return p.row(p.list[i], now) }),
				),
			),
		),
		moreButton("More deliveries", p.next, p.loading && p.loaded, p.onMore),
	)
}

func (p *deliveriesPanel) row(d api.DeliveryInfo, now time.Time) goapp.UI {
	status := "—"
	if d.Status != 0 {
		status = strconv.Itoa(d.Status)
	}
	return goapp.Tr().
		DataSet("delivery-id", d.ID).
		DataSet("outcome", d.Outcome).
		Body(
			goapp.Th().Scope("row").Body(timeCell(&d.At, now)),
			goapp.Td().Title("%s", d.BroadcastID).Text(p.broadcastName(d.BroadcastID)),
			goapp.Td().Body(goapp.Code().Class("hash").Text(d.EndpointHash)),
			goapp.Td().Body(
				goapp.Div().Text(api.ServiceName(d.Service)),
				goapp.Div().Class("sub").Text(d.Host),
			),
			goapp.Td().Body(goapp.Span().Class("badge outcome-"+d.Outcome).Text(d.Outcome)),
			goapp.Td().Class("num").Text(status),
			goapp.Td().Class("num").Text(d.Attempts),
			goapp.Td().Class("error-text").Text(d.Error),
		)
}

// broadcastName names a delivery's broadcast by its title when it is one of
// the recent ones, else by its id.
func (p *deliveriesPanel) broadcastName(id string) string {
	if id == "" {
		return "Test send"
	}
	for _, b := range p.broadcasts {
		if b.ID == id && b.Title != "" {
			return b.Title
		}
	}
	return shortID(id)
}

// selectOption is one choice of a filter.
type selectOption struct{ Value, Label string }

// broadcastOptions are the recent broadcasts, and the chosen one when it is
// older.
func (p *deliveriesPanel) broadcastOptions() []selectOption {
	opts := []selectOption{{"", "Any broadcast"}}
	chosen := p.filter.Broadcast == ""
	for _, b := range p.broadcasts {
		opts = append(opts, selectOption{b.ID, broadcastOptionLabel(b)})
		chosen = chosen || b.ID == p.filter.Broadcast
	}
	if !chosen {
		opts = append(opts, selectOption{p.filter.Broadcast, shortID(p.filter.Broadcast)})
	}
	return opts
}

// broadcastOptionLabel is "Title · Jan 2, 15:04" for the broadcast filter.
func broadcastOptionLabel(b api.BroadcastStatus) string {
	title := b.Title
	if title == "" {
		title = shortID(b.ID)
	}
	return title + " · " + shortTime(b.CreatedAt, time.Now())
}

func outcomeOptions() []selectOption {
	opts := []selectOption{{"", "Any outcome"}}
	for _, o := range deliveryOutcomes {
		opts = append(opts, selectOption{string(o), string(o)})
	}
	return opts
}

func serviceOptions() []selectOption {
	opts := []selectOption{{"", "Any push service"}}
	for _, s := range api.Services {
		opts = append(opts, selectOption{s, api.ServiceName(s)})
	}
	return opts
}

// filterSelect is a labelled <select> that calls onChange with the chosen
// value.
func filterSelect(id, label, value string, opts []selectOption, onChange func(goapp.Context, string)) goapp.UI {
	return goapp.Div().Class("field filter").Body(
		goapp.Label().For(id).Text(label),
		goapp.Select().
			ID(id).
			Name(id).
			OnChange(func(ctx goapp.Context, e goapp.Event) {
				onChange(ctx, filterValue(ctx.JSSrc().Get("value").String()))
			}).
			Body(
				goapp.Range(opts).Slice(func(i int) goapp.UI {
					o := opts[i]
					return goapp.Option().Value(optionValue(o.Value)).Selected(o.Value == value).Text(o.Label)
				}),
			),
	)
}

// anyValue is the value of a filter's "any" option: an option with an
// empty value attribute would have its label for value.
const anyValue = "any"

// optionValue is the value attribute of a filter's option for v.
func optionValue(v string) string {
	if v == "" {
		return anyValue
	}
	return v
}

// filterValue is the filter a select's value chooses: "" for any.
func filterValue(v string) string {
	if v == anyValue {
		return ""
	}
	return v
}

func (p *deliveriesPanel) onRefresh(ctx goapp.Context, e goapp.Event) { p.reload(ctx) }

func (p *deliveriesPanel) onMore(ctx goapp.Context, e goapp.Event) {
	if p.loading {
		return
	}
	p.load(ctx, p.next)
}

// reload reads the first page for the filter now chosen; an answer for an
// earlier filter still on its way is dropped.
func (p *deliveriesPanel) reload(ctx goapp.Context) {
	p.generation++
	p.list, p.next, p.loaded = nil, "", false
	p.load(ctx, "")
}

// load reads the page after before.
func (p *deliveriesPanel) load(ctx goapp.Context, before string) {
	p.loading = true
	c, life, f, gen := p.env.api, p.life.ctx, p.filter, p.generation
	ctx.Async(func() {
		page, err := c.deliveryPage(life, f, deliveryPageSize, before)
		ctx.Dispatch(func(ctx goapp.Context) {
			if gen != p.generation {
				return
			}
			p.loading = false
			if err != nil {
				p.errText = p.env.failure(ctx, err)
				return
			}
			p.errText, p.loaded = "", true
			p.list = appendPage(p.list, page.Deliveries, func(x api.DeliveryInfo) int64 { return x.ID })
			p.next = page.Next
		})
	})
}
