package scheduler_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kitlog "github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
)

// backend opens handles on one database: every call of the function it
// returns is another node's handle, on the clock c (nil: the real one).
type backend struct {
	name string
	open func(t *testing.T, c clock.Clock) func() store.Store
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T, c clock.Clock) func() store.Store {
			st := memstore.New(memstore.Options{Clock: c})
			t.Cleanup(func() { st.Close() })
			return func() store.Store { return st }
		}},
		{"sqlite", func(t *testing.T, c clock.Clock) func() store.Store {
			return bunHandles(t, "sqlite://"+filepath.Join(t.TempDir(), "herald.db"), c)
		}},
		{"postgres", func(t *testing.T, c clock.Clock) func() store.Store {
			return bunHandles(t, testpg.DSN(t), c)
		}},
	}
}

func bunHandles(t *testing.T, dsn string, c clock.Clock) func() store.Store {
	return func() store.Store { return openBunAt(t, dsn, c) }
}

func openBun(t *testing.T, dsn string) *bunstore.Store { return openBunAt(t, dsn, nil) }

func openBunAt(t *testing.T, dsn string, c clock.Clock) *bunstore.Store {
	t.Helper()
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := bunstore.Open(octx, dsn, bunstore.Options{Clock: c})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// forEachBackend runs f on every backend, in parallel.
func forEachBackend(t *testing.T, f func(t *testing.T, open func() store.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				testpg.ServerDSN(t)
			}
			t.Parallel()
			f(t, b.open(t, nil))
		})
	}
}

// forEachBackendAtOnce runs f on every backend at once, beyond go test's
// -parallel limit (the machine's CPUs), for tests that mostly wait for the
// system clock.
func forEachBackendAtOnce(t *testing.T, f func(t *testing.T, open func() store.Store)) {
	var wg sync.WaitGroup
	for _, b := range backends() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(b.name, func(t *testing.T) {
				if b.name == "postgres" {
					testpg.ServerDSN(t)
				}
				f(t, b.open(t, nil))
			})
		}()
	}
	wg.Wait()
}

// forEachBackendAt runs f on every backend, in parallel, with the nodes'
// stores and schedulers on one fake clock.
func forEachBackendAt(t *testing.T, f func(t *testing.T, clock *clocktest.Clock, open func() store.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				testpg.ServerDSN(t)
			}
			t.Parallel()
			clock := clocktest.New(schedulertest.Start)
			f(t, clock, b.open(t, clock))
		})
	}
}

// testLogger logs warnings and errors to t.
func testLogger(t *testing.T) kitlog.Logger {
	return level.NewFilter(kitlog.NewLogfmtLogger(testWriter{t}), level.AllowWarn())
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startNode starts a scheduler on st and stops it when the test ends.
func startNode(t *testing.T, st store.Store, cfg scheduler.Config) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func allRuns(t *testing.T, st store.Store, params store.RunListParams) []*store.Run {
	t.Helper()
	var out []*store.Run
	params.Limit = store.ListLimitMax
	for {
		page, err := st.RunList(ctx, &params)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Runs...)
		if page.Next == "" {
			return out
		}
		params.Cursor = page.Next
	}
}

