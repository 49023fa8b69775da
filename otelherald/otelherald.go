package otelherald

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/heraldhq/herald/scheduler"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/heraldhq/herald/otelherald"

// Config configures New. The zero value is valid and traces nothing.
type Config struct {
	// TracerProvider makes the tracer of the spans; nil means none (no
	// spans, and no trace context is stored with runs).
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter of the metrics; nil means none.
	MeterProvider metric.MeterProvider
	// Propagator writes the trace context stored with a run and sent with
	// a delivery, and reads it back, and reads an incoming request's in
	// Middleware; nil means W3C Trace Context (propagation.TraceContext).
	Propagator propagation.TextMapPropagator
	// Next, when set, is told every observation too, after this Observer:
	// the Prometheus metrics of package metrics, for one.
	Next scheduler.Observer
}

// Observer turns the scheduler's observations into OpenTelemetry spans and
// metrics. It is a scheduler.Observer and a scheduler.Tracer: pass it as
// scheduler.Config.Observer. It is safe for concurrent use.
type Observer struct {
	tracer  trace.Tracer
	traced  bool // a TracerProvider was given
	prop    propagation.TextMapPropagator
	spans   *spanCache
	next    scheduler.Observer
	metrics *instruments // nil without a MeterProvider
	bufs    sync.Pool    // *attrBuf
}

var (
	_ scheduler.Observer = (*Observer)(nil)
	_ scheduler.Tracer   = (*Observer)(nil)
)

// New returns an Observer for cfg. It fails when an instrument cannot be
// made.
func New(cfg Config) (*Observer, error) {
	o := &Observer{prop: cfg.Propagator, next: cfg.Next, spans: newSpanCache()}
	if o.prop == nil {
		o.prop = propagation.TraceContext{}
	}
	if cfg.TracerProvider != nil {
		o.tracer, o.traced = cfg.TracerProvider.Tracer(ScopeName), true
	} else {
		o.tracer = tracenoop.NewTracerProvider().Tracer(ScopeName)
	}
	if cfg.MeterProvider != nil {
		m, err := newInstruments(cfg.MeterProvider.Meter(ScopeName))
		if err != nil {
			return nil, fmt.Errorf("otelherald: %w", err)
		}
		o.metrics = m
	}
	return o, nil
}

// Observe implements scheduler.Observer: it ends the spans that Start
// began, records the claim spans, counts what it is told, and passes the
// observation on to Config.Next.
func (o *Observer) Observe(ob scheduler.Observation) {
	if o.traced {
		o.trace(ob)
	}
	if o.metrics != nil {
		o.metrics.observe(ob)
	}
	if o.next != nil {
		o.next.Observe(ob)
	}
}

// TraceContext implements scheduler.Tracer: the propagation fields of the
// span in ctx, nil when there is none (or no TracerProvider).
func (o *Observer) TraceContext(ctx context.Context) map[string]string {
	if !o.traced || !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	o.prop.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// spanKey is the context key of the span that Start began: Observe ends
// only spans found under it, never a caller's span.
type spanKey struct{}

// started is the span that Start began under ctx, nil when none. A span
// is found only when it is still ctx's span: Start keeps no value for a
// span that does not record, so the value found under an unrecorded
// span's context may be an outer one of Start's (an agent's enqueue
// under its process span), which is not this work's to end.
func started(ctx context.Context) trace.Span {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(spanKey{}).(trace.Span)
	if s == nil || s.SpanContext().SpanID() != trace.SpanContextFromContext(ctx).SpanID() {
		return nil
	}
	return s
}

// errorType is the error.type of err: its Go type, never its text, which
// may quote what a caller sent.
func errorType(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return fmt.Sprintf("%T", err)
		}
		err = inner
	}
}
