package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

// TestStaging runs the tests of staged ticks, which only the system clock
// has: they wait for its moments, so they run at once, beside the other
// tests and beyond go test's -parallel limit (the machine's CPUs), each
// on every backend at once (forEachBackendAtOnce).
func TestStaging(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for name, f := range map[string]func(*testing.T){
		"TicksAreWrittenAheadAndCommittedOnTime": testTicksAreWrittenAheadAndCommittedOnTime,
		"StagedClaimsKeepToTheWorkers":           testStagedClaimsKeepToTheWorkers,
		"LateStagedClaimsAreExtendedFirst":       testLateStagedClaimsAreExtendedFirst,
		"TicksPastAStagedClaimStartInThePass":    testTicksPastAStagedClaimStartInThePass,
	} {
		wg.Go(func() { t.Run(name, f) })
	}
	wg.Wait()
}

// testTicksAreWrittenAheadAndCommittedOnTime: on the system clock, the
// ticks of a moment are written before it and committed when it comes,
// never before; each tick still makes one run. One-off schedules make
// three moments 400 ms apart (two schedules share the first); a cron
// schedule firing every second runs beside them. A moment whose schedule
// was created too late to be staged (a loaded machine) is fired as it
// comes; the cron schedule's moments are staged in any case, one a second,
// and the test waits for one whose write began ahead of it.
func testTicksAreWrittenAheadAndCommittedOnTime(t *testing.T) {
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
		// Far enough ahead that a loaded machine creates them all before
		// the first comes.
		base := time.Now().Truncate(time.Millisecond).Add(time.Second)
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
		// The cron schedule's moments are staged in any case; on a loaded
		// machine every one-off may have fired unstaged before the first,
		// and a stage may begin late. A moment is staged only when its
		// lead comes before it (the write begins ahead of it); whether the
		// write ends ahead too is speed.
		eventually(t, 20*time.Second, "a staged write begun before its moment", func() bool {
			return slices.ContainsFunc(st.snapshot(), func(c stagedCall) bool { return len(c.ticks) > 0 && c.began.Before(c.ticks[0]) })
		})
		calls := st.snapshot()
		ahead, claimed := 0, 0
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
			// Whether the writes were done by the moment is a matter of
			// speed (BenchmarkFireBurst measures it); a loaded machine
			// may miss it.
			if c.released.Before(at) {
				ahead++
			}
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

// testStagedClaimsKeepToTheWorkers: a node never executes more runs at
// once than it has workers, while its claim loop claims ad hoc runs and
// its staged writes claim the ticks of the same moments (each reserves
// the workers it claims for, so that neither counts the other's as free).
// Ad hoc runs are enqueued in a stream until two moments of 8
// per-second schedules were staged; the agent keeps each run 20 ms.
func testStagedClaimsKeepToTheWorkers(t *testing.T) {
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
		ids := everySecond(t, s, "busy", perMoment)
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
		pauseAndDrain(t, s, st, ids)
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

// slowStaged is a store whose claiming staged writes return late, over a
// third of the lease after they were sent, and take the first run each
// commits claimed away from its node meanwhile (as a rescue by another
// node would); it records the runs whose leases were extended.
type slowStaged struct {
	store.Store
	late time.Duration
	mu   sync.Mutex
	// taken are the runs taken away, extended those whose leases were
	// asked for.
	taken, extended map[string]bool
}

func (s *slowStaged) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *store.RunClaimParams, ps ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	res, err := s.Store.RunEnqueueStaged(ctx, release, claim, ps...)
	if err != nil || claim == nil {
		return res, err
	}
	for _, r := range res {
		if !r.Duplicate && r.Run.Status == store.RunRunning {
			if _, err := s.Store.RunRequeue(ctx, &store.RunRequeueParams{ID: r.Run.ID, Node: claim.Node}); err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.taken[r.Run.ID] = true
			s.mu.Unlock()
			break
		}
	}
	time.Sleep(s.late) // the write is slow: a lock waited for, a slow disk
	return res, nil
}

func (s *slowStaged) RunExtendLease(ctx context.Context, p *store.RunExtendLeaseParams) ([]*store.RunLease, error) {
	s.mu.Lock()
	for _, id := range p.IDs {
		s.extended[id] = true
	}
	s.mu.Unlock()
	return s.Store.RunExtendLease(ctx, p)
}

// testLateStagedClaimsAreExtendedFirst: runs a staged write committed
// claimed, but returned over a third of the lease after it was sent, have
// their leases extended before they start; one no longer held by the node
// (taken away meanwhile) is not started from the write: it runs once all
// the same, claimed again.
func testLateStagedClaimsAreExtendedFirst(t *testing.T) {
	forEachBackendAtOnce(t, func(t *testing.T, open func() store.Store) {
		// Long enough that a loaded machine (-race beside other tests)
		// extends every lease within its third: a lapsed one lets a run
		// be rescued and executed again, as it should.
		const lease = 3 * time.Second
		st := &slowStaged{Store: open(), late: lease / 2, taken: map[string]bool{}, extended: map[string]bool{}}
		c := newCounter()
		s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c}), Lease: lease, Logger: testLogger(t)})
		ids := everySecond(t, s, "count", 4)
		eventually(t, 30*time.Second, "a staged write's runs taken away and extended", func() bool {
			st.mu.Lock()
			defer st.mu.Unlock()
			return len(st.taken) > 0 && len(st.extended) > 0
		})
		pauseAndDrain(t, s, st, ids)
		// A staged write still in its slow return when the drain ends has
		// taken its run away (queued, claimed and run by the claim loop
		// meanwhile) but not yet asked for its runs' leases, nor started
		// the runs it committed claimed.
		eventually(t, 30*time.Second, "every run a late staged write took away had its lease extended, and every run done", func() bool {
			st.mu.Lock()
			for id := range st.taken {
				if !st.extended[id] {
					st.mu.Unlock()
					return false
				}
			}
			st.mu.Unlock()
			return len(allRuns(t, st, store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})) == 0
		})
		runs := c.snapshot()
		for _, r := range allRuns(t, st, store.RunListParams{}) {
			if n := runs[r.ID]; n != 1 || r.Status != store.RunSucceeded {
				t.Errorf("run %s (tick %v): executed %d times, %s; want once, succeeded", r.ID, r.ScheduledFor, n, r.Status)
			}
		}
	})
}

