package otelherald

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// Attribute keys of Herald's own, beside the semantic conventions'.
const (
	keyRunKind        = attribute.Key("herald.run.kind")
	keyRunAttempt     = attribute.Key("herald.run.attempt")
	keyRunMaxAttempts = attribute.Key("herald.run.max_attempts")
	keyScheduleID     = attribute.Key("herald.schedule.id")
	keyScheduledFor   = attribute.Key("herald.schedule.tick")
	keyWebhookSource  = attribute.Key("herald.webhook.source")
	keyDuplicate      = attribute.Key("herald.enqueue.duplicate")
	keyOutcome        = attribute.Key("herald.attempt.outcome")
	keyRetry          = attribute.Key("herald.attempt.retry")
	keyChannel        = attribute.Key("herald.delivery.channel")
	keyDeliveryTry    = attribute.Key("herald.delivery.attempt")
	keyDeliveryStatus = attribute.Key("herald.delivery.status")
	keyRunID          = attribute.Key("herald.run.id")
	keyClaimTook      = attribute.Key("herald.claim.duration")
)

// system is messaging.system: Herald's run queue.
var system = semconv.MessagingSystemKey.String("herald")

// Start implements scheduler.Tracer: it begins the span of w under ctx and
// returns the context that carries it.
//
// A span starts with the attributes the messaging conventions ask for at
// creation, for samplers (messaging.system, messaging.operation.type and
// .name, messaging.destination.name): one option made once per agent. The
// others are set only once the span is known to record, in one list built
// in a pooled buffer (the tracer copies it): a run whose trace is not
// sampled costs no attribute list, and no context value to find its span
// by (a span that does not record has nothing to end).
func (o *Observer) Start(ctx context.Context, w scheduler.Work) context.Context {
	if !o.traced {
		return ctx
	}
	var span trace.Span
	buf := o.attrBuf()
	attrs := buf.kvs[:0]
	switch w := w.(type) {
	case scheduler.EnqueueWork:
		names := o.spans.agent(w.Agent)
		if w.Kind == store.RunKindSchedule {
			// A tick's fire is the root of its run's trace.
			ctx, span = o.tracer.Start(ctx, names.fire, o.spans.producer, o.spans.newRoot, names.fireAttrs)
		} else {
			ctx, span = o.tracer.Start(ctx, names.enqueue, o.spans.producer, names.enqueueAttrs)
		}
		if span.IsRecording() {
			attrs = append(attrs, keyRunKind.String(string(w.Kind)))
			if w.ScheduleID != "" {
				attrs = append(attrs, keyScheduleID.String(w.ScheduleID))
			}
			if w.Source != "" {
				attrs = append(attrs, keyWebhookSource.String(w.Source))
			}
			if w.Kind == store.RunKindSchedule {
				attrs = append(attrs, keyScheduledFor.String(w.ScheduledFor.UTC().Format(time.RFC3339Nano)))
			}
		}
	case scheduler.AttemptWork:
		r := w.Run
		names := o.spans.agent(r.Agent)
		parent := o.parent(r)
		opts := [3]trace.SpanStartOption{o.spans.consumer, names.processAttrs}
		if parent.IsValid() {
			// Parent and link: see the package comment.
			ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
			opts[2] = trace.WithLinks(trace.Link{SpanContext: parent})
		} else {
			opts[2] = o.spans.newRoot
		}
		ctx, span = o.tracer.Start(ctx, names.process, opts[:]...)
		if span.IsRecording() {
			attrs = append(attrs, semconv.MessagingMessageID(r.ID), semconv.MessagingClientID(w.Node),
				keyRunKind.String(string(r.Kind)), keyRunAttempt.Int(r.Attempt), keyRunMaxAttempts.Int(r.MaxAttempts),
				keyClaimTook.Float64(w.ClaimTook.Seconds()))
			if r.ScheduleID != "" {
				attrs = append(attrs, keyScheduleID.String(r.ScheduleID))
			}
		}
	case scheduler.DeliveryWork:
		r := w.Run
		ctx = o.runContext(ctx, r)
		ctx, span = o.tracer.Start(ctx, o.spans.deliver(w.Channel), o.spans.client)
		if span.IsRecording() {
			attrs = append(attrs, keyChannel.String(w.Channel), keyDeliveryTry.Int(w.Attempt), keyRunID.String(r.ID))
		}
	default:
		o.bufs.Put(buf)
		return ctx
	}
	if !span.IsRecording() {
		o.bufs.Put(buf)
		return ctx
	}
	span.SetAttributes(attrs...)
	o.putAttrBuf(buf, attrs)
	return context.WithValue(ctx, spanKey{}, span)
}

