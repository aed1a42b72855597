//go:build !wasm

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pushstart/api"
	"pushstart/push"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// The request bodies of the API are the server's untrusted input. These
// targets post arbitrary bytes to the routes that decode them, through the
// real handler, and also decode them with decodeJSON directly. They check:
//
//   - every refusal is a 4xx with a JSON error, never a 500: decodeJSON only
//     ever returns an *apiError (413 only for a body over the limit), and
//     the handlers' checks return those or a *push.FieldError;
//   - the field an error names is real: a field of the request's JSON, or a
//     member that is in the body (an unknown one, or one of the wrong type);
//     a wrong type's message never asks for the kind of JSON value the
//     client sent;
//   - what the handler accepts passed every check: a saved subscription has
//     an allowed endpoint and usable keys; a notification that is sent (or
//     would be, but for an unknown endpoint) marshals and fits one record.
//
// Seeds: f.Add below and testdata/fuzz/<target>/.

const fuzzAdminToken = "fuzz-admin-token-0123456789abcdef"

// fuzzStore keeps nothing: it records what the handler saves and knows no
// subscription, so a valid test send ends in 404; broadcasts go to
// fuzzBroadcaster, which sends nothing. The embedded Store is nil: a handler that called another method
// would panic, and the fuzzer report it.
type fuzzStore struct {
	store.Store
	saved []store.Subscription
}

func (s *fuzzStore) Upsert(_ context.Context, sub store.Subscription) (bool, error) {
	s.saved = append(s.saved, sub)
	return true, nil
}

func (s *fuzzStore) Replace(_ context.Context, _ string, sub store.Subscription) (bool, error) {
	s.saved = append(s.saved, sub)
	return true, nil
}

func (s *fuzzStore) Get(context.Context, string) (store.Subscription, error) {
	return store.Subscription{}, store.ErrNotFound
}

func (s *fuzzStore) List(context.Context) ([]store.Subscription, error) { return nil, nil }
func (s *fuzzStore) Count(context.Context) (int, error)                 { return 0, nil }

// fuzzBroadcaster accepts every broadcast the handler passes on and sends
// nothing.
type fuzzBroadcaster struct{}

func (fuzzBroadcaster) Submit(_ context.Context, b store.Broadcast) (store.Broadcast, error) {
	b.ID, b.Status = "fuzz", store.StatusQueued
	return b, nil
}

func (fuzzBroadcaster) Cancel(context.Context, string) (store.Broadcast, error) {
	return store.Broadcast{}, store.ErrBroadcastNotFound
}

