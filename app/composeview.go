package app

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
	"pushstart/push"
)

// maxComposeActions is how many action rows the form offers: the most
// push.Notification.Validate takes.
const maxComposeActions = 4

// composeHints explain inputs whose format is not obvious, by input id.
var composeHints = map[string]string{
	"compose-icon":      `A path on this site ("/web/icon-192.png") or an https URL.`,
	"compose-badge":     "A small monochrome image for the status bar (Android).",
	"compose-vibrate":   "Milliseconds of vibration and pause, comma-separated: 200,100,200.",
	"compose-timestamp": "When the event happened, in your local time; empty for none.",
	"compose-url":       `The page a click on the notification opens: a path on this site, such as "/news".`,
	"compose-ttl":       "How long the push service keeps the message for an offline browser; 86400 is one day.",
	"compose-topic":     "A newer message with the same topic replaces one still waiting at the push service. Up to 32 of A-Z a-z 0-9 - _.",
	inputTags:           "More tags, comma-separated.",
	"compose-users":     "User ids, comma-separated.",
	"compose-send-at":   "In your local time; empty sends at once.",
}

// composeView is the console's Compose tab: the form, beside it the live
// preview, the JSON payload and its size, and the two send buttons.
type composeView struct {
	goapp.Compo

	env     adminEnv
	browser browser
	onSent  func(ctx goapp.Context, st api.BroadcastStatus, toMe bool)

	form    composeForm
	current composed        // the form as last rendered
	touched map[string]bool // inputs edited: their errors show
	// attempted: Send was clicked, so every error shows; attemptedToMe:
	// Send to me was, so all but the audience's show.
	attempted, attemptedToMe bool
	serverErr                *inputError // the server's 400, at its input
	sendErr                  string      // a failure of no one input
	sending                  bool

	origin string // host of the page, as the notification names it
	// links is the origin the payload's links start with: the server's
	// (GET /api/vapid-public-key), the page's until it answers.
	links      push.Origin
	canSendMe  bool   // this browser has a push subscription
	noMeReason string // why Send to me is off
}

// inputError is an error shown at one input.
type inputError struct {
	Input, Text string
}

func newComposeView(env adminEnv, b browser, onSent func(goapp.Context, api.BroadcastStatus, bool)) *composeView {
	// The API's base is the page's origin (originOf).
	var links push.Origin
	if env.api != nil {
		links, _ = linkOrigin(api.VAPIDKey{}, env.api.base)
	}
	return &composeView{
		env: env, browser: b, onSent: onSent,
		links:      links,
		form:       newComposeForm(),
		touched:    map[string]bool{},
		noMeReason: "Checking this browser's push subscription…",
	}
}

// OnMount looks for this browser's push subscription, which Send to me
// sends to.
func (v *composeView) OnMount(ctx goapp.Context) {
	if u := goapp.Window().URL(); u != nil {
		v.origin = u.Host
	}

	if v.env.api != nil {
		ctx.Async(func() {
			// Without an answer the page's origin stays: the server
			// checks the size again with its own.
			answer, _, err := v.env.api.vapidPublicKey(ctx)
			if err != nil {
				return
			}
			if links, err := linkOrigin(answer, v.env.api.base); err == nil {
				ctx.Dispatch(func(goapp.Context) { v.links = links })
			}
		})
	}
	ctx.Async(func() {
		endpoint, reason := v.mySubscription(ctx)
		ctx.Dispatch(func(goapp.Context) { v.canSendMe, v.noMeReason = endpoint != "", reason })
	})
}

// mySubscription reads this browser's push subscription's endpoint, or
// says why there is none. It runs off the UI goroutine. The endpoint, a
// secret, is not kept: Send to me reads it again.
func (v *composeView) mySubscription(ctx goapp.Context) (endpoint, reason string) {
	sub, err := v.browser.GetSubscription(ctx)
	switch {
	case err != nil:
		return "", "Send to me needs this browser's push subscription, which could not be read: " + err.Error()
	case sub == nil:
		return "", "This browser has no push subscription: enable notifications on the home page first."
	}
	return sub.Endpoint(), ""
}

