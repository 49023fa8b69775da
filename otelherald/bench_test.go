package otelherald_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/internal/testpg"
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
// (no Observer), in interleaved rounds of one process, on each store: in
// memory, SQLite, and PostgreSQL when HERALD_TEST_POSTGRES_DSN is set. It
// reports the median of the per-round ratios on/off, and the CPU time
// (of this process: not a PostgreSQL server's) and bytes each arm used per
// run: on a busy machine, where runs/s swing with the neighbours' load,
// CPU time is the steadier figure. It runs only when HERALD_TRACE_AB is set (to the
// number of rounds): it takes a while. HERALD_TRACE_STORES narrows the
// stores ("memory,sqlite"); HERALD_TRACE_SAMPLE=R samples a ratio R of
// the traces instead of all (sdktrace.ParentBased(TraceIDRatioBased(R))),
// for the figure of a sampled service.
//
//	HERALD_TRACE_AB=7 go test -run TestTracingOverhead -v ./otelherald
func TestTracingOverhead(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("HERALD_TRACE_AB"))
	if rounds <= 0 {
		t.Skip("set HERALD_TRACE_AB=ROUNDS to measure the cost of tracing")
	}
	sampler := sdktrace.AlwaysSample()
	if v := os.Getenv("HERALD_TRACE_SAMPLE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("HERALD_TRACE_SAMPLE: %v", err)
		}
		sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r))
	}
	kinds := []string{"memory", "sqlite", "postgres"}
	if v := os.Getenv("HERALD_TRACE_STORES"); v != "" {
		kinds = strings.Split(v, ",")
	}
	const runs = 20000
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			var ratios, cpuRatios []float64
			var onBytes, offBytes float64
			for i := range rounds {
				// Alternate which arm goes first, so that warming up favours neither.
				var on, off arm
				if i%2 == 0 {
					off, on = endToEnd(t, kind, runs, nil), endToEnd(t, kind, runs, sampler)
				} else {
					on, off = endToEnd(t, kind, runs, sampler), endToEnd(t, kind, runs, nil)
				}
				ratios = append(ratios, on.perSec/off.perSec)
				cpuRatios = append(cpuRatios, on.cpu.Seconds()/off.cpu.Seconds())
				onBytes += on.bytes / float64(rounds)
				offBytes += off.bytes / float64(rounds)
				t.Logf("round %d: off %.0f runs/s %v CPU/run, on %.0f runs/s %v CPU/run, on/off %.3f",
					i+1, off.perSec, off.cpu, on.perSec, on.cpu, on.perSec/off.perSec)
			}
			slices.Sort(ratios)
			slices.Sort(cpuRatios)
			med, cpu := ratios[len(ratios)/2], cpuRatios[len(cpuRatios)/2]
			t.Logf("%s: median on/off %.3f (cost %.1f%% of runs/s), CPU per run on/off %.3f (+%.1f%%) over %d rounds; allocated per run: off %.0f B, on %.0f B (+%.0f B)",
				kind, med, 100*(1-med), cpu, 100*(cpu-1), rounds, offBytes, onBytes, onBytes-offBytes)
		})
	}
}

// arm is what one arm of TestTracingOverhead measured: runs/s, and the
// CPU time used and bytes allocated per run (by the whole process).
type arm struct {
	perSec, bytes float64
	cpu           time.Duration
}

// endToEnd runs n runs through a fresh scheduler on a fresh store of kind
// and returns its arm's figures: traced with sampler, or not at all when
// sampler is nil.
func endToEnd(t *testing.T, kind string, n int, sampler sdktrace.Sampler) arm {
	ctx := context.Background()
	var st store.Store
	switch kind {
	case "memory":
		st = memstore.New(memstore.Options{})
	case "sqlite", "postgres":
		dsn := "sqlite://" + filepath.Join(t.TempDir(), fmt.Sprintf("h%d.db", time.Now().UnixNano()))
		if kind == "postgres" {
			dsn = testpg.DSN(t)
		}
		b, err := bunstore.Open(ctx, dsn, bunstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st = b
	default:
		t.Fatalf("no store %q", kind)
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
	if sampler != nil {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discard{}))
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
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := processCPU()
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
	took := time.Since(start)
	cpu = processCPU() - cpu
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return arm{perSec: float64(n) / took.Seconds(), bytes: float64(after.TotalAlloc-before.TotalAlloc) / float64(n), cpu: cpu / time.Duration(n)}
}

// BenchmarkRunTracing is the tracing work of one run, as the scheduler
// asks for it, without the engine or a store: the enqueue span begun and
// its trace context kept with the run, the run read back, the claim and
// the attempt observed, the run's end. The spans are batched to an
// exporter that drops them; every trace is sampled ("all"), a tenth of
// them, or none (the cost of a run whose trace is not sampled), with
// sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)) as doc.go
// advises.
func BenchmarkRunTracing(b *testing.B) {
	for _, c := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"all", sdktrace.AlwaysSample()},
		{"ratio=0.1", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))},
		{"none", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkRunTracing(b, c.sampler) })
	}
}

