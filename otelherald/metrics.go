package otelherald

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/heraldhq/herald/internal/buckets"
	"github.com/heraldhq/herald/scheduler"
)

// Metric attribute keys: bounded values only (see the package comment).
const (
	keyAgent     = attribute.Key("herald.agent")
	keyRunStatus = attribute.Key("herald.run.status")
)

// instruments are the OpenTelemetry twins of package metrics' series that
// come from the scheduler's observations.
type instruments struct {
	runsEnded     metric.Int64Counter
	runDuration   metric.Float64Histogram
	attempts      metric.Int64Counter
	claimLateness metric.Float64Histogram
	fireLateness  metric.Float64Histogram
	deliveries    metric.Int64Counter
	deliveryTime  metric.Float64Histogram

	sets sync.Map // attrKey → metric.MeasurementOption, made once per key
}

// attrKey names a metric attribute set: one or two bounded values under
// their keys (b empty for one).
type attrKey struct {
	ka, kb attribute.Key
	a, b   string
}

// attrs is the measurement option of the attribute set k, made once:
// building a set per measurement would sort and allocate every time.
func (i *instruments) attrs(k attrKey) metric.MeasurementOption {
	if v, ok := i.sets.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kvs := []attribute.KeyValue{k.ka.String(k.a)}
	if k.kb != "" {
		kvs = append(kvs, k.kb.String(k.b))
	}
	v, _ := i.sets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return v.(metric.MeasurementOption)
}

// newInstruments makes the instruments on m.
func newInstruments(m metric.Meter) (*instruments, error) {
	var i instruments
	var err, e error
	i.runsEnded, e = m.Int64Counter("herald.runs.ended", metric.WithUnit("{run}"),
		metric.WithDescription("Runs that ended for good on this node, by agent and final status."))
	err = errors.Join(err, e)
	i.runDuration, e = m.Float64Histogram("herald.run.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the last attempt of the runs that ended on this node, by agent."),
		metric.WithExplicitBucketBoundaries(buckets.Duration()...))
	err = errors.Join(err, e)
	i.attempts, e = m.Int64Counter("herald.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts that ended on this node, by agent and outcome."))
	err = errors.Join(err, e)
	i.claimLateness, e = m.Float64Histogram("herald.claim.lateness", metric.WithUnit("s"),
		metric.WithDescription("Time from a run being due to this node claiming it."),
		metric.WithExplicitBucketBoundaries(buckets.Lateness()...))
	err = errors.Join(err, e)
	i.fireLateness, e = m.Float64Histogram("herald.fire.lateness", metric.WithUnit("s"),
		metric.WithDescription("Time from a schedule's tick to its run being committed by this node, one per tick."),
		metric.WithExplicitBucketBoundaries(buckets.Lateness()...))
	err = errors.Join(err, e)
	i.deliveries, e = m.Int64Counter("herald.deliveries", metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts made by this node, by channel and outcome."))
	err = errors.Join(err, e)
	i.deliveryTime, e = m.Float64Histogram("herald.delivery.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the delivery attempts made by this node, by channel."),
		metric.WithExplicitBucketBoundaries(buckets.Duration()...))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return &i, nil
}

// observe records ob in the instruments.
func (i *instruments) observe(ob scheduler.Observation) {
	ctx := context.Background()
	switch ob := ob.(type) {
	case *scheduler.RunClaimObserved:
		i.claimLateness.Record(ctx, ob.Lateness.Seconds())
	case *scheduler.AttemptObserved:
		i.attempts.Add(ctx, 1, i.attrs(attrKey{keyAgent, keyOutcome, ob.Run.Agent, string(ob.Outcome)}))
	case *scheduler.RunEndObserved:
		i.runsEnded.Add(ctx, 1, i.attrs(attrKey{keyAgent, keyRunStatus, ob.Run.Agent, string(ob.Status)}))
		i.runDuration.Record(ctx, ob.Duration.Seconds(), i.attrs(attrKey{ka: keyAgent, a: ob.Run.Agent}))
	case *scheduler.TicksObserved:
		late := ob.Lateness.Seconds()
		for range ob.Count {
			i.fireLateness.Record(ctx, late)
		}
	case *scheduler.DeliveryObserved:
		i.deliveries.Add(ctx, 1, i.attrs(attrKey{keyChannel, keyDeliveryStatus, ob.Channel, string(ob.Status)}))
		i.deliveryTime.Record(ctx, ob.Duration.Seconds(), i.attrs(attrKey{ka: keyChannel, a: ob.Channel}))
	}
}
