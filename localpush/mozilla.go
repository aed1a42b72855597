package localpush

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"pushstart/internal/vapidverify"
	"pushstart/push"

	"github.com/coder/websocket"
)

// Timings of Mozilla's protocol.
const (
	mozHelloTimeout = 10 * time.Second // from the WebSocket upgrade to the client's hello
	mozWriteTimeout = 10 * time.Second // per message; a client that does not read is dropped
	mozMaxUAID      = 128              // Firefox accepts a uaid of at most 128 characters
)

// mozSubprotocol is the WebSocket subprotocol Firefox asks for.
const mozSubprotocol = "push-notification"

// mozMessage is any client message of Mozilla's protocol.
type mozMessage struct {
	MessageType string `json:"messageType"`
	UAID        string `json:"uaid"`
	ChannelID   string `json:"channelID"`
	Key         string `json:"key"`
	Code        int    `json:"code"`
	Version     string `json:"version"`
	Updates     []struct {
		ChannelID string `json:"channelID"`
		Version   string `json:"version"`
		Code      int    `json:"code"`
	} `json:"updates"`
}

// handleRoot serves GET /: Firefox's WebSocket, or a line saying what this
// is to anything else.
func (s *Service) handleRoot(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "pushstart local push service: Mozilla's WebSocket push protocol is at this URL with ws://")
		return
	}
	if !s.enter() {
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{mozSubprotocol}})
	if err != nil {
		s.log.Info("WebSocket upgrade refused", "err", err)
		return
	}
	defer c.CloseNow()
	s.serveMozilla(c)
}

// mozConn is a Firefox connection after its hello.
type mozConn struct {
	s    *Service
	ws   *websocket.Conn
	uaid string
}

func (m *mozConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(m.s.ctx, mozWriteTimeout)
	defer cancel()
	return m.ws.Write(ctx, websocket.MessageText, b)
}

// deliver sends one notification: the request body, base64url, still
// encrypted; Firefox decrypts it.
func (m *mozConn) deliver(msg *message, before func(frame string)) error {
	n := map[string]any{
		"messageType": "notification",
		"channelID":   msg.sub.channelID,
		"version":     msg.id,
		"ttl":         msg.ttl,
	}
	if len(msg.body) > 0 {
		n["data"] = push.EncodeBase64URL(msg.body)
		n["headers"] = map[string]string{"encoding": "aes128gcm"}
	}
	before(mozFrame(n))
	return m.write(n)
}

func (m *mozConn) close() {
	m.ws.Close(websocket.StatusNormalClosure, "replaced by a newer connection with the same uaid")
}

// drop closes the TCP connection without a WebSocket close frame: Firefox
// sees a socket error, as when its network goes away, and reconnects.
func (m *mozConn) drop() { m.ws.CloseNow() }

