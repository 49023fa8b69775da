package otelherald_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/otelherald"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
)

// discard is a span exporter that drops every span: the cost measured is
// the tracing's, not an exporter's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// TestTracingOverhead is the A/B figure of tracing: end-to-end runs/s of
// scheduler's BenchmarkEndToEnd (batches of 1,000 runs enqueued → claim
// → run → record, a no-op agent) with tracing on (an SDK tracer provider,
// every span sampled, batched to an exporter that drops them; each run
// enqueued under its own enqueue span, as scheduler.Enqueue does) and off
// (no Observer), in interleaved rounds of one process. It reports the
// median of the per-round ratios on/off. It runs only when
// HERALD_TRACE_AB is set (to the number of rounds): it takes a while.
//
//	HERALD_TRACE_AB=7 go test -run TestTracingOverhead -v ./otelherald
func TestTracingOverhead(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("HERALD_TRACE_AB"))
	if rounds <= 0 {
		t.Skip("set HERALD_TRACE_AB=ROUNDS to measure the cost of tracing")
	}
	const runs = 20000
	for _, kind := range []string{"memory", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			var ratios []float64
			for i := range rounds {
				// Alternate which arm goes first, so that warming up favours neither.
				var on, off float64
				if i%2 == 0 {
					off, on = endToEnd(t, kind, runs, false), endToEnd(t, kind, runs, true)
				} else {
					on, off = endToEnd(t, kind, runs, true), endToEnd(t, kind, runs, false)
				}
				ratios = append(ratios, on/off)
				t.Logf("round %d: off %.0f runs/s, on %.0f runs/s, on/off %.3f", i+1, off, on, on/off)
			}
			slices.Sort(ratios)
			med := ratios[len(ratios)/2]
			t.Logf("%s: median on/off %.3f (cost %.1f%%) over %d rounds", kind, med, 100*(1-med), rounds)
		})
	}
}

// endToEnd runs n runs through a fresh scheduler on a fresh store of kind
// and returns runs/s.
func endToEnd(t *testing.T, kind string, n int, traced bool) float64 {
	ctx := context.Background()
	var st store.Store
	switch kind {
	case "memory":
		st = memstore.New(memstore.Options{})
	case "sqlite":
		b, err := bunstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), fmt.Sprintf("h%d.db", time.Now().UnixNano())), bunstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st = b
	}
	defer st.Close()
	var done atomic.Int64
	agents := agent.NewRegistry()
	agents.MustRegister("noop", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		done.Add(1)
		return nil, nil
	}))
	cfg := scheduler.Config{Agents: agents}
	var obs *otelherald.Observer
	if traced {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
		defer tp.Shutdown(ctx)
		var err error
		if obs, err = otelherald.New(otelherald.Config{TracerProvider: tp}); err != nil {
			t.Fatal(err)
		}
		cfg.Observer = obs
	}
	s, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	start := time.Now()
	for left := n; left > 0; {
		k := min(left, 1000)
		batch := make([]*store.RunEnqueueParams, k)
		ctxs := make([]context.Context, k)
		w := scheduler.EnqueueWork{Kind: store.RunKindEnqueue, Agent: "noop"}
		for i := range batch {
			batch[i] = &store.RunEnqueueParams{Owner: "bench", Agent: "noop"}
			if obs != nil {
				ctxs[i] = obs.Start(ctx, w)
				batch[i].TraceContext = obs.TraceContext(ctxs[i])
			}
		}
		res, err := st.RunEnqueue(ctx, batch...)
		if err != nil {
			t.Fatal(err)
		}
		if obs != nil {
			for i := range batch {
				obs.Observe(&scheduler.EnqueueObserved{Work: w, Run: res[i].Run, Context: ctxs[i]})
			}
		}
		left -= k
	}
	deadline := time.Now().Add(2 * time.Minute)
	for done.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs done", done.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}