// fuzzEnv is one server for all the inputs of a fuzzing process; inputs run
// one at a time.
type fuzzEnv struct {
	srv   *Server
	h     http.Handler
	store *fuzzStore
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	keys, err := vapid.Generate()
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	st := &fuzzStore{}
	snd, err := sender.New(sender.Options{Keys: keys, Subject: "mailto:ops@example.com", Store: st, Log: log, MaxAttempts: 1})
	if err != nil {
		f.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.PushAllowedHosts = []string{"push.example:8443"}
	// No limits: every input must reach the decoder.
	cfg.SubscribeRate, cfg.TestSendRate, cfg.TestSendEndpointRate, cfg.MaxSubscriptions = 0, 0, 0, 0
	srv := New(cfg, Deps{Store: st, Sender: snd, Engine: fuzzBroadcaster{}, Keys: keys, AdminToken: fuzzAdminToken, Log: log})
	return &fuzzEnv{srv: srv, h: srv.Handler(), store: st}
}

func (e *fuzzEnv) post(path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	e.store.saved = e.store.saved[:0]
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// decodeForFuzz runs decodeJSON on body as a handler would.
func decodeForFuzz(body []byte, limit int64, v any) error {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return decodeJSON(httptest.NewRecorder(), req, limit, v)
}

// fuzzSubscriptions are PushSubscription.toJSON() bodies as the page and
// the tests send them, valid and not.
var fuzzSubscriptions = []string{
	`{"endpoint":"https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bH","expirationTime":null,"keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"4vQK-SvRAN5eo-8ASlrwA"}}`,
	`{"endpoint":"https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk","expirationTime":1750000000000,"keys":{"p256dh":"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8=","auth":"4vQK-SvRAN5eo-8ASlrwAA=="},"oldEndpoint":"https://updates.push.services.mozilla.com/wpush/v2/old"}`,
	`{"endpoint":"https://web.push.apple.com/QGx0","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"4vQK-SvRAN5eo-8ASlrwAA"}}`,
	`{"endpoint":"http://push.example:8443/push/1","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"4vQK-SvRAN5eo-8ASlrwAA"}}`,
	`{"endpoint":"/push/1","keys":{"p256dh":"!!!","auth":"AAAAAAAAAAA"}}`,
	`{"endpoint":"ftp://fcm.googleapis.com/x","expirationTime":-5}`,
	`{"endpoint":"https://10.0.0.1/internal"}`,
	`{"endpoint":"https://[2001:db8::1]/push"}`,
	`{"endpoint":"https://fcm.googleapis.com.evil.example/x"}`,
	`{"endpoint":"https://u:p@fcm.googleapis.com/x"}`,
	`{"endpoint":"https://fcm.googleapis.com/x","keys":{"p256dh":"AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","auth":"AAAAAAAAAAA"}}`,
	`{"endpoint":"https://fcm.googleapis.com/x","expirationTime":"soon"}`,
	`{"endpoint":"https://fcm.googleapis.com/x","expirationTime":1.5}`,
	`{"endpoint":"https://fcm.googleapis.com/x","keys":5}`,
	`{"endpoint":"https://fcm.googleapis.com/x","keys":{"p256dh":"x","auth":"y","extra":1}}`,
	`{"ENDPOINT":"https://fcm.googleapis.com/x","Keys":{"P256DH":"x"}}`,
	`{"endpoint":"https://fcm.googleapis.com/x","extra":true}`,
	`{"endpoint":"x"}{}`,
	`{endpoint:`,
	`[]`,
	`null`,
	``,
	`{"endpoint":"` + strings.Repeat("a", 9000) + `"}`,
}

// fuzzNotifications are bodies of POST /api/subscriptions/test and POST
// /api/notifications.
var fuzzNotifications = []string{
	`{"endpoint":"https://fcm.googleapis.com/fcm/send/x","notification":{"title":"Hello","body":"World"}}`,
	`{"notification":{"title":"All"},"ttl":60,"urgency":"high","topic":"news"}`,
	`{"notification":{"title":"x"},"urgency":"now"}`,
	`{"notification":{"title":"x"},"topic":"has spaces"}`,
	`{"notification":{"title":"x"},"ttl":-1}`,
	`{"notification":{"title":"x"},"ttl":1.5}`,
	`{"notification":{"title":"x"},"ttl":1e400}`,
	`{"ttl":5}`,
	`{"endpoint":"https://fcm.googleapis.com/fcm/send/x","notification":{"body":"no title"}}`,
	`{"endpoint":"https://fcm.googleapis.com/fcm/send/x","notification":{"title":"Big","body":"` + strings.Repeat("x", 1000) + `","data":{"blob":"` + strings.Repeat("y", 4000) + `"}}}`,
	`{"endpoint":"e","notification":{"title":"Hi","tag":"t","renotify":true,"vibrate":[200,100],"timestamp":1750000000000,"dir":"rtl","lang":"ar"}}`,
	`{"endpoint":"e","notification":{"title":"Hi","actions":[{"action":"open","title":"Open"},{"action":"x","title":5}]}}`,
	`{"endpoint":"e","notification":{"title":"Hi","actions":[{"action":"open","title":"Open","extra":1}]}}`,
	`{"endpoint":"e","notification":{"title":"Hi","vibrate":[1,"2"]}}`,
	`{"endpoint":"e","notification":{"title":"Hi","data":{"url":"/inbox","actionUrls":{"open":"/a","evil":"//evil.example"}}}}`,
	`{"endpoint":"e","notification":{"title":"Hi","data":{"url":"https://evil.example/"}}}`,
	`{"endpoint":"e","notification":"Hi"}`,
	`{"endpoint":"e","notification":{"title":"Hi"},"ttl":60}`,
	`{"notification":{"title":"Hi","a\\b":1}}`,
}

// FuzzSubscriptionRequest posts arbitrary bytes to POST /api/subscriptions.
func FuzzSubscriptionRequest(f *testing.F) {
	for _, s := range fuzzSubscriptions {
		f.Add([]byte(s))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.Subscription
		decErr := decodeForFuzz(body, maxSubscriptionBody, &req)
		checkDecodeError(t, body, decErr, maxSubscriptionBody)

		rec := e.post(api.PathSubscriptions, body)
		checkAnswer(t, rec, body, maxSubscriptionBody, reflect.TypeFor[api.Subscription]())
		if rec.Code >= 300 {
			return
		}
		if decErr != nil {
			t.Fatalf("status %d for a body decodeJSON refuses (%v)", rec.Code, decErr)
		}
		if len(e.store.saved) != 1 {
			t.Fatalf("status %d, and %d subscriptions saved", rec.Code, len(e.store.saved))
		}
		sub := e.store.saved[0]
		if err := e.srv.allow.Check(sub.Endpoint); err != nil {
			t.Fatalf("saved an endpoint the allowlist refuses: %v", err)
		}
		if err := push.CheckKeys(sub.P256dh, sub.Auth); err != nil {
			t.Fatalf("saved keys that cannot be encrypted to: %v", err)
		}
		if strings.Contains(sub.P256dh+sub.Auth, "=") {
			t.Fatalf("saved padded keys %q %q: the store holds them without padding", sub.P256dh, sub.Auth)
		}
		if sub.ExpirationTime != nil && *sub.ExpirationTime < 0 {
			t.Fatalf("saved expirationTime %d", *sub.ExpirationTime)
		}
	})
}

// FuzzNotificationRequest posts arbitrary bytes to POST
// /api/subscriptions/test and, as the admin, to POST /api/notifications.
func FuzzNotificationRequest(f *testing.F) {
	for _, s := range fuzzNotifications {
		f.Add([]byte(s))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var ts api.TestSend
		tsErr := decodeForFuzz(body, maxNotificationBody, &ts)
		checkDecodeError(t, body, tsErr, maxNotificationBody)
		var bc api.Broadcast
		bcErr := decodeForFuzz(body, maxBroadcastBody, &bc)
		checkDecodeError(t, body, bcErr, maxBroadcastBody)

		// The store knows no endpoint: a test send that passes every check
		// ends in 404 naming the endpoint, before anything is sent.
		rec := e.post(api.PathTestSend, body)
		checkAnswer(t, rec, body, maxNotificationBody, reflect.TypeFor[api.TestSend]())
		if rec.Code < 300 {
			t.Fatalf("test send to an unknown endpoint answered %d", rec.Code)
		}
		if rec.Code == http.StatusNotFound {
			if tsErr != nil || ts.Endpoint == "" || ts.Notification == nil {
				t.Fatalf("404 (checks passed) for a body that should have been refused: %v", tsErr)
			}
			checkSendable(t, ts.Notification, ts.Notification.Marshal, e.srv.origin, testTTL, "high", "")
		}

		rec = e.post(api.PathNotifications, body, "Authorization", "Bearer "+fuzzAdminToken)
		checkAnswer(t, rec, body, maxBroadcastBody, reflect.TypeFor[api.Broadcast]())
		if rec.Code < 300 {
			if bcErr != nil || bc.Notification == nil {
				t.Fatalf("broadcast of a body that should have been refused answered %d: %v", rec.Code, bcErr)
			}
			ttl := broadcastTTL
			if bc.TTL != nil {
				ttl = *bc.TTL
			}
			checkSendable(t, bc.Notification, bc.Notification.MarshalBroadcast, e.srv.origin, ttl, bc.Urgency, bc.Topic)
		}
	})
}

