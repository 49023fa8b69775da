package otelherald

import (
	"sync"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// agentSpans are what every span of one agent's runs shares, made once per
// agent: the span names and the attributes that do not change from run to
// run. Agent names are few (those registered), so the cache stays small.
type agentSpans struct {
	enqueue, fire, process string
	// The attributes each span starts with (see Observer.Start).
	enqueueAttrs, fireAttrs, processAttrs trace.SpanStartEventOption
}

// spanCache holds the agentSpans by agent and the delivery span names by
// channel, and the span options that every span of a kind shares.
type spanCache struct {
	producer, consumer, client trace.SpanStartOption // trace.WithSpanKind
	newRoot                    trace.SpanStartOption // trace.WithNewRoot

	agents   sync.Map // agent name → *agentSpans
	channels sync.Map // channel → string ("deliver {channel}")
}

// agent is the agentSpans of agent a.
func (c *spanCache) agent(a string) *agentSpans {
	if v, ok := c.agents.Load(a); ok {
		return v.(*agentSpans)
	}
	dest := semconv.MessagingDestinationName(a)
	s := &agentSpans{
		enqueue: "enqueue " + a, fire: "fire " + a, process: "process " + a,
		enqueueAttrs: trace.WithAttributes(system, dest,
			semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("enqueue")),
		fireAttrs: trace.WithAttributes(system, dest,
			semconv.MessagingOperationTypeCreate, semconv.MessagingOperationName("fire")),
		processAttrs: trace.WithAttributes(system, dest,
			semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process")),
	}
	v, _ := c.agents.LoadOrStore(a, s)
	return v.(*agentSpans)
}

// deliver is the name of the delivery spans of channel ch.
func (c *spanCache) deliver(ch string) string {
	if v, ok := c.channels.Load(ch); ok {
		return v.(string)
	}
	v, _ := c.channels.LoadOrStore(ch, "deliver "+ch)
	return v.(string)
}

// newSpanCache returns an empty spanCache.
func newSpanCache() *spanCache {
	return &spanCache{
		producer: trace.WithSpanKind(trace.SpanKindProducer),
		consumer: trace.WithSpanKind(trace.SpanKindConsumer),
		client:   trace.WithSpanKind(trace.SpanKindClient),
		newRoot:  trace.WithNewRoot(),
	}
}
