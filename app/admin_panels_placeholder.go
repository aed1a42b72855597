// TEMPORARY: replaced by the real panels at merge.

package app

import (
	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// placeholderPanel stands in for a panel built in another branch.
type placeholderPanel struct {
	goapp.Compo

	Name string
}

func (p *placeholderPanel) Render() goapp.UI {
	return goapp.P().Class("hint").Text(p.Name + ": coming at merge.")
}

func newBroadcastsPanel(env adminEnv) goapp.Composer {
	return &placeholderPanel{Name: "Broadcasts"}
}

func newSubscriptionsPanel(env adminEnv) goapp.Composer {
	return &placeholderPanel{Name: "Subscriptions"}
}

func newDeliveriesPanel(env adminEnv) goapp.Composer {
	return &placeholderPanel{Name: "Delivery log"}
}
