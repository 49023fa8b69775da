package scheduler

import (
	"context"
	"time"

	"github.com/heraldhq/herald/store"
)

// Observer is told what the engine does, for metrics and traces: the
// engine stays free of any metrics library, and a package such as
// github.com/heraldhq/herald/metrics turns observations into series.
// Observe is called synchronously on the engine's goroutines, never under
// one of the engine's locks: it must be quick, must not block, and must be
// safe for concurrent use. It must not keep or change what it is handed:
// an observation is a pointer into the engine's own record of the work
// (so that observing costs no allocation), valid only until Observe
// returns; an observer that needs one later keeps a copy (*o), and the
// *store.Run of an observation is shared with the engine.
//
// Observer grows by new Observation types, never by new methods: an
// observer ignores the types it does not know.
//
// Every time and duration of an observation is read on the engine's clock
// (the store's Clock): with a fake clock in tests, they are as deterministic as
// the clock.
type Observer interface {
	Observe(o Observation)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(o Observation)

// Observe implements Observer.
func (f ObserverFunc) Observe(o Observation) { f(o) }

// Tracer is an optional capability of an Observer, found with a type
// assertion on Config.Observer: an Observer that is also a Tracer follows
// the engine's work in traces (github.com/heraldhq/herald/otelherald is one,
// for OpenTelemetry). The engine itself imports no tracing library.
//
// Start is told that the engine begins a piece of work (one of the *Work
// types of this package) under ctx, and returns the context the work runs
// under: the agent's context for an attempt, the deliverer's for a
// delivery, the store call's for an enqueue. The work's end is observed
// (AttemptObserved, DeliveryObserved, EnqueueObserved) with that context
// in the observation's Context field, so that the tracer ends what Start
// began. Like Observe, Start must be quick, must not block, and must be
// safe for concurrent use.
//
// TraceContext returns the trace context carried by ctx as propagation
// fields (W3C "traceparent" and "tracestate"), which the engine stores
// with a run enqueued under ctx (store.Run.TraceContext) and hands to
// deliverers (delivery.WithTraceContext); nil when ctx carries none. It
// must never return anything but propagation fields: they are stored and
// sent as they are.
type Tracer interface {
	Start(ctx context.Context, w Work) context.Context
	TraceContext(ctx context.Context) map[string]string
}

// Work is a piece of the engine's work that a Tracer is told of: one of
// EnqueueWork, AttemptWork, DeliveryWork.
type Work interface {
	work()
}

// EnqueueWork: the engine is about to write a run (an Enqueue, a "run
// now", a webhook's run, a schedule's tick) under the context Start
// returns, and stores that context's trace context with the run. Its end
// is an EnqueueObserved.
type EnqueueWork struct {
	// Kind says how the run comes to be; RunKindSchedule is the fire of a
	// schedule's tick.
	Kind store.RunKind
	// Agent names the run's agent.
	Agent string
	// ScheduleID names the schedule of a tick or a "run now"; empty for
	// the other kinds.
	ScheduleID string
	// ScheduledFor is a tick's time; zero for the other kinds.
	ScheduledFor time.Time
	// Source names the webhook source of a webhook's run.
	Source string
}

// AttemptWork: this node is about to make an attempt of a claimed run.
// The agent runs under the context Start returns. Its end is the
// attempt's AttemptObserved.
type AttemptWork struct {
	// Run is the run as claimed, with its stored TraceContext (the
	// enqueue's): the attempt belongs to that trace.
	Run *store.Run
	// Node is this node's name.
	Node string
	// ClaimTook is how long the claim that gave this node the run took
	// (the store call, for the whole batch it claimed).
	ClaimTook time.Duration
}

// DeliveryWork: this node is about to make a delivery attempt of a run's
// result to one target. The deliverer runs under the context Start
// returns (with its trace context set by delivery.WithTraceContext, so
// that an HTTP deliverer sends it on). Its end is the attempt's
// DeliveryObserved.
type DeliveryWork struct {
	// Run is the run whose result is delivered, with its stored
	// TraceContext.
	Run *store.Run
	// Channel is the target's delivery channel.
	Channel string
	// Attempt is the 1-based number of the attempt for this target.
	Attempt int
}

func (EnqueueWork) work()  {}
func (AttemptWork) work()  {}
func (DeliveryWork) work() {}

// Observation is one thing the engine did: a pointer to one of the
// *Observed types of this package (*RunClaimObserved, *AttemptObserved,
// *RunEndObserved, *TicksObserved, *DeliveryObserved, *EnqueueObserved),
// valid only during Observe (see Observer).
type Observation interface {
	observation()
}

// RunClaimObserved: this node claimed a run and is about to execute it.
// It is observed on the run's worker goroutine, before the attempt starts.
type RunClaimObserved struct {
	// Run is the run as claimed: status running, with its Agent, Kind,
	// Owner, ID, Attempt and RunAt.
	Run *store.Run
	// ClaimedAt is when the claim returned, on the engine's clock.
	ClaimedAt time.Time
	// Lateness is ClaimedAt minus the run's RunAt (when it became due),
	// zero when that is negative (the store's clock, which decides what is
	// due, may run ahead of the engine's).
	Lateness time.Duration
	// ClaimTook is how long the claim that took the run (with the others
	// of its batch) took, on the engine's clock.
	ClaimTook time.Duration
	// Node is this node's name.
	Node string
}

// AttemptOutcome is how an attempt of a run ended.
type AttemptOutcome string

// Attempt outcomes.
const (
	// AttemptSucceeded: the agent returned a result; the run succeeded.
	AttemptSucceeded AttemptOutcome = "succeeded"
	// AttemptFailed: the agent failed (or panicked, or is not registered,
	// or its result was refused) and the run will not be tried again.
	AttemptFailed AttemptOutcome = "failed"
	// AttemptRetry: the agent failed and the run is queued for another
	// attempt.
	AttemptRetry AttemptOutcome = "retry"
	// AttemptTimedOut: the attempt ran out of time; the run ended timed_out.
	AttemptTimedOut AttemptOutcome = "timed_out"
	// AttemptCancelled: the run's cancellation was asked for during the
	// attempt; the run ended cancelled.
	AttemptCancelled AttemptOutcome = "cancelled"
	// AttemptLeaseLost: this node lost the run's lease (it was not extended
	// in time, or the store refused the outcome): the attempt's outcome was
	// dropped, and the run is another node's to rescue or to run.
	AttemptLeaseLost AttemptOutcome = "lease_lost"
	// AttemptReleased: the node stopped during the attempt and gave the run
	// back to the queue, with the same attempt number.
	AttemptReleased AttemptOutcome = "released"
)

// AttemptObserved: an attempt of a run ended on this node. It is observed
// once its outcome is recorded in the store (or could not be), on the
// goroutine that records outcomes; for a lost lease, on the run's worker
// goroutine. The outcome is the one the store recorded: a retry of a run
// whose cancellation was asked for meanwhile is AttemptCancelled. An
// outcome the store could not record (it stayed unavailable) is reported
// as the engine decided it; the run's lease then expires and it is
// rescued.
type AttemptObserved struct {
	// Run is the run as claimed for this attempt.
	Run *store.Run
	// Attempt is the 1-based number of the attempt.
	Attempt int
	// Outcome is how the attempt ended.
	Outcome AttemptOutcome
	// Duration is the time from the worker taking the run up to the
	// attempt's end (the agent returned, or the attempt's context ended and
	// the agent returned or was abandoned), on the engine's clock; the
	// recording of the outcome is not included.
	Duration time.Duration
	// Context is the context the attempt ran under: the one a Tracer's
	// Start returned for its AttemptWork, or, without a Tracer, one that
	// carries nothing. It may be cancelled by now; use it for its values.
	Context context.Context
}

// RunEndObserved: a run ended for good, in the store. A run executing on
// this node is observed on the goroutine that records outcomes, after its
// AttemptObserved; a queued run cancelled through CancelRun, by the node
// that cancels it, with no duration. Runs that end without an attempt in
// other ways (a tick skipped by its overlap policy, a run whose lease
// expired rescued into a final status) are not observed.
type RunEndObserved struct {
	// Run is the run as recorded, with its final Status and FinishedAt.
	Run *store.Run
	// Status is Run.Status: succeeded, failed, cancelled or timed_out.
	Status store.RunStatus
	// Attempts is the number of the last attempt (Run.Attempt).
	Attempts int
	// Duration is the last attempt's duration, as in AttemptObserved: the
	// engine cannot see the earlier attempts, which may have run on other
	// nodes. The backoff between attempts is not included.
	Duration time.Duration
}

// TicksObserved: this node wrote schedule ticks as runs, and the store
// committed them. Ticks another node had already written (duplicates) are
// not counted. One observation covers the ticks of one write that share a
// tick time: a batch of ticks due at one moment is one observation, and
// missed ticks caught up by a misfire policy come one per tick time.
type TicksObserved struct {
	// ScheduledFor is the tick time of the runs written.
	ScheduledFor time.Time
	// Count is the number of runs written for that tick (one per schedule).
	Count int
	// CommittedAt is when the write returned, committed, on the engine's
	// clock.
	CommittedAt time.Time
	// Lateness is CommittedAt minus ScheduledFor, zero when that is
	// negative. A schedule's jitter is not included: it delays the run's
	// RunAt, not its writing.
	Lateness time.Duration
}

// DeliveryObserved: this node made a delivery attempt of a run's result to
// one target, and recorded it. A delivery given up before its first
// attempt because the node stopped is left to another node through the
// store's delivery outbox and not observed; one of a run not in the outbox
// (no DeliverAfter) is recorded as failed and observed so too, with a zero
// Duration.
type DeliveryObserved struct {
	// Run is the run whose result was delivered.
	Run *store.Run
	// Channel is the target's delivery channel, as registered in the
	// delivery.Router.
	Channel string
	// Attempt is the 1-based number of the attempt for this target.
	Attempt int
	// Status is the attempt's outcome as recorded: succeeded, retrying
	// (another attempt follows, here or, after a stop, on another node) or
	// failed (for good).
	Status store.DeliveryStatus
	// Duration is how long the deliverer took, on the engine's clock.
	Duration time.Duration
	// Context is the context the deliverer ran under: the one a Tracer's
	// Start returned for its DeliveryWork, or, without a Tracer (and for a
	// delivery given up before its attempt, which had no DeliveryWork),
	// one that carries nothing of the Tracer's. Use it for its values.
	Context context.Context
}

// EnqueueObserved: this node wrote (or tried to write) a run: an
// Enqueue, a "run now", a webhook's run, a schedule's tick. It is observed
// on the writer's goroutine once the store answered, only when the
// Observer is a Tracer (it ends the EnqueueWork that Start began).
type EnqueueObserved struct {
	// Work is what Start was told.
	Work EnqueueWork
	// Run is the run written, or the one already there (Duplicate); nil
	// when the write failed.
	Run *store.Run
	// Duplicate says that the tick, idempotency key or webhook delivery
	// was already taken: nothing was written.
	Duplicate bool
	// Err is why the write failed; nil when it did not.
	Err error
	// Context is the context Start returned for Work.
	Context context.Context
}

func (*RunClaimObserved) observation() {}
func (*AttemptObserved) observation()  {}
func (*RunEndObserved) observation()   {}
func (*TicksObserved) observation()    {}
func (*DeliveryObserved) observation() {}
func (*EnqueueObserved) observation()  {}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) Observe(Observation) {}

// since is now minus t, zero when negative.
func since(now, t time.Time) time.Duration {
	return max(now.Sub(t), 0)
}

// attemptOutcome is the outcome of an attempt that left its run in
// status; release says that the engine gave the run back without counting
// the attempt (the node was stopping).
func attemptOutcome(status store.RunStatus, release bool) AttemptOutcome {
	switch status {
	case store.RunSucceeded:
		return AttemptSucceeded
	case store.RunFailed:
		return AttemptFailed
	case store.RunTimedOut:
		return AttemptTimedOut
	case store.RunCancelled:
		return AttemptCancelled
	}
	if release {
		return AttemptReleased
	}
	return AttemptRetry
}
