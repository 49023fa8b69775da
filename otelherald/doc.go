// Package otelherald is Herald's OpenTelemetry integration: traces that
// follow a run across the asynchronous boundary (from the webhook request
// or the code that enqueued it, through the store, to its execution on
// whichever node claims it, and on to its deliveries), and OpenTelemetry
// metrics beside the Prometheus ones of package metrics, from the same
// scheduler observations.
//
// Import it in the service that embeds Herald and wants OpenTelemetry; the
// library itself never imports OpenTelemetry. The package is its own Go
// module (github.com/heraldhq/herald/otelherald) so that Herald's go.mod
// stays free of OpenTelemetry: a service that does not trace is not made
// to take (or upgrade to) OpenTelemetry's modules. It uses only the
// providers it is given: nothing global, no exporter of its own choosing.
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	obs, err := otelherald.New(otelherald.Config{TracerProvider: tp, MeterProvider: mp, Next: promMetrics})
//	s, err := scheduler.New(st, scheduler.Config{Observer: obs, …})
//	mux.Handle("POST /v1/webhooks/{source}", obs.Middleware(webhookHandler))
//
// # The trace of a run
//
// An Observer is a scheduler.Tracer: the scheduler asks it for the trace
// context of every enqueue and stores it with the run
// (store.Run.TraceContext, W3C traceparent and tracestate). The spans, named
// and attributed after OpenTelemetry's messaging conventions
// (messaging.system "herald", the agent as messaging.destination.name, the
// run id as messaging.message.id):
//
//	enqueue {agent}   PRODUCER  an Enqueue, a "run now", a webhook's run: child of the caller's span
//	                            (the webhook request's, see Middleware); operation type send
//	fire {agent}      PRODUCER  a schedule's tick: the root of its run's trace; operation type create
//	process {agent}   CONSUMER  one per attempt: the agent runs under it, so its own spans nest
//	                            below; attempt, retry, outcome and how long the claim that
//	                            gave this node the run took (herald.claim.duration, seconds)
//	                            as attributes
//	deliver {channel} CLIENT    one per delivery attempt; an HTTP deliverer (delivery/httppost)
//	                            sends its traceparent
//
// The process and deliver spans are children of the stored enqueue
// (or fire) span, and the process span also links to it. The messaging
// conventions let a consumer parent its process span on the creation
// context when it handles one message at a time, as a Herald worker does,
// and ask for a link to it in any case: parent, because the issue that
// asked for this wants one trace from the webhook to the run's last
// delivery, on any node; link, so that tools that follow links see the
// producer too. The retried attempts of a run are separate process spans
// of that one trace.
//
// There is no span for the claim: a claim takes a batch of runs in one
// store call, and a span per run for it cost more than the rest of a run's
// tracing; its duration is an attribute of each process span, and the
// herald.claim.lateness histogram says how long runs waited.
//
// No attribute carries a payload, an output, an error message, a secret or
// a token: only names (agent, channel, schedule id, webhook source), ids,
// counters and outcomes from fixed lists. A failed span's status says the
// outcome, not the agent's error text.
//
// A span starts with the attributes the messaging conventions ask for at
// creation, which samplers see (messaging.system, messaging.operation.type
// and .name, messaging.destination.name); the others are set once the span
// is known to record, so that a run whose trace is not sampled costs little.
//
// # What tracing costs, and sampling
//
// A traced run is two spans of the TracerProvider's (its enqueue or fire,
// and its process span; one more per retry and per delivery attempt) and a
// traceparent stored with the run. With the OpenTelemetry SDK, every span
// sampled and batched to an exporter that drops it, the tracing work of a
// run allocates about 8 KB in 37 allocations, nearly all of it the SDK's
// (span records, its copies of the attributes, the snapshot each ended
// span hands to the batch processor; BenchmarkRunTracing). A span costs the
// same however long the run, so its share depends on how cheap the run
// is. TestTracingOverhead runs batches of 20,000 runs of a no-op agent
// through a scheduler with tracing on and off, in interleaved rounds of
// one process, and reports the median ratio of runs/s and of the
// process's CPU time per run, and the bytes allocated per run. On a
// 2-core machine shared with other work (load 4 to 8, so runs/s swung
// widely from round to round; CPU time and bytes are the steadier
// figures), medians of 7 to 9 rounds of
// HERALD_TRACE_AB=7 go test -run TestTracingOverhead -v . (add
// HERALD_TRACE_SAMPLE=0.1 for the sampled columns):
//
//	store       off: CPU/run  every trace sampled               a tenth sampled (ParentBased ratio 0.1)
//	            (this process) runs/s   CPU/run   bytes/run      runs/s   CPU/run   bytes/run
//	memory       ~15 µs        −49%     +120%     +8.8 KB        −43%     +68%      +3.8 KB
//	SQLite      ~100 µs        −9…−23%  +23…30%   +9.3 KB        −17%     +22%      +4.3 KB
//	PostgreSQL   ~40 µs        −12…−16% +49…55%   +9.6 KB        ±noise   +22%      +4.7 KB
//
// (PostgreSQL's own CPU is not in its column.) Tracing every run is
// therefore not cheap next to a run that costs a few tens of microseconds:
// the SDK's two spans cost about as much as an in-memory run, and a
// noticeable share of a database's. Sampling takes the span records away
// but not the propagation: a run whose trace is not sampled still carries
// its traceparent (a map the stores copy as they hand the run around),
// its non-recording spans and their contexts, about 3.7 KB per run, which
// is most of what a low ratio costs (a ratio of 0.01 measured as 0.1 did).
// A service that traces samples at the root and lets the rest follow,
// which keeps each run's trace whole:
//
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))),
//		sdktrace.WithBatcher(exporter))
//
// ParentBased lets the webhook request's span, the enqueue or a tick's
// fire decide; a run's process and deliver spans follow the decision
// stored in its traceparent, on whichever node claims it. A node whose
// runs are as cheap as an in-memory no-op (tens of thousands a second)
// and must not pay for tracing leaves Config.TracerProvider nil (metrics
// only) or passes no Observer: the scheduler then stores no trace context
// and the Observer does no tracing work at all.
//
// # Metrics
//
// With a MeterProvider, the same observations feed these instruments
// (attributes herald.agent, herald.run.status, herald.attempt.outcome,
// herald.delivery.channel, herald.delivery.status; values bounded as in
// package metrics):
//
//	herald.runs.ended          counter    runs ended for good on this node
//	herald.run.duration        histogram  s, the last attempt's duration of those runs
//	herald.attempts            counter    attempts ended on this node
//	herald.claim.lateness      histogram  s, claim time minus the run's due time
//	herald.fire.lateness       histogram  s, commit time minus the tick, one per tick written
//	herald.deliveries          counter    delivery attempts
//	herald.delivery.duration   histogram  s, delivery attempt durations
package otelherald