func (v *composeView) Render() goapp.UI {
	v.current = v.form.compose(browserClock, v.links, "")
	c := v.current
	f := v.form
	size, level := payloadSize(len(c.Payload))
	return goapp.Div().Class("compose").Body(
		goapp.Form().
			ID(inputForm).
			Class("compose-form").
			NoValidate(true).
			Aria("label", "Compose a notification").
			OnSubmit(v.onSend).
			Body(
				goapp.FieldSet().Class("group").Body(
					goapp.Legend().Text("Notification"),
					v.field("compose-title", "Title", v.text("compose-title", "text", f.Title, func(f *composeForm, s string) { f.Title = s }).MaxLength(256)),
					v.field("compose-body", "Body", described(goapp.Textarea().
						ID("compose-body").
						Rows(3).
						Text(f.Body).
						OnInput(v.onValue("compose-body", func(f *composeForm, s string) { f.Body = s })), v, "compose-body")),
					goapp.Div().Class("row").Body(
						v.field("compose-icon", "Icon URL", v.text("compose-icon", "text", f.Icon, func(f *composeForm, s string) { f.Icon = s })),
						v.field("compose-badge", "Badge URL", v.text("compose-badge", "text", f.Badge, func(f *composeForm, s string) { f.Badge = s })),
					),
					v.field("compose-image", "Image URL", v.text("compose-image", "text", f.Image, func(f *composeForm, s string) { f.Image = s })),
					v.field("compose-url", "Opens (data.url)", v.text("compose-url", "text", f.URL, func(f *composeForm, s string) { f.URL = s }).Placeholder("/")),
					goapp.Div().Class("row").Body(
						v.field("compose-tag", "Tag", v.text("compose-tag", "text", f.Tag, func(f *composeForm, s string) { f.Tag = s })),
						v.field("compose-vibrate", "Vibrate pattern", v.text("compose-vibrate", "text", f.Vibrate, func(f *composeForm, s string) { f.Vibrate = s }).Attr("inputmode", "numeric")),
					),
					goapp.Div().Class("checks").Body(
						v.check("compose-renotify", "Renotify", f.Renotify, func(f *composeForm, on bool) { f.Renotify = on }),
						v.check("compose-require-interaction", "Require interaction", f.RequireInteraction, func(f *composeForm, on bool) { f.RequireInteraction = on }),
						v.check("compose-silent", "Silent", f.Silent, func(f *composeForm, on bool) { f.Silent = on }),
					),
					goapp.Div().Class("row").Body(
						v.field("compose-lang", "Language", v.text("compose-lang", "text", f.Lang, func(f *composeForm, s string) { f.Lang = s }).Placeholder("en")),
						v.field("compose-dir", "Direction", v.selectInput("compose-dir", f.Dir,
							[]string{"", "auto", "ltr", "rtl"}, []string{"Not set", "auto", "ltr", "rtl"},
							func(f *composeForm, s string) { f.Dir = s })),
					),
					v.field("compose-timestamp", "Timestamp", v.text("compose-timestamp", "datetime-local", f.Timestamp, func(f *composeForm, s string) { f.Timestamp = s })),
					v.renderActions(),
				),
				goapp.FieldSet().Class("group").Body(
					goapp.Legend().Text("Delivery"),
					goapp.Div().Class("row").Body(
						v.field("compose-ttl", "TTL (seconds)", v.text("compose-ttl", "number", f.TTL, func(f *composeForm, s string) { f.TTL = s }).Min(0).Max(push.MaxTTL)),
						v.field("compose-urgency", "Urgency", v.selectInput("compose-urgency", f.Urgency, urgencies, urgencies,
							func(f *composeForm, s string) { f.Urgency = s })),
					),
					v.field("compose-topic", "Topic", v.text("compose-topic", "text", f.Topic, func(f *composeForm, s string) { f.Topic = s }).MaxLength(32)),
					v.renderAudience(),
					v.field("compose-send-at", "Send at", v.text("compose-send-at", "datetime-local", f.SendAt, func(f *composeForm, s string) { f.SendAt = s })),
				),
				v.renderButtons(),
			),
		goapp.Aside().Class("compose-side").Aria("label", "Preview").Body(
			goapp.H3().ID("preview-heading").Text("Preview"),
			notificationPreview(c.Notification, v.origin),
			goapp.H3().ID("payload-heading").Text("Payload"),
			goapp.P().
				ID(inputPayload).
				Class("payload-size", "size-"+level).
				Text(size),
			v.fieldError(inputPayload),
			goapp.Pre().
				Class("payload-json").
				Role("region").
				Aria("labelledby", "payload-heading").
				TabIndex(0).
				Text(prettyJSON(c.Payload)),
			goapp.P().Class("hint").Text(`The JSON the server encrypts for each subscription; it adds "messageId" to each push, for the funnel.`),
		),
	)
}

