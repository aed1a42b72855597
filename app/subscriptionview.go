package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// subscriptionView shows the browser's push subscription: the endpoint and
// the keys, exactly as the page sends them to the server.
type subscriptionView struct {
	goapp.Compo

	Subscribed bool
	Sub        api.Subscription
}

func newSubscriptionView(subscribed bool, sub api.Subscription) *subscriptionView {
	return &subscriptionView{Subscribed: subscribed, Sub: sub}
}

func (v *subscriptionView) Render() goapp.UI {
	return goapp.Section().Class("card").Body(
		goapp.H2().ID("subscription-heading").Text(tr("Subscription")),
		goapp.If(!v.Subscribed, func() goapp.UI {
			return goapp.P().Class("hint").Text(tr("No push subscription in this browser yet."))
		}).Else(func() goapp.UI {
			return goapp.Div().Body(
				goapp.P().Class("hint").Text(tr("PushSubscription.toJSON(), as stored by the server. The endpoint is a secret: anyone holding it and the keys can push to this browser.")),
				goapp.Dl().Class("endpoint").Body(
					goapp.Dt().Text(tr("Endpoint")),
					goapp.Dd().Body(goapp.Code().Text(v.Sub.Endpoint)),
				),
				goapp.Pre().
					ID("subscription-json").
					Role("region").
					Aria("labelledby", "subscription-heading").
					TabIndex(0).
					Text(prettySubscription(v.Sub)),
			)
		}),
	)
}