// BenchmarkSDKSpans is the SDK's own share of BenchmarkRunTracing/all:
// the two spans of a run (the enqueue's, a producer span, and the
// attempt's, a consumer span whose parent and link is the enqueue's), with
// as many attributes as Herald gives them, made straight on the SDK with
// no Herald code. No integration that makes those spans costs less: the
// floor under TestTracingOverhead's figure with every span sampled.
func BenchmarkSDKSpans(b *testing.B) {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(ctx)
	tr := tp.Tracer("floor")
	system, dest := semconv.MessagingSystemKey.String("herald"), semconv.MessagingDestinationName("noop")
	enqueue := trace.WithAttributes(system, dest, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("enqueue"))
	process := trace.WithAttributes(system, dest, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"))
	producer, consumer := trace.WithSpanKind(trace.SpanKindProducer), trace.WithSpanKind(trace.SpanKindConsumer)
	cpu := processCPU()
	b.ReportAllocs()
	for b.Loop() {
		ectx, es := tr.Start(ctx, "enqueue noop", producer, enqueue)
		es.SetAttributes(attribute.String("herald.run.kind", "enqueue"))
		es.SetAttributes(semconv.MessagingMessageID("01JEXAMPLE0000000000000000"), attribute.Bool("herald.enqueue.duplicate", false))
		parent := trace.SpanContextFromContext(ectx)
		es.End()
		_, ps := tr.Start(trace.ContextWithRemoteSpanContext(ctx, parent), "process noop", consumer, process,
			trace.WithLinks(trace.Link{SpanContext: parent}))
		ps.SetAttributes(semconv.MessagingMessageID("01JEXAMPLE0000000000000000"), semconv.MessagingClientID("n"),
			attribute.String("herald.run.kind", "enqueue"), attribute.Int("herald.run.attempt", 1),
			attribute.Int("herald.run.max_attempts", 3), attribute.Float64("herald.claim.duration", 0.001))
		ps.SetAttributes(attribute.String("herald.attempt.outcome", "succeeded"), attribute.Bool("herald.attempt.retry", false))
		ps.End()
	}
	if c := processCPU() - cpu; c > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func benchmarkRunTracing(b *testing.B, sampler sdktrace.Sampler) {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(ctx)
	obs, err := otelherald.New(otelherald.Config{TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	w := scheduler.EnqueueWork{Kind: store.RunKindEnqueue, Agent: "noop"}
	now := time.Now()
	cpu := processCPU()
	b.ReportAllocs()
	for b.Loop() {
		ectx := obs.Start(ctx, w)
		tc := obs.TraceContext(ectx)
		r := &store.Run{ID: "01JEXAMPLE0000000000000000", Agent: "noop", Kind: store.RunKindEnqueue, Owner: "bench",
			Attempt: 1, MaxAttempts: 3, RunAt: now, TraceContext: tc, Status: store.RunRunning}
		obs.Observe(&scheduler.EnqueueObserved{Work: w, Run: r, Context: ectx})
		obs.Observe(&scheduler.RunClaimObserved{Run: r, ClaimedAt: now, ClaimTook: time.Millisecond, Node: "n"})
		actx := obs.Start(ctx, scheduler.AttemptWork{Run: r, Node: "n", ClaimTook: time.Millisecond})
		obs.Observe(&scheduler.AttemptObserved{Run: r, Attempt: 1, Outcome: scheduler.AttemptSucceeded, Duration: time.Microsecond, Context: actx})
		obs.Observe(&scheduler.RunEndObserved{Run: r, Status: store.RunSucceeded, Attempts: 1, Duration: time.Microsecond})
	}
	if c := processCPU() - cpu; c > 0 {
		// CPU time, GC's included: steadier than ns/op on a busy machine.
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
