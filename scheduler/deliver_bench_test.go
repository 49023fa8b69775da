package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// BenchmarkDelivery measures deliveries through the whole engine on the
// memory store, one run and one target per op, until every delivery is
// made:
//   - ok: the receiver takes each delivery at once;
//   - retry: it asks each to come back after 1 ms (Retry-After), then
//     takes it;
//   - behind-waits: per op, 16 deliveries (twice the delivery workers) ask
//     to come back after 100 ms, then a fresh one is made; fresh-ms is how
//     long the fresh one took from its enqueue.
func BenchmarkDelivery(b *testing.B) {
	for _, mode := range []string{"ok", "retry"} {
		b.Run(mode, func(b *testing.B) {
			var done atomic.Int64
			var mu sync.Mutex
			seen := map[string]bool{}
			rec := delivery.Func(func(_ context.Context, m *delivery.Message) error {
				if mode == "retry" {
					mu.Lock()
					first := !seen[m.IdempotencyKey]
					seen[m.IdempotencyKey] = true
					mu.Unlock()
					if first {
						return delivery.RetryAfter(errors.New("429"), time.Millisecond)
					}
				}
				done.Add(1)
				return nil
			})
			s := startDeliveryBench(b, map[string]delivery.Deliverer{"hook": rec})
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
					Targets: []store.Target{{Channel: "hook", To: fmt.Sprintf("https://hooks.example.test/%d", i)}}}); err != nil {
					b.Fatal(err)
				}
			}
			waitBench(b, func() bool { return done.Load() == int64(b.N) })
		})
	}
	b.Run("behind-waits", func(b *testing.B) {
		const waiting = 16
		var busyFirst, busyDone atomic.Int64
		var mu sync.Mutex
		seen := map[string]bool{}
		busy := delivery.Func(func(_ context.Context, m *delivery.Message) error {
			mu.Lock()
			first := !seen[m.IdempotencyKey]
			seen[m.IdempotencyKey] = true
			mu.Unlock()
			if first {
				busyFirst.Add(1)
				return delivery.RetryAfter(errors.New("429"), 100*time.Millisecond)
			}
			busyDone.Add(1)
			return nil
		})
		fresh := make(chan time.Time, 1)
		s := startDeliveryBench(b, map[string]delivery.Deliverer{"busy": busy, "fresh": delivery.Func(func(context.Context, *delivery.Message) error {
			fresh <- time.Now()
			return nil
		})})
		var total time.Duration
		b.ResetTimer()
		for i := range b.N {
			for k := range waiting {
				if _, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
					Targets: []store.Target{{Channel: "busy", To: fmt.Sprintf("https://hooks.example.test/%d/%d", i, k)}}}); err != nil {
					b.Fatal(err)
				}
			}
			// The delivery workers are all busy with these (or were).
			waitBench(b, func() bool { return busyFirst.Load() >= int64(i*waiting+scheduler.DeliveryWorkersDefault) })
			start := time.Now()
			if _, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
				Targets: []store.Target{{Channel: "fresh", To: "https://hooks.example.test/fresh"}}}); err != nil {
				b.Fatal(err)
			}
			select {
			case at := <-fresh:
				total += at.Sub(start)
			case <-time.After(time.Minute):
				b.Fatal("the fresh delivery was not made")
			}
			waitBench(b, func() bool { return busyDone.Load() == int64((i+1)*waiting) })
		}
		b.StopTimer()
		b.ReportMetric(ms(total/time.Duration(b.N)), "fresh-ms")
	})
}

func startDeliveryBench(b *testing.B, deliverers map[string]delivery.Deliverer) *scheduler.Scheduler {
	b.Helper()
	st := memstore.New(memstore.Options{})
	b.Cleanup(func() { st.Close() })
	router := delivery.NewRouter()
	for name, d := range deliverers {
		router.MustRegister(name, d)
	}
	s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Stop(ctx) })
	return s
}

// waitBench polls cond every 100 µs, for up to a minute.
func waitBench(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("not within a minute")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
