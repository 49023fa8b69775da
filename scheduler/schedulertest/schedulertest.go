// Package schedulertest is a test kit for code that embeds Herald's
// scheduler: a harness that starts a scheduler on an in-memory store under
// a fake clock (clocktest.Clock, which moves schedules deterministically:
// no test waits for a cron tick), and helpers that assert a run was
// enqueued or has finished.
//
//	h := schedulertest.New(t, scheduler.Config{Agents: agents})
//	sch := h.CreateSchedule(&store.Schedule{Name: "report", Agent: "echo",
//		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 9 * * *"}})
//	h.Advance(24 * time.Hour)
//	h.AssertTicks(sch.ID, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
package schedulertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// Start is the time a Harness's clock starts at unless told otherwise:
// 2026-01-01T00:00:00Z.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Principal is the principal the harness acts as: an admin.
var Principal = scheduler.Principal{Subject: "test", Admin: true}

// WaitTimeout bounds every Wait helper, in real time.
const WaitTimeout = 10 * time.Second

// Harness is a started scheduler on a store, under a fake clock.
type Harness struct {
	// T is the test the harness fails.
	T testing.TB
	// Clock is the store's clock, and so the scheduler's.
	Clock *clocktest.Clock
	// Store is the store the scheduler runs on.
	Store store.Store
	// Scheduler is the started scheduler.
	Scheduler *scheduler.Scheduler
}

// Options adjusts New.
type Options struct {
	// Start is the clock's first reading; zero means Start.
	Start time.Time
	// Store opens the store on the harness's clock, c; nil means a
	// memstore. The scheduler takes its clock from the store.
	Store func(c clock.Clock) store.Store
}

// New starts a scheduler for cfg on a store under a fake clock, and stops
// both when the test ends. The scheduler reads the clock from the store.
func New(t testing.TB, cfg scheduler.Config, opts ...Options) *Harness {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Start.IsZero() {
		o.Start = Start
	}
	c := clocktest.New(o.Start)
	var st store.Store
	if o.Store != nil {
		st = o.Store(c)
	} else {
		st = memstore.New(memstore.Options{Clock: c})
	}
	s, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatalf("schedulertest: new scheduler: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("schedulertest: start scheduler: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("schedulertest: stop scheduler: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("schedulertest: close store: %v", err)
		}
	})
	return &Harness{T: t, Clock: c, Store: st, Scheduler: s}
}

// Advance moves the clock forward by d and lets the scheduler act on it:
// the ticks due by then are enqueued (misfire policies apply to ticks more
// than the misfire threshold old), expired leases rescued, deliveries left
// undone past their DeliverAfter taken over, workers woken.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	h.Clock.Advance(d)
	h.Tick()
}

// AdvanceTo moves the clock to t and lets the scheduler act on it.
func (h *Harness) AdvanceTo(t time.Time) {
	h.T.Helper()
	h.Clock.Set(t)
	h.Tick()
}

// Tick lets the scheduler act on the clock's time without moving it.
func (h *Harness) Tick() {
	h.T.Helper()
	if err := h.Scheduler.Tick(context.Background()); err != nil {
		h.T.Fatalf("schedulertest: tick: %v", err)
	}
}

// CreateSchedule creates sch as Principal and fails the test on error.
func (h *Harness) CreateSchedule(sch *store.Schedule) *store.Schedule {
	h.T.Helper()
	out, err := h.Scheduler.CreateSchedule(context.Background(), Principal, sch)
	if err != nil {
		h.T.Fatalf("schedulertest: create schedule: %v", err)
	}
	return out
}

// Runs returns every run matching params, newest first.
func (h *Harness) Runs(params store.RunListParams) []*store.Run {
	h.T.Helper()
	var out []*store.Run
	params.Limit = store.ListLimitMax
	for {
		page, err := h.Store.RunList(context.Background(), &params)
		if err != nil {
			h.T.Fatalf("schedulertest: list runs: %v", err)
		}
		out = append(out, page.Runs...)
		if page.Next == "" {
			return out
		}
		params.Cursor = page.Next
	}
}

// Ticks returns the ticks for which schedule id has a run, in order.
func (h *Harness) Ticks(id string) []time.Time {
	h.T.Helper()
	var ticks []time.Time
	for _, r := range h.Runs(store.RunListParams{ScheduleID: id}) {
		if r.Kind == store.RunKindSchedule {
			ticks = append(ticks, r.ScheduledFor)
		}
	}
	slices.SortFunc(ticks, time.Time.Compare)
	return ticks
}

// AssertTicks fails the test unless schedule id has runs for exactly these
// ticks.
func (h *Harness) AssertTicks(id string, want ...time.Time) {
	h.T.Helper()
	got := h.Ticks(id)
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		h.T.Errorf("schedule %s: runs for ticks %v, want %v", id, formatTimes(got), formatTimes(want))
	}
}

func formatTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// WaitRun waits (in real time, up to WaitTimeout) until run id is in one of
// statuses, or in any final status when none is given, and returns it.
func (h *Harness) WaitRun(id string, statuses ...store.RunStatus) *store.Run {
	h.T.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		r, err := h.Store.RunGet(context.Background(), id)
		if err != nil {
			h.T.Fatalf("schedulertest: get run %s: %v", id, err)
		}
		if (len(statuses) == 0 && r.Status.Terminal()) || slices.Contains(statuses, r.Status) {
			return r
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("schedulertest: run %s is %s after %v, want %v", id, r.Status, WaitTimeout, statuses)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitFinished waits for run id to reach a final status and fails the test
// unless it is want.
func (h *Harness) WaitFinished(id string, want store.RunStatus) *store.Run {
	h.T.Helper()
	r := h.WaitRun(id)
	if r.Status != want {
		h.T.Errorf("schedulertest: run %s ended %s (error %q), want %s", id, r.Status, r.Error, want)
	}
	return r
}
