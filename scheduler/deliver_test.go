package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/delivery/teams"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// busy is a deliverer whose receiver asks each delivery, at its first
// attempt, to come back after wait, and takes the second.
type busy struct {
	wait     time.Duration
	mu       sync.Mutex
	attempts map[string]int // by idempotency key
	first    atomic.Int64   // first attempts made
}

func newBusy(wait time.Duration) *busy { return &busy{wait: wait, attempts: map[string]int{}} }

func (b *busy) Deliver(_ context.Context, m *delivery.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts[m.IdempotencyKey]++
	if b.attempts[m.IdempotencyKey] == 1 {
		b.first.Add(1)
		return delivery.RetryAfter(errors.New("429 Too Many Requests"), b.wait)
	}
	return nil
}

// counts returns how many deliveries had each number of attempts.
func (b *busy) counts() map[int]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[int]int{}
	for _, n := range b.attempts {
		out[n]++
	}
	return out
}

// signalled is a deliverer that reports each delivery on a channel.
type signalled chan *delivery.Message

func (s signalled) Deliver(_ context.Context, m *delivery.Message) error {
	s <- m
	return nil
}

// enqueueTo enqueues a run of agent "ok" for one target of channel on s.
func enqueueTo(t *testing.T, s *scheduler.Scheduler, channel string, i int) *store.Run {
	t.Helper()
	r, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
		Targets: []store.Target{{Channel: channel, To: fmt.Sprintf("https://hooks.example.test/%d", i)}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// attemptsOf returns the recorded attempts of run id as status#attempt.
func attemptsOf(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	recs, err := st.DeliveryList(ctx, &store.DeliveryListParams{RunID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range recs {
		out = append(out, fmt.Sprintf("%s#%d", d.Status, d.Attempt))
	}
	return out
}

// TestDeliveryParking: 1,000 deliveries whose receiver asks each to come
// back in 30 s wait parked, holding no delivery worker: a fresh delivery is
// made at once, with the clock standing still. Once the clock has moved
// 30 s, each of them is made again, once.
func TestDeliveryParking(t *testing.T) {
	const n = 1000
	b, fresh := newBusy(30*time.Second), make(signalled, 1)
	router := delivery.NewRouter()
	router.MustRegister("busy", b)
	router.MustRegister("fresh", fresh)
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router})
	runs := make([]*store.Run, n)
	for i := range runs {
		runs[i] = enqueueTo(t, h.Scheduler, "busy", i)
	}
	h.Tick()
	eventually(t, schedulertest.WaitTimeout, "1,000 first attempts", func() bool { return b.first.Load() == n })

	want := enqueueTo(t, h.Scheduler, "fresh", 0)
	h.Tick()
	select {
	case m := <-fresh:
		if m.RunID != want.ID {
			t.Errorf("fresh delivery of run %s, want %s", m.RunID, want.ID)
		}
	case <-time.After(schedulertest.WaitTimeout):
		t.Fatalf("the fresh delivery was not made while %d deliveries waited out a Retry-After", n)
	}
	if c := b.counts(); c[1] != n {
		t.Fatalf("attempts per delivery %v before the Retry-After passed, want %d with one", c, n)
	}

	// Every first attempt is parked before the clock moves: one parked
	// after it would wait for the next tick.
	eventually(t, schedulertest.WaitTimeout, "1,000 parked deliveries", func() bool { return h.Scheduler.ParkedDeliveries() == n })
	h.Advance(30 * time.Second)
	eventually(t, schedulertest.WaitTimeout, "every run out of the outbox", func() bool {
		for _, r := range h.Runs(store.RunListParams{}) {
			if !r.DeliverAfter.IsZero() {
				return false
			}
		}
		return true
	})
	if c := b.counts(); c[2] != n {
		t.Errorf("attempts per delivery %v, want %d with two", c, n)
	}
	if got := attemptsOf(t, h.Store, runs[0].ID); fmt.Sprint(got) != "[retrying#1 succeeded#2]" {
		t.Errorf("attempts of a parked delivery %v, want [retrying#1 succeeded#2]", got)
	}
}

// TestDeliveryWaitMax: a wait for the next attempt longer than
// Config.DeliveryWaitMax is not kept on the node: the run's DeliverAfter
// becomes the time of that attempt, nothing is tried before it, and the
// outbox's takeover makes the attempt once it has come. A shorter wait is
// kept on the node, the run's DeliverAfter held ahead meanwhile.
func TestDeliveryWaitMax(t *testing.T) {
	for _, tc := range []struct {
		name     string
		waitMax  time.Duration
		wait     time.Duration
		handOver bool
	}{
		{name: "past the default", wait: 2 * time.Hour, handOver: true},
		{name: "past a configured cap", waitMax: 10 * time.Second, wait: 30 * time.Second, handOver: true},
		{name: "within the default", wait: 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBusy(tc.wait)
			router := delivery.NewRouter()
			router.MustRegister("busy", b)
			h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}),
				Delivery: router, DeliveryWaitMax: tc.waitMax})
			run := enqueueTo(t, h.Scheduler, "busy", 0)
			h.Tick()
			eventually(t, schedulertest.WaitTimeout, "the first attempt recorded", func() bool {
				return len(attemptsOf(t, h.Store, run.ID)) == 1
			})
			first := schedulertest.Start // the clock has not moved
			wantAfter := first.Add(scheduler.DeliveryTakeoverDefault)
			if tc.handOver {
				wantAfter = first.Add(tc.wait)
			}
			// The hand-over is written after the attempt's record.
			eventually(t, schedulertest.WaitTimeout, "the run's DeliverAfter", func() bool {
				r, err := h.Store.RunGet(ctx, run.ID)
				return err == nil && r.DeliverAfter.Equal(wantAfter)
			})

			// Just before the next attempt is due, nothing is tried: a
			// takeover would have moved DeliverAfter.
			h.Advance(tc.wait - time.Second)
			if r, _ := h.Store.RunGet(ctx, run.ID); tc.handOver && !r.DeliverAfter.Equal(wantAfter) {
				t.Errorf("DeliverAfter %v before the next attempt was due, want %v still", r.DeliverAfter, wantAfter)
			}
			if c := b.counts(); c[1] != 1 {
				t.Errorf("attempts %v before the next was due, want one", c)
			}
			h.Advance(time.Second)
			eventually(t, schedulertest.WaitTimeout, "the run out of the outbox", func() bool {
				r, err := h.Store.RunGet(ctx, run.ID)
				return err == nil && r.DeliverAfter.IsZero()
			})
			if got := attemptsOf(t, h.Store, run.ID); fmt.Sprint(got) != "[retrying#1 succeeded#2]" {
				t.Errorf("attempts %v, want [retrying#1 succeeded#2]", got)
			}
		})
	}
}