// parent is r's stored trace context, the zero SpanContext when r has
// none.
func (o *Observer) parent(r *store.Run) trace.SpanContext {
	if len(r.TraceContext) == 0 {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(o.prop.Extract(context.Background(), propagation.MapCarrier(r.TraceContext)))
}

// runContext is ctx with r's stored trace context as its remote parent,
// or ctx with no parent when r has none.
func (o *Observer) runContext(ctx context.Context, r *store.Run) context.Context {
	parent := o.parent(r)
	if !parent.IsValid() {
		return trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	}
	return trace.ContextWithRemoteSpanContext(ctx, parent)
}

// trace ends the spans of the observations that end work. The
// attributes known only at the end are set in one call, and only on a
// span that records.
func (o *Observer) trace(ob scheduler.Observation) {
	var span trace.Span
	buf := o.attrBuf()
	attrs := buf.kvs[:0]
	switch ob := ob.(type) {
	case *scheduler.EnqueueObserved:
		if span = started(ob.Context); span == nil || !span.IsRecording() {
			break
		}
		if ob.Run != nil {
			attrs = append(attrs, semconv.MessagingMessageID(ob.Run.ID), keyDuplicate.Bool(ob.Duplicate))
		}
		if ob.Err != nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(ob.Err)))
			span.SetStatus(codes.Error, "enqueue failed")
		}
	case *scheduler.AttemptObserved:
		if span = started(ob.Context); span == nil || !span.IsRecording() {
			break
		}
		attrs = append(attrs, keyOutcome.String(string(ob.Outcome)), keyRetry.Bool(ob.Outcome == scheduler.AttemptRetry))
		switch ob.Outcome {
		case scheduler.AttemptSucceeded, scheduler.AttemptCancelled, scheduler.AttemptReleased:
		default:
			attrs = append(attrs, semconv.ErrorTypeKey.String(string(ob.Outcome)))
			span.SetStatus(codes.Error, "attempt "+string(ob.Outcome))
		}
	case *scheduler.DeliveryObserved:
		if span = started(ob.Context); span == nil || !span.IsRecording() {
			break
		}
		attrs = append(attrs, keyDeliveryStatus.String(string(ob.Status)))
		if ob.Status != store.DeliverySucceeded {
			attrs = append(attrs, semconv.ErrorTypeKey.String("delivery_"+string(ob.Status)))
			span.SetStatus(codes.Error, "delivery "+string(ob.Status))
		}
	}
	if span != nil {
		span.SetAttributes(attrs...)
		span.End()
	}
	o.putAttrBuf(buf, attrs)
}

// attrBuf is a buffer of attributes, pooled in Observer.bufs: a span's
// attribute list is built in one, handed to the tracer (which copies it:
// trace.SpanConfig.Attributes and the SDK's span keep copies), and put
// back.
type attrBuf struct{ kvs []attribute.KeyValue }

// attrBuf takes a buffer from o.bufs.
func (o *Observer) attrBuf() *attrBuf {
	if b, ok := o.bufs.Get().(*attrBuf); ok {
		return b
	}
	return &attrBuf{kvs: make([]attribute.KeyValue, 0, 16)}
}

// putAttrBuf puts b back in o.bufs, cleared (its strings are let go); kvs
// is its list as last used, kept when it grew.
func (o *Observer) putAttrBuf(b *attrBuf, kvs []attribute.KeyValue) {
	if cap(kvs) > cap(b.kvs) {
		b.kvs = kvs[:0]
	}
	clear(b.kvs[:cap(b.kvs)])
	o.bufs.Put(b)
}