// renderActions is the actions' fieldset: a row per action, and the button
// that adds one.
func (v *composeView) renderActions() goapp.UI {
	actions := v.form.Actions
	return goapp.Div().Body(
		goapp.FieldSet().
			ID(inputActions).
			Class("actions").
			Aria("describedby", v.describedBy(inputActions)).
			Body(
				goapp.Legend().Text("Actions (up to 4 buttons)"),
				goapp.Range(actions).Slice(func(i int) goapp.UI {
					a := actions[i]
					n := strconv.Itoa(i + 1)
					return goapp.Div().Class("action").Body(
						v.field(actionInput(i, "name"), "Action "+n+" name",
							v.text(actionInput(i, "name"), "text", a.Action, func(f *composeForm, s string) { f.Actions[i].Action = s })),
						v.field(actionInput(i, "title"), "Action "+n+" button text",
							v.text(actionInput(i, "title"), "text", a.Title, func(f *composeForm, s string) { f.Actions[i].Title = s })),
						v.field(actionInput(i, "icon"), "Action "+n+" icon URL",
							v.text(actionInput(i, "icon"), "text", a.Icon, func(f *composeForm, s string) { f.Actions[i].Icon = s })),
						v.field(actionInput(i, "url"), "Action "+n+" opens",
							v.text(actionInput(i, "url"), "text", a.URL, func(f *composeForm, s string) { f.Actions[i].URL = s }).Placeholder("/")),
						goapp.Button().
							Type("button").
							Class("remove").
							OnClick(func(ctx goapp.Context, e goapp.Event) { v.removeAction(i) }).
							Text("Remove action "+n),
					)
				}),
				goapp.Button().
					Type("button").
					Disabled(len(actions) >= maxComposeActions).
					OnClick(v.onAddAction).
					Text("Add action"),
			),
		v.fieldError(inputActions),
	)
}

// renderAudience is the audience's fieldset: everyone, tags or users.
func (v *composeView) renderAudience() goapp.UI {
	f := v.form
	choices := []struct {
		kind  audienceKind
		label string
	}{
		{audienceEveryone, "Everyone"},
		{audienceTags, "Subscriptions with tags"},
		{audienceUsers, "Users"},
	}
	offered := offeredTopics()
	return goapp.Div().Body(
		goapp.FieldSet().
			ID(inputAudience).
			Class("audience").
			Aria("describedby", v.describedBy(inputAudience)).
			Body(
				goapp.Legend().Text("Audience"),
				goapp.Div().Class("checks").Body(
					goapp.Range(choices).Slice(func(i int) goapp.UI {
						ch := choices[i]
						id := "compose-audience-" + string(ch.kind)
						return goapp.Div().Class("check").Body(
							goapp.Input().
								ID(id).
								Type("radio").
								Name("compose-audience").
								Value(string(ch.kind)).
								Checked(f.Audience == ch.kind).
								OnChange(func(ctx goapp.Context, e goapp.Event) {
									v.form.Audience = ch.kind
									v.edited(inputAudience)
								}),
							goapp.Label().For(id).Text(ch.label),
						)
					}),
				),
				goapp.If(f.Audience == audienceTags, func() goapp.UI {
					return goapp.Div().Class("audience-detail").Body(
						goapp.Div().Class("checks").Aria("label", "Topics").Body(
							goapp.Range(offered).Slice(func(i int) goapp.UI {
								t := offered[i]
								id := "compose-topic-" + t.Tag
								return goapp.Div().Class("check").Body(
									goapp.Input().
										ID(id).
										Type("checkbox").
										Value(t.Tag).
										Checked(slices.Contains(f.Tags, t.Tag)).
										OnChange(func(ctx goapp.Context, e goapp.Event) {
											v.form.Tags = withTopic(v.form.Tags, t.Tag, ctx.JSSrc().Get("checked").Bool())
											v.edited(inputTags)
										}),
									goapp.Label().For(id).Text(t.Label+" ("+t.Tag+")"),
								)
							}),
						),
						v.field(inputTags, "Other tags", v.text(inputTags, "text", f.OtherTags, func(f *composeForm, s string) { f.OtherTags = s })),
					)
				}),
				goapp.If(f.Audience == audienceUsers, func() goapp.UI {
					return goapp.Div().Class("audience-detail").Body(
						v.field("compose-users", "User ids", v.text("compose-users", "text", f.Users, func(f *composeForm, s string) { f.Users = s })),
					)
				}),
			),
		v.fieldError(inputAudience),
	)
}

