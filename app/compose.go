package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/push"
)

// composeForm is the admin console's compose form as typed: the text of
// each input. compose turns it into the api.Broadcast the console posts, and
// finds every problem the server would refuse it for, so that each is shown
// at its input before anything is sent.
type composeForm struct {
	Title, Body, Icon, Badge, Image, Tag string
	Renotify, RequireInteraction, Silent bool
	Vibrate                              string // milliseconds, comma-separated: "200,100,200"
	Lang, Dir                            string
	Timestamp                            string // datetime-local, the admin's time; "" for none
	Actions                              []composeAction
	URL                                  string // data.url: the page a click on the notification opens

	TTL     string // seconds; "" for the server's default, one day
	Urgency string
	Topic   string

	Audience  audienceKind
	Tags      []string // the offered topics ticked
	OtherTags string   // more tags, comma-separated
	Users     string   // user ids, comma-separated
	SendAt    string   // datetime-local; "" for now
}

// composeAction is one button of the notification. URL, the page the button
// opens, goes to data.actionUrls under the action's name.
type composeAction struct {
	Action, Title, Icon, URL string
}

// audienceKind is who a broadcast goes to, as the form offers it.
type audienceKind string

const (
	audienceEveryone audienceKind = "everyone"
	audienceTags     audienceKind = "tags"
	audienceUsers    audienceKind = "users"
)

// defaultTTL is what the TTL input starts with: a day, the server's default.
const defaultTTL = "86400"

// urgencies are the Urgency header's values (RFC 8030 section 5.3), in the
// order the form offers them.
var urgencies = []string{"very-low", "low", "normal", "high"}

// newComposeForm is an empty form with the server's defaults filled in.
func newComposeForm() composeForm {
	return composeForm{TTL: defaultTTL, Urgency: "normal", Audience: audienceEveryone}
}

// localClock makes the instant a wall clock in the admin's time zone reads.
// The page asks the browser (localtime_wasm.go), whose time zone rules know
// daylight saving time; Go's time.Local in WebAssembly is one fixed offset.
type localClock func(year int, month time.Month, day, hour, min, sec int) time.Time

// composed is what the form makes: the broadcast, the payload as the server
// will send it (without the message id it adds to each push), and every
// problem found, each naming the API's field.
type composed struct {
	Broadcast    api.Broadcast
	Notification push.Notification
	Payload      []byte
	Errors       []*push.FieldError
}

// ok reports whether the broadcast may be sent.
func (c composed) ok() bool { return len(c.Errors) == 0 }

// errorAt is the first problem with field, or nil.
func (c composed) errorAt(field string) *push.FieldError {
	for _, e := range c.Errors {
		if e.Field == field {
			return e
		}
	}
	return nil
}

