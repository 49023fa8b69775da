package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
)

// benchStores are the stores benchmarks run on; PostgreSQL only when
// HERALD_TEST_POSTGRES_DSN is set.
func benchStores() []string {
	out := []string{"memory", "sqlite"}
	if os.Getenv(testpg.EnvDSN) != "" {
		out = append(out, "postgres")
	}
	return out
}

func openBench(b *testing.B, kind string) store.Store {
	b.Helper()
	var st store.Store
	switch kind {
	case "memory":
		st = memstore.New(memstore.Options{})
	case "sqlite":
		st = openBunTB(b, "sqlite://"+filepath.Join(b.TempDir(), "herald.db"))
	case "postgres":
		st = openBunTB(b, testpg.DSN(b))
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func openBunTB(tb testing.TB, dsn string) *bunstore.Store {
	tb.Helper()
	st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// BenchmarkEndToEnd measures runs of a no-op agent through the whole
// engine: enqueue (batches of 1,000) → claim → run → record. Every run is
// recorded when the clock stops (Stop flushes the outcomes).
func BenchmarkEndToEnd(b *testing.B) {
	for _, kind := range benchStores() {
		for _, workers := range []int{scheduler.WorkersDefault, 1000} {
			b.Run(fmt.Sprintf("%s/workers=%d", kind, workers), func(b *testing.B) {
				st := openBench(b, kind)
				var done atomic.Int64
				noop := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
					done.Add(1)
					return nil, nil
				})
				s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"noop": noop}), Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer s.Stop(ctx)
				b.ResetTimer()
				start := time.Now()
				for left := b.N; left > 0; {
					n := min(left, 1000)
					batch := make([]*store.RunEnqueueParams, n)
					for i := range batch {
						batch[i] = &store.RunEnqueueParams{Owner: "bench", Agent: "noop"}
					}
					if _, err := st.RunEnqueue(ctx, batch...); err != nil {
						b.Fatal(err)
					}
					left -= n
				}
				for done.Load() < int64(b.N) {
					time.Sleep(time.Millisecond)
				}
				if err := s.Stop(ctx); err != nil {
					b.Fatal(err)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
				page, err := st.RunList(ctx, &store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}, Limit: 1})
				if err != nil || len(page.Runs) != 0 {
					b.Fatalf("runs left unfinished after Stop: %v %v", page, err)
				}
			})
		}
	}
}

// committedAt is a store that notes when each run it enqueued was
// committed: when the RunEnqueue call that wrote it returned, or when the
// release of the RunEnqueueStaged call that wrote it returned (the commit
// follows at once; what the call does after the commit is not counted).
type committedAt struct {
	store.Store
	mu sync.Mutex
	at map[string]time.Time
}

func (c *committedAt) RunEnqueue(ctx context.Context, ps ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	res, err := c.Store.RunEnqueue(ctx, ps...)
	c.note(res)
	return res, err
}

func (c *committedAt) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *store.RunClaimParams, ps ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	var released time.Time
	res, err := c.Store.RunEnqueueStaged(ctx, func(ctx context.Context) error {
		err := release(ctx)
		released = time.Now()
		return err
	}, claim, ps...)
	c.noteAt(res, released)
	return res, err
}

func (c *committedAt) note(res []*store.EnqueueResult) { c.noteAt(res, time.Now()) }

func (c *committedAt) noteAt(res []*store.EnqueueResult, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range res {
		if !r.Duplicate {
			c.at[r.Run.ID] = now
		}
	}
}