// renderButtons are Send to me and Send, with what became of the last
// try.
func (v *composeView) renderButtons() goapp.UI {
	toMe := goapp.Button().
		ID(inputToMe).
		Type("button").
		Disabled(!v.canSendMe || v.sending).
		OnClick(v.onSendToMe).
		Text("Send to me")
	if d := v.describedBy(inputToMe); d != "" {
		toMe = toMe.Aria("describedby", d)
	}
	return goapp.Div().Class("compose-send").Body(
		goapp.Div().Class("buttons").Body(
			toMe,
			goapp.Button().
				ID("compose-send").
				Type("submit").
				Class("primary").
				Disabled(v.sending).
				Text("Send"),
		),
		goapp.If(!v.canSendMe, func() goapp.UI {
			return goapp.P().ID(inputToMe + "-hint").Class("hint").Text(v.noMeReason)
		}),
		goapp.If(v.sending, func() goapp.UI {
			return goapp.P().Class("hint").Role("status").Text("Sending…")
		}),
		v.fieldError(inputToMe),
		v.fieldError(inputForm),
	)
}

// field is a labelled input with its hint and its error, if any.
func (v *composeView) field(id, label string, input goapp.UI) goapp.UI {
	hint := composeHints[id]
	return goapp.Div().Class("field").Body(
		goapp.Label().For(id).Text(label),
		input,
		goapp.If(hint != "", func() goapp.UI {
			return goapp.P().ID(id + "-hint").Class("field-hint").Text(hint)
		}),
		v.fieldError(id),
	)
}

// check is a labelled checkbox, with its error.
func (v *composeView) check(id, label string, on bool, set func(*composeForm, bool)) goapp.UI {
	return goapp.Div().Class("check").Body(
		described(goapp.Input().
			ID(id).
			Type("checkbox").
			Checked(on).
			OnChange(func(ctx goapp.Context, e goapp.Event) {
				set(&v.form, ctx.JSSrc().Get("checked").Bool())
				v.edited(id)
			}), v, id),
		goapp.Label().For(id).Text(label),
		v.fieldError(id),
	)
}

// text is an input of type typ holding value; set stores what is typed.
func (v *composeView) text(id, typ, value string, set func(*composeForm, string)) goapp.HTMLInput {
	return described(goapp.Input().
		ID(id).
		Type(typ).
		Value(value).
		AutoComplete(false).
		OnInput(v.onValue(id, set)), v, id)
}

// selectInput is a drop-down of values, shown as labels.
func (v *composeView) selectInput(id, value string, values, labels []string, set func(*composeForm, string)) goapp.UI {
	return described(goapp.Select().
		ID(id).
		OnChange(v.onValue(id, set)).
		Body(goapp.Range(values).Slice(func(i int) goapp.UI {
			return goapp.Option().Value(values[i]).Selected(values[i] == value).Text(labels[i])
		})), v, id)
}

// described marks an input with its hint and error for assistive
// technology: aria-describedby, and aria-invalid while an error shows.
func described[T interface{ Aria(string, any) T }](el T, v *composeView, id string) T {
	if d := v.describedBy(id); d != "" {
		el = el.Aria("describedby", d)
	}
	if v.errorText(id) != "" {
		el = el.Aria("invalid", "true")
	}
	return el
}

// describedBy lists the ids of id's hint and error, those shown.
func (v *composeView) describedBy(id string) string {
	var ids []string
	if composeHints[id] != "" || (id == inputToMe && !v.canSendMe) {
		ids = append(ids, id+"-hint")
	}
	if v.errorText(id) != "" {
		ids = append(ids, id+"-error")
	}
	return strings.Join(ids, " ")
}

// fieldError is the error shown at input id, if any.
func (v *composeView) fieldError(id string) goapp.UI {
	msg := v.errorText(id)
	if msg == "" {
		return nil
	}
	return goapp.P().ID(id + "-error").Class("field-error").Role("alert").Text(msg)
}

// errorText is the error shown at input id: the server's refusal, else the
// form's first problem there once the admin edited the input or tried to
// send.
func (v *composeView) errorText(id string) string {
	if v.serverErr != nil && v.serverErr.Input == id {
		return v.serverErr.Text
	}
	if id == inputForm && v.sendErr != "" {
		return v.sendErr
	}
	if !v.showsErrorsAt(id) {
		return ""
	}
	for _, e := range v.current.Errors {
		if v.form.inputFor(e.Field) == id {
			return e.Field + " " + e.Message
		}
	}
	return ""
}

// showsErrorsAt reports whether the form's problems at input id show yet.
// The byte count's always does: it is what the count is for.
func (v *composeView) showsErrorsAt(id string) bool {
	switch {
	case id == inputPayload || v.attempted || v.touched[id]:
		return true
	case v.attemptedToMe:
		return id != inputAudience && id != inputTags && id != "compose-users"
	}
	return false
}

