package storetest

import (
	"context"
	"encoding/json"
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
