package app

import (
	"context"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// home is the kit's only page. It renders the page state and starts the
// flows (flows.go) from its event handlers: each flow runs in ctx.Async and
// sends its changes back through ctx.Dispatch.
type home struct {
	goapp.Compo

	state pageState
	flows *flows
}

func newHome() *home { return &home{} }

// OnMount runs in the browser only: it checks support and permission, and
// re-syncs an existing subscription with the server.
func (h *home) OnMount(ctx goapp.Context) {
	// The title the admin console set, when the page came back from it.
	ctx.Page().SetTitle(pageTitle)
	server := newAPIClient(originOf(goapp.Window().URL()), nil)
	h.flows = newFlows(pageBrowser{}, server, dispatcher{ctx: ctx, state: &h.state})
	h.state.Busy = "Checking this browser…"
	ctx.Async(func() { h.flows.finish(h.flows.load(ctx)) })
}

func (h *home) Render() goapp.UI {
	s := h.state
	return goapp.Div().Class("page").Body(
		goapp.Header().Class("masthead").Body(
			goapp.Img().Class("logo").Src(iconSVGPath).Alt("").Width(56).Height(56),
			goapp.Div().Body(
				goapp.H1().Text("pushstart"),
				goapp.P().Class("tagline").Text("Web Push notifications, one visible step at a time."),
			),
		),
		goapp.Main().Body(
			goapp.Div().Class("alert").Role("alert").Body(
				goapp.If(s.Alert != "", func() goapp.UI {
					return goapp.P().Body(goapp.Strong().Text("Error: "), goapp.Text(s.Alert))
				}),
			),
			goapp.Div().Class("columns").Body(
				goapp.Div().Class("column").Body(
					newStatusPanel(s),
					goapp.Section().Class("card").Body(
						goapp.H2().Text("Notifications"),
						goapp.P().Class("hint").Text("Enabling asks for permission, fetches the server's VAPID public key, subscribes at the browser's push service and stores the subscription on the server."),
						goapp.Div().Class("buttons").Body(
							goapp.Button().
								Type("button").
								Class("primary").
								Disabled(!s.canEnable()).
								OnClick(h.onEnable).
								Text("Enable notifications"),
							goapp.Button().
								Type("button").
								Disabled(!s.canDisable()).
								OnClick(h.onDisable).
								Text("Disable notifications"),
						),
					),
					goapp.If(s.Subscribed, func() goapp.UI { return newTopicsView(s, h.onTopic) }),
					newTestForm(!s.canSendTest(), s.Outcome, h.onSendTest),
					newSubscriptionView(s.Subscribed, s.Sub),
				),
				goapp.Div().Class("column").Body(
					newFlowLog(s.Entries),
				),
			),
		),
		goapp.Footer().Body(
			goapp.P().Text("Your browser's service worker (/app-worker.js) shows the notifications, even with this page closed."),
			goapp.P().Body(goapp.A().Class("admin-link").Href(adminPath).Text("Admin console")),
		),
	)
}

func (h *home) onEnable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canEnable() {
		return
	}
	h.start(ctx, "Enabling notifications…", h.flows.enable)
}

func (h *home) onDisable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canDisable() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	h.start(ctx, "Disabling notifications…", func(ctx context.Context) error {
		return h.flows.disable(ctx, endpoint)
	})
}

func (h *home) onSendTest(ctx goapp.Context, title, body string) {
	if !h.state.canSendTest() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	h.start(ctx, "Sending a test notification…", func(ctx context.Context) error {
		return h.flows.sendTest(ctx, endpoint, title, body)
	})
}

// onTopic saves the topics with tag ticked (on) or not: the full list,
// which the checkboxes show until the server answers.
func (h *home) onTopic(ctx goapp.Context, tag string, on bool) {
	if !h.state.canChooseTopics() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	tags := withTopic(h.state.Tags, tag, on)
	h.state.chooseTopics(tags)
	h.start(ctx, "Saving the topics…", func(ctx context.Context) error {
		return h.flows.setTopics(ctx, endpoint, tags)
	})
}

// start marks an action as running, on the UI goroutine, and runs it in the
// background.
func (h *home) start(ctx goapp.Context, busy string, action func(context.Context) error) {
	h.flows.begin()
	h.state.begin(busy)
	ctx.Update()
	ctx.Async(func() { h.flows.finish(action(ctx)) })
}

// dispatcher is the page's pageUI: it applies the flows' changes to the home
// page's state on the UI goroutine. It holds the context of the mounted page
// for its Dispatch and Async, not for cancellation.
type dispatcher struct {
	ctx   goapp.Context
	state *pageState
}

func (d dispatcher) update(f func(*pageState)) {
	d.ctx.Dispatch(func(goapp.Context) { f(d.state) })
}

func (d dispatcher) async(f func()) { d.ctx.Async(f) }