// onValue stores an input's value with set.
func (v *composeView) onValue(id string, set func(*composeForm, string)) goapp.EventHandler {
	return func(ctx goapp.Context, e goapp.Event) {
		set(&v.form, ctx.JSSrc().Get("value").String())
		v.edited(id)
	}
}

// edited marks input id as edited: its errors show from now on, and the
// server's refusal of the earlier value is gone.
func (v *composeView) edited(id string) {
	v.touched[id] = true
	if v.serverErr != nil && v.serverErr.Input == id {
		v.serverErr = nil
	}
	v.sendErr = ""
}

func (v *composeView) onAddAction(ctx goapp.Context, e goapp.Event) {
	if len(v.form.Actions) >= maxComposeActions {
		return
	}
	v.form.Actions = append(v.form.Actions, composeAction{})
	v.edited(inputActions)
	focus(ctx, actionInput(len(v.form.Actions)-1, "name"))
}

func (v *composeView) removeAction(i int) {
	if i < 0 || i >= len(v.form.Actions) {
		return
	}
	v.form.Actions = slices.Delete(slices.Clone(v.form.Actions), i, i+1)
	v.serverErr = nil
	v.edited(inputActions)
}

// onSend sends to the chosen audience, unless the form has problems, which
// then show at their inputs.
func (v *composeView) onSend(ctx goapp.Context, e goapp.Event) {
	e.PreventDefault()
	if v.sending {
		return
	}
	v.attempted = true
	v.serverErr, v.sendErr = nil, ""
	c := v.form.compose(browserClock, v.links, "")
	if !c.ok() {
		v.focusFirstError(ctx, c)
		return
	}
	v.submit(ctx, c.Broadcast, false)
}

// onSendToMe sends to this browser's own subscription, read again now: the
// service worker may have renewed it.
func (v *composeView) onSendToMe(ctx goapp.Context, e goapp.Event) {
	if v.sending || !v.canSendMe {
		return
	}
	v.attemptedToMe = true
	v.serverErr, v.sendErr = nil, ""
	// The endpoint does not change what else is wrong: check with a
	// stand-in before reading the subscription.
	if c := v.form.compose(browserClock, v.links, "/"); !c.ok() {
		v.focusFirstError(ctx, c)
		return
	}
	v.sending = true
	form, links := v.form, v.links
	form.Actions = slices.Clone(form.Actions)
	form.Tags = slices.Clone(form.Tags)
	ctx.Async(func() {
		endpoint, reason := v.mySubscription(ctx)
		if endpoint == "" {
			ctx.Dispatch(func(goapp.Context) {
				v.sending, v.canSendMe, v.noMeReason = false, false, reason
			})
			return
		}
		b := form.compose(browserClock, links, endpoint).Broadcast
		st, err := v.env.api.submitBroadcast(ctx, b)
		ctx.Dispatch(func(ctx goapp.Context) { v.done(ctx, st, err, true) })
	})
}

// submit posts b in the background.
func (v *composeView) submit(ctx goapp.Context, b api.Broadcast, toMe bool) {
	v.sending = true
	ctx.Async(func() {
		st, err := v.env.api.submitBroadcast(ctx, b)
		ctx.Dispatch(func(ctx goapp.Context) { v.done(ctx, st, err, toMe) })
	})
}

// done shows what the server made of a broadcast: accepted, or refused at
// an input, or the session is over.
func (v *composeView) done(ctx goapp.Context, st api.BroadcastStatus, err error, toMe bool) {
	v.sending = false
	if err == nil {
		if v.onSent != nil {
			v.onSent(ctx, st, toMe)
		}
		return
	}
	if signedOutError(err) {
		v.env.signedOut(ctx)
		return
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Field != "" && ae.Message != "" {
		id := v.form.inputFor(ae.Field)
		v.serverErr = &inputError{Input: id, Text: ae.Message}
		focus(ctx, id)
		return
	}
	v.sendErr = err.Error()
}

// focusFirstError moves the focus to the first input with a problem.
func (v *composeView) focusFirstError(ctx goapp.Context, c composed) {
	if len(c.Errors) > 0 {
		focus(ctx, v.form.inputFor(c.Errors[0].Field))
	}
}

// focus moves the focus to element id once the page is updated.
func focus(ctx goapp.Context, id string) {
	ctx.Defer(func(goapp.Context) {
		if el := goapp.Window().GetElementByID(id); el.Truthy() {
			el.Call("focus")
		}
	})
}
