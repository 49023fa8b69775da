package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// TestTicksDueBeforeAChangeAreWritten: ticks that fell due before a pause,
// a change of trigger or a delete, and that no node had written yet (here
// no node runs at all), are written by the change; the ticks after it are
// not. The pause used to drop them: a node behind its timer learnt of the
// pause before it wrote them, and removed the schedule.
func TestTicksDueBeforeAChangeAreWritten(t *testing.T) {
	clock := clocktest.New(t0)
	st := memstore.New(memstore.Options{Clock: clock})
	defer st.Close()
	api, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
	if err != nil {
		t.Fatal(err)
	}
	minutely := func(name string) *store.Schedule {
		s := cronSchedule(name, "ok", "* * * * *")
		s.Misfire, s.Overlap = store.MisfireRunAll, store.OverlapAllowAll
		s, err := api.CreateSchedule(ctx, admin, s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	paused, changed, deleted := minutely("paused"), minutely("changed"), minutely("deleted")
	clock.Advance(3*time.Minute + 30*time.Second) // ticks at 1, 2 and 3 minutes fall due; no node writes them
	due := []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)}

	if _, err := api.PauseSchedule(ctx, admin, paused.ID); err != nil {
		t.Fatal(err)
	}
	upd := *changed
	upd.Trigger = store.Trigger{Kind: store.TriggerCron, Cron: "0 * * * *"}
	if _, err := api.UpdateSchedule(ctx, admin, &upd); err != nil {
		t.Fatal(err)
	}
	if err := api.DeleteSchedule(ctx, admin, deleted.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ScheduleGet(ctx, deleted.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted schedule reads %v, want not found", err)
	}
	h := &schedulertest.Harness{T: t, Clock: clock, Store: st, Scheduler: api}
	for _, id := range []string{paused.ID, changed.ID, deleted.ID} {
		h.AssertTicks(id, due...)
	}

	// Once changed, the old trigger fires no more: a node that starts now
	// writes nothing of the paused stretch, nor of the old trigger.
	clock.Advance(10 * time.Minute)
	node, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer node.Stop(ctx)
	h.Scheduler = node
	h.Tick()
	h.AssertTicks(paused.ID, due...)
	h.AssertTicks(changed.ID, due...)
}

// TestTicksDueBeforeAPauseSeenLateAreWritten: a node that learns of a pause
// (made around the scheduler, in the store) after ticks fell due that it
// had not written writes them under the definition they were due under.
func TestTicksDueBeforeAPauseSeenLateAreWritten(t *testing.T) {
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
	s := cronSchedule("late", "ok", "* * * * *")
	s.Misfire, s.Overlap = store.MisfireRunAll, store.OverlapAllowAll
	sch := h.CreateSchedule(s)
	h.Tick() // the node knows the schedule; then its clock moves on without it
	h.Clock.Advance(2*time.Minute + 30*time.Second)
	if _, err := h.Store.SchedulePause(ctx, sch.ID); err != nil {
		t.Fatal(err)
	}
	due := []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)}
	eventually(t, schedulertest.WaitTimeout, "the ticks due before the pause written", func() bool {
		return len(h.Ticks(sch.ID)) == len(due)
	})
	h.Advance(5 * time.Minute)
	h.AssertTicks(sch.ID, due...)
}

// failingExtends is a store whose lease extensions fail, as when the
// database is unreachable from this node alone.
type failingExtends struct{ store.Store }

func (failingExtends) RunExtendLease(context.Context, *store.RunExtendLeaseParams) ([]*store.RunLease, error) {
	return nil, store.ErrUnavailable
}

// TestRunStopsBeforeItsUnextendedLeaseLapses: a node that cannot extend a
// run's lease stops the run before the lease lapses, so that the node that
// rescues it never runs it while this one still does. It used to run on,
// and another node started it too.
func TestRunStopsBeforeItsUnextendedLeaseLapses(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	stopped := make(chan time.Time, 1)
	hold := agent.Func(func(ctx context.Context, _ *agent.Task) (*agent.Result, error) {
		<-ctx.Done()
		stopped <- time.Now()
		return nil, ctx.Err()
	})
	s, err := scheduler.New(failingExtends{st}, scheduler.Config{Agents: registry(map[string]agent.Agent{"hold": hold}),
		Lease: time.Second, Node: "node-a", ReapInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	run, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "hold"})
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	select {
	case at = <-stopped:
	case <-time.After(schedulertest.WaitTimeout):
		t.Fatal("the run was not stopped though its lease could not be extended")
	}
	r, err := st.RunGet(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.LeaseExpiresAt.IsZero() || !at.Before(r.LeaseExpiresAt) {
		t.Errorf("the run stopped at %v, not before its lease lapsed at %v", at, r.LeaseExpiresAt)
	}
	if r.Status != store.RunRunning || r.LeaseOwner != "node-a" {
		t.Errorf("run %s held by %q, want still running under node-a's lapsing lease (left to the reaper)", r.Status, r.LeaseOwner)
	}
}