// compose builds the broadcast, its payload's links on origin, the
// server's (see composeView.links). toEndpoint, when set, replaces the chosen audience with that one endpoint
// ("Send to me"). The checks are the
// server's own (push.Notification.Validate, push.Message.Validate,
// push.CheckTags, push.CheckUserID, push.CheckBroadcastSize), plus the
// form's: inputs that do not parse, and two actions of one name, whose URLs
// data.actionUrls could not tell apart.
func (f composeForm) compose(clock localClock, origin push.Origin, toEndpoint string) composed {
	var c composed
	bad := func(field, format string, args ...any) {
		c.Errors = append(c.Errors, &push.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	n := push.Notification{
		Title: f.Title, Body: f.Body,
		Icon: strings.TrimSpace(f.Icon), Badge: strings.TrimSpace(f.Badge), Image: strings.TrimSpace(f.Image),
		Tag:      f.Tag,
		Renotify: f.Renotify, RequireInteraction: f.RequireInteraction, Silent: f.Silent,
		Lang: strings.TrimSpace(f.Lang), Dir: f.Dir,
	}
	if v, err := parseVibrate(f.Vibrate); err != nil {
		bad("notification.vibrate", "must be milliseconds separated by commas, such as 200,100,200")
	} else {
		n.Vibrate = v
	}
	if t, ok, err := parseLocal(f.Timestamp, clock); err != nil {
		bad("notification.timestamp", "must be a date and time")
	} else if ok {
		n.Timestamp = t.UnixMilli()
	}
	actionURLs := map[string]string{}
	for i, a := range f.Actions {
		name := strings.TrimSpace(a.Action)
		n.Actions = append(n.Actions, push.Action{Action: name, Title: a.Title, Icon: strings.TrimSpace(a.Icon)})
		if j := slices.IndexFunc(f.Actions[:i], func(o composeAction) bool { return strings.TrimSpace(o.Action) == name }); name != "" && j >= 0 {
			bad(fmt.Sprintf("notification.actions[%d].action", i), "is the name of action %d too; each action needs its own name", j+1)
		}
		if u := strings.TrimSpace(a.URL); u != "" && name != "" {
			actionURLs[name] = u
		}
	}
	n.Data = notificationData(strings.TrimSpace(f.URL), actionURLs)
	c.Notification = n

	c.Errors = append(c.Errors, notificationErrors(n)...)
	// Written even when invalid: the preview still shows it and counts
	// its bytes. Without an origin to write the links on, the preview
	// shows the notification's own JSON, and since that is not what the
	// server sends, the size is not checked: an error, not a silent pass.
	payload, err := n.Encode(origin)
	if err != nil {
		payload, _ = json.Marshal(n)
		bad("notification", "could not be written as the server sends it, so its size is not checked: %v", err)
	}
	c.Payload = payload
	if c.errorAt("notification") == nil {
		var fe *push.FieldError
		if errors.As(push.CheckBroadcastSize(c.Payload), &fe) {
			c.Errors = append(c.Errors, fe)
		}
	}

	b := api.Broadcast{Notification: &c.Notification, Urgency: f.Urgency, Topic: strings.TrimSpace(f.Topic)}
	if s := strings.TrimSpace(f.TTL); s != "" {
		ttl, err := strconv.Atoi(s)
		if err != nil {
			bad("ttl", "must be a whole number of seconds")
		} else {
			b.TTL = &ttl
			c.addMessageError(push.Message{TTL: ttl})
		}
	}
	// Each header alone, so that a bad TTL does not hide a bad topic.
	c.addMessageError(push.Message{Urgency: b.Urgency})
	c.addMessageError(push.Message{Topic: b.Topic})

	switch {
	case toEndpoint != "":
		b.To = &api.Audience{Endpoints: []string{toEndpoint}}
	case f.Audience == audienceTags:
		tags := f.tags()
		if len(tags) == 0 {
			bad("to.tags", "names no tag: tick a topic or enter one")
		} else if err := push.CheckTags("to.tags", tags); err != nil {
			c.add(err)
		}
		b.To = &api.Audience{Tags: tags}
	case f.Audience == audienceUsers:
		users := splitList(f.Users)
		if len(users) == 0 {
			bad("to.users", "names no user: enter user ids separated by commas")
		}
		for i, u := range users {
			if err := push.CheckUserID(fmt.Sprintf("to.users[%d]", i), u); err != nil {
				c.add(err)
				break
			}
		}
		b.To = &api.Audience{Users: users}
	}

	if at, ok, err := parseLocal(f.SendAt, clock); err != nil {
		bad("sendAt", "must be a date and time")
	} else if ok {
		at = at.UTC()
		b.SendAt = &at
	}
	c.Broadcast = b
	return c
}

// notificationErrors are the problems push.Notification.Validate finds. It
// stops at the first; a missing title, the first rule and the usual state
// of a form being filled in, would hide every other problem, so the rest is
// checked again with a stand-in title.
func notificationErrors(n push.Notification) []*push.FieldError {
	var errs []*push.FieldError
	for {
		err := n.Validate("notification")
		if err == nil {
			return errs
		}
		fe, ok := err.(*push.FieldError)
		if !ok {
			return append(errs, &push.FieldError{Field: "notification", Message: err.Error()})
		}
		errs = append(errs, fe)
		if fe.Field != "notification.title" || strings.TrimSpace(n.Title) != "" {
			return errs
		}
		n.Title = "title"
	}
}

// addMessageError adds what push.Message.Validate finds wrong with m.
func (c *composed) addMessageError(m push.Message) {
	if err := m.Validate(); err != nil {
		c.add(err)
	}
}

// add adds err, a *push.FieldError from the push package's checks.
func (c *composed) add(err error) {
	fe, ok := err.(*push.FieldError)
	if !ok {
		fe = &push.FieldError{Message: err.Error()}
	}
	c.Errors = append(c.Errors, fe)
}

// tags are the broadcast's tags: the topics ticked, in the order offered,
// then the others typed, each once.
func (f composeForm) tags() []string {
	var tags []string
	for _, t := range offeredTopics() {
		if slices.Contains(f.Tags, t.Tag) {
			tags = append(tags, t.Tag)
		}
	}
	for _, t := range splitList(f.OtherTags) {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// notificationData is the notification's data: the page a click opens and
// the pages its actions open, which the service worker reads; nil when
// there are none.
func notificationData(url string, actionURLs map[string]string) json.RawMessage {
	if url == "" && len(actionURLs) == 0 {
		return nil
	}
	d := struct {
		URL        string            `json:"url,omitempty"`
		ActionURLs map[string]string `json:"actionUrls,omitempty"`
	}{url, actionURLs}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return b
}

// splitList splits comma-separated entries, trimmed, dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseVibrate reads a vibration pattern such as "200, 100, 200"; "" is
// none. The ranges are push.Notification.Validate's to check.
func parseVibrate(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Layouts of an <input type="datetime-local"> value: minutes, or seconds
// and fractions when its step asks for them.
var datetimeLocalLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}

// parseLocal reads a datetime-local value as the admin's wall clock; ok is
// false for "".
func parseLocal(s string, clock localClock) (t time.Time, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range datetimeLocalLayouts {
		w, err := time.Parse(layout, s)
		if err == nil {
			return clock(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second()), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date and time", s)
}

// Levels of the payload's size, which the byte count shows.
const (
	sizeOK   = "ok"
	sizeNear = "near" // within a tenth of the limit
	sizeOver = "over"
)

// payloadSize says how many of the bytes a broadcast's notification may use
// the payload takes, and how close to the limit that is.
func payloadSize(n int) (text, level string) {
	limit := push.MaxBroadcastPayload
	text = fmt.Sprintf("%s of %s bytes", thousands(n), thousands(limit))
	level = sizeOK
	switch {
	case n > limit:
		text += fmt.Sprintf(": %s too many", thousands(n-limit))
		level = sizeOver
	case n*10 >= limit*9:
		text += fmt.Sprintf(": %s left", thousands(limit-n))
		level = sizeNear
	}
	text += fmt.Sprintf(" (%d more are kept for the message id; %s in all)", push.MessageIDReserve, thousands(push.MaxPlaintext))
	return text, level
}

// thousands writes n with commas between groups of three digits: 3,993.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Ids of the compose form's inputs that errors are shown at.
const (
	inputActions  = "compose-actions"  // the actions' fieldset
	inputAudience = "compose-audience" // the audience's fieldset
	inputTags     = "compose-tags-other"
	inputToMe     = "compose-send-to-me"
	inputPayload  = "compose-payload" // the byte count: the whole notification
	inputForm     = "compose-form"    // the form: a problem of no one input
)

// notificationInputs are the ids of the inputs of push.Notification's
// fields, by the field's JSON name.
var notificationInputs = map[string]string{
	"title": "compose-title", "body": "compose-body", "icon": "compose-icon",
	"badge": "compose-badge", "image": "compose-image", "tag": "compose-tag",
	"renotify": "compose-renotify", "requireInteraction": "compose-require-interaction",
	"silent": "compose-silent", "vibrate": "compose-vibrate", "lang": "compose-lang",
	"dir": "compose-dir", "timestamp": "compose-timestamp", "actions": inputActions,
	"data": "compose-url", "data.url": "compose-url", "data.actionUrls": inputActions,
}

// actionInput is the id of an input of action i: part is "name", "title",
// "icon" or "url".
func actionInput(i int, part string) string { return fmt.Sprintf("compose-action-%d-%s", i, part) }

// inputFor is the id of the input an error about the API's field is shown
// at, whether the form or the server found it.
func (f composeForm) inputFor(field string) string {
	switch {
	case field == "ttl":
		return "compose-ttl"
	case field == "urgency":
		return "compose-urgency"
	case field == "topic":
		return "compose-topic"
	case field == "sendAt":
		return "compose-send-at"
	case field == "to":
		return inputAudience
	case field == "to.tags" || strings.HasPrefix(field, "to.tags["):
		return inputTags
	case field == "to.users" || strings.HasPrefix(field, "to.users["):
		return "compose-users"
	case field == "to.endpoints" || strings.HasPrefix(field, "to.endpoints["):
		return inputToMe
	case field == "notification":
		return inputPayload
	}
	rest, ok := strings.CutPrefix(field, "notification.")
	if !ok {
		return inputForm
	}
	if id, ok := notificationInputs[rest]; ok {
		return id
	}
	if name, ok := strings.CutPrefix(rest, "data.actionUrls."); ok {
		for i, a := range f.Actions {
			if strings.TrimSpace(a.Action) == name {
				return actionInput(i, "url")
			}
		}
		return inputActions
	}
	var i int
	var part string
	if _, err := fmt.Sscanf(rest, "actions[%d].%s", &i, &part); err == nil && i >= 0 && i < len(f.Actions) {
		switch part {
		case "action":
			return actionInput(i, "name")
		case "title", "icon":
			return actionInput(i, part)
		}
	}
	return inputForm
}
