package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DeclarativeWebPush is the value of the "web_push" member that makes a
// payload a Declarative Web Push message (the number of RFC 8030).
const DeclarativeWebPush = 8030

// payload is the JSON the kit sends: a Declarative Web Push message, which
// Safari (18.4 and later) shows by itself, and which the kit's service
// worker reads in every browser. Go writes the members in this order.
type payload struct {
	WebPush      int                 `json:"web_push"`
	Notification payloadNotification `json:"notification"`
}

// payloadNotification is the "notification" member: the Declarative Web
// Push members (title, navigate, body, lang, dir, tag, silent, icon, data,
// app_badge), then the Notification API options only the kit's worker
// reads, each under the name showNotification knows it by.
type payloadNotification struct {
	Title              string          `json:"title"`
	Navigate           string          `json:"navigate"`
	Body               string          `json:"body,omitempty"`
	Lang               string          `json:"lang,omitempty"`
	Dir                string          `json:"dir,omitempty"`
	Tag                string          `json:"tag,omitempty"`
	Silent             bool            `json:"silent,omitempty"`
	Icon               string          `json:"icon,omitempty"`
	Badge              string          `json:"badge,omitempty"`
	Image              string          `json:"image,omitempty"`
	Renotify           bool            `json:"renotify,omitempty"`
	RequireInteraction bool            `json:"requireInteraction,omitempty"`
	Vibrate            []int           `json:"vibrate,omitempty"`
	Timestamp          int64           `json:"timestamp,omitempty"`
	Actions            []payloadAction `json:"actions,omitempty"`
	Data               json.RawMessage `json:"data,omitempty"`
	AppBadge           *int            `json:"app_badge,omitempty"`
}

// payloadAction is an action with the absolute URL clicking it opens.
type payloadAction struct {
	Action   string `json:"action"`
	Title    string `json:"title"`
	Navigate string `json:"navigate"`
	Icon     string `json:"icon,omitempty"`
}

// Marshal validates n and writes the payload the kit sends for it (see
// Encode), refusing one that would not fit one push record.
func (n *Notification) Marshal(origin Origin) ([]byte, error) {
	return n.marshal(origin, func(b []byte) error {
		if len(b) > MaxPlaintext {
			return &FieldError{Field: "notification", Message: fmt.Sprintf(
				"is %d bytes of JSON; a push message holds at most %d", len(b), MaxPlaintext)}
		}
		return nil
	})
}

// MarshalBroadcast is Marshal for a broadcast, whose payload leaves
// MessageIDReserve bytes free for the message id WithMessageID adds.
func (n *Notification) MarshalBroadcast(origin Origin) ([]byte, error) {
	return n.marshal(origin, CheckBroadcastSize)
}

func (n *Notification) marshal(origin Origin, checkSize func([]byte) error) ([]byte, error) {
	if err := n.Validate("notification"); err != nil {
		return nil, err
	}
	b, err := n.Encode(origin)
	if err != nil {
		return nil, err
	}
	if err := checkSize(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Encode writes n as a Declarative Web Push message for a page at origin,
// without checking n (Marshal does):
//
//   - "web_push": 8030 first, then "notification" with n's fields;
//   - navigate: origin followed by data.url, or by "/" when there is none;
//   - each action's navigate: origin followed by data.actionUrls[action],
//     or the notification's navigate for an action without a page of its
//     own, where a click on it went before (the draft of the standard wants
//     a navigate on every action);
//   - data: n.Data without "url" and "actionUrls", left out when nothing
//     else is in it; data that is not an object is kept as it is;
//   - icon: made absolute against origin, as Safari reads only an absolute
//     URL there and refuses the whole message over anything else;
//   - app_badge: n.AppBadge.
//
// It fails when origin is the zero Origin or n.Data is not JSON.
func (n *Notification) Encode(origin Origin) ([]byte, error) {
	if origin.IsZero() {
		return nil, errors.New("push: encode: no origin to make the notification's paths absolute")
	}
	page, actionPages, data, err := splitData(n.Data)
	if err != nil {
		return nil, &FieldError{Field: "notification.data", Message: "is not valid JSON"}
	}
	if page == "" {
		page = "/"
	}
	p := payload{WebPush: DeclarativeWebPush, Notification: payloadNotification{
		Title: n.Title, Navigate: origin.s + page,
		Body: n.Body, Lang: n.Lang, Dir: n.Dir, Tag: n.Tag, Silent: n.Silent,
		Icon: origin.absolute(n.Icon), Badge: n.Badge, Image: n.Image,
		Renotify: n.Renotify, RequireInteraction: n.RequireInteraction,
		Vibrate: n.Vibrate, Timestamp: n.Timestamp,
		Data: data, AppBadge: n.AppBadge,
	}}
	for _, a := range n.Actions {
		pa := payloadAction{Action: a.Action, Title: a.Title, Navigate: p.Notification.Navigate, Icon: a.Icon}
		if u, ok := actionPages[a.Action]; ok {
			pa.Navigate = origin.s + u
		}
		p.Notification.Actions = append(p.Notification.Actions, pa)
	}
	return json.Marshal(p)
}

// splitData takes data.url and data.actionUrls (their string values) out of
// raw and returns the rest of the object, nil when nothing is left. A
// member named twice counts as encoding/json reads it: the last one. Data
// that is not an object comes back as it is.
func splitData(raw json.RawMessage) (page string, actionPages map[string]string, rest json.RawMessage, err error) {
	if len(raw) == 0 {
		return "", nil, nil, nil
	}
	if !json.Valid(raw) {
		return "", nil, nil, errors.New("data is not JSON")
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); t[0] != '{' {
		return "", nil, raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the "{"
		return "", nil, nil, err
	}
	var members [][]byte
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", nil, nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", nil, nil, err
		}
		switch key {
		case "url":
			page = ""
			_ = json.Unmarshal(v, &page)
		case "actionUrls":
			var m map[string]any
			_ = json.Unmarshal(v, &m)
			actionPages = map[string]string{}
			for k, u := range m {
				if s, ok := u.(string); ok {
					actionPages[k] = s
				}
			}
		default:
			k, err := json.Marshal(key)
			if err != nil {
				return "", nil, nil, err
			}
			members = append(members, append(append(k, ':'), v...))
		}
	}
	if len(members) == 0 {
		return page, actionPages, nil, nil
	}
	return page, actionPages, json.RawMessage("{" + string(bytes.Join(members, []byte(","))) + "}"), nil
}

