package bunstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// lockedLog is a logger whose lines a test can read while the store writes.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Log(kv ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return log.NewLogfmtLogger(&l.buf).Log(kv...)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// deadlocks reads how many deadlocks PostgreSQL has detected in the
// database so far. Statistics reach the shared view once a backend
// flushes them, within a second of it going idle: the caller polls.
func deadlocks(t *testing.T, st *bunstore.Store) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	if err := st.DB().NewRaw("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").Scan(ctx, &n); err != nil {
		t.Fatalf("read deadlocks: %v", err)
	}
	return n
}

// TestClaimsAndTicksDoNotDeadlock drives, on PostgreSQL, every statement
// pair that locks schedule or run rows against each other: claims of
// schedule runs by several nodes, ticks of the same schedules (staged ones
// too, which hold their locks until their moment; cancel_other ones, which
// lock the schedules' runs), lease extensions racing the same node's
// finishes and releases, cancellations, pauses and time updates. Before the claims stopped writing
// last_run_at, the claims' UPDATE (rows in no set order) and the ticks'
// SELECT … ORDER BY id FOR UPDATE deadlocked within a second.
func TestClaimsAndTicksDoNotDeadlock(t *testing.T) {
	dsn := testpg.DSN(t)
	ctx := context.Background()
	logs := &lockedLog{}
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{Logger: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	const schedules = 12
	var ids []string
	for i := range schedules {
		pol := store.OverlapAllowAll
		switch i % 4 {
		case 1:
			pol = store.OverlapBufferAll
		case 2:
			pol = store.OverlapCancelOther
		}
		s, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "ops", Name: fmt.Sprintf("s%02d", i), Agent: "noop",
			Overlap: pol, Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "* * * * * *"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	before := deadlocks(t, st)

	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		errs  []error
	)
	fail := func(what string, err error) {
		errMu.Lock()
		defer errMu.Unlock()
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	// loop calls step in a goroutine of its own until the test is done or
	// step returns false.
	done := make(chan struct{})
	loop := func(step func() bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if !step() {
					return
				}
			}
		}()
	}
	const rounds = 120
	tick0 := time.Now().Truncate(time.Second).Add(-time.Hour)
	// Ticks: every schedule, in a shuffled order, staged on every other
	// round (the release holds the locks a moment).
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for i := range rounds {
			at := tick0.Add(time.Duration(i) * time.Second)
			ps := make([]*store.RunEnqueueParams, 0, schedules)
			for _, j := range rand.Perm(schedules) {
				ps = append(ps, &store.RunEnqueueParams{ScheduleID: ids[j], ScheduledFor: at, Owner: "ops", Agent: "noop"})
			}
			var err error
			if i%2 == 0 {
				// Half of them claimed as they commit, for the node
				// whose leases lapse: the rescuer requeues them.
				_, err = st.RunEnqueueStaged(ctx, func(context.Context) error {
					time.Sleep(2 * time.Millisecond) // the locks are held meanwhile
					return nil
				}, &store.RunClaimParams{Node: "node-3", Limit: schedules / 2, Lease: 5 * time.Millisecond}, ps...)
			} else {
				_, err = st.RunEnqueue(ctx, ps...)
			}
			if err != nil {
				fail("enqueue ticks", err)
				return
			}
		}
	}()
	// Claims, lease extensions, finishes and requeues by four nodes, each
	// extending the leases of what it holds while it finishes, as a node's
	// lease keeper does; and cancellations of random runs.
	var recent sync.Map // run id → struct{}
	for n := range 4 {
		node := fmt.Sprintf("node-%d", n)
		var heldMu sync.Mutex
		held := map[string]bool{}
		loop(func() bool {
			heldMu.Lock()
			leased := make([]string, 0, len(held))
			for id := range held {
				leased = append(leased, id)
			}
			heldMu.Unlock()
			if len(leased) > 0 && n != 3 {
				if _, err := st.RunExtendLease(ctx, &store.RunExtendLeaseParams{Node: node, IDs: leased, Lease: time.Minute}); err != nil {
					fail("extend leases", err)
					return false
				}
			}
			time.Sleep(time.Millisecond)
			return true
		})
		i := 0
		loop(func() bool {
			i++
			lease := time.Minute
			if n == 3 { // a node whose leases lapse, for the rescuer
				lease = 5 * time.Millisecond
			}
			runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: node, Limit: 5, Lease: lease})
			if err != nil {
				fail("claim", err)
				return false
			}
			if len(runs) == 0 {
				time.Sleep(time.Millisecond)
				return true
			}
			heldMu.Lock()
			for _, r := range runs {
				held[r.ID] = true
				recent.Store(r.ID, struct{}{})
			}
			heldMu.Unlock()
			if i%5 == 0 { // a release, as a stopping node makes
				req := make([]*store.RunRequeueParams, len(runs))
				for i, r := range runs {
					req[i] = &store.RunRequeueParams{ID: r.ID, Node: node}
				}
				_, err = st.RunRequeue(ctx, req...)
			} else {
				fin := make([]*store.RunFinishParams, len(runs))
				for i, r := range runs {
					fin[i] = &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunSucceeded}
				}
				_, err = st.RunFinish(ctx, fin...)
			}
			if err != nil && !errors.Is(err, store.ErrLeaseLost) { // a cancelled run is no longer held
				fail("finish or requeue", err)
				return false
			}
			heldMu.Lock()
			for _, r := range runs {
				delete(held, r.ID)
			}
			heldMu.Unlock()
			return true
		})
	}
	loop(func() bool { // the reaper
		if _, err := st.RunRescue(ctx, &store.RunRescueParams{}); err != nil {
			fail("rescue", err)
			return false
		}
		time.Sleep(2 * time.Millisecond)
		return true
	})
	loop(func() bool {
		recent.Range(func(k, _ any) bool {
			recent.Delete(k)
			if rand.N(4) == 0 {
				if _, err := st.RunCancel(ctx, &store.RunCancelParams{ID: k.(string)}); err != nil && !errors.Is(err, store.ErrConflict) {
					fail("cancel", err)
				}
			}
			return true
		})
		time.Sleep(2 * time.Millisecond)
		return true
	})
	// Pauses, resumes and time updates of random schedules.
	loop(func() bool {
		id := ids[rand.N(schedules)]
		if _, err := st.SchedulePause(ctx, id); err != nil {
			fail("pause", err)
			return false
		}
		if _, err := st.ScheduleResume(ctx, id); err != nil {
			fail("resume", err)
			return false
		}
		next := time.Now()
		if _, err := st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: id, NextRunAt: &next}); err != nil {
			fail("set times", err)
			return false
		}
		return true
	})

	// The ticks end the test: wait for them, then for the claims to drain.
	<-ticked
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		page, err := st.RunList(ctx, &store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		errMu.Lock()
		failed := len(errs) > 0
		errMu.Unlock()
		if failed || len(page.Runs) == 0 {
			break
		}
	}
	close(done)
	wg.Wait()
	for _, err := range errs {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			t.Errorf("deadlock: %v", err)
		} else {
			t.Errorf("%v", err)
		}
	}
	if got := countTicks(t, st); got != rounds*schedules {
		t.Errorf("%d ticks written, want %d", got, rounds*schedules)
	}
	var logged []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "deadlock") || strings.Contains(line, "40P01") {
			logged = append(logged, line)
		}
	}
	if len(logged) > 0 {
		t.Errorf("the store logged %d deadlocks, the first: %s", len(logged), logged[0])
	}
	// A deadlock PostgreSQL resolved by aborting a transaction that the
	// store then retried leaves no error: its statistics tell. They are
	// flushed by each backend within a second of it going idle.
	var after int64
	for end := time.Now().Add(5 * time.Second); ; {
		after = deadlocks(t, st)
		if after != before || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after != before {
		t.Errorf("PostgreSQL detected %d deadlocks in the database during the test", after-before)
	}
}

