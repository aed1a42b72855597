package app

import (
	"context"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// revealEvery is how far apart slow motion reveals the steps.
const revealEvery = 1500 * time.Millisecond

// home is the kit's only page. It renders the page state and starts the
// flows (flows.go) from its event handlers: each flow runs in ctx.Async and
// sends its changes back through ctx.Dispatch. Beside them it follows the
// live trace of the subscription it shows (syncTrace) and the service
// worker's steps.
type home struct {
	goapp.Compo

	state pageState
	flows *flows

	traced     string             // the endpoint whose trace is followed; "" for none
	traceStop  context.CancelFunc // ends that trace
	revealing  bool               // a slow motion reveal is under way
	stopWorker func()             // ends the listening to the service worker
	stopOnline func()             // ends the watching of the network state
	probing    bool               // asking the server whether it answers again (onOnline)
	rechecking bool               // a recheck is scheduled (scheduleRecheck)
}

func newHome() *home { return &home{} }

// OnMount runs in the browser only: it checks support and permission, and
// re-syncs an existing subscription with the server.
func (h *home) OnMount(ctx goapp.Context) {
	// The title the admin console set, when the page came back from it.
	ctx.Page().SetTitle(tr("pushstart: Web Push starter kit"))
	server := newAPIClient(originOf(goapp.Window().URL()), nil)
	h.flows = newFlows(pageBrowser{}, server, dispatcher{ctx: ctx, state: &h.state, after: h.afterUpdate})
	h.stopWorker = listenWorker(
		func(ev api.TraceEvent) {
			e := traceEntry(ev)
			ctx.Dispatch(func(ctx goapp.Context) {
				h.state.reveal(e)
				h.afterUpdate(ctx)
			})
		},
		func(err error) {
			e := flowEntry{At: time.Now(), Level: flowError, Actor: api.ActorWorker, To: api.ActorPage, Title: tr("A step of the service worker could not be read"), Detail: err.Error()}
			ctx.Dispatch(func(goapp.Context) { h.state.addEntry(e) })
		},
	)
	h.stopOnline = watchOnline(func(on bool) { ctx.Dispatch(func(ctx goapp.Context) { h.onOnline(ctx, on) }) })
	h.state.Busy = tr("Checking this browser…")
	ctx.Async(func() { h.flows.finish(h.flows.load(ctx)) })
	// /#flow (where make demo opens) scrolls to the Flow panel once drawn:
	// the browser looked for the anchor before the page existed.
	if goapp.Window().URL().Fragment == "flow" {
		ctx.ScrollTo("flow")
	}
}

// OnDismount ends the trace and the listening to the service worker.
func (h *home) OnDismount() {
	if h.traceStop != nil {
		h.traceStop()
	}
	if h.stopWorker != nil {
		h.stopWorker()
	}
	if h.stopOnline != nil {
		h.stopOnline()
	}
}

func (h *home) Render() goapp.UI {
	s := h.state
	return goapp.Div().Class("page").Body(
		goapp.Header().Class("masthead").Body(
			goapp.Img().Class("logo").Src(iconSVGPath).Alt("").Width(56).Height(56),
			goapp.Div().Body(
				goapp.H1().Text("pushstart"),
				goapp.P().Class("tagline").Text(tr("Web Push notifications, one visible step at a time.")),
			),
		),
		goapp.Main().Body(
			goapp.Div().Class("alert").Role("alert").Body(
				goapp.If(s.Alert != "", func() goapp.UI {
					return goapp.P().Body(goapp.Strong().Text(tr("Error: ")), goapp.Text(s.Alert))
				}),
			),
			goapp.Div().Class("columns").Body(
				goapp.Div().Class("column").Body(
					newStatusPanel(s),
					newInstallApp(),
					goapp.Section().Class("card").Body(
						goapp.H2().Text(tr("Notifications")),
						goapp.P().Class("hint").Text(tr("Enabling asks for permission, fetches the server's VAPID public key, subscribes at the browser's push service and stores the subscription on the server.")),
						goapp.Div().Class("buttons").Body(
							goapp.Button().
								Type("button").
								Class("primary").
								Disabled(!s.canEnable()).
								OnClick(h.onEnable).
								Text(tr("Enable notifications")),
							goapp.Button().
								Type("button").
								Disabled(!s.canDisable()).
								OnClick(h.onDisable).
								Text(tr("Disable notifications")),
						),
						goapp.If(s.Pruned && s.Subscribed, func() goapp.UI {
							return goapp.Div().Class("pruned").Body(
								goapp.P().Text(tr("The server deleted this subscription: its push service said it is gone. This browser still holds it, dead.")),
								goapp.Button().
									Type("button").
									Class("primary").
									Disabled(!s.canSubscribeAgain()).
									OnClick(h.onSubscribeAgain).
									Text(tr("Subscribe again")),
							)
						}),
					),
					goapp.If(s.Subscribed, func() goapp.UI { return newTopicsView(s, h.onTopic) }),
					goapp.If(s.showBreaks(), func() goapp.UI {
						return newBreakCard(offeredBreaks(s.Flow.Breaks), !s.canBreak(), h.onBreak)
					}),
					newTestForm(!s.canSendTest(), s.Outcome, h.onSendTest),
					newSubscriptionView(s.Subscribed, s.Sub),
				),
				goapp.Div().Class("column").Body(
					newFlowLog(s, h.onSlow),
				),
			),
		),
		goapp.Footer().Body(
			goapp.P().Text(tr("Your browser's service worker (/app-worker.js) shows the notifications, even with this page closed.")),
			goapp.P().Body(goapp.A().Class("admin-link").Href(adminPath).Text(tr("Admin console"))),
		),
	)
}

func (h *home) onEnable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canEnable() {
		return
	}
	h.start(ctx, tr("Enabling notifications…"), h.flows.enable)
}

