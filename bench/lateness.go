package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// Display names of the fire-lateness workload.
const (
	latenessHerald  = "Herald (PostgreSQL)"
	latenessRiver   = "River (PostgreSQL)"
	latenessWorkers = 1000
)

func latenessVariant(n int) string { return fmt.Sprintf("%s schedules", num(float64(n), 0)) }

// fireTimes collects lateness figures of one round.
type fireTimes struct {
	mu    sync.Mutex
	row   []time.Duration
	start []time.Duration
}

func (f *fireTimes) addStart(d time.Duration) {
	f.mu.Lock()
	f.start = append(f.start, d)
	f.mu.Unlock()
}

func (f *fireTimes) values() map[string]float64 {
	rp50, rp99, _ := latencies(f.row)
	sp50, sp99, _ := latencies(f.start)
	return map[string]float64{"row_p50": rp50, "row_p99": rp99, "start_p50": sp50, "start_p99": sp99}
}

func runLateness(ctx context.Context, cfg *config, res *results) error {
	type sys struct {
		name string
		run  func(ctx context.Context, cfg *config, n int) (*fireTimes, error)
	}
	var systems []sys
	if cfg.has(sysHeraldPG) {
		systems = append(systems, sys{latenessHerald, heraldLateness})
	}
	if cfg.has(sysRiverPG) {
		systems = append(systems, sys{latenessRiver, riverLateness})
	}
	for _, n := range cfg.schedules {
		v := latenessVariant(n)
		for round := 1; round <= cfg.rounds; round++ {
			for _, s := range systems {
				ft, err := s.run(ctx, cfg, n)
				if err != nil {
					return fmt.Errorf("lateness (%s), round %d: %s: %w", v, round, s.name, err)
				}
				ref := ""
				if s.name != latenessHerald {
					ref = latenessHerald
				}
				values := ft.values()
				res.add(&sample{workload: wlLateness, variant: v, system: s.name, ref: ref, round: round, values: values})
				progress("lateness %s round %d %s: %s", v, round, s.name, show(values))
				if round == cfg.rounds {
					res.addCDF("lateness "+v, s.name, msAll(ft.row))
				}
			}
		}
	}
	return nil
}

// heraldLateness creates n one-off schedules due at the same instant T,
// starts a scheduler before T, and measures each tick's row and agent
// start against T.
func heraldLateness(ctx context.Context, cfg *config, n int) (*fireTimes, error) {
	q, err := openHeraldPG(ctx, cfg, 0)
	if err != nil {
		return nil, err
	}
	hq := q.(*heraldQueue)
	defer hq.close()
	// The creation rate, from a probe, sets T far enough ahead.
	probe := 200
	t0 := time.Now()
	if err := createSchedules(ctx, hq.api, probe, "probe", t0.Add(time.Hour)); err != nil {
		return nil, err
	}
	perSchedule := time.Since(t0) / time.Duration(probe)
	if _, err := hq.st.DB().ExecContext(ctx, "TRUNCATE "+heraldTables+" CASCADE"); err != nil {
		return nil, err
	}
	at := time.Now().Add(time.Duration(float64(perSchedule)*float64(n)*1.25) + 2*time.Second).Truncate(time.Second).Add(time.Second)
	t1 := time.Now()
	if err := createSchedules(ctx, hq.api, n, "late", at); err != nil {
		return nil, err
	}
	progress("lateness: %d schedules created in %v; the tick is in %v", n, time.Since(t1).Round(time.Millisecond), time.Until(at).Round(time.Millisecond))
	ft := &fireTimes{}
	var ticks atomic.Int64
	obs := scheduler.ObserverFunc(func(o scheduler.Observation) {
		if t, ok := o.(*scheduler.TicksObserved); ok {
			ft.mu.Lock()
			for range t.Count {
				ft.row = append(ft.row, t.CommittedAt.Sub(t.ScheduledFor))
			}
			ft.mu.Unlock()
			ticks.Add(int64(t.Count))
		}
	})
	var worked atomic.Int64
	hq.worked.Store(ptr(func() {
		ft.addStart(time.Since(at))
		worked.Add(1)
	}))
	s, err := scheduler.New(hq.st, scheduler.Config{Agents: hq.registry(), Workers: latenessWorkers, Observer: obs})
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	defer s.Stop(context.Background())
	if time.Until(at) < 500*time.Millisecond {
		return nil, fmt.Errorf("creating %d schedules and starting took too long: the tick at %s is %v away", n, at.Format(time.TimeOnly), time.Until(at))
	}
	if err := waitWorked(ctx, &worked, int64(n)); err != nil {
		return nil, err
	}
	if _, err := waitCompleted(ctx, hq, int64(n), roundTimeout); err != nil {
		return nil, err
	}
	if err := s.Stop(ctx); err != nil {
		return nil, err
	}
	if err := verify(ctx, "after the tick", hq, int64(n), int64(n)); err != nil {
		return nil, err
	}
	var onTick int64
	if err := hq.st.DB().QueryRowContext(ctx, "SELECT count(*) FROM herald_runs WHERE scheduled_for = ?", at.UTC()).Scan(&onTick); err != nil {
		return nil, err
	}
	if onTick != int64(n) || ticks.Load() != int64(n) {
		return nil, fmt.Errorf("%d runs for the tick in the database and %d observed, want %d", onTick, ticks.Load(), n)
	}
	return ft, nil
}