// everySecond creates n schedules of agent firing every second, each tick
// free to run beside the last, and returns their ids.
func everySecond(t *testing.T, s *scheduler.Scheduler, agent string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		sch := cronSchedule(fmt.Sprintf("every-%d", i), agent, "* * * * * *")
		sch.Overlap = store.OverlapAllowAll
		created, err := s.CreateSchedule(ctx, admin, sch)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = created.ID
	}
	return ids
}

// pauseAndDrain pauses the schedules ids and waits until st has no run
// queued or running.
func pauseAndDrain(t *testing.T, s *scheduler.Scheduler, st store.Store, ids []string) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.PauseSchedule(ctx, admin, id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "every run done", func() bool {
		return len(allRuns(t, st, store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})) == 0
	})
}

// heldSetTimes is a store whose first ScheduleSetTimes once armed that
// ends a one-off schedule (NextRunAt set to zero), the bookkeeping a pass
// does after its ticks' write, waits until release is closed or a deadline
// passes; it records which came first. Other calls go through: the fire
// loop's pass for the schedules just created may set their NextRunAt
// after the test armed the hold, on a loaded machine, and holding that one
// would hold the ticks themselves.
type heldSetTimes struct {
	store.Store
	armed    atomic.Bool
	release  chan struct{}
	once     sync.Once
	released atomic.Bool   // by release, not by the deadline
	held     chan struct{} // closed when the hold ended, either way
}

func (s *heldSetTimes) ScheduleSetTimes(ctx context.Context, p *store.ScheduleSetTimesParams) (*store.Schedule, error) {
	if !s.armed.Load() || p.NextRunAt == nil || !p.NextRunAt.IsZero() {
		return s.Store.ScheduleSetTimes(ctx, p)
	}
	s.once.Do(func() {
		select {
		case <-s.release:
			s.released.Store(true)
		case <-time.After(15 * time.Second):
		}
		close(s.held)
	})
	return s.Store.ScheduleSetTimes(ctx, p)
}

// testTicksPastAStagedClaimStartInThePass: one moment has more ticks than
// the node has workers; its staged write commits as many claimed as there
// are workers, and the rest are claimed once those free up, while the
// pass goes on with its bookkeeping (here held until every tick ran), not
// after it: 10,000 one-off schedules due at once on 1,000 workers waited
// for the pass's 10,000 schedule writes, about 10 s.
func testTicksPastAStagedClaimStartInThePass(t *testing.T) {
	forEachBackendAtOnce(t, func(t *testing.T, open func() store.Store) {
		const workers, n = 2, 6
		st := &heldSetTimes{Store: open(), release: make(chan struct{}), held: make(chan struct{})}
		c := newCounter()
		s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c}), Workers: workers, Logger: testLogger(t)})
		at := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
		for i := range n {
			sch := &store.Schedule{Owner: "o", Name: fmt.Sprintf("once-%d", i), Agent: "count",
				Trigger: store.Trigger{Kind: store.TriggerOnce, At: at}, Overlap: store.OverlapAllowAll}
			if _, err := s.CreateSchedule(ctx, admin, sch); err != nil {
				t.Fatal(err)
			}
		}
		st.armed.Store(true)
		eventually(t, 30*time.Second, "every tick ran", func() bool { return len(c.snapshot()) == n })
		close(st.release)
		select {
		case <-st.held:
		case <-time.After(30 * time.Second):
			t.Fatal("the pass never did its bookkeeping (ScheduleSetTimes)")
		}
		if !st.released.Load() {
			t.Errorf("the ticks past the staged claim ran only once the pass had done its bookkeeping")
		}
	})
}
