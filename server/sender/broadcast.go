package sender

import (
	"context"
	"fmt"
	"sync"

	"pushstart/push"
	"pushstart/server/store"
)

// Summary counts the results of a Broadcast. Total = Sent + Failed + Pruned:
// Failed is every subscription the message did not reach and that was not
// pruned (failed, rejected, unauthorized, or not tried because the context
// ended).
type Summary struct{ Total, Sent, Failed, Pruned int }

func (s *Summary) add(r Result) {
	switch {
	case r.Outcome == push.Sent:
		s.Sent++
	case r.Pruned || r.Outcome == push.Gone: // gone, whether or not this send deleted the row
		s.Pruned++
	default:
		s.Failed++
	}
}

// Broadcast sends m to every subscription in the store, Workers at a time.
// One subscription's failure does not stop the others; each is recorded in
// the delivery log. An invalid m is refused before anything is sent (a
// *push.FieldError). When ctx ends, the subscriptions not yet started
// count as Failed and the context's error is returned with the Summary.
func (s *Sender) Broadcast(ctx context.Context, m push.Message) (Summary, error) {
	if err := m.Validate(); err != nil {
		return Summary{}, err
	}
	subs, err := s.store.List(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("sender: listing subscriptions: %w", err)
	}
	sum := Summary{Total: len(subs)}
	if len(subs) == 0 {
		return sum, nil
	}

	jobs := make(chan store.Subscription)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for range min(s.workers, len(subs)) {
		wg.Go(func() {
			var local Summary
			for sub := range jobs {
				local.add(s.Send(ctx, sub, m))
			}
			mu.Lock()
			sum.Sent += local.Sent
			sum.Failed += local.Failed
			sum.Pruned += local.Pruned
			mu.Unlock()
		})
	}
	started := 0
feed:
	for _, sub := range subs {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- sub:
			started++
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	sum.Failed += len(subs) - started
	if started < len(subs) {
		err = fmt.Errorf("sender: broadcast stopped after %d of %d subscriptions: %w", started, len(subs), context.Cause(ctx))
	}
	s.log.InfoContext(ctx, "push: broadcast", "total", sum.Total, "sent", sum.Sent,
		"failed", sum.Failed, "pruned", sum.Pruned)
	return sum, err
}
