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