// validUAID reports whether a client's uaid can be kept: non-empty, at most
// 128 characters, and URL-safe.
func validUAID(u string) bool {
	if u == "" || len(u) > mozMaxUAID {
		return false
	}
	for _, c := range []byte(u) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// serveMozilla runs one Firefox connection: the hello, then every message
// until the connection or the service closes.
func (s *Service) serveMozilla(ws *websocket.Conn) {
	hctx, cancel := context.WithTimeout(s.ctx, mozHelloTimeout)
	_, data, err := ws.Read(hctx)
	cancel()
	if err != nil {
		return
	}
	uaid, ok := mozHello(data)
	if !ok {
		ws.Close(websocket.StatusPolicyViolation, "the first message must be a hello")
		return
	}
	// A uaid the reset fault forgot gets a new one, as autopush answers a
	// client whose record it lost: Firefox then drops its subscriptions and
	// tells their service workers.
	if renewed, endpoint, forgotten := s.state.helloUAID(uaid); forgotten {
		old := uaid
		uaid = renewed
		s.events.add(Event{Type: EventReset, Browser: Firefox, Endpoint: endpoint,
			Detail: "hello with the forgotten uaid " + old + " answered with the new uaid " + uaid +
				": Firefox drops its subscriptions and fires pushsubscriptionchange"})
	}
	if !s.holdOffline(uaid) {
		return
	}
	mc := &mozConn{s: s, ws: ws, uaid: uaid}
	if err := mc.write(map[string]any{
		"messageType": "hello", "uaid": uaid, "status": 200, "use_webpush": true, "broadcasts": map[string]any{},
	}); err != nil {
		return
	}
	cr := s.state.connect(Firefox, uaid, mc, s.now())
	if cr.old != nil {
		cr.old.close()
	}
	s.recordConnect(Firefox, "uaid "+uaid, cr)
	s.log.Debug("Firefox connected", "pending", len(cr.pending))
	defer func() {
		s.state.disconnect(Firefox, uaid, mc)
		s.events.add(Event{Type: EventDisconnect, Browser: Firefox, Detail: "uaid " + uaid})
		s.log.Debug("Firefox disconnected")
	}()
	s.deliverAll(mc, cr.pending)

	for {
		_, data, err := ws.Read(s.ctx)
		if err != nil {
			return
		}
		reply, err := s.handleMozMessage(uaid, data)
		var notJSON *mozNotJSONError
		if errors.As(err, &notJSON) {
			s.log.Info("Firefox sent a message that is not JSON", "err", notJSON.err)
			ws.Close(websocket.StatusUnsupportedData, "messages must be JSON")
			return
		}
		if err != nil {
			return
		}
		if reply != nil {
			if err := mc.write(reply); err != nil {
				return
			}
		}
	}
}

// mozHello reads the first message of a connection, which must be a hello,
// and returns the uaid the connection goes by: the client's, or a new one
// when it has none that can be kept.
func mozHello(data []byte) (uaid string, ok bool) {
	var hello mozMessage
	if json.Unmarshal(data, &hello) != nil || hello.MessageType != "hello" {
		return "", false
	}
	uaid = hello.UAID
	if !validUAID(uaid) {
		uaid = strings.ReplaceAll(randomUUID(), "-", "")
	}
	return uaid, true
}

// mozNotJSONError is a client message that does not decode as one of the
// protocol's JSON messages; the connection is closed as unsupported data.
type mozNotJSONError struct{ err error }

func (e *mozNotJSONError) Error() string { return "message is not JSON: " + e.err.Error() }

// handleMozMessage handles one message after the hello, as it came off the
// WebSocket. It returns the reply to write (nil when there is none), or an
// error that ends the connection. Kept apart from the socket so that every
// client message can be checked without one.
func (s *Service) handleMozMessage(uaid string, data []byte) (reply any, err error) {
	var msg mozMessage
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, &mozNotJSONError{err}
	}
	switch msg.MessageType {
	case "":
		return struct{}{}, nil // a ping is the text {}
	case "register":
		reply, err := s.mozRegister(uaid, msg)
		if err != nil {
			return nil, err
		}
		return reply, nil
	case "unregister":
		s.mozUnregister(uaid, msg)
		return map[string]any{"messageType": "unregister", "channelID": msg.ChannelID, "status": 200}, nil
	case "ack":
		frame := mozReceivedFrame(data)
		for _, u := range msg.Updates {
			s.recordAck(Firefox, uaid, u.Version, ackDetail(u.Code), frame, true)
		}
		return nil, nil
	case "nack":
		m := s.state.ack(Firefox, uaid, msg.Version)
		ev := Event{Type: EventNack, Browser: Firefox, Message: msg.Version, Detail: nackDetail(msg.Code), Frame: mozReceivedFrame(data)}
		if m != nil {
			ev.Endpoint = m.endpoint
		}
		s.events.add(ev)
		return nil, nil
	case "hello":
		return nil, errors.New("second hello")
	default:
		// broadcast_subscribe and the like: nothing to do for a push service
		// that offers no broadcasts.
		s.log.Debug("Firefox message ignored", "messageType", msg.MessageType)
		return nil, nil
	}
}