// ReadPayload reads a payload the kit stored back into the notification it
// was made from, whichever shape it has: a Declarative Web Push message
// (what Encode writes) or the kit's earlier one, a Notification at the top
// level. From a Declarative Web Push message, navigate becomes data.url
// (left out when it is "/") and each action's navigate an entry of
// data.actionUrls unless it is the notification's own, both as the path,
// query and fragment after the origin;
// icon stays absolute. A "messageId" member is ignored.
func ReadPayload(b []byte) (Notification, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Notification{}, fmt.Errorf("push: read payload: %w", err)
	}
	if _, ok := top["web_push"]; !ok {
		var n Notification
		if err := json.Unmarshal(b, &n); err != nil {
			return Notification{}, fmt.Errorf("push: read payload: %w", err)
		}
		return n, nil
	}
	var p struct {
		WebPush      json.RawMessage      `json:"web_push"`
		Notification *payloadNotification `json:"notification"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return Notification{}, fmt.Errorf("push: read payload: %w", err)
	}
	// A number, compared as WebKit does (a double that is an integer):
	// 8030.0 and 8.03e3 are 8030 too; the string "8030" is not.
	var webPush float64
	if json.Unmarshal(p.WebPush, &webPush) != nil || webPush != DeclarativeWebPush || p.Notification == nil || p.Notification.Navigate == "" {
		return Notification{}, errors.New(`push: read payload: "web_push" is not 8030, or "notification" or its "navigate" is missing`)
	}
	pn := p.Notification
	n := Notification{
		Title: pn.Title, Body: pn.Body, Icon: pn.Icon, Badge: pn.Badge, Image: pn.Image, Tag: pn.Tag,
		Renotify: pn.Renotify, RequireInteraction: pn.RequireInteraction, Silent: pn.Silent,
		Vibrate: pn.Vibrate, Lang: pn.Lang, Dir: pn.Dir, Timestamp: pn.Timestamp, AppBadge: pn.AppBadge,
	}
	var members [][]byte
	member := func(k string, v any) error {
		b, err := json.Marshal(map[string]any{k: v})
		if err == nil {
			members = append(members, b[1:len(b)-1])
		}
		return err
	}
	if page := pathOf(pn.Navigate); page != "/" {
		if err := member("url", page); err != nil {
			return Notification{}, err
		}
	}
	var actionPages [][]byte
	for _, a := range pn.Actions {
		n.Actions = append(n.Actions, Action{Action: a.Action, Title: a.Title, Icon: a.Icon})
		if a.Navigate != "" && a.Navigate != pn.Navigate {
			b, err := json.Marshal(map[string]string{a.Action: pathOf(a.Navigate)})
			if err != nil {
				return Notification{}, err
			}
			actionPages = append(actionPages, b[1:len(b)-1])
		}
	}
	if len(actionPages) > 0 {
		members = append(members, []byte(`"actionUrls":{`+string(bytes.Join(actionPages, []byte(",")))+"}"))
	}
	data := bytes.TrimSpace(pn.Data)
	switch {
	case len(data) > 0 && data[0] == '{':
		if inner := bytes.TrimSpace(data[1 : len(data)-1]); len(inner) > 0 {
			members = append(members, inner)
		}
	case len(data) > 0:
		// Not an object: nothing to put the pages in (the kit never
		// sends a page with such data).
		n.Data = pn.Data
		return n, nil
	}
	if len(members) > 0 {
		n.Data = json.RawMessage("{" + string(bytes.Join(members, []byte(","))) + "}")
	}
	return n, nil
}

// pathOf is what follows the origin in an absolute URL: its path, query and
// fragment, "/" when there is no path.
func pathOf(abs string) string {
	_, rest, ok := strings.Cut(abs, "://")
	if !ok {
		return abs
	}
	i := strings.IndexAny(rest, "/?#")
	if i < 0 {
		return "/"
	}
	if rest[i] != '/' {
		return "/" + rest[i:]
	}
	return rest[i:]
}
