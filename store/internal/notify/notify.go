// Package notify is the in-process fan-out behind store.Notifier: a Hub that
// publishes notifications to any number of subscribers without ever
// blocking the publisher.
package notify

import (
	"context"
	"sync"

	"github.com/heraldhq/herald/store"
)

// QueueLimitDefault is how many notifications a subscriber may fall behind
// before they are replaced by one store.TopicResync.
const QueueLimitDefault = 1024

// Hub fans notifications out to subscribers. The zero value is not usable;
// call New.
type Hub struct {
	limit int

	done chan struct{} // closed by Close
	mu   sync.Mutex
	subs map[*sub]struct{}
	wg   sync.WaitGroup
}

type sub struct {
	wake  chan struct{} // capacity 1: "the queue has something"
	queue []store.Notification
}

// New returns a hub whose subscribers may fall limit notifications behind
// (QueueLimitDefault when limit is not positive).
func New(limit int) *Hub {
	if limit <= 0 {
		limit = QueueLimitDefault
	}
	return &Hub{limit: limit, done: make(chan struct{}), subs: make(map[*sub]struct{})}
}

// Subscribe returns a channel of notifications, closed when ctx is done or
// the hub is closed.
func (h *Hub) Subscribe(ctx context.Context) (<-chan store.Notification, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return nil, store.ErrClosed
	default:
	}
	s := &sub{wake: make(chan struct{}, 1)}
	h.subs[s] = struct{}{}
	out := make(chan store.Notification)
	h.wg.Add(1)
	go h.pump(ctx, s, out)
	return out, nil
}

// Publish queues n for every subscriber. It never blocks on a subscriber.
func (h *Hub) Publish(n store.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if len(s.queue) >= h.limit {
			s.queue = append(s.queue[:0], store.Notification{Topic: store.TopicResync})
		} else {
			s.queue = append(s.queue, n)
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Close ends every subscription and waits for their goroutines; it is safe to
// call twice.
func (h *Hub) Close() {
	h.mu.Lock()
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *Hub) pump(ctx context.Context, s *sub, out chan<- store.Notification) {
	defer h.wg.Done()
	defer close(out)
	defer func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case <-s.wake:
		}
		for {
			h.mu.Lock()
			if len(s.queue) == 0 {
				h.mu.Unlock()
				break
			}
			n := s.queue[0]
			s.queue = s.queue[1:]
			h.mu.Unlock()
			select {
			case out <- n:
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
	}
}
