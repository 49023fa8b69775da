package storetest

import (
	"context"
	"encoding/json"
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

// BenchmarkEnqueue measures RunEnqueue of ad hoc runs in calls of batch runs
// each, and reports runs/s.
func BenchmarkEnqueue(b *testing.B, st store.Store, batch int) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; done += batch {
		if _, err := st.RunEnqueue(ctx, benchParams(min(batch, b.N-done))...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}

// BenchmarkClaimFinish enqueues b.N runs (untimed), then measures draining
// them with RunClaim of batch runs and one RunFinish per claim, and reports
// runs/s.
func BenchmarkClaimFinish(b *testing.B, st store.Store, batch int) {
	ctx := context.Background()
	for done := 0; done < b.N; done += 500 {
		if _, err := st.RunEnqueue(ctx, benchParams(min(500, b.N-done))...); err != nil {
			b.Fatal(err)
		}
	}
	claim := &store.RunClaimParams{Node: "bench", Limit: batch, Lease: time.Minute}
	finish := make([]*store.RunFinishParams, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		runs, err := st.RunClaim(ctx, claim)
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) == 0 {
			b.Fatalf("claimed nothing after %d of %d runs", done, b.N)
		}
		finish = finish[:0]
		for _, r := range runs {
			finish = append(finish, &store.RunFinishParams{ID: r.ID, Node: "bench", Status: store.RunSucceeded})
		}
		if _, err := st.RunFinish(ctx, finish...); err != nil {
			b.Fatal(err)
		}
		done += len(runs)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "runs/s")
}
