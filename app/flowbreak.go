package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"pushstart/api"
	"pushstart/push"
)

// The "Break it" switches (local mode): each arms a fault for the next
// push to this browser's subscription, then sends the test pushes that
// show what the kit does about it, so that one click tells the whole story.

// breakScenario is one button of the "Break it" card.
type breakScenario struct {
	Kind    string // the api.Break* switch it arms
	Label   string // the button's text
	Seconds int    // api.BreakOffline only: how long the browser is away
	Explain string // what the switch does, logged as it is armed
	Pushes  []breakPush
	After   string // what to watch for once the pushes are sent
}

// breakPush is one test push of a scenario, and the outcome the server
// should report for it.
type breakPush struct {
	testPush
	Expect push.Outcome
	Says   string // the flow log's words for the expected outcome
}

// The Topic of the replacement scenario's two pushes.
const breakTopic = "flow-demo"

// breakScenarios lists every scenario, in the card's order.
func breakScenarios() []breakScenario {
	ttl0, ttl60 := 0, 60
	offline := api.DefaultOfflineSeconds
	return []breakScenario{
		{
			Kind: api.BreakExpire, Label: tr("Expire the subscription (410)"),
			Explain: tr("The local push service forgets this subscription now, as a real one does when a subscription expires."),
			Pushes: []breakPush{{
				testPush: testPush{Title: tr("Expired subscription"), Body: tr("The push service no longer knows this subscription.")},
				Expect:   push.Gone, Says: tr("The push service answered 410 Gone: the server pruned (deleted) the subscription"),
			}},
			After: tr("The browser still holds the dead subscription; the server no longer stores it. Click Subscribe again to make a new one."),
		},
		{
			Kind: api.BreakThrottle, Label: tr("Throttle (429)"),
			Explain: tr("The next push gets 429 Too Many Requests with Retry-After: 2."),
			Pushes: []breakPush{{
				testPush: testPush{Title: tr("Throttled, then sent"), Body: tr("The server waited as Retry-After asked, then retried.")},
				Expect:   push.Sent, Says: tr("Sent after a wait: the server honoured Retry-After and retried"),
			}},
			After: tr("In the trace: the 429 answer, the retry after 2 seconds, then 201 and the notification."),
		},
		{
			Kind: api.BreakError, Label: tr("Push service error (500)"),
			Explain: tr("The next two pushes get 500 Internal Server Error."),
			Pushes: []breakPush{{
				testPush: testPush{Title: tr("Sent after retries"), Body: tr("The push service failed twice; the server backed off and retried.")},
				Expect:   push.Sent, Says: tr("Sent after retries: the server backed off after each 500"),
			}},
			After: tr("In the trace: two 500 answers, each followed by a retry after a growing pause, then 201 and the notification."),
		},
		{
			Kind: api.BreakWrongKey, Label: tr("Wrong VAPID key (403)"),
			Explain: tr("The server signs the next push with a throwaway VAPID key pair, not the one this subscription was made with."),
			Pushes: []breakPush{{
				testPush: testPush{Title: tr("Signed with the wrong key"), Body: tr("The push service checks the VAPID signature and refuses this push.")},
				Expect:   push.Unauthorized, Says: tr("Refused with 403: a configuration fault of the server; the subscription is still stored"),
			}},
			After: tr("The server deleted nothing: a refused signature is the server's fault, not the subscription's. The next test notification goes through."),
		},
		{
			Kind: api.BreakOffline, Label: tr("Offline: TTL 0 vs TTL"), Seconds: offline,
			Explain: trf("The local push service drops the browser's connection and keeps it from reconnecting for %d seconds.", offline),
			Pushes: []breakPush{
				{
					testPush: testPush{Title: tr("TTL 0: dropped while offline"), Body: tr("TTL 0 means deliver now or never."), Tag: "flow-ttl-0", TTL: &ttl0},
					Expect:   push.Sent, Says: tr("TTL 0 push accepted (201): with the browser away, the push service drops it"),
				},
				{
					testPush: testPush{Title: tr("TTL 60: waits for the browser"), Body: tr("This push waited at the push service until the browser came back."), Tag: "flow-ttl-60", TTL: &ttl60},
					Expect:   push.Sent, Says: tr("TTL 60 push accepted (201): it waits at the push service"),
				},
			},
			After: trf("Waiting for the browser to come back (about %d seconds): then only \"TTL 60: waits for the browser\" arrives.", offline),
		},
		{
			Kind: api.BreakOffline, Label: tr("Offline: Topic replacement"), Seconds: offline,
			Explain: trf("The local push service drops the browser's connection and keeps it from reconnecting for %d seconds.", offline),
			Pushes: []breakPush{
				{
					testPush: testPush{Title: tr("Topic flow-demo: first (replaced)"), Body: tr("Replaced at the push service by a newer push with the same Topic."), Tag: "flow-topic-1", TTL: &ttl60, Topic: breakTopic},
					Expect:   push.Sent, Says: trf("First push with Topic %s accepted (201): it waits at the push service", breakTopic),
				},
				{
					testPush: testPush{Title: tr("Topic flow-demo: second (delivered)"), Body: tr("The newer push with Topic flow-demo replaced the first."), Tag: "flow-topic-2", TTL: &ttl60, Topic: breakTopic},
					Expect:   push.Sent, Says: trf("Second push with Topic %s accepted (201): it replaces the first", breakTopic),
				},
			},
			After: trf("Waiting for the browser to come back (about %d seconds): then only \"Topic flow-demo: second (delivered)\" arrives.", offline),
		},
	}
}

