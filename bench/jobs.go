package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// roundTimeout bounds how long a round waits for its jobs.
const roundTimeout = 5 * time.Minute

// runQueues runs one case of a workload: cfg.rounds rounds, each system
// once per round in turn (A B A B …), each on a queue opened fresh on
// emptied tables.
func runQueues(ctx context.Context, cfg *config, res *results, workload, variant string, kinds []queueKind,
	body func(ctx context.Context, q queue, round int) (map[string]float64, error)) error {
	for round := 1; round <= cfg.rounds; round++ {
		for _, k := range kinds {
			q, err := k.open(ctx, cfg, round)
			if err != nil {
				return fmt.Errorf("%s: %s: open: %w", workload, k.name, err)
			}
			values, err := body(ctx, q, round)
			q.close()
			if err != nil {
				return fmt.Errorf("%s (%s), round %d: %s: %w", workload, variant, round, k.name, err)
			}
			res.add(&sample{workload: workload, variant: variant, system: k.name, ref: k.ref, round: round, values: values})
			progress("%s %s round %d %s: %s", workload, variant, round, k.name, show(values))
		}
	}
	return nil
}

// burnDown inserts n jobs (timed), then starts workers and times until the
// database records all n completed.
func burnDown(ctx context.Context, cfg *config, q queue, n, workers int) (map[string]float64, error) {
	t0 := time.Now()
	if err := q.insertMany(ctx, n, cfg.batch); err != nil {
		return nil, err
	}
	insert := time.Since(t0)
	if err := verify(ctx, "after insert", q, int64(n), 0); err != nil {
		return nil, err
	}
	var worked atomic.Int64
	t1 := time.Now()
	if err := q.start(ctx, workers, func() { worked.Add(1) }); err != nil {
		return nil, err
	}
	if err := waitWorked(ctx, &worked, int64(n)); err != nil {
		_ = q.stop(ctx)
		return nil, err
	}
	done, err := waitCompleted(ctx, q, int64(n), roundTimeout)
	if err != nil {
		_ = q.stop(ctx)
		return nil, err
	}
	work := done.Sub(t1)
	if err := q.stop(ctx); err != nil {
		return nil, fmt.Errorf("stop: %w", err)
	}
	if err := verify(ctx, "after work", q, int64(n), int64(n)); err != nil {
		return nil, err
	}
	if got := worked.Load(); got != int64(n) {
		return nil, fmt.Errorf("the workers ran %d jobs for %d inserted", got, n)
	}
	return map[string]float64{
		"insert_s": insert.Seconds(), "insert_rate": float64(n) / insert.Seconds(),
		"work_s": work.Seconds(), "work_rate": float64(n) / work.Seconds(),
	}, nil
}

// waitWorked waits until the workers ran want jobs (cheap: no query).
func waitWorked(ctx context.Context, worked *atomic.Int64, want int64) error {
	deadline := time.Now().Add(roundTimeout)
	for worked.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("the workers ran %d of %d jobs in %v", worked.Load(), want, roundTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// continuous runs a producer that inserts batches while the backlog is
// under backlog jobs, with workers consuming, and counts the jobs worked in
// a window of cfg.duration after a warm-up; then it stops the producer,
// lets the workers drain and checks every inserted job completed.
func continuous(ctx context.Context, cfg *config, q queue, workers int) (map[string]float64, error) {
	backlog := int64(5 * cfg.batch)
	var worked, inserted atomic.Int64
	// A first backlog, so that the workers do not start on nothing.
	if err := q.insertMany(ctx, int(backlog), cfg.batch); err != nil {
		return nil, err
	}
	inserted.Store(backlog)
	if err := q.start(ctx, workers, func() { worked.Add(1) }); err != nil {
		return nil, err
	}
	// The producer stops between batches, never in one: a batch cut short
	// by a cancellation may still commit.
	var stopping atomic.Bool
	var wg sync.WaitGroup
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopping.Load() {
			if inserted.Load()-worked.Load() >= backlog {
				time.Sleep(time.Millisecond)
				continue
			}
			if err := q.insertMany(ctx, cfg.batch, cfg.batch); err != nil {
				perr = err
				return
			}
			inserted.Add(int64(cfg.batch))
		}
	}()
	warm := min(time.Second, cfg.duration/2)
	time.Sleep(warm)
	w0, t0 := worked.Load(), time.Now()
	time.Sleep(cfg.duration)
	w1, t1 := worked.Load(), time.Now()
	stopping.Store(true)
	wg.Wait()
	if perr != nil {
		_ = q.stop(ctx)
		return nil, perr
	}
	total := inserted.Load()
	if _, err := waitCompleted(ctx, q, total, roundTimeout); err != nil {
		_ = q.stop(ctx)
		return nil, err
	}
	if err := q.stop(ctx); err != nil {
		return nil, fmt.Errorf("stop: %w", err)
	}
	if err := verify(ctx, "after drain", q, total, total); err != nil {
		return nil, err
	}
	return map[string]float64{"rate": float64(w1-w0) / t1.Sub(t0).Seconds(), "jobs": float64(total)}, nil
}

// singleInsert inserts one job per call from callers goroutines for
// cfg.duration, closed loop, and reports inserts/s and the latency of a
// call.
func singleInsert(ctx context.Context, cfg *config, q queue, callers int) (map[string]float64, []time.Duration, error) {
	var wg sync.WaitGroup
	lats := make([][]time.Duration, callers)
	errs := make([]error, callers)
	end := time.Now().Add(cfg.duration)
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				t := time.Now()
				if err := q.insertOne(ctx); err != nil {
					errs[c] = err
					return
				}
				lats[c] = append(lats[c], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for c := range callers {
		if errs[c] != nil {
			return nil, nil, fmt.Errorf("insert: %w", errs[c])
		}
		all = append(all, lats[c]...)
	}
	if err := verify(ctx, "after inserts", q, int64(len(all)), 0); err != nil {
		return nil, nil, err
	}
	p50, p99, _ := latencies(all)
	return map[string]float64{"rate": float64(len(all)) / elapsed.Seconds(), "p50": p50, "p99": p99}, all, nil
}
