package app

import (
	"context"
	"errors"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// What the admin console's follow-up panels (broadcasts, subscriptions,
// delivery log) share.

// Page sizes of the panels' lists; the server allows up to 100.
const (
	broadcastPageSize    = 20
	subscriptionPageSize = 50
	deliveryPageSize     = 50
)

// panelLife is a panel's time on the page: the context of its calls and
// streams, ended when the panel leaves the page (OnDismount), since go-app's
// own context outlives the component.
type panelLife struct {
	ctx context.Context
	end context.CancelFunc
}

func (l *panelLife) start(parent context.Context) {
	l.ctx, l.end = context.WithCancel(parent)
}

func (l *panelLife) stop() {
	if l.end != nil {
		l.end()
	}
}

// failure is what a panel shows for err, a failed call: nothing when the
// session ended (the sign-in form comes back instead) or the panel left the
// page. Call it on the UI goroutine.
func (env adminEnv) failure(ctx goapp.Context, err error) string {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return ""
	case signedOutError(err):
		if env.signedOut != nil {
			env.signedOut(ctx)
		}
		return ""
	}
	return err.Error()
}

// moreButton asks for the next page of a list: shown only when there is
// one.
func moreButton(label string, next string, loading bool, onClick goapp.EventHandler) goapp.UI {
	if next == "" {
		return nil
	}
	text := label
	if loading {
		text = "Loading…"
	}
	return goapp.Div().Class("buttons more").Body(
		goapp.Button().Type("button").Disabled(loading).OnClick(onClick).Text(text),
	)
}

// panelError is a panel's last failure, in a role="alert" region.
func panelError(text string) goapp.UI {
	return goapp.Div().Class("panel-error").Role("alert").Body(
		goapp.If(text != "", func() goapp.UI {
			return goapp.P().Body(goapp.Strong().Text("Error: "), goapp.Text(text))
		}),
	)
}

// appendPage adds a further page to list, leaving out the items already
// there: an item made since the first page moves the others down, so a
// page may repeat the end of the one before.
func appendPage[T any, K comparable](list, page []T, key func(T) K) []T {
	seen := make(map[K]bool, len(list))
	for _, x := range list {
		seen[key(x)] = true
	}
	for _, x := range page {
		if !seen[key(x)] {
			list = append(list, x)
		}
	}
	return list
}
