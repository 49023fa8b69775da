package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// hang is a deliverer that never ends a delivery before its context does.
type hang struct{ started chan string }

func (h *hang) Deliver(ctx context.Context, m *delivery.Message) error {
	select {
	case h.started <- m.IdempotencyKey:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestDeliveriesTakenOver: node A finishes a run, delivers it to one
// target, and stops while the delivery to the other hangs. Node B takes
// the run over once its DeliverAfter has passed and delivers to the
// second target only, with the next attempt number and the same
// idempotency key; the run then leaves the outbox.
func TestDeliveriesTakenOver(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	agents := registry(map[string]agent.Agent{"ok": okAgent()})
	const takeover = 300 * time.Millisecond

	okA, stuck := &recorder{}, &hang{started: make(chan string, 1)}
	routerA := delivery.NewRouter()
	routerA.MustRegister("mail", okA)
	routerA.MustRegister("hook", stuck)
	a, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: routerA, Node: "a",
		DeliveryTakeover: takeover, ShutdownGrace: 50 * time.Millisecond, ReapInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := a.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok", Targets: []store.Target{
		{Channel: "mail", To: "ops@example.test"},
		{Channel: "hook", To: "https://hooks.example.test/1"},
		{Channel: "mail", To: "admin@example.test", On: delivery.OnFailure},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var key string
	select {
	case key = <-stuck.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the hanging delivery did not start")
	}
	eventually(t, 5*time.Second, "the mail delivery", func() bool { return len(okA.messages()) == 1 })
	r, err := st.RunGet(ctx, run.ID)
	if err != nil || r.DeliverAfter.IsZero() {
		t.Fatalf("run during its deliveries: DeliverAfter %v, err %v; want it in the outbox", r.DeliverAfter, err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.RunGet(ctx, run.ID); r.DeliverAfter.IsZero() {
		t.Fatal("Stop cut a delivery short, yet the run left the outbox")
	}

	okB, hookB := &recorder{}, &recorder{}
	routerB := delivery.NewRouter()
	routerB.MustRegister("mail", okB)
	routerB.MustRegister("hook", hookB)
	b, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: routerB, Node: "b",
		DeliveryTakeover: takeover, ReapInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	eventually(t, 10*time.Second, "node b's delivery to the hook", func() bool { return len(hookB.messages()) == 1 })
	eventually(t, 5*time.Second, "the run leaving the outbox", func() bool {
		r, err := st.RunGet(ctx, run.ID)
		return err == nil && r.DeliverAfter.IsZero()
	})
	if m := hookB.messages()[0]; m.IdempotencyKey != key || m.RunID != run.ID {
		t.Errorf("taken-over message: key %q run %s, want key %q run %s", m.IdempotencyKey, m.RunID, key, run.ID)
	}
	if n := len(okB.messages()); n != 0 {
		t.Errorf("node b re-sent %d mails already delivered (or not wanted)", n)
	}
	recs, err := st.DeliveryList(ctx, &store.DeliveryListParams{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	var hooks []string
	for _, d := range recs {
		if d.Channel == "hook" {
			hooks = append(hooks, fmt.Sprintf("%s#%d", d.Status, d.Attempt))
		}
	}
	if len(hooks) != 2 || hooks[0] != "retrying#1" || hooks[1] != "succeeded#2" {
		t.Errorf("hook attempts %v, want [retrying#1 succeeded#2]", hooks)
	}
}

// finishSpy is a memstore that keeps the RunFinish calls it gets.
type finishSpy struct {
	*memstore.Store
	mu     sync.Mutex
	params map[string]*store.RunFinishParams
}

func (f *finishSpy) RunFinish(ctx context.Context, ps ...*store.RunFinishParams) ([]*store.Run, error) {
	f.mu.Lock()
	for _, p := range ps {
		f.params[p.ID] = p
	}
	f.mu.Unlock()
	return f.Store.RunFinish(ctx, ps...)
}

func (f *finishSpy) finish(id string) *store.RunFinishParams {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.params[id]
}

// TestOutboxEntries: a run whose targets want none of its outcome is
// finished without a DeliverAfter; one with a target that wants it, with
// one, and it leaves the outbox once delivered. An agent's extra target
// is stored with the run and delivered once; one without a channel is
// dropped, and the run still succeeds.
func TestOutboxEntries(t *testing.T) {
	spy := &finishSpy{Store: memstore.New(memstore.Options{}), params: map[string]*store.RunFinishParams{}}
	defer spy.Close()
	mail, extra := &recorder{}, &recorder{}
	router := delivery.NewRouter()
	router.MustRegister("mail", mail)
	router.MustRegister("extra", extra)
	agents := registry(map[string]agent.Agent{
		"ok": okAgent(),
		"more": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return &agent.Result{Summary: "ok", Targets: []delivery.Target{{Channel: "extra", To: "#x"}, {To: "#nowhere"}}}, nil
		}),
	})
	s, err := scheduler.New(spy, scheduler.Config{Agents: agents, Delivery: router})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	enqueue := func(agentName string, on delivery.On) *store.Run {
		t.Helper()
		r, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: agentName,
			Targets: []store.Target{{Channel: "mail", To: "a@example.test", On: on}}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	quiet, loud, more := enqueue("ok", delivery.OnFailure), enqueue("ok", delivery.OnAlways), enqueue("more", delivery.OnFailure)
	eventually(t, 5*time.Second, "the deliveries", func() bool { return len(mail.messages()) == 1 && len(extra.messages()) == 1 })
	eventually(t, 5*time.Second, "every run out of the outbox", func() bool {
		for _, id := range []string{quiet.ID, loud.ID, more.ID} {
			r, err := spy.RunGet(ctx, id)
			if err != nil || r.Status != store.RunSucceeded || !r.DeliverAfter.IsZero() {
				return false
			}
		}
		return true
	})
	if p := spy.finish(quiet.ID); p == nil || !p.DeliverAfter.IsZero() {
		t.Errorf("run with nothing to deliver finished with %+v, want no DeliverAfter", p)
	}
	for _, id := range []string{loud.ID, more.ID} {
		if p := spy.finish(id); p == nil || p.DeliverAfter.IsZero() {
			t.Errorf("run %s with a delivery to make finished with %+v, want a DeliverAfter", id, p)
		}
	}
	r, _ := spy.RunGet(ctx, more.ID)
	want := []store.Target{{Channel: "mail", To: "a@example.test", On: delivery.OnFailure}, {Channel: "extra", To: "#x", On: delivery.OnAlways}}
	if fmt.Sprint(r.Targets) != fmt.Sprint(want) {
		t.Errorf("stored targets %+v, want %+v", r.Targets, want)
	}
	time.Sleep(50 * time.Millisecond) // a second delivery would show by now
	if n, m := len(extra.messages()), len(mail.messages()); n != 1 || m != 1 {
		t.Errorf("extra got %d messages and mail %d, want 1 each", n, m)
	}
}

// gate is a deliverer whose deliveries wait until it opens.
type gate struct {
	open    chan struct{}
	started chan struct{}
	rec     recorder
}

func (g *gate) Deliver(ctx context.Context, m *delivery.Message) error {
	select {
	case g.started <- struct{}{}:
	default:
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.rec.Deliver(ctx, m)
}

// TestDeliveryUnderWayIsNotTakenOver: with a fake clock moved far past the
// DeliverAfter of a run whose delivery is still going, the node keeps the
// run: it is delivered once, not taken over.
func TestDeliveryUnderWayIsNotTakenOver(t *testing.T) {
	g := &gate{open: make(chan struct{}), started: make(chan struct{}, 1)}
	router := delivery.NewRouter()
	router.MustRegister("hook", g)
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
		Targets: []store.Target{{Channel: "hook", To: "https://hooks.example.test/1"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	h.WaitFinished(run.ID, store.RunSucceeded)
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery did not start")
	}
	h.Advance(scheduler.DeliveryTakeoverDefault + 5*time.Minute)
	h.Advance(scheduler.DeliveryTakeoverDefault + 5*time.Minute)
	close(g.open)
	eventually(t, 5*time.Second, "the run leaving the outbox", func() bool {
		r, err := h.Store.RunGet(ctx, run.ID)
		return err == nil && r.DeliverAfter.IsZero()
	})
	h.Tick()
	time.Sleep(50 * time.Millisecond)
	if n := len(g.rec.messages()); n != 1 {
		t.Errorf("the hook got %d messages, want 1", n)
	}
	recs, err := h.Store.DeliveryList(ctx, &store.DeliveryListParams{RunID: run.ID})
	if err != nil || len(recs) != 1 || recs[0].Status != store.DeliverySucceeded || recs[0].Attempt != 1 {
		t.Errorf("delivery records %+v (%v), want one success at attempt 1", recs, err)
	}
}
