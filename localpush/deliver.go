package localpush

import (
	"fmt"
	"time"

	"pushstart/push"
)

// deliverAll hands messages to a browser's connection in order, recording a
// deliver event with the protocol frame for each. A message that the
// latency fault delays waits first. On a failed write the connection is
// closed (a disconnect event follows): the messages stay pending and go
// out again when the browser reconnects.
func (s *Service) deliverAll(c conn, msgs []*message) {
	for _, m := range msgs {
		if d := s.state.takeDelay(m); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if !s.state.handedTo(m, c) {
				continue // acknowledged, withdrawn or handed to a newer connection meanwhile
			}
		}
		endpoint := m.endpoint
		// Recorded as the frame is written, so that it comes before the
		// browser's ack in the feed.
		err := c.deliver(m, func(frame string) {
			s.events.add(Event{Type: EventDeliver, Browser: m.sub.browser, Endpoint: endpoint, Message: m.id,
				BodySize: len(m.body), Frame: frame})
		})
		if err != nil {
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

// recordAck forgets an acknowledged message and records the ack with the
// frame that carried it. An ack of a message that is not pending is
// recorded only when recordUnknown is set (Chromium repeats its acks after
// reconnecting).
func (s *Service) recordAck(browser, ownerID, id, detail, frame string, recordUnknown bool) {
	ev := Event{Type: EventAck, Browser: browser, Message: id, Detail: detail, Frame: frame}
	if m := s.state.ack(browser, ownerID, id); m != nil {
		ev.Endpoint = m.endpoint
	} else if recordUnknown {
		ev.Detail += " (no such pending message)"
	} else {
		return
	}
	s.events.add(ev)
}

// recordExpired records the messages whose TTL ran out before their
// browser took them.
func (s *Service) recordExpired(msgs []*message) {
	for _, m := range msgs {
		s.events.add(Event{Type: EventExpire, Browser: m.sub.browser, Endpoint: m.endpoint,
			Message: m.id, BodySize: len(m.body), TTL: m.ttl,
			Detail: fmt.Sprintf("TTL %d s ran out before the browser took it", m.ttl)})
	}
}

// sweepExpired records expired messages as their TTL runs out, every
// interval, until the service closes: without it a message would expire
// only when something else looked at its browser's queue.
func (s *Service) sweepExpired(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.recordExpired(s.state.sweep(s.now()))
		}
	}
}

// recordConnect records a browser's connection, naming the endpoint of the
// offline fault it ends, if any, so that a watcher following that
// subscription sees the browser back; and the messages found expired.
func (s *Service) recordConnect(browser, detail string, cr connected) {
	ev := Event{Type: EventConnect, Browser: browser, Detail: detail}
	if cr.back != "" {
		ev.Endpoint = cr.back
		ev.Detail += "; back after the offline fault"
	}
	s.events.add(ev)
	s.recordExpired(cr.expired)
}