func countTicks(t *testing.T, st *bunstore.Store) int {
	t.Helper()
	var n int
	if err := st.DB().NewRaw("SELECT count(*) FROM herald_runs WHERE scheduled_for IS NOT NULL").Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// returnsWhileHeld runs call in a goroutine and fails the test unless it
// returns (with no error) while a lock it must not wait for is held:
// within 30 s, which a call that waits for the lock never is, as the lock
// is held until after this returns.
func returnsWhileHeld(t *testing.T, what string, call func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still waiting after 30 s for a lock it must not wait for", what)
	}
}

// allowAllSchedule creates a schedule that allows every overlap.
func allowAllSchedule(t *testing.T, st *bunstore.Store, cron string) *store.Schedule {
	t.Helper()
	s, err := st.ScheduleCreate(context.Background(), &store.Schedule{Owner: "ops", Name: "report", Agent: "noop",
		Overlap: store.OverlapAllowAll, Trigger: store.Trigger{Kind: store.TriggerCron, Cron: cron}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lockRow locks a row in a transaction of its own, rolled back when the
// test ends (or earlier, by the caller).
func lockRow(t *testing.T, st *bunstore.Store, query, id string) *sql.Tx {
	t.Helper()
	tx, err := st.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.ExecContext(context.Background(), query, id); err != nil {
		t.Fatal(err)
	}
	return tx.Tx
}

// TestClaimWaitsForNoScheduleLock checks that a claim of a schedule's runs
// returns while another transaction holds the schedule's row lock (as a
// staged tick does until its moment): a claimed run must be its node's,
// and under its lease keeper, at once. The claim used to update the
// schedule's last_run_at after it committed, and waited for the lock with
// the runs already leased to it.
func TestClaimWaitsForNoScheduleLock(t *testing.T) {
	ctx := context.Background()
	st := open(t, testpg.DSN(t))
	s := allowAllSchedule(t, st, "* * * * *")
	if _, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{ScheduleID: s.ID, Owner: "ops", Agent: "noop"}); err != nil {
		t.Fatal(err)
	}
	tx := lockRow(t, st, "SELECT id FROM herald_schedules WHERE id = ? FOR UPDATE", s.ID)
	returnsWhileHeld(t, "RunClaim", func() error {
		runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-a", Limit: 10, Lease: time.Minute})
		if err == nil && len(runs) != 1 {
			err = fmt.Errorf("claimed %d runs, want 1", len(runs))
		}
		return err
	})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	got, err := st.ScheduleGet(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastRunAt.IsZero() {
		t.Errorf("LastRunAt is zero after the claim")
	}
}

// TestExtendLeaseWaitsForNoLock: an extension skips a run that another
// transaction is writing, and returns it, still held, with a zero expiry,
// rather than wait: a statement that locks runs in another order can then
// never deadlock with it.
func TestExtendLeaseWaitsForNoLock(t *testing.T) {
	ctx := context.Background()
	st := open(t, testpg.DSN(t))
	if _, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "noop"}, &store.RunEnqueueParams{Owner: "ops", Agent: "noop"}); err != nil {
		t.Fatal(err)
	}
	runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-a", Limit: 2, Lease: time.Minute})
	if err != nil || len(runs) != 2 {
		t.Fatalf("claim = %d runs, %v", len(runs), err)
	}
	lockRow(t, st, "SELECT id FROM herald_runs WHERE id = ? FOR UPDATE", runs[0].ID)
	var leases []*store.RunLease
	returnsWhileHeld(t, "RunExtendLease", func() (err error) {
		leases, err = st.RunExtendLease(ctx, &store.RunExtendLeaseParams{Node: "node-a", IDs: []string{runs[0].ID, runs[1].ID}, Lease: 2 * time.Minute})
		return err
	})
	got := map[string]*store.RunLease{}
	for _, l := range leases {
		got[l.ID] = l
	}
	if l := got[runs[0].ID]; l == nil || !l.LeaseExpiresAt.IsZero() {
		t.Errorf("the locked run's lease = %+v, want it held with a zero expiry (not extended)", l)
	}
	if l := got[runs[1].ID]; l == nil || !l.LeaseExpiresAt.After(runs[1].LeaseExpiresAt) {
		t.Errorf("the other run's lease = %+v, want it extended past %v", l, runs[1].LeaseExpiresAt)
	}
}

// TestPauseWaitsForNoStagedTick: a pause of a schedule that allows every
// overlap returns while a staged tick of it waits for its moment. It used
// to wait for the tick's commit (the lead, up to 500 ms a moment; 3 to 19 s
// a pause under the load of a deadlock pile-up).
func TestPauseWaitsForNoStagedTick(t *testing.T) {
	ctx := context.Background()
	st := open(t, testpg.DSN(t))
	s := allowAllSchedule(t, st, "* * * * * *")
	written, release := make(chan struct{}), make(chan struct{})
	staged := make(chan error, 1)
	go func() {
		_, err := st.RunEnqueueStaged(ctx, func(context.Context) error {
			close(written)
			<-release
			return nil
		}, nil, &store.RunEnqueueParams{ScheduleID: s.ID, ScheduledFor: time.Now().Truncate(time.Second).Add(time.Second), Owner: "ops", Agent: "noop"})
		staged <- err
	}()
	<-written
	var once sync.Once
	commit := func() { // the staged tick commits in any case
		once.Do(func() {
			close(release)
			if err := <-staged; err != nil {
				t.Errorf("the staged tick: %v", err)
			}
		})
	}
	defer commit()
	returnsWhileHeld(t, "SchedulePause", func() error {
		_, err := st.SchedulePause(ctx, s.ID)
		return err
	})
	commit()
	// The staged tick's LastFiredAt follows its commit.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got, err := st.ScheduleGet(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Paused && !got.LastFiredAt.IsZero() {
			break
		}
		if !got.Paused || time.Now().After(deadline) {
			t.Fatalf("after both: paused %v, last fired %v; want paused, with the staged tick's last fired", got.Paused, got.LastFiredAt)
		}
	}
}
