package localpush

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pushstart/internal/vapidverify"
	"pushstart/push"
)

// Mozilla's WebSocket protocol is spoken by whatever connects to the
// service's port: FuzzMozillaMessages plays a connection's hello and three
// messages after it, as arbitrary bytes, against the functions serveMozilla
// hands each WebSocket message to, and checks the replies and the state
// they leave. Seeds: f.Add below and testdata/fuzz/FuzzMozillaMessages/.

// The fuzzed connection's browser already has one subscription with one
// message pending, so that acks, nacks and unregisters can find something.
const (
	fuzzUAID      = "0123456789abcdef0123456789abcdef"
	fuzzChannel   = "chan-1"
	fuzzToken     = "dG9rZW4tMQ"
	fuzzMessageID = "msg-1"
	fuzzVAPIDKey  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
)

// newFuzzService is a Service without listeners: enough for the handling
// of Mozilla messages, which never touches the network itself.
func newFuzzService() *Service {
	return &Service{
		log:    slog.New(slog.DiscardHandler),
		url:    "http://127.0.0.1:8089",
		state:  newState(),
		events: newEventLog(time.Now),
		now:    time.Now,
	}
}

func FuzzMozillaMessages(f *testing.F) {
	hello := `{"messageType":"hello","broadcasts":{},"use_webpush":true}`
	helloUAID := `{"messageType":"hello","broadcasts":{},"use_webpush":true,"uaid":"` + fuzzUAID + `"}`
	register := `{"messageType":"register","channelID":"5f1b8a1e-3c4d-4e5f-9a0b-1c2d3e4f5a6b","key":"` + fuzzVAPIDKey + `="}`
	registerAgain := `{"messageType":"register","channelID":"` + fuzzChannel + `","key":"` + fuzzVAPIDKey + `"}`
	ack := `{"messageType":"ack","updates":[{"channelID":"` + fuzzChannel + `","version":"` + fuzzMessageID + `","code":100}]}`
	nack := `{"messageType":"nack","version":"` + fuzzMessageID + `","code":301}`
	unregister := `{"messageType":"unregister","channelID":"` + fuzzChannel + `","code":200}`
	for _, s := range [][4]string{
		{hello, register, ack, `{}`},
		{helloUAID, registerAgain, unregister, ack},
		{helloUAID, nack, `{}`, `{"messageType":"hello","use_webpush":true}`},
		{helloUAID, `{"messageType":"register","channelID":"chan-2"}`, `{"messageType":"register","channelID":""}`, `{"messageType":"register","channelID":"c","key":"!!"}`},
		{helloUAID, `{"messageType":"broadcast_subscribe","broadcasts":{"remote-settings/monitor_changes":"\"1\""}}`, `{"messageType":"ack","updates":[{"version":"unknown","code":102}]}`, `not JSON`},
		{`{"messageType":"hello","uaid":"not/a:uaid"}`, `{"messageType":"register","code":"x"}`, `null`, `[]`},
		{`{"messageType":"register"}`, `{}`, `{}`, `{}`},
		{`not JSON`, ``, ``, ``},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]), []byte(s[3]))
	}
	f.Fuzz(func(t *testing.T, hello, m1, m2, m3 []byte) {
		s := newFuzzService()
		uaid, ok := mozHello(hello)
		if ok {
			checkHello(t, hello, uaid)
		} else {
			// serveMozilla would close the connection here; the messages
			// are still worth handling, for a connection that said hello.
			uaid = fuzzUAID
		}
		sub := &subscription{token: fuzzToken, browser: Firefox, owner: uaid, channelID: fuzzChannel,
			endpoint: s.url + "/wpush/" + fuzzToken}
		s.state.addSubscription(sub, fuzzChannel)
		now := time.Now()
		s.state.push(&message{id: fuzzMessageID, sub: sub, ttl: 600, received: now, expires: now.Add(time.Hour)})

		for _, data := range [][]byte{m1, m2, m3} {
			if !checkMozMessage(t, s, uaid, data) {
				return // serveMozilla ends the connection
			}
		}
	})
}

// checkHello checks the uaid a hello was given: one Firefox keeps (1 to 128
// characters, URL-safe), and the client's own when it had such a one.
func checkHello(t *testing.T, hello []byte, uaid string) {
	t.Helper()
	var m map[string]any
	if json.Unmarshal(hello, &m) != nil {
		t.Fatalf("hello %q accepted, but it is not a JSON object", hello)
	}
	if !validUAID(uaid) {
		t.Fatalf("hello %q got uaid %q, which Firefox would not keep", hello, uaid)
	}
	var msg mozMessage
	if json.Unmarshal(hello, &msg) == nil && msg.MessageType != "hello" {
		t.Fatalf("%q accepted as a hello", hello)
	}
	if validUAID(msg.UAID) && uaid != msg.UAID {
		t.Fatalf("hello with uaid %q got %q: Firefox would drop its subscriptions", msg.UAID, uaid)
	}
}