func (h *home) onDisable(ctx goapp.Context, e goapp.Event) {
	if !h.state.canDisable() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	h.start(ctx, tr("Disabling notifications…"), func(ctx context.Context) error {
		return h.flows.disable(ctx, endpoint)
	})
}

func (h *home) onSendTest(ctx goapp.Context, title, body string) {
	if !h.state.canSendTest() {
		return
	}
	endpoint := h.state.Sub.Endpoint
	p := testPush{Title: title, Body: body, Slow: h.state.Slow}
	h.start(ctx, tr("Sending a test notification…"), func(ctx context.Context) error {
		return h.flows.sendTest(ctx, endpoint, p)
	})
}

// onBreak plays a break scenario on the subscription shown.
func (h *home) onBreak(ctx goapp.Context, sc breakScenario) {
	if !h.state.canBreak() {
		return
	}
	sub, slow := h.state.Sub, h.state.Slow
	h.start(ctx, trf("Breaking it: %s…", sc.Label), func(ctx context.Context) error {
		return h.flows.breakIt(ctx, sc, sub, slow)
	})
}

// onSubscribeAgain replaces the subscription the server pruned.
func (h *home) onSubscribeAgain(ctx goapp.Context, e goapp.Event) {
	if !h.state.canSubscribeAgain() {
		return
	}
	h.start(ctx, tr("Subscribing again…"), h.flows.subscribeAgain)
}

// onSlow turns slow motion on or off.
func (h *home) onSlow(ctx goapp.Context, on bool) {
	h.state.setSlow(on)
	h.afterUpdate(ctx)
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
	h.start(ctx, tr("Saving the topics…"), func(ctx context.Context) error {
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

// afterUpdate follows up a change of the page state, on the UI goroutine:
// the trace follows the subscription shown, and slow motion reveals the
// waiting steps.
func (h *home) afterUpdate(ctx goapp.Context) {
	h.syncTrace(ctx)
	h.reveal(ctx)
	h.scheduleRecheck(ctx)
}

// syncTrace follows the trace pageState.traceWanted names: it ends the one
// followed, if another, and opens the new one.
func (h *home) syncTrace(ctx goapp.Context) {
	want := h.state.traceWanted(h.traced)
	if want == h.traced {
		return
	}
	if h.traceStop != nil {
		h.traceStop()
		h.traceStop = nil
	}
	h.traced = want
	if want == "" {
		return
	}
	tctx, stop := context.WithCancel(ctx)
	h.traceStop = stop
	sub := h.state.Sub
	ctx.Async(func() { h.flows.followTrace(tctx, sub) })
}

// reveal starts revealing the waiting steps one at a time, revealEvery
// apart, unless it is under way or nothing waits.
func (h *home) reveal(ctx goapp.Context) {
	if h.revealing || len(h.state.Pending) == 0 {
		return
	}
	h.revealing = true
	ctx.Async(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(revealEvery):
			}
			more := make(chan bool, 1)
			ctx.Dispatch(func(goapp.Context) {
				m := h.state.revealNext()
				h.revealing = m
				more <- m
			})
			select {
			case <-ctx.Done():
				return
			case m := <-more:
				if !m {
					return
				}
			}
		}
	})
}

// dispatcher is the page's pageUI: it applies the flows' changes to the home
// page's state on the UI goroutine, then lets the page follow them up. It
// holds the context of the mounted page for its Dispatch and Async, not for
// cancellation.
type dispatcher struct {
	ctx   goapp.Context
	state *pageState
	after func(goapp.Context)
}

func (d dispatcher) update(f func(*pageState)) {
	d.ctx.Dispatch(func(ctx goapp.Context) {
		f(d.state)
		if d.after != nil {
			d.after(ctx)
		}
	})
}

func (d dispatcher) async(f func()) { d.ctx.Async(f) }