// TestThreeNodesOneRunPerTick: three nodes on one store, 20 schedules that
// fire every second, for 10 seconds: every tick yields one run, every run
// executes once.
func TestThreeNodesOneRunPerTick(t *testing.T) {
	forEachBackendAt(t, func(t *testing.T, clock *clocktest.Clock, open func() store.Store) {
		c := newCounter()
		agents := registry(map[string]agent.Agent{"count": c})
		var nodes []*scheduler.Scheduler
		st := open()
		for range 3 {
			nodes = append(nodes, startNode(t, open(), scheduler.Config{Agents: agents, Workers: 10, Logger: testLogger(t)}))
		}
		var ids []string
		for i := range 20 {
			sch := cronSchedule("every-second-"+string(rune('a'+i)), "count", "* * * * * *")
			sch.Overlap = store.OverlapAllowAll
			sch, err := nodes[i%3].CreateSchedule(ctx, admin, sch)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sch.ID)
		}
		// Every node has every schedule before the clock moves: each node
		// fires only the schedules it has loaded.
		for _, n := range nodes {
			eventually(t, 10*time.Second, "the schedules loaded", func() bool { return n.ScheduleCount() == len(ids) })
		}
		// Ten seconds, each ticked by the three nodes at once.
		begin := clock.Now()
		for range 10 {
			clock.Advance(time.Second)
			var wg sync.WaitGroup
			errs := make([]error, len(nodes))
			for i, n := range nodes {
				wg.Go(func() { errs[i] = n.Tick(ctx) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		}
		end := clock.Now()
		eventually(t, 10*time.Second, "every run finished", func() bool {
			return len(allRuns(t, st, store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})) == 0
		})
		for _, n := range nodes {
			if err := n.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		}
		total := 0
		for _, id := range ids {
			runs := allRuns(t, st, store.RunListParams{ScheduleID: id})
			seen := map[int64]bool{}
			for _, r := range runs {
				sec := r.ScheduledFor.Unix()
				if seen[sec] {
					t.Errorf("schedule %s: two runs for tick %v", id, r.ScheduledFor)
				}
				seen[sec] = true
				if r.ScheduledFor.Nanosecond() != 0 {
					t.Errorf("tick %v is not on a second", r.ScheduledFor)
				}
			}
			for sec := begin.Unix() + 1; sec <= end.Unix(); sec++ {
				if !seen[sec] {
					t.Errorf("schedule %s: no run for tick %v", id, time.Unix(sec, 0).UTC())
				}
			}
			total += len(runs)
		}
		executed := c.snapshot()
		for _, r := range allRuns(t, st, store.RunListParams{}) {
			if r.Status != store.RunSucceeded || r.Attempt != 1 {
				t.Errorf("run %s is %s at attempt %d (%s)", r.ID, r.Status, r.Attempt, r.Error)
			}
			if executed[r.ID] != 1 {
				t.Errorf("run %s executed %d times", r.ID, executed[r.ID])
			}
		}
		if len(executed) != total {
			t.Errorf("%d runs executed, %d enqueued", len(executed), total)
		}
	})
}

// TestLiveChangeAcrossNodes: a schedule created, paused, resumed and
// deleted through one node takes effect on another, which hears of each
// change (polled for, with a deadline) and fires accordingly on a fake
// clock.
func TestLiveChangeAcrossNodes(t *testing.T) {
	forEachBackendAt(t, func(t *testing.T, clock *clocktest.Clock, open func() store.Store) {
		agents := registry(map[string]agent.Agent{"ok": okAgent()})
		a, err := scheduler.New(open(), scheduler.Config{Agents: agents}) // API only
		if err != nil {
			t.Fatal(err)
		}
		st := open()
		b := startNode(t, st, scheduler.Config{Agents: agents})
		holds := func(n int, what string) {
			t.Helper()
			eventually(t, 5*time.Second, what, func() bool { return b.ScheduleCount() == n })
		}
		runsOf := func(id string) []*store.Run { return allRuns(t, st, store.RunListParams{ScheduleID: id}) }
		tick := func(d time.Duration) {
			t.Helper()
			clock.Advance(d)
			if err := b.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}

		// Created: a one-off runs on the other node.
		once, err := a.CreateSchedule(ctx, admin, &store.Schedule{Name: "once", Agent: "ok",
			Trigger: store.Trigger{Kind: store.TriggerOnce, At: clock.Now().Add(300 * time.Millisecond)}})
		if err != nil {
			t.Fatal(err)
		}
		holds(1, "the other node holds the one-off")
		tick(300 * time.Millisecond)
		if n := len(runsOf(once.ID)); n != 1 {
			t.Fatalf("the one-off has %d runs, want 1", n)
		}
		holds(0, "the one-off is done")

		// Changed: a schedule that fires every second is paused; no more
		// ticks come.
		sec, err := a.CreateSchedule(ctx, admin, cronSchedule("every-second", "ok", "* * * * * *"))
		if err != nil {
			t.Fatal(err)
		}
		holds(1, "the other node holds the new schedule")
		tick(time.Second)
		if len(runsOf(sec.ID)) == 0 {
			t.Fatal("no tick of the new schedule")
		}
		if _, err := a.PauseSchedule(ctx, admin, sec.ID); err != nil {
			t.Fatal(err)
		}
		paused := clock.Now()
		holds(0, "the other node lets the paused schedule go")
		tick(3 * time.Second)
		for _, r := range runsOf(sec.ID) {
			if r.ScheduledFor.After(paused) {
				t.Errorf("tick %v enqueued after the pause at %v", r.ScheduledFor, paused)
			}
		}
		// Resumed: ticks come again.
		if _, err := a.ResumeSchedule(ctx, admin, sec.ID); err != nil {
			t.Fatal(err)
		}
		resumed := clock.Now()
		holds(1, "the other node holds the resumed schedule")
		tick(time.Second)
		after := func(at time.Time) (n int) {
			for _, r := range runsOf(sec.ID) {
				if r.ScheduledFor.After(at) {
					n++
				}
			}
			return n
		}
		if after(resumed) == 0 {
			t.Error("no tick after the resume")
		}
		// Deleted: no more ticks.
		if err := a.DeleteSchedule(ctx, admin, sec.ID); err != nil {
			t.Fatal(err)
		}
		deleted := clock.Now()
		holds(0, "the other node lets the deleted schedule go")
		tick(3 * time.Second)
		if n := after(deleted); n != 0 {
			t.Errorf("%d ticks enqueued after the deletion at %v", n, deleted)
		}
	})
}

// TestDeadNodeRunsAreRecovered: a node claims runs and dies (its leases are
// never extended nor released); another node runs them once the leases
// expire, as their second attempt.
func TestDeadNodeRunsAreRecovered(t *testing.T) {
	forEachBackendAt(t, func(t *testing.T, clock *clocktest.Clock, open func() store.Store) {
		st := open()
		c := newCounter()
		agents := registry(map[string]agent.Agent{"count": c})
		var ids []string
		for range 5 {
			res, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "count", MaxAttempts: 3})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res[0].Run.ID)
		}
		// The dead node: claims with a 1 s lease, then nothing.
		claimed, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "dead", Limit: 10, Lease: time.Second})
		if err != nil || len(claimed) != 5 {
			t.Fatalf("dead node claimed %d runs: %v", len(claimed), err)
		}
		s := startNode(t, open(), scheduler.Config{Agents: agents, Lease: time.Second})
		// Within the lease, the runs stay the dead node's.
		clock.Advance(900 * time.Millisecond)
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if r, _ := st.RunGet(ctx, id); r.Status != store.RunRunning || r.LeaseOwner != "dead" {
				t.Fatalf("run %s within its lease: %s on %q, want running on the dead node", id, r.Status, r.LeaseOwner)
			}
		}
		// Past it, the live node rescues and runs them.
		clock.Advance(200 * time.Millisecond)
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			var r *store.Run
			eventually(t, 10*time.Second, "run recovered", func() bool {
				r, _ = st.RunGet(ctx, id)
				return r.Status == store.RunSucceeded
			})
			if r.Attempt != 2 {
				t.Errorf("recovered run attempt %d, want 2", r.Attempt)
			}
		}
		for id, n := range c.snapshot() {
			if n != 1 {
				t.Errorf("run %s executed %d times", id, n)
			}
		}
	})
}