// TestDeliveryAttemptsDoNotMultiply: a built-in HTTP deliverer makes one
// request per attempt of the scheduler's: a receiver that always answers
// 503 gets DeliveryAttempts requests, each recorded.
func TestDeliveryAttemptsDoNotMultiply(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	d, err := teams.New(teams.Config{HTTP: httppost.Options{HTTPClient: srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	router := delivery.NewRouter()
	router.MustRegister("teams", d)
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router,
		DeliveryAttempts: 3, Retry: scheduler.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
		Targets: []store.Target{{Channel: "teams", To: srv.URL + "/hook"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	eventually(t, schedulertest.WaitTimeout, "the delivery failed for good", func() bool {
		r, err := h.Store.RunGet(ctx, run.ID)
		return err == nil && r.Status.Terminal() && r.DeliverAfter.IsZero()
	})
	if got := attemptsOf(t, h.Store, run.ID); fmt.Sprint(got) != "[retrying#1 retrying#2 failed#3]" {
		t.Errorf("attempts %v, want [retrying#1 retrying#2 failed#3]", got)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("the receiver got %d requests for 3 attempts", n)
	}
}

// TestStopWithParkedDeliveries: Stop does not wait for parked deliveries
// whose next attempt comes after its grace (here 2 minutes against 1), leaves no goroutine behind,
// and leaves them to the outbox for the time of their next attempt: a node
// started afterwards makes each of them then, once.
func TestStopWithParkedDeliveries(t *testing.T) {
	const n = 50
	clock := clocktest.New(schedulertest.Start)
	st := memstore.New(memstore.Options{Clock: clock})
	defer st.Close()
	leaks := goleak.IgnoreCurrent()
	agents := registry(map[string]agent.Agent{"ok": okAgent()})
	const wait = 2 * time.Minute
	b := newBusy(wait)
	router := delivery.NewRouter()
	router.MustRegister("busy", b)
	a, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: router, Node: "a",
		ShutdownGrace: time.Minute, DeliveryWaitMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	runs := make([]*store.Run, n)
	for i := range runs {
		runs[i] = enqueueTo(t, a, "busy", i)
	}
	if err := a.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, schedulertest.WaitTimeout, "the first attempts", func() bool { return b.first.Load() == n })
	// Were Stop waiting out its grace for the parked deliveries, this
	// context would end it first, and the hand-overs would not be written.
	stopCtx, cancel := context.WithTimeout(ctx, schedulertest.WaitTimeout)
	defer cancel()
	if err := a.Stop(stopCtx); err != nil || stopCtx.Err() != nil {
		t.Fatalf("Stop: %v, its context: %v", err, stopCtx.Err())
	}
	goleak.VerifyNone(t, leaks)
	due := schedulertest.Start.Add(wait)
	for _, r := range runs {
		got, err := st.RunGet(ctx, r.ID)
		if err != nil || !got.DeliverAfter.Equal(due) {
			t.Fatalf("run %s after Stop: DeliverAfter %v (%v), want %v, the next attempt's time", r.ID, got.DeliverAfter, err, due)
		}
	}

	bNode, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: router, Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bNode.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer bNode.Stop(ctx)
	clock.Advance(wait - time.Second)
	if err := bNode.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if c := b.counts(); c[1] != n {
		t.Errorf("attempts per delivery %v before the next were due, want %d with one", c, n)
	}
	clock.Advance(time.Second)
	if err := bNode.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, schedulertest.WaitTimeout, "every run out of the outbox", func() bool {
		for _, r := range runs {
			if got, err := st.RunGet(ctx, r.ID); err != nil || !got.DeliverAfter.IsZero() {
				return false
			}
		}
		return true
	})
	if c := b.counts(); c[2] != n {
		t.Errorf("attempts per delivery %v, want %d with two", c, n)
	}
	for _, r := range runs {
		if got := attemptsOf(t, st, r.ID); fmt.Sprint(got) != "[retrying#1 succeeded#2]" {
			t.Errorf("run %s: attempts %v, want [retrying#1 succeeded#2]", r.ID, got)
		}
	}
}