// checkSendable fails t unless n, written by marshal (its Marshal, or
// MarshalBroadcast for a broadcast) for origin, with these headers, makes a
// message a push service takes.
func checkSendable(t *testing.T, n *push.Notification, marshal func(push.Origin) ([]byte, error), origin push.Origin, ttl int, urgency, topic string) {
	t.Helper()
	b, err := marshal(origin)
	if err != nil {
		t.Fatalf("accepted a notification %v refuses: %v", n, err)
	}
	if len(b) > push.MaxPlaintext {
		t.Fatalf("accepted a %d-byte payload", len(b))
	}
	if err := (push.Message{Payload: b, TTL: ttl, Urgency: urgency, Topic: topic}).Validate(); err != nil {
		t.Fatalf("accepted a message Validate refuses: %v", err)
	}
}

// checkDecodeError checks an error of decodeJSON: an *apiError the client
// can act on.
func checkDecodeError(t *testing.T, body []byte, err error, limit int64) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("decodeJSON returned %T %v: the server would answer 500", err, err)
	}
	switch ae.Status {
	case http.StatusBadRequest:
	case http.StatusRequestEntityTooLarge:
		if int64(len(body)) <= limit {
			t.Fatalf("413 for a %d-byte body (limit %d)", len(body), limit)
		}
	default:
		t.Fatalf("decodeJSON status %d (%q), want 400 or 413", ae.Status, ae.Message)
	}
	if ae.Message == "" {
		t.Fatal("decodeJSON error without a message")
	}
	if ae.Field != "" {
		checkFieldInBody(t, body, ae.Field, ae.Message)
	}
}