func ptr[T any](v T) *T { return &v }

// createSchedules creates n one-off schedules at at through the API, from
// 8 goroutines.
func createSchedules(ctx context.Context, api *scheduler.Scheduler, n int, prefix string, at time.Time) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				sch := &store.Schedule{Owner: "bench", Name: fmt.Sprintf("%s-%d", prefix, i), Agent: "noop",
					Trigger: store.Trigger{Kind: store.TriggerOnce, At: at}, Overlap: store.OverlapAllowAll}
				if _, err := api.CreateSchedule(ctx, benchPrincipal, sch); err != nil {
					errs <- fmt.Errorf("create schedule: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// onceSchedule is a River periodic schedule that fires once: at at, or as
// soon as River's periodic enqueuer starts when that is later (its leader
// elected after at), so that River's figures then include its late start.
// Without the second case, a late election left the jobs unfired for good
// (River asks a schedule for its next time from when its enqueuer starts).
type onceSchedule struct {
	at    time.Time
	fired *atomic.Bool // set by the job's constructor, which River calls as it inserts the job
}

// Next implements river.PeriodicSchedule.
func (s onceSchedule) Next(time.Time) time.Time {
	if s.fired.Load() {
		return s.at.AddDate(100, 0, 0)
	}
	return s.at
}

// riverLateness gives a River client n periodic jobs due at the same
// instant T, starts it before T, and measures each job's row (created_at)
// and worker start against T.
func riverLateness(ctx context.Context, cfg *config, n int) (*fireTimes, error) {
	q, err := openRiverPG(ctx, cfg, 0)
	if err != nil {
		return nil, err
	}
	rq := q.(*riverQueue[pgx.Tx])
	defer rq.close()
	at := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	for range n {
		fired := new(atomic.Bool)
		rq.periodic = append(rq.periodic, river.NewPeriodicJob(onceSchedule{at, fired}, func() (river.JobArgs, *river.InsertOpts) {
			fired.Store(true)
			return noopArgs{}, nil
		}, nil))
	}
	ft := &fireTimes{}
	var worked atomic.Int64
	if err := rq.start(ctx, latenessWorkers, func() {
		ft.addStart(time.Since(at))
		worked.Add(1)
	}); err != nil {
		return nil, err
	}
	if time.Until(at) < 500*time.Millisecond {
		return nil, fmt.Errorf("starting took too long: the tick at %s is %v away", at.Format(time.TimeOnly), time.Until(at))
	}
	if err := waitWorked(ctx, &worked, int64(n)); err != nil {
		return nil, err
	}
	if _, err := waitCompleted(ctx, rq, int64(n), roundTimeout); err != nil {
		return nil, err
	}
	if err := rq.stop(ctx); err != nil {
		return nil, err
	}
	if err := verify(ctx, "after the tick", rq, int64(n), int64(n)); err != nil {
		return nil, err
	}
	rows, err := rq.rows(ctx, "SELECT created_at FROM river_job")
	if err != nil {
		return nil, err
	}
	for _, c := range rows {
		ft.row = append(ft.row, c.Sub(at))
	}
	if len(ft.row) != n {
		return nil, fmt.Errorf("%d River rows, want %d", len(ft.row), n)
	}
	return ft, nil
}
