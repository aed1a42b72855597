package localpush

import (
	"fmt"
	"strings"
	"time"

	"pushstart/internal/vapidverify"
	"pushstart/localpush/gcm"
	"pushstart/push"
)

// chromiumHooks receives what Chromium does through package gcm.
type chromiumHooks struct{ s *Service }

// chromiumEndpoint is the endpoint stable Chrome shows for a token. Other
// builds use another host (Debian's Chromium: jmt17.google.com); the
// service learns the host from the first push request that Transport
// reroutes, and events name the endpoint so from then on.
func chromiumEndpoint(token string) string {
	return "https://fcm.googleapis.com/fcm/send/" + token
}

// Registered records a web push subscription. Registrations that are not
// for web push (Chromium's own, without a "wp:" subtype) are not
// subscriptions and are let through untouched.
func (h chromiumHooks) Registered(r gcm.Registration) error {
	s := h.s
	if !strings.HasPrefix(r.Subtype, "wp:") {
		return nil
	}
	raw, err := vapidverify.ParsePublicKey(r.Sender)
	if err != nil {
		s.events.add(Event{Type: EventRegister, Browser: Chromium, Status: 400,
			Detail: "sender is not a VAPID public key: " + err.Error()})
		return fmt.Errorf("%w: %v", gcm.ErrInvalidSender, err)
	}
	sub := &subscription{
		token: r.Token, browser: Chromium, owner: r.AndroidID, subtype: r.Subtype, sender: r.Sender,
		key: raw, endpoint: chromiumEndpoint(r.Token),
	}
	got, replaced := s.state.addSubscription(sub, r.Token)
	if replaced != nil {
		s.faults.forget(faultKey{Chromium, replaced.token})
		s.events.add(Event{Type: EventUnregister, Browser: Chromium, Endpoint: s.state.endpointOf(replaced),
			Detail: "token registered again with another key"})
	}
	s.events.add(Event{Type: EventRegister, Browser: Chromium, Endpoint: s.state.endpointOf(got), Status: 200,
		Detail: "VAPID-restricted; " + originOfSubtype(r.Subtype)})
	s.log.Info("Chromium subscribed", "endpoint", push.Fingerprint(s.state.endpointOf(got)))
	return nil
}

// originOfSubtype extracts the page origin from "wp:<origin>#<uuid>-V2".
func originOfSubtype(subtype string) string {
	o, _, _ := strings.Cut(strings.TrimPrefix(subtype, "wp:"), "#")
	return "origin " + o
}

// Unregistered forgets a subscription; its endpoint answers 410 from now on.
func (h chromiumHooks) Unregistered(androidID, token string) {
	s := h.s
	sub := s.state.removeSubscription(Chromium, androidID, token)
	if sub == nil {
		s.events.add(Event{Type: EventUnregister, Browser: Chromium, Endpoint: chromiumEndpoint(token),
			Detail: "unknown token"})
		return
	}
	s.faults.forget(faultKey{Chromium, token})
	endpoint := s.state.endpointOf(sub)
	s.events.add(Event{Type: EventUnregister, Browser: Chromium, Endpoint: endpoint})
	s.log.Info("Chromium unsubscribed", "endpoint", push.Fingerprint(endpoint))
}

// Connected makes c the browser's connection and sends it the messages
// kept while it was away.
func (h chromiumHooks) Connected(androidID string, c *gcm.Conn) {
	s := h.s
	mc := mcsConn{c}
	cr := s.state.connect(Chromium, androidID, mc, s.now())
	if cr.old != nil && cr.old != conn(mc) {
		cr.old.close()
	}
	s.recordConnect(Chromium, "android id "+androidID, cr)
	s.goDeliver(mc, cr.pending)
}

// Disconnected marks the browser away, if c is still its connection.
func (h chromiumHooks) Disconnected(androidID string, c *gcm.Conn) {
	s := h.s
	s.state.disconnect(Chromium, androidID, mcsConn{c})
	s.events.add(Event{Type: EventDisconnect, Browser: Chromium, Detail: "android id " + androidID})
}

// Acked forgets the messages the browser confirmed. Package gcm calls
// AckedBy instead; Acked completes gcm.Hooks.
func (h chromiumHooks) Acked(androidID string, persistentIDs []string) {
	for _, id := range persistentIDs {
		h.s.recordAck(Chromium, androidID, id, "received", "", false)
	}
}

// AckedBy forgets the messages the browser confirmed, recording the frame
// that confirmed each.
func (h chromiumHooks) AckedBy(androidID string, a gcm.Ack) {
	for i, id := range a.PersistentIDs {
		frame, detail := mcsAck(a, i)
		h.s.recordAck(Chromium, androidID, id, detail, frame, false)
	}
}

// LoginWait holds a login while the offline fault keeps the browser away.
func (h chromiumHooks) LoginWait(androidID string, held time.Duration) time.Duration {
	return h.s.offlineWait(Chromium, androidID, held)
}

// mcsConn is a Chromium MCS connection. It is a comparable value, so the
// same *gcm.Conn is the same conn.
type mcsConn struct{ c *gcm.Conn }

func (m mcsConn) deliver(msg *message, before func(frame string)) error {
	return m.c.Send(gcm.Message{
		ID: msg.id, Token: msg.sub.token, Subtype: msg.sub.subtype, Sender: msg.sub.sender,
		Body: msg.body, TTL: msg.ttl, Sent: msg.received,
		OnWrite: func(st gcm.Stanza) { before(mcsFrame(st)) },
	})
}

// close does nothing: package gcm ends a connection that was replaced or
// failed a write.
func (m mcsConn) close() {}

// drop closes the connection without MCS's Close message: Chromium sees a
// socket error, as when its network goes away, and reconnects.
func (m mcsConn) drop() { m.c.Close() }