// checkAnswer checks the handler's answer to body: never a 5xx; a refusal
// is JSON with a message and, when it names a field, a real one.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, body []byte, limit int64, req reflect.Type) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
	}
	var ae api.Error
	if err := json.Unmarshal(rec.Body.Bytes(), &ae); err != nil || ae.Error == "" {
		t.Fatalf("status %d with body %q: want {\"error\": ...}", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusRequestEntityTooLarge && int64(len(body)) <= limit {
		t.Fatalf("413 for a %d-byte body (limit %d)", len(body), limit)
	}
	if ae.Field == "" || schemaHas(req, ae.Field) {
		return
	}
	// Not a field of the request: it must be a member the body holds.
	checkFieldInBody(t, body, ae.Field, ae.Error)
}

var arrayIndex = regexp.MustCompile(`\[\d+\]`)

// schemaHas reports whether field, in the API's notation
// (notification.actions[0].title), is a field of request type t, or a key
// inside notification.data that the server checks.
func schemaHas(t reflect.Type, field string) bool {
	if field == "notification.data.url" || strings.HasPrefix(field, "notification.data.actionUrls.") {
		return true
	}
	path := arrayIndex.ReplaceAllString(field, "")
	for name := range strings.SplitSeq(path, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if tag == name {
				t, found = sf.Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// jsonNode is a parsed JSON value that keeps every member of an object, in
// order, duplicates included.
type jsonNode struct {
	kind    string // as the API's messages name it: object, array, string, number, boolean, null
	keys    []string
	members []*jsonNode // of an object, beside keys; of an array
}

// parseJSONNode reads the first JSON value of body.
func parseJSONNode(body []byte) (*jsonNode, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	n, err := readNode(dec)
	return n, err == nil
}

func readNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: "array"}
		if v == '{' {
			n.kind = "object"
		}
		for dec.More() {
			if n.kind == "object" {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			m, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, m)
		}
		_, err := dec.Token() // the closing delimiter
		return n, err
	case string:
		return &jsonNode{kind: "string"}, nil
	case json.Number:
		return &jsonNode{kind: "number"}, nil
	case bool:
		return &jsonNode{kind: "boolean"}, nil
	default:
		return &jsonNode{kind: "null"}, nil
	}
}

// lookup returns the values the path names in n: members whose key is the
// name, or differs from it only in case (as encoding/json matches them), and
// array elements by index.
func (n *jsonNode) lookup(path string) []*jsonNode {
	nodes := []*jsonNode{n}
	for seg := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		var next []*jsonNode
		for _, c := range nodes {
			if c.kind != "object" {
				continue
			}
			for i, k := range c.keys {
				if strings.EqualFold(k, name) {
					next = append(next, c.members[i])
				}
			}
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if !ok || err != nil {
				return nil
			}
			var elems []*jsonNode
			for _, c := range next {
				if c.kind == "array" && i < len(c.members) {
					elems = append(elems, c.members[i])
				}
			}
			next, rest = elems, strings.TrimPrefix(after, "[")
		}
		nodes = next
	}
	return nodes
}

// wrongKind matches the message for a member of the wrong JSON type.
var wrongKind = regexp.MustCompile(` must be a JSON (\w+)$`)

// checkFieldInBody fails t unless field names a member of body; when msg
// says which kind of JSON value it must be, the member must be of another.
// Keys holding ".", "[" or "]" make the notation ambiguous; such bodies are
// not checked.
func checkFieldInBody(t *testing.T, body []byte, field, msg string) {
	t.Helper()
	root, ok := parseJSONNode(body)
	if !ok || ambiguousKeys(root) {
		return
	}
	found := root.lookup(field)
	if len(found) == 0 {
		t.Fatalf("error %q names field %q, which is neither in the request's JSON nor in the body", msg, field)
	}
	m := wrongKind.FindStringSubmatch(msg)
	if m == nil {
		return
	}
	for _, n := range found {
		if n.kind != m[1] {
			return
		}
	}
	t.Fatalf("error %q for field %q, which the body already gives as a JSON %s", msg, field, m[1])
}

func ambiguousKeys(n *jsonNode) bool {
	for _, k := range n.keys {
		if strings.ContainsAny(k, ".[]") {
			return true
		}
	}
	for _, m := range n.members {
		if ambiguousKeys(m) {
			return true
		}
	}
	return false
}
