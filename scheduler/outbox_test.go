package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
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
	routerA.MustHandle("mail", okA)
	routerA.MustHandle("hook", stuck)
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
		{Channel: "mail", To: "admin@example.test", On: store.DeliverFailure},
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
	routerB.MustHandle("mail", okB)
	routerB.MustHandle("hook", hookB)
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

// TestOutboxEmptiesWhenDeliveriesEnd: a run whose targets want none of
// its outcome, and one whose deliveries all succeeded, are both out of
// the outbox.
func TestOutboxEmptiesWhenDeliveriesEnd(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	mail := &recorder{}
	router := delivery.NewRouter()
	router.MustHandle("mail", mail)
	s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	quiet, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
		Targets: []store.Target{{Channel: "mail", To: "a@example.test", On: store.DeliverFailure}}})
	if err != nil {
		t.Fatal(err)
	}
	loud, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok",
		Targets: []store.Target{{Channel: "mail", To: "a@example.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the delivery", func() bool { return len(mail.messages()) == 1 })
	eventually(t, 5*time.Second, "both runs out of the outbox", func() bool {
		for _, id := range []string{quiet.ID, loud.ID} {
			r, err := st.RunGet(ctx, id)
			if err != nil || r.Status != store.RunSucceeded || !r.DeliverAfter.IsZero() {
				return false
			}
		}
		return true
	})
}
