package delivery

import (
	"context"
	"maps"
)

// traceKey is the context key of WithTraceContext.
type traceKey struct{}

// WithTraceContext returns a copy of ctx that carries tc, the trace context
// of a delivery attempt as propagation fields (the W3C Trace Context
// headers "traceparent" and "tracestate"). The scheduler sets it when it
// traces deliveries; a deliverer that calls out over HTTP sends the fields
// as request headers (delivery/httppost does), so that the receiver's spans
// join the run's trace. This package imports no tracing library: the
// fields are plain strings.
func WithTraceContext(ctx context.Context, tc map[string]string) context.Context {
	if len(tc) == 0 {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, maps.Clone(tc))
}

// TraceContext returns the trace context that WithTraceContext put in ctx,
// nil when there is none. The map is the caller's to read, not to change.
func TraceContext(ctx context.Context) map[string]string {
	tc, _ := ctx.Value(traceKey{}).(map[string]string)
	return tc
}
