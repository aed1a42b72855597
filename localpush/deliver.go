package localpush

import "pushstart/push"

// deliverAll hands messages to a browser's connection in order, recording a
// deliver event for each. On a failed write the connection is closed (a
// disconnect event follows): the messages stay pending and go out again
// when the browser reconnects.
func (s *Service) deliverAll(c conn, msgs []*message) {
	for _, m := range msgs {
		endpoint := s.state.endpointOf(m.sub)
		// Recorded before the write, so that it comes before the browser's
		// ack in the feed.
		s.events.add(Event{Type: EventDeliver, Browser: m.sub.browser, Endpoint: endpoint, Message: m.id, BodySize: len(m.body)})
		if err := c.deliver(m); err != nil {
			s.log.Info("delivery failed; kept for the next connection", "endpoint", push.Fingerprint(endpoint), "err", err)
			c.close()
			return
		}
	}
}

// goDeliver runs deliverAll on its own goroutine, which Close waits for, so
// that a push request or an MCS login does not wait on a browser's socket.
func (s *Service) goDeliver(c conn, msgs []*message) {
	if len(msgs) == 0 || !s.enter() {
		return
	}
	go func() {
		defer s.wg.Done()
		s.deliverAll(c, msgs)
	}()
}

// recordAck forgets an acknowledged message and records the ack. An ack of
// a message that is not pending is recorded only when recordUnknown is set
// (Chromium repeats its acks after reconnecting).
func (s *Service) recordAck(browser, ownerID, id, detail string, recordUnknown bool) {
	ev := Event{Type: EventAck, Browser: browser, Message: id, Detail: detail}
	if m := s.state.ack(browser, ownerID, id); m != nil {
		ev.Endpoint = s.state.endpointOf(m.sub)
	} else if recordUnknown {
		ev.Detail += " (no such pending message)"
	} else {
		return
	}
	s.events.add(ev)
}