// checkMozMessage handles one message and checks the reply and what it did.
// It reports whether the connection goes on.
func checkMozMessage(t *testing.T, s *Service, uaid string, data []byte) bool {
	t.Helper()
	pendingBefore := map[string]bool{}
	s.state.mu.Lock()
	for id := range s.state.msgs {
		pendingBefore[id] = true
	}
	s.state.mu.Unlock()

	reply, err := s.handleMozMessage(uaid, data)
	var msg mozMessage
	decodeErr := json.Unmarshal(data, &msg)
	var notJSON *mozNotJSONError
	if errors.As(err, &notJSON) != (decodeErr != nil) {
		t.Fatalf("message %q: error %v, but decoding says %v", data, err, decodeErr)
	}
	if decodeErr != nil {
		if reply != nil {
			t.Fatalf("message %q is not JSON, yet got reply %v", data, reply)
		}
		return false
	}
	var answer map[string]any
	if reply != nil {
		b, err := json.Marshal(reply)
		if err != nil {
			t.Fatalf("reply %#v does not encode: %v", reply, err)
		}
		if err := json.Unmarshal(b, &answer); err != nil {
			t.Fatalf("reply %s is not a JSON object", b)
		}
	}
	switch msg.MessageType {
	case "hello":
		if err == nil {
			t.Fatal("a second hello was answered")
		}
		return false
	case "":
		if reply == nil || len(answer) != 0 {
			t.Fatalf("ping %q answered %v, want {}", data, answer)
		}
	case "register":
		checkRegister(t, s, uaid, msg, answer)
	case "unregister":
		if answer["messageType"] != "unregister" || answer["channelID"] != msg.ChannelID || answer["status"] != 200.0 {
			t.Fatalf("unregister %q answered %v", data, answer)
		}
		s.state.mu.Lock()
		left := s.state.owners[Firefox+" "+uaid].subs[msg.ChannelID]
		s.state.mu.Unlock()
		if left != nil {
			t.Fatalf("channel %q still subscribed after unregister", msg.ChannelID)
		}
	default:
		if reply != nil {
			t.Fatalf("%s %q answered %v, want no reply", msg.MessageType, data, answer)
		}
	}
	if err != nil {
		t.Fatalf("message %q ended the connection: %v", data, err)
	}
	// An acknowledged message is no longer pending; nothing else is lost.
	acked := map[string]bool{}
	switch msg.MessageType {
	case "ack":
		for _, u := range msg.Updates {
			acked[u.Version] = true
		}
	case "nack":
		acked[msg.Version] = true
	}
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	for id := range pendingBefore {
		_, pending := s.state.msgs[id]
		if pending == acked[id] && msg.MessageType != "unregister" && msg.MessageType != "register" {
			t.Fatalf("after %q message %q is pending: %v", data, id, pending)
		}
	}
	return true
}

// checkRegister checks the answer to a register message, and that the
// endpoint it gives reaches the channel, restricted to the key sent.
func checkRegister(t *testing.T, s *Service, uaid string, msg mozMessage, answer map[string]any) {
	t.Helper()
	if answer["messageType"] != "register" || answer["channelID"] != msg.ChannelID {
		t.Fatalf("register %+v answered %v", msg, answer)
	}
	var key []byte
	keyErr := error(nil)
	if msg.Key != "" {
		key, keyErr = vapidverify.ParsePublicKey(msg.Key)
	}
	valid := msg.ChannelID != "" && len(msg.ChannelID) <= 128 && keyErr == nil
	switch answer["status"] {
	case 400.0:
		if valid {
			t.Fatalf("register %+v refused", msg)
		}
		return
	case 200.0:
		if !valid {
			t.Fatalf("register %+v accepted", msg)
		}
	default:
		t.Fatalf("register %+v answered status %v", msg, answer["status"])
	}
	endpoint, _ := answer["pushEndpoint"].(string)
	token, ok := strings.CutPrefix(endpoint, s.url+"/wpush/")
	if !ok || token == "" || !push.IsBase64URL(token) {
		t.Fatalf("register answered endpoint %q: want %s/wpush/<token>", endpoint, s.url)
	}
	sub, gone := s.state.lookup(token, Firefox)
	if sub == nil || gone {
		t.Fatalf("the endpoint %q register gave is unknown", endpoint)
	}
	if sub.owner != uaid || sub.channelID != msg.ChannelID || !bytes.Equal(sub.key, key) {
		t.Fatalf("the endpoint %q reaches owner %q channel %q key %x; want %q %q %x",
			endpoint, sub.owner, sub.channelID, sub.key, uaid, msg.ChannelID, key)
	}
}