// TestStopReleasesRunningRuns: Stop lets runs finish within the grace
// period, then puts them back in the queue with their attempt unchanged;
// another node finishes them.
func TestStopReleasesRunningRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() store.Store) {
		st := open()
		blk := newBlocker()
		defer blk.free()
		quick := make(chan struct{})
		agents := registry(map[string]agent.Agent{
			"block": blk,
			"quick": agent.Func(func(ctx context.Context, _ *agent.Task) (*agent.Result, error) {
				<-quick
				return &agent.Result{Summary: "finished during the grace period"}, nil
			}),
		})
		a, err := scheduler.New(st, scheduler.Config{Agents: agents, ShutdownGrace: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var blocked []string
		for range 3 {
			r, err := a.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "block"})
			if err != nil {
				t.Fatal(err)
			}
			blocked = append(blocked, r.ID)
		}
		quickRun, err := a.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "quick"})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			blk.waitStarted(t)
		}
		eventually(t, 5*time.Second, "quick run started", func() bool {
			r, _ := st.RunGet(ctx, quickRun.ID)
			return r.Status == store.RunRunning
		})
		go func() {
			time.Sleep(100 * time.Millisecond)
			close(quick)
		}()
		start := time.Now()
		if err := a.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Stop took %v with a 300ms grace", took)
		}
		if err := a.Stop(ctx); err != nil {
			t.Errorf("second Stop: %v", err)
		}
		if r, _ := st.RunGet(ctx, quickRun.ID); r.Status != store.RunSucceeded {
			t.Errorf("the run that ended during the grace period is %s", r.Status)
		}
		for _, id := range blocked {
			r, _ := st.RunGet(ctx, id)
			if r.Status != store.RunQueued || r.Attempt != 1 || r.LeaseOwner != "" {
				t.Errorf("released run: status %s attempt %d lease %q, want queued 1 none", r.Status, r.Attempt, r.LeaseOwner)
			}
		}
		if err := a.Start(ctx); err == nil {
			t.Error("a stopped scheduler started again")
		}
		blk.free()
		startNode(t, open(), scheduler.Config{Agents: agents})
		for _, id := range blocked {
			eventually(t, 5*time.Second, "released run finished elsewhere", func() bool {
				r, _ := st.RunGet(ctx, id)
				return r.Status == store.RunSucceeded && r.Attempt == 1
			})
		}
	})
}

