package storetest

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// benchPayload is the payload of benchmark runs: small, like most real ones.
var benchPayload = json.RawMessage(`{"report":"daily","n":1}`)

func benchParams(n int) []*store.RunEnqueueParams {
	ps := make([]*store.RunEnqueueParams, n)
	for i := range ps {
		ps[i] = &store.RunEnqueueParams{Owner: "bench", Agent: "noop", Payload: benchPayload}
	}
	return ps
}

// parallel runs work on workers goroutines until they have done b.N runs
// between them (work returns how many it did), and reports runs/s.
func parallel(b *testing.B, workers int, work func(worker int) (int, error)) {
	b.Helper()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < int64(b.N) {
				n, err := work(w)
				if err != nil {
					errs <- err
					return
				}
				done.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(done.Load())/elapsed.Seconds(), "runs/s")
}

// BenchmarkEnqueue measures RunEnqueue of ad hoc runs, batch runs per call,
// from workers goroutines, and reports runs/s.
func BenchmarkEnqueue(b *testing.B, st store.Store, batch, workers int) {
	ctx := context.Background()
	parallel(b, workers, func(int) (int, error) {
		_, err := st.RunEnqueue(ctx, benchParams(batch)...)
		return batch, err
	})
}

// BenchmarkClaimFinish enqueues b.N runs (untimed), then measures workers
// goroutines draining them, each claiming up to batch runs with one
// RunClaim and ending them with one RunFinish, and reports runs/s.
func BenchmarkClaimFinish(b *testing.B, st store.Store, batch, workers int) {
	ctx := context.Background()
	// Enough for every worker's last claim to find work.
	total := b.N + workers*batch
	for done := 0; done < total; done += 1000 {
		if _, err := st.RunEnqueue(ctx, benchParams(min(1000, total-done))...); err != nil {
			b.Fatal(err)
		}
	}
	parallel(b, workers, func(w int) (int, error) {
		node := "bench-" + string(rune('a'+w))
		runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: node, Limit: batch, Lease: time.Minute})
		if err != nil || len(runs) == 0 {
			return 0, err
		}
		finish := make([]*store.RunFinishParams, len(runs))
		for i, r := range runs {
			finish[i] = &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunSucceeded}
		}
		_, err = st.RunFinish(ctx, finish...)
		return len(runs), err
	})
}

// BenchmarkTicks creates schedules schedules with overlap policy pol
// (untimed), then measures RunEnqueue of one tick of every schedule in one
// call, as a scheduler does when they all fall due at the same moment; it
// reports runs/s and the milliseconds one batch takes.
func BenchmarkTicks(b *testing.B, st store.Store, schedules int, pol store.OverlapPolicy) {
	ctx := context.Background()
	ids := make([]string, schedules)
	for i := range ids {
		s, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "bench", Name: "tick-" + strconv.Itoa(i), Agent: "noop",
			Overlap: pol, Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "* * * * * *"}})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		tick = tick.Add(time.Second)
		ps := make([]*store.RunEnqueueParams, schedules)
		for i, id := range ids {
			ps[i] = &store.RunEnqueueParams{ScheduleID: id, ScheduledFor: tick, NextRunAt: tick.Add(time.Second),
				Owner: "bench", Agent: "noop", Payload: benchPayload}
		}
		if _, err := st.RunEnqueue(ctx, ps...); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*schedules)/elapsed.Seconds(), "runs/s")
	b.ReportMetric(elapsed.Seconds()*1000/float64(b.N), "ms/batch")
}
