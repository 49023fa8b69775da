package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// stagedCalls is a store that records its RunEnqueueStaged calls: when the
// release was called, when the call returned and the ticks it wrote.
type stagedCalls struct {
	store.Store
	mu    sync.Mutex
	calls []stagedCall
}

type stagedCall struct {
	began, released, returned time.Time
	ticks                     []time.Time
	// reserved is the claim's limit, claimed how many runs it claimed.
	reserved, claimed int
	err               error
}

func (s *stagedCalls) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *store.RunClaimParams, ps ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	c := stagedCall{began: time.Now()}
	res, err := s.Store.RunEnqueueStaged(ctx, func(ctx context.Context) error {
		c.released = time.Now()
		return release(ctx)
	}, claim, ps...)
	c.returned, c.err = time.Now(), err
	if claim != nil {
		c.reserved = claim.Limit
	}
	for _, r := range res {
		if !r.Duplicate && r.Run.Status == store.RunRunning {
			c.claimed++
		}
	}
	for _, p := range ps {
		c.ticks = append(c.ticks, p.ScheduledFor)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return res, err
}

func (s *stagedCalls) snapshot() []stagedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stagedCall(nil), s.calls...)
}

// TestTicksAreWrittenAheadAndCommittedOnTime: on the system clock, the
// ticks of a moment are written before it and committed when it comes,
// never before; each tick still makes one run. One-off schedules make
// three moments 400 ms apart (two schedules share the first); a cron
// schedule firing every second runs beside them. A moment whose schedule
// was created too late to be staged (a loaded machine) is fired as it
// comes; the cron schedule's moments are staged in any case.
func TestTicksAreWrittenAheadAndCommittedOnTime(t *testing.T) {
	t.Parallel() // it waits for the system clock's moments: beside the others
	forEachBackendAtOnce(t, func(t *testing.T, open func() store.Store) {
		st := &stagedCalls{Store: open()}
		c := newCounter()
		s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c}), Logger: testLogger(t)})
		every := cronSchedule("every", "count", "* * * * * *")
		every.Overlap = store.OverlapAllowAll
		cron, err := s.CreateSchedule(ctx, admin, every)
		if err != nil {
			t.Fatal(err)
		}
		base := time.Now().Truncate(time.Millisecond)
		var ids []string
		for i, off := range []time.Duration{500, 500, 900, 1300} {
			at := base.Add(off * time.Millisecond)
			created, err := s.CreateSchedule(ctx, admin, &store.Schedule{Name: fmt.Sprintf("once-%d", i), Agent: "count",
				Trigger: store.Trigger{Kind: store.TriggerOnce, At: at}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, created.ID)
		}
		eventually(t, 10*time.Second, "a run for each one-off schedule", func() bool {
			for _, id := range ids {
				if len(allRuns(t, st, store.RunListParams{ScheduleID: id})) == 0 {
					return false
				}
			}
			return true
		})
		calls := st.snapshot()
		if len(calls) == 0 {
			t.Fatal("no moment was staged")
		}
		ahead, begunAhead, claimed := 0, 0, 0
		for _, c := range calls {
			if c.err != nil {
				t.Errorf("staged enqueue failed: %v", c.err)
				continue
			}
			// The node is idle: its free workers are reserved for the
			// ticks, which commit claimed by it.
			if c.claimed > c.reserved {
				t.Errorf("a staged call claimed %d runs for %d workers reserved", c.claimed, c.reserved)
			}
			claimed += c.claimed
			at := c.ticks[0]
			for _, tk := range c.ticks {
				if !tk.Equal(at) {
					t.Errorf("one staged call wrote ticks of %v and %v", at, tk)
				}
			}
			if c.returned.Before(at) {
				t.Errorf("tick %v: committed early, at %v", at, c.returned)
			}
			if c.began.Before(at) {
				begunAhead++
			}
			// Whether the writes were done by the moment is a matter of
			// speed (BenchmarkFireBurst measures it); a loaded machine
			// may miss it.
			if c.released.Before(at) {
				ahead++
			}
		}
		// A moment is staged only when its lead comes before it (the
		// write begins ahead of it); whether the write ends ahead too is
		// speed.
		if begunAhead == 0 {
			t.Error("no staged write began before its moment")
		}
		t.Logf("%d of %d staged moments were written before they came", ahead, len(calls))
		if claimed == 0 {
			t.Error("no staged tick committed claimed by the node")
		}
		for _, id := range ids {
			eventually(t, 10*time.Second, "one-off schedule's run succeeded", func() bool {
				runs := allRuns(t, st, store.RunListParams{ScheduleID: id})
				return len(runs) == 1 && runs[0].Status == store.RunSucceeded && runs[0].Attempt == 1
			})
		}
		seen := map[time.Time]bool{}
		for _, r := range allRuns(t, st, store.RunListParams{ScheduleID: cron.ID}) {
			if seen[r.ScheduledFor] {
				t.Errorf("cron schedule: two runs for tick %v", r.ScheduledFor)
			}
			seen[r.ScheduledFor] = true
		}
	})
}

// TestStagedClaimsKeepToTheWorkers: a node never executes more runs at
// once than it has workers, while its claim loop claims ad hoc runs and
// its staged writes claim the ticks of the same moments (each reserves
// the workers it claims for, so that neither counts the other's as free).
// Ad hoc runs are enqueued in a stream until two moments of 8
// per-second schedules were staged; the agent keeps each run 20 ms.
func TestStagedClaimsKeepToTheWorkers(t *testing.T) {
	t.Parallel() // it waits for the system clock's moments: beside the others
	forEachBackendAtOnce(t, func(t *testing.T, open func() store.Store) {
		const workers, perMoment = 4, 8
		var mu sync.Mutex
		current, peak := 0, 0
		busy := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			mu.Lock()
			current++
			peak = max(peak, current)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // the run's work
			mu.Lock()
			current--
			mu.Unlock()
			return nil, nil
		})
		st := &stagedCalls{Store: open()}
		s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"busy": busy}), Workers: workers, Logger: testLogger(t)})
		var ids []string
		for i := range perMoment {
			sch := cronSchedule(fmt.Sprintf("every-%d", i), "busy", "* * * * * *")
			sch.Overlap = store.OverlapAllowAll
			created, err := s.CreateSchedule(ctx, admin, sch)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, created.ID)
		}
		// Ad hoc runs, one every few milliseconds, until two moments
		// were staged, so that claims are in flight as ticks stage.
		for deadline := time.Now().Add(30 * time.Second); len(st.snapshot()) < 2; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("two moments were not staged within 30 s")
			}
			if _, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "busy"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			if _, err := s.PauseSchedule(ctx, admin, id); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 30*time.Second, "every run done", func() bool {
			return len(allRuns(t, st, store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})) == 0
		})
		mu.Lock()
		defer mu.Unlock()
		if peak > workers {
			t.Errorf("%d runs executed at once on a node of %d workers", peak, workers)
		}
		claimed := 0
		for _, c := range st.snapshot() {
			claimed += c.claimed
		}
		t.Logf("peak %d of %d workers; %d ticks committed claimed", peak, workers, claimed)
	})
}