// TestEnqueueInCallerTransaction: a run prepared by the scheduler and
// enqueued in the application's transaction exists only if it commits.
func TestEnqueueInCallerTransaction(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var dsn string
			if name == "postgres" {
				dsn = testpg.DSN(t)
			} else {
				dsn = "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
			}
			st := openBun(t, dsn)
			c := newCounter()
			s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c})})
			if _, err := st.DB().ExecContext(ctx, "CREATE TABLE orders (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			enqueueIn := func(orderID int, commit bool) string {
				params, err := s.PrepareEnqueue(admin, scheduler.EnqueueRequest{Agent: "count", IdempotencyKey: "order"})
				if err != nil {
					t.Fatal(err)
				}
				params.IdempotencyKey += string(rune('0' + orderID))
				tx, err := st.DB().BeginTx(ctx, &sql.TxOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id) VALUES (?)", orderID); err != nil {
					t.Fatal(err)
				}
				res, err := st.RunEnqueueTx(ctx, tx, params)
				if err != nil {
					t.Fatal(err)
				}
				if commit {
					err = tx.Commit()
				} else {
					err = tx.Rollback()
				}
				if err != nil {
					t.Fatal(err)
				}
				return res[0].Run.ID
			}
			kept := enqueueIn(1, true)
			dropped := enqueueIn(2, false)
			eventually(t, 5*time.Second, "committed run executed", func() bool {
				r, err := st.RunGet(ctx, kept)
				return err == nil && r.Status == store.RunSucceeded
			})
			if _, err := st.RunGet(ctx, dropped); err == nil {
				t.Error("the rolled-back run exists")
			}
			var n int
			if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 1 {
				t.Errorf("%d orders (%v), want 1", n, err)
			}
			if got := c.snapshot(); len(got) != 1 {
				t.Errorf("%d runs executed, want 1", len(got))
			}
		})
	}
}

// TestLongRunKeepsItsLease: a run that lasts several leases is extended,
// so neither its own node's reaper nor another node's rescues it.
func TestLongRunKeepsItsLease(t *testing.T) {
	forEachBackendAt(t, func(t *testing.T, clock *clocktest.Clock, open func() store.Store) {
		c := newCounter()
		started, finish := make(chan struct{}), make(chan struct{})
		slow := agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			close(started)
			select {
			case <-finish:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return c.Run(ctx, task)
		})
		agents := registry(map[string]agent.Agent{"slow": slow})
		cfg := scheduler.Config{Agents: agents, Lease: time.Second}
		nodes := []*scheduler.Scheduler{startNode(t, open(), cfg), startNode(t, open(), cfg)}
		run, err := nodes[0].Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "slow"})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the long run did not start")
		}
		// Two and a half leases go by, in steps of half a lease; at each,
		// both nodes act (extensions, and rescues of expired leases).
		for range 5 {
			clock.Advance(500 * time.Millisecond)
			for _, n := range nodes {
				if err := n.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(finish)
		st := open()
		var r *store.Run
		eventually(t, 10*time.Second, "the long run finished", func() bool {
			r, _ = st.RunGet(ctx, run.ID)
			return r.Status.Terminal()
		})
		if r.Status != store.RunSucceeded || r.Attempt != 1 {
			t.Errorf("long run ended %s at attempt %d (%s), want succeeded at 1", r.Status, r.Attempt, r.Error)
		}
		if n := c.snapshot()[run.ID]; n != 1 {
			t.Errorf("long run executed %d times", n)
		}
	})
}

// TestActiveLimitHoldsAcrossNodes: two nodes on one store create and
// resume one owner's schedules at once; the cap on active schedules holds.
func TestActiveLimitHoldsAcrossNodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() store.Store) {
		const max, each = 4, 6
		cfg := scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}),
			Policy: scheduler.Policy{MaxActiveSchedules: max}}
		var nodes []*scheduler.Scheduler
		var st store.Store
		for range 2 {
			st = open()
			s, err := scheduler.New(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, s)
		}
		var paused []string
		for i := range each {
			sch := cronSchedule("paused"+strconv.Itoa(i), "ok", "@daily")
			sch.Paused = true
			created, err := nodes[0].CreateSchedule(ctx, alice, sch)
			if err != nil {
				t.Fatal(err)
			}
			paused = append(paused, created.ID)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2*each)
		for i := range 2 * each {
			node := nodes[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i < each {
					_, errs[i] = node.ResumeSchedule(ctx, alice, paused[i])
				} else {
					_, errs[i] = node.CreateSchedule(ctx, alice, cronSchedule("new"+strconv.Itoa(i), "ok", "@daily"))
				}
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, store.ErrLimit) {
				t.Errorf("write %d: %v", i, err)
			}
		}
		n, err := st.ScheduleCountActive(ctx, alice.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if ok != max || n != max {
			t.Errorf("%d writes went through and %d schedules are active, under a cap of %d", ok, n, max)
		}
	})
}