// errForgottenUAID ends a connection whose uaid the reset fault forgot.
var errForgottenUAID = errors.New("the reset fault forgot this connection's uaid")

// mozRegister answers a register message: a new endpoint for the channel,
// restricted to the VAPID key when the client sent one. A register on a
// connection whose uaid the reset fault forgot (it reached the service
// before the fault dropped the connection) ends the connection instead,
// with errForgottenUAID: Firefox learns of the reset at its next hello.
func (s *Service) mozRegister(uaid string, msg mozMessage) (map[string]any, error) {
	reply := map[string]any{"messageType": "register", "channelID": msg.ChannelID}
	if msg.ChannelID == "" || len(msg.ChannelID) > 128 {
		reply["status"] = 400
		s.events.add(Event{Type: EventRegister, Browser: Firefox, Status: 400, Detail: "invalid channelID"})
		return reply, nil
	}
	var key []byte
	if msg.Key != "" {
		raw, err := vapidverify.ParsePublicKey(msg.Key)
		if err != nil {
			reply["status"] = 400
			s.events.add(Event{Type: EventRegister, Browser: Firefox, Status: 400, Detail: "invalid key: " + err.Error()})
			return reply, nil
		}
		key = raw
	}
	token := randomID(24)
	sub := &subscription{
		token: token, browser: Firefox, owner: uaid, channelID: msg.ChannelID, key: key,
		endpoint: s.url + "/wpush/" + token,
	}
	got, replaced := s.state.addSubscription(sub, msg.ChannelID)
	if got == nil {
		s.events.add(Event{Type: EventRegister, Browser: Firefox,
			Detail: "refused: the reset fault forgot the uaid of this connection, which is dropped"})
		return nil, errForgottenUAID
	}
	if replaced != nil {
		s.faults.forget(faultKey{Firefox, replaced.token})
		s.events.add(Event{Type: EventUnregister, Browser: Firefox, Endpoint: replaced.endpoint,
			Detail: "channel registered again with another key"})
	}
	detail := "VAPID-restricted"
	if key == nil {
		detail = "no applicationServerKey"
	}
	s.events.add(Event{Type: EventRegister, Browser: Firefox, Endpoint: got.endpoint, Status: 200, Detail: detail})
	s.log.Info("Firefox subscribed", "endpoint", push.Fingerprint(got.endpoint))
	reply["status"] = 200
	reply["pushEndpoint"] = got.endpoint
	return reply, nil
}

// mozUnregister forgets a channel; its endpoint answers 410 from now on.
func (s *Service) mozUnregister(uaid string, msg mozMessage) {
	sub := s.state.removeSubscription(Firefox, uaid, msg.ChannelID)
	if sub == nil {
		s.events.add(Event{Type: EventUnregister, Browser: Firefox, Detail: "unknown channel"})
		return
	}
	s.faults.forget(faultKey{Firefox, sub.token})
	s.events.add(Event{Type: EventUnregister, Browser: Firefox, Endpoint: sub.endpoint,
		Detail: fmt.Sprintf("code %d", msg.Code)})
	s.log.Info("Firefox unsubscribed", "endpoint", push.Fingerprint(sub.endpoint))
}

// ackDetail explains the code of one update of an ack.
func ackDetail(code int) string {
	switch code {
	case 100:
		return "code 100: delivered"
	case 101:
		return "code 101: the browser could not decrypt the message"
	case 102:
		return "code 102: not delivered to the service worker"
	default:
		return fmt.Sprintf("code %d", code)
	}
}

// nackDetail explains the code of a nack.
func nackDetail(code int) string {
	switch code {
	case 301:
		return "code 301: the service worker's push handler threw"
	case 302:
		return "code 302: the service worker's push handler's promise rejected"
	case 303:
		return "code 303: the service worker's push handler failed otherwise"
	default:
		return fmt.Sprintf("code %d", code)
	}
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() string {
	u := randomBytes(16)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