// BenchmarkFireLateness: 1,000 schedules due in the same second, every
// second, for b.N seconds. It reports the lateness of the run row (from its
// tick to the commit of its insert, see committedAt) and of the agent's
// start, p50 and p99.
func BenchmarkFireLateness(b *testing.B) {
	for _, kind := range benchStores() {
		b.Run(kind, func(b *testing.B) {
			st := &committedAt{Store: openBench(b, kind), at: map[string]time.Time{}}
			var mu sync.Mutex
			started := map[string]time.Time{}
			rec := agent.Func(func(_ context.Context, t *agent.Task) (*agent.Result, error) {
				now := time.Now()
				mu.Lock()
				started[t.RunID] = now
				mu.Unlock()
				return nil, nil
			})
			cfg := scheduler.Config{Agents: registry(map[string]agent.Agent{"rec": rec}), Workers: 1000}
			s, err := scheduler.New(st, cfg)
			if err != nil {
				b.Fatal(err)
			}
			for i := range 1000 {
				sch := cronSchedule("s"+strconv.Itoa(i), "rec", "* * * * * *")
				sch.Overlap = store.OverlapAllowAll
				if _, err := s.CreateSchedule(ctx, admin, sch); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			// Ticks that fell due while the schedules were being created
			// are not counted: only those due after the start.
			begin := time.Now()
			b.ResetTimer()
			time.Sleep(time.Duration(b.N) * time.Second)
			b.StopTimer()
			if err := s.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			var rowLag, startLag []time.Duration
			params := &store.RunListParams{Limit: store.ListLimitMax}
			for {
				page, err := st.RunList(ctx, params)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range page.Runs {
					if r.ScheduledFor.Before(begin) {
						continue
					}
					if at, ok := st.at[r.ID]; ok {
						rowLag = append(rowLag, at.Sub(r.ScheduledFor))
					}
					if at, ok := started[r.ID]; ok {
						startLag = append(startLag, at.Sub(r.ScheduledFor))
					}
				}
				if page.Next == "" {
					break
				}
				params.Cursor = page.Next
			}
			b.ReportMetric(float64(len(rowLag)), "runs")
			b.ReportMetric(ms(quantile(rowLag, 0.5)), "row-p50-ms")
			b.ReportMetric(ms(quantile(rowLag, 0.99)), "row-p99-ms")
			b.ReportMetric(ms(quantile(startLag, 0.5)), "start-p50-ms")
			b.ReportMetric(ms(quantile(startLag, 0.99)), "start-p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// BenchmarkStartScale loads 100,000 active schedules (written straight into
// PostgreSQL or SQLite, with their next_run_at, as the API would have left
// them) and starts a scheduler on them. It reports the start-up time and
// the heap and resident memory the scheduler holds per schedule.
func BenchmarkStartScale(b *testing.B) {
	const n = 100_000
	for _, kind := range benchStores() {
		if kind == "memory" {
			continue // the store's own copy would be counted as the scheduler's
		}
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				st := openBench(b, kind).(*bunstore.Store)
				exprs := []string{"0 3 * * *", "*/15 * * * *", "0 9 * * 1-5", "30 8 1 * *"}
				s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
				if err != nil {
					b.Fatal(err)
				}
				bulkSchedules(b, st, n, exprs)
				runtime.GC()
				debug.FreeOSMemory()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				rss0 := rss()
				b.StartTimer()
				start := time.Now()
				if err := s.Start(ctx); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				b.StopTimer()
				runtime.GC()
				debug.FreeOSMemory()
				runtime.ReadMemStats(&m1)
				rss1 := rss()
				b.ReportMetric(took.Seconds(), "start-s")
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/n, "heap-B/schedule")
				b.ReportMetric(float64(rss1-rss0)/n, "rss-B/schedule")
				if err := s.Stop(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bulkSchedules inserts n active cron schedules over exprs, with their next
// run times, in a few statements.
func bulkSchedules(b *testing.B, st *bunstore.Store, n int, exprs []string) {
	b.Helper()
	now := time.Now().UTC()
	var cases []string
	for i, e := range exprs {
		sch := cronSchedule("probe", "ok", e)
		api, err := scheduler.New(memstore.New(memstore.Options{}), scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
		if err != nil {
			b.Fatal(err)
		}
		got, err := api.CreateSchedule(ctx, admin, sch)
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, fmt.Sprintf("WHEN %d THEN '%s'", i, got.NextRunAt.UTC().Format("2006-01-02 15:04:05.999999")))
	}
	var exprCase []string
	for i, e := range exprs {
		exprCase = append(exprCase, fmt.Sprintf("WHEN %d THEN '%s'", i, e))
	}
	k := len(exprs)
	var q string
	if st.Dialect() == "postgres" {
		q = fmt.Sprintf(`INSERT INTO herald_schedules (id, owner, name, agent, trigger_kind, trigger_cron, trigger_timezone,
			overlap, misfire, version, created_at, updated_at, next_run_at)
			SELECT gen_random_uuid(), 'owner' || (i %% 1000), 'schedule-' || i, 'ok', 'cron', CASE i %% %d %s END, 'UTC',
			'skip', 'run_once', 1, '%s', '%s', (CASE i %% %d %s END)::timestamptz
			FROM generate_series(1, %d) AS i`, k, strings.Join(exprCase, " "), now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano),
			k, strings.Join(cases, " "), n)
	} else {
		q = fmt.Sprintf(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d)
			INSERT INTO herald_schedules (id, owner, name, agent, trigger_kind, trigger_cron, trigger_timezone,
			overlap, misfire, version, created_at, updated_at, next_run_at)
			SELECT lower(printf('%%s-%%s-%%s-%%s-%%s', hex(randomblob(4)), hex(randomblob(2)), hex(randomblob(2)), hex(randomblob(2)), hex(randomblob(6)))), 'owner' || (i %% 1000), 'schedule-' || i, 'ok', 'cron', CASE i %% %d %s END, 'UTC',
			'skip', 'run_once', 1, '%s', '%s', CASE i %% %d %s END
			FROM seq`, n, k, strings.Join(exprCase, " "), now.Format("2006-01-02 15:04:05.999999"), now.Format("2006-01-02 15:04:05.999999"),
			k, strings.Join(cases, " "))
	}
	if _, err := st.DB().ExecContext(ctx, q); err != nil {
		b.Fatal(err)
	}
}

// rss is the process's resident memory in bytes.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkRecovery: a node claims 10 runs and dies at once (its leases
// were just written, the worst case); another node is running them again
// after the lease plus at most one reap interval. It reports the seconds
// from the death to the last run restarting.
func BenchmarkRecovery(b *testing.B) {
	for _, kind := range benchStores() {
		for _, lease := range []time.Duration{5 * time.Second, scheduler.LeaseDefault} {
			b.Run(fmt.Sprintf("%s/lease=%v", kind, lease), func(b *testing.B) {
				for range b.N {
					st := openBench(b, kind)
					blk := newBlocker()
					for range 10 {
						if _, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "block", MaxAttempts: 3}); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "dead", Limit: 10, Lease: lease}); err != nil {
						b.Fatal(err)
					}
					died := time.Now()
					s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"block": blk}), Lease: lease})
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Start(ctx); err != nil {
						b.Fatal(err)
					}
					for range 10 {
						select {
						case <-blk.started:
						case <-time.After(2 * lease):
							b.Fatal("runs not recovered")
						}
					}
					b.ReportMetric(time.Since(died).Seconds(), "recovered-s")
					blk.free()
					if err := s.Stop(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPauseUnderLoad measures PauseSchedule (and the ResumeSchedule
// that follows each pause) on PostgreSQL while three nodes fire 50
// schedules every second and run their ticks, and 20 more schedules are
// paused and resumed in turn. Each op is one pause and one resume of one
// schedule; it reports the pause's median and 99th percentile.
func BenchmarkPauseUnderLoad(b *testing.B) {
	if os.Getenv(testpg.EnvDSN) == "" {
		b.Skip("PostgreSQL benchmarks are off: set " + testpg.EnvDSN)
	}
	dsn := testpg.DSN(b)
	agents := registry(map[string]agent.Agent{"noop": okAgent()})
	var nodes []*scheduler.Scheduler
	for i := range 3 {
		st := openBunTB(b, dsn)
		b.Cleanup(func() { st.Close() })
		s, err := scheduler.New(st, scheduler.Config{Agents: agents, Node: "bench-" + strconv.Itoa(i), Workers: 20})
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, s)
	}
	var paused []string
	for i := range 70 {
		sch := cronSchedule("s"+strconv.Itoa(i), "noop", "* * * * * *")
		sch.Overlap = store.OverlapAllowAll
		out, err := nodes[0].CreateSchedule(ctx, admin, sch)
		if err != nil {
			b.Fatal(err)
		}
		if i >= 50 {
			paused = append(paused, out.ID)
		}
	}
	for _, s := range nodes {
		if err := s.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Stop(ctx) })
	}
	time.Sleep(2 * time.Second) // the load settles
	waits := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		s, id := nodes[i%len(nodes)], paused[i%len(paused)]
		start := time.Now()
		if _, err := s.PauseSchedule(ctx, admin, id); err != nil {
			b.Fatal(err)
		}
		waits = append(waits, time.Since(start))
		if _, err := s.ResumeSchedule(ctx, admin, id); err != nil {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(ms(quantile(waits, 0.5)), "pause-p50-ms")
	b.ReportMetric(ms(quantile(waits, 0.99)), "pause-p99-ms")
}

// BenchmarkIdleStart measures, on PostgreSQL, how soon an idle node starts
// a run another process enqueued: from the enqueue's call on one store to
// the agent's start on a node with its own store (woken by the
// notification; its poll is a minute). It reports the median and the 99th
// percentile.
func BenchmarkIdleStart(b *testing.B) {
	if os.Getenv(testpg.EnvDSN) == "" {
		b.Skip("PostgreSQL benchmarks are off: set " + testpg.EnvDSN)
	}
	dsn := testpg.DSN(b)
	started := make(chan time.Time, 1)
	rec := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		started <- time.Now()
		return nil, nil
	})
	node, err := scheduler.New(openBunTB(b, dsn), scheduler.Config{Agents: registry(map[string]agent.Agent{"rec": rec}), PollInterval: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := node.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer node.Stop(ctx)
	other := openBunTB(b, dsn)
	defer other.Close()
	waits := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		time.Sleep(10 * time.Millisecond) // idle
		start := time.Now()
		if _, err := other.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "bench", Agent: "rec"}); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-started:
			waits = append(waits, at.Sub(start))
		case <-time.After(30 * time.Second):
			b.Fatal("the idle node did not start the run")
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(quantile(waits, 0.5)), "start-p50-ms")
	b.ReportMetric(ms(quantile(waits, 0.99)), "start-p99-ms")
}

// BenchmarkFireBurst: n one-off schedules due at the same instant, a few
// seconds after they are created and the scheduler started (default
// configuration but a worker per run, see burstWorkers). It reports the
// lateness of the run row (from the tick to the commit of its insert, see
// committedAt) and of the agent's start, p50 and p99, of the b.N-th burst.
//
//	go test -run '^$' -bench FireBurst -benchtime 1x ./scheduler
//	HERALD_BURST_WORKERS=1000 go test -run '^$' -bench FireBurst -benchtime 1x ./scheduler
func BenchmarkFireBurst(b *testing.B) {
	for _, kind := range benchStores() {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/schedules=%d", kind, n), func(b *testing.B) {
				for range b.N {
					fireBurst(b, kind, n+100)
				}
			})
		}
	}
}

func fireBurst(b *testing.B, kind string, n int) {
	st := &committedAt{Store: openBench(b, kind), at: map[string]time.Time{}}
	var mu sync.Mutex
	started := map[string]time.Time{}
	all := make(chan struct{})
	rec := agent.Func(func(_ context.Context, t *agent.Task) (*agent.Result, error) {
		now := time.Now()
		mu.Lock()
		started[t.RunID] = now
		if len(started) == n {
			close(all)
		}
		mu.Unlock()
		return nil, nil
	})
	s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"rec": rec}), Workers: burstWorkers(n)})
	if err != nil {
		b.Fatal(err)
	}
	create := func(n int, prefix string, at time.Time) { // from 8 goroutines
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					sch := &store.Schedule{Owner: "bench", Name: prefix + strconv.FormatInt(i, 10), Agent: "rec",
						Trigger: store.Trigger{Kind: store.TriggerOnce, At: at}, Overlap: store.OverlapAllowAll}
					if _, err := s.CreateSchedule(ctx, admin, sch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	// The rate of creation, from a probe far ahead, sets the instant far
	// enough ahead for the rest to be created before it.
	start := time.Now()
	create(100, "probe-", start.Add(time.Hour))
	each := time.Since(start) / 100
	at := time.Now().Add(2*time.Second + each*time.Duration(n)*3/2).Truncate(time.Second).Add(time.Second)
	create(n-100, "burst-", at)
	if time.Until(at) < time.Second {
		b.Fatalf("creating the schedules took too long: the instant is %v away", time.Until(at))
	}
	n -= 100
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(time.Until(at) + time.Minute):
		b.Fatalf("%d of %d runs started a minute after their tick", len(started), n)
	}
	if err := s.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	var rowLag, startLag []time.Duration
	st.mu.Lock()
	for _, t := range st.at {
		rowLag = append(rowLag, t.Sub(at))
	}
	st.mu.Unlock()
	for _, t := range started {
		startLag = append(startLag, t.Sub(at))
	}
	b.ReportMetric(ms(quantile(rowLag, 0.5)), "row-p50-ms")
	b.ReportMetric(ms(quantile(rowLag, 0.99)), "row-p99-ms")
	b.ReportMetric(ms(quantile(startLag, 0.5)), "start-p50-ms")
	b.ReportMetric(ms(quantile(startLag, 0.99)), "start-p99-ms")
}

// burstWorkers is the node's workers for a burst of n runs: n, a worker
// for each, unless HERALD_BURST_WORKERS says otherwise. With fewer, the
// last runs wait for a worker to be free, which is throughput, not the
// lateness of a start this benchmark measures.
func burstWorkers(n int) int {
	if v, err := strconv.Atoi(os.Getenv("HERALD_BURST_WORKERS")); err == nil && v > 0 {
		return v
	}
	return n
}