// offeredBreaks is the scenarios whose switch the server offers.
func offeredBreaks(kinds []string) []breakScenario {
	var out []breakScenario
	for _, sc := range breakScenarios() {
		if slices.Contains(kinds, sc.Kind) {
			out = append(out, sc)
		}
	}
	return out
}

// breakIt plays a scenario against sub: arms its switch, then sends its
// pushes (slow: in slow motion) and checks each outcome against the
// expected one. An expected failure (410, 403) is the story, not an error;
// another outcome is.
func (fl *flows) breakIt(ctx context.Context, sc breakScenario, sub api.Subscription, slow bool) error {
	fl.log(flowInfo, pageToServer, trf("Break it: %s", sc.Label), sc.Explain)
	req := api.FlowBreakRequest{Endpoint: sub.Endpoint, Auth: sub.Keys.Auth, Kind: sc.Kind, Seconds: sc.Seconds}
	ex, err := fl.server.flowBreak(ctx, req)
	if ex.Method != "" {
		// Not logExchange: the body carries the auth secret, which the
		// log need not show again.
		level := flowOK
		if err != nil {
			level = flowError
		}
		body := "{\"kind\": \"" + sc.Kind + "\""
		if sc.Seconds > 0 {
			body += ", \"seconds\": " + strconv.Itoa(sc.Seconds)
		}
		detail := trf("Request body: %s, and this subscription's endpoint and auth secret}", body)
		fl.log(level, pageToServer, exchangeTitle(ex), detail)
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		// The server, or the local push service behind it, no longer
		// knows this subscription (pruned, or the service restarted):
		// only a new one helps.
		fl.ui.update(func(s *pageState) { s.pruned(sub.Endpoint) })
		return fmt.Errorf(tr("%w: this subscription is no longer known, click Subscribe again"), err)
	}
	if err != nil {
		return err
	}
	for _, p := range sc.Pushes {
		p.Slow = slow
		res, err := fl.pushTest(ctx, sub.Endpoint, p.testPush)
		if res.Outcome != p.Expect {
			if err == nil {
				err = fmt.Errorf(tr("%q: the server reported outcome %q, where this switch should give %q"), p.Title, res.Outcome, p.Expect)
			}
			return err
		}
		fl.log(flowOK, serverToPage, trf("As expected: %s", p.Says),
			trf("%q: outcome %q, push service status %d, %d attempt(s).", p.Title, res.Outcome, res.Status, res.Attempts))
	}
	fl.log(flowInfo, onPage, tr("What to watch for"), sc.After)
	return nil
}

// subscribeAgain replaces a subscription the server pruned: it unsubscribes
// the dead one in the browser, subscribes again with the server's key and
// stores the new subscription.
func (fl *flows) subscribeAgain(ctx context.Context) error {
	sub, err := fl.browser.GetSubscription(ctx)
	if err != nil {
		return err
	}
	dead := ""
	if sub != nil {
		dead = sub.Endpoint()
		if err := sub.Unsubscribe(ctx); err != nil {
			// The push service may no longer know it either; a new
			// subscription is what matters.
			fl.log(flowInfo, browserToPage, tr("Unsubscribing the dead subscription failed: subscribing all the same"), err.Error())
		} else {
			fl.log(flowOK, pageToBrowser, tr("Unsubscribed the dead subscription"), tr("PushSubscription.unsubscribe() resolved true."))
		}
	}
	fl.ui.update(func(s *pageState) { s.unsubscribed() })
	key, err := fl.fetchKey(ctx)
	if err != nil {
		return err
	}
	if err := fl.ready(ctx); err != nil {
		return err
	}
	// The dead endpoint as the old one: a row the server still keeps (the
	// local push service forgot it, the server did not) is replaced.
	return fl.subscribeAndStore(ctx, key, dead)
}
