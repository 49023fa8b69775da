package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// heraldQueue is Herald's scheduler on a bunstore, with a no-op agent.
type heraldQueue struct {
	st     *bunstore.Store
	cfg    *config
	api    *scheduler.Scheduler // never started: the single-insert API
	s      *scheduler.Scheduler // the workers, once started
	worked atomic.Pointer[func()]
}

var benchPrincipal = scheduler.Principal{Subject: "bench"}

const heraldTables = "herald_runs, herald_events, herald_deliveries, herald_schedules"

func openHeraldPG(ctx context.Context, cfg *config, _ int) (queue, error) {
	dsn, err := ensureDatabase(ctx, cfg.pgURL, "herald_bench")
	if err != nil {
		return nil, err
	}
	q, err := openHerald(ctx, cfg, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := q.st.DB().ExecContext(ctx, "TRUNCATE "+heraldTables+" CASCADE"); err != nil {
		q.close()
		return nil, fmt.Errorf("herald: empty tables: %w", err)
	}
	return q, nil
}

func openHeraldSQLite(ctx context.Context, cfg *config, round int) (queue, error) {
	return openHerald(ctx, cfg, "sqlite://"+filepath.Join(cfg.sqliteDir, fmt.Sprintf("herald-%d-%d.db", round, nextFile())))
}

func openHerald(ctx context.Context, cfg *config, dsn string) (*heraldQueue, error) {
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{MaxOpenConns: cfg.pool})
	if err != nil {
		return nil, fmt.Errorf("herald: open store: %w", err)
	}
	q := &heraldQueue{st: st, cfg: cfg}
	api, err := scheduler.New(st, scheduler.Config{Agents: q.registry()})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("herald: %w", err)
	}
	q.api = api
	return q, nil
}

// registry holds the no-op agent, which reports each run to worked.
func (q *heraldQueue) registry() *agent.Registry {
	r := agent.NewRegistry()
	r.MustRegister("noop", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		if f := q.worked.Load(); f != nil {
			(*f)()
		}
		return nil, nil
	}))
	return r
}

func (q *heraldQueue) insertMany(ctx context.Context, n, batch int) error {
	for left := n; left > 0; {
		k := min(left, batch)
		ps := make([]*store.RunEnqueueParams, k)
		for i := range ps {
			ps[i] = &store.RunEnqueueParams{Owner: "bench", Agent: "noop"}
		}
		if _, err := q.st.RunEnqueue(ctx, ps...); err != nil {
			return fmt.Errorf("herald: enqueue batch: %w", err)
		}
		left -= k
	}
	return nil
}

func (q *heraldQueue) insertOne(ctx context.Context) error {
	_, err := q.api.Enqueue(ctx, benchPrincipal, scheduler.EnqueueRequest{Agent: "noop"})
	return err
}

func (q *heraldQueue) start(ctx context.Context, workers int, worked func()) error {
	q.worked.Store(&worked)
	s, err := scheduler.New(q.st, scheduler.Config{Agents: q.registry(), Workers: workers})
	if err != nil {
		return fmt.Errorf("herald: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("herald: start: %w", err)
	}
	q.s = s
	return nil
}

func (q *heraldQueue) stop(ctx context.Context) error {
	if q.s == nil {
		return nil
	}
	err := q.s.Stop(ctx)
	q.s = nil
	return err
}

func (q *heraldQueue) counts(ctx context.Context) (total, completed int64, err error) {
	err = q.st.DB().QueryRowContext(ctx,
		"SELECT count(*), coalesce(sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) FROM herald_runs").
		Scan(&total, &completed)
	return total, completed, err
}

func (q *heraldQueue) close() {
	_ = q.stop(context.Background())
	q.st.Close()
}

var fileSeq atomic.Int64

// nextFile numbers the SQLite files of a run.
func nextFile() int64 { return fileSeq.Add(1) }
