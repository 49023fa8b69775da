package store

import (
	"context"
	"encoding/json"
	"time"
)

// RunStatus is where a run is in its life.
//
//	queued → running → succeeded | failed | cancelled | timed_out
//	running → queued (a retry, a rescue or a release)
//	queued → cancelled
//	skipped (a tick the overlap policy dropped; terminal from the start)
type RunStatus string

// Run statuses.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
	RunTimedOut  RunStatus = "timed_out"
	RunSkipped   RunStatus = "skipped"
)

// Terminal reports whether s is a final status.
func (s RunStatus) Terminal() bool {
	switch s {
	case RunSucceeded, RunFailed, RunCancelled, RunTimedOut, RunSkipped:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s RunStatus) Valid() bool { return s == RunQueued || s == RunRunning || s.Terminal() }

// RunKind says how a run came to be.
type RunKind string

// Run kinds.
const (
	// RunKindSchedule is a schedule's tick, keyed by (ScheduleID, ScheduledFor).
	RunKindSchedule RunKind = "schedule"
	// RunKindManual is a "run now" of a schedule.
	RunKindManual RunKind = "manual"
	// RunKindWebhook is the run of a webhook event.
	RunKindWebhook RunKind = "webhook"
	// RunKindEnqueue is ad hoc work enqueued by code.
	RunKindEnqueue RunKind = "enqueue"
)

// Run is one execution of an agent, with its whole history: who, what, when,
// how long, what it produced, why it failed.
type Run struct {
	// ID is a UUIDv7 string.
	ID string
	// Kind says how the run came to be.
	Kind RunKind
	// ScheduleID names the schedule of a schedule or manual run.
	ScheduleID string
	// ScheduledFor is the tick of a schedule run.
	ScheduledFor time.Time
	// EventID names the webhook event of a webhook run.
	EventID string
	// Owner owns the run.
	Owner string
	// Agent names the agent that runs it.
	Agent string
	// Payload is the JSON handed to the agent.
	Payload json.RawMessage
	// Targets receive the result, beside the schedule's own.
	Targets []Target
	// IdempotencyKey is the caller's key of an ad hoc run, unique per owner.
	IdempotencyKey string
	// Status is where the run is.
	Status RunStatus
	// Held marks a queued run that waits for an earlier run of its schedule
	// to end (overlap policies buffer_one, buffer_all and cancel_other). A
	// held run is not claimed.
	Held bool
	// Attempt is the 1-based number of the current (or next) attempt.
	Attempt int
	// MaxAttempts bounds Attempt.
	MaxAttempts int
	// Timeout bounds one attempt; zero means the scheduler's default.
	Timeout time.Duration
	// RunAt is when the run becomes due.
	RunAt time.Time
	// LeaseOwner is the node running it, while running.
	LeaseOwner string
	// LeaseExpiresAt is when the lease lapses unless extended.
	LeaseExpiresAt time.Time
	// CancelRequested is set when cancellation of a running run was asked
	// for; the node running it is expected to stop it.
	CancelRequested bool
	// CancelReason is the reason of that request. It becomes the run's
	// Error when the run ends cancelled: when its node stops it
	// (RunFinish) or gives it back (RunRequeue), or when its lease expires
	// (RunRescue).
	CancelReason string
	// Output is the agent's structured result.
	Output json.RawMessage
	// Summary is the agent's readable result.
	Summary string
	// Progress holds the agent's progress counters.
	Progress map[string]int64
	// Error is the last error (of the final attempt, once finished).
	Error string
	// CreatedAt is when the run was enqueued: when the write of it began.
	// A schedule's tick may be written (staged) shortly before its time
	// and committed at it (StagedEnqueuer): its CreatedAt is then up to
	// the staging lead before ScheduledFor, and no one saw the run before
	// ScheduledFor. The time a run became due is RunAt.
	CreatedAt time.Time
	// StartedAt is when the current (or last) attempt started.
	StartedAt time.Time
	// FinishedAt is when the run reached a terminal status.
	FinishedAt time.Time
	// TraceContext is the trace context of the enqueue that asked for the
	// run, as propagation fields (the W3C Trace Context headers
	// "traceparent" and "tracestate", or whatever the tracer's propagator
	// writes), so that the run's execution, on whichever node, joins the
	// trace that asked for it. Nil when the run was enqueued outside a
	// trace. The store keeps it as it was written, and it holds nothing
	// else: never a payload, a secret or a token. See TraceContextMax.
	TraceContext map[string]string
	// DeliverAfter, when set, says that the run's result is still to be
	// delivered: the node that ended the run delivers it and clears
	// DeliverAfter (DeliveryOutbox.RunDelivered); from DeliverAfter on, any
	// node may take the delivery over (DeliveryOutbox.RunDeliveryClaim), so
	// that a node's crash loses no delivery.
	DeliverAfter time.Time
}

// RunEnqueueParams asks for one run.
type RunEnqueueParams struct {
	// Kind says how the run came to be. Empty means RunKindSchedule when
	// ScheduledFor is set, else RunKindManual when ScheduleID is set, else
	// RunKindEnqueue. RunKindWebhook is set by EventAccept only.
	Kind RunKind
	// ScheduleID names the schedule; the schedule must exist, and its
	// overlap policy applies. Required for kinds schedule and manual.
	ScheduleID string
	// ScheduledFor is the tick: (ScheduleID, ScheduledFor) is unique, so a
	// tick enqueued twice (by two nodes) yields one run. Required for kind
	// schedule, refused for the others.
	ScheduledFor time.Time
	// Owner owns the run. Required.
	Owner string
	// Agent names the agent. Required.
	Agent string
	// Payload is the JSON handed to the agent; empty or valid JSON, within
	// the store's payload limit.
	Payload json.RawMessage
	// Targets receive the result.
	Targets []Target
	// IdempotencyKey, when set, makes the enqueue idempotent per owner: a
	// second enqueue with the same (Owner, IdempotencyKey) returns the first
	// run with Duplicate set. At most 200 bytes.
	IdempotencyKey string
	// RunAt is when the run becomes due; zero means now, and for a tick its
	// ScheduledFor.
	RunAt time.Time
	// MaxAttempts bounds the attempts; zero means 1. Not negative.
	MaxAttempts int
	// Timeout bounds one attempt; zero means the scheduler's default. Not
	// negative.
	Timeout time.Duration
	// TraceContext is the trace context to keep with the run (see
	// Run.TraceContext); nil for none. Its keys and values together are at
	// most TraceContextMax bytes, in at most TraceContextFieldsMax fields.
	TraceContext map[string]string
	// NextRunAt, for a tick, is the schedule's next fire time after
	// ScheduledFor: when the tick advances the schedule's LastFiredAt, the
	// schedule's NextRunAt is set to it in the same transaction. Zero
	// leaves NextRunAt as it is. Refused for the other kinds.
	NextRunAt time.Time
}

// EnqueueResult is the outcome of one RunEnqueueParams.
type EnqueueResult struct {
	// Run is the run inserted, or the one that was already there.
	Run *Run
	// Duplicate is set when the tick or idempotency key was already taken;
	// Run is then the original run and nothing was written.
	Duplicate bool
}

// RunListParams selects runs for RunList.
type RunListParams struct {
	// Owner, when set, keeps that owner's runs only.
	Owner string
	// ScheduleID, when set, keeps that schedule's runs only.
	ScheduleID string
	// Statuses, when set, keeps runs in one of these statuses only.
	Statuses []RunStatus
	// Agent, when set, keeps that agent's runs only.
	Agent string
	// Kinds, when set, keeps runs of one of these kinds only.
	Kinds []RunKind
	// CreatedFrom (inclusive) and CreatedTo (exclusive), when set, bound
	// CreatedAt.
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
	// Limit caps the page size: zero means ListLimitDefault, and it is at
	// most ListLimitMax.
	Limit int
}

// RunPage is one page of runs, newest first (descending ID).
type RunPage struct {
	Runs []*Run
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// RunClaimParams asks for due runs.
type RunClaimParams struct {
	// Node names the claiming node; it becomes the runs' LeaseOwner.
	// Required.
	Node string
	// Limit is the most runs to claim; at least 1.
	Limit int
	// Lease is how long the lease lasts before it must be extended; positive.
	Lease time.Duration
}

// RunExtendLeaseParams extends the leases of runs a node holds.
type RunExtendLeaseParams struct {
	// Node is the lease owner. Required.
	Node string
	// IDs are the runs to extend.
	IDs []string
	// Lease is the new lease length from now; positive.
	Lease time.Duration
}

// RunLease is an extended lease.
type RunLease struct {
	ID string
	// LeaseExpiresAt is the lease's new expiry. It is zero when the run is
	// still held but its lease was not extended this time, because
	// another transaction was writing the run at that moment (a store may
	// skip such a run rather than wait for it): the lease is as it was.
	LeaseExpiresAt time.Time
	// CancelRequested tells the node that the run should be cancelled.
	CancelRequested bool
}

// RunProgressParams records progress counters of a running run.
type RunProgressParams struct {
	ID   string
	Node string
	// Progress replaces the run's counters.
	Progress map[string]int64
}

// RunFinishParams ends a running run.
type RunFinishParams struct {
	// ID is the run; Node must hold its lease.
	ID   string
	Node string
	// Status is succeeded, failed, cancelled or timed_out.
	Status RunStatus
	// Output, Summary, Progress and Error are recorded on the run. Output is
	// empty or valid JSON within the payload limit. A nil Progress keeps the
	// run's counters.
	Output   json.RawMessage
	Summary  string
	Progress map[string]int64
	Error    string
	// Targets, when set, replace the run's delivery targets (the scheduler
	// adds those the agent's result names to the run's own).
	Targets []Target
	// DeliverAfter, when set, becomes the run's DeliverAfter: its result is
	// to be delivered. Stores without a DeliveryOutbox ignore it.
	DeliverAfter time.Time
}

// RunRequeueParams puts a running run back in the queue: a retry after a
// failed attempt, or a release of work a stopping node could not finish.
type RunRequeueParams struct {
	// ID is the run; Node must hold its lease.
	ID   string
	Node string
	// RunAt and Delay say when the run is due again: Delay after RunAt, or
	// Delay after now on the store's clock when RunAt is zero. A retry's
	// backoff is a Delay, so that it is waited out on the clock that
	// claims compare with, whatever the node's own clock says. Delay is
	// not negative.
	RunAt time.Time
	Delay time.Duration
	// Error records why (the failed attempt's error); empty keeps the last.
	Error string
	// NextAttempt counts the attempt: a retry sets it (Attempt + 1), a
	// release leaves the attempt number as it was.
	NextAttempt bool
	// DeliverAfter, when set, becomes the DeliverAfter of the run if the
	// requeue ends it (its cancellation was requested) and it has targets.
	// Stores without a DeliveryOutbox ignore it.
	DeliverAfter time.Time
}

// RunRescueParams asks for runs whose lease expired.
type RunRescueParams struct {
	// Limit is the most runs to rescue; zero means ListLimitMax.
	Limit int
	// DeliverAfter, when set, becomes the DeliverAfter of each rescued run
	// that ends (failed or cancelled) and has targets. Stores without a
	// DeliveryOutbox ignore it.
	DeliverAfter time.Time
}

// RunCancelParams asks for a run's cancellation.
type RunCancelParams struct {
	ID string
	// Reason is recorded as the run's error; empty means "cancelled". A
	// queued run gets it at once; a running run keeps it as CancelReason
	// until it ends cancelled. A second request of a running run keeps the
	// first reason.
	Reason string
}

// RunDeleteFinishedParams prunes the history.
type RunDeleteFinishedParams struct {
	// OlderThan: runs that finished longer ago than this are deleted, with
	// their deliveries. Positive.
	OlderThan time.Duration
	// Limit is the most runs to delete; zero means no limit.
	Limit int
}

// RunDeliveryClaimParams asks for runs whose deliveries another node may
// take over.
type RunDeliveryClaimParams struct {
	// Until becomes the DeliverAfter of each run taken: no other claimer
	// takes it before then. It must be in the future.
	Until time.Time
	// Limit is the most runs to take; at least 1, at most ListLimitMax.
	Limit int
}

// RunDeliveryExtendParams keeps deliveries under way from being taken over.
type RunDeliveryExtendParams struct {
	// IDs are the runs; those without a DeliverAfter are left alone. At
	// most ListLimitMax.
	IDs []string
	// Until becomes their DeliverAfter. It must be in the future.
	Until time.Time
}

// DeliveryOutbox keeps the runs whose results are still to be delivered
// (Run.DeliverAfter), so that a node's crash between a run's end and its
// deliveries loses none. RunFinish, RunRequeue and RunRescue record
// DeliverAfter when asked to; the scheduler clears it once every delivery
// of the run is done or has failed for good, and takes over, after
// DeliverAfter, the runs of nodes that never did.
type DeliveryOutbox interface {
	// RunDelivered clears the run's DeliverAfter. A run that does not
	// exist is ErrNotFound.
	RunDelivered(ctx context.Context, id string) error
	// RunDeliveryClaim takes up to Limit runs whose DeliverAfter is not
	// after the store's clock (those due longest first), sets their
	// DeliverAfter to Until and returns them. Concurrent claimers never
	// take the same run.
	RunDeliveryClaim(ctx context.Context, params *RunDeliveryClaimParams) ([]*Run, error)
	// RunDeliveryExtend moves the DeliverAfter of the runs named that
	// have one to Until: the node making their deliveries calls it while
	// they are under way, so that no other node takes them over.
	RunDeliveryExtend(ctx context.Context, params *RunDeliveryExtendParams) error
}

// StagedEnqueuer writes runs before the moment they are for and commits
// them at that moment. The scheduler writes the ticks of a moment shortly
// before it, so that they are there when it comes, not once the time it
// takes to write them has passed.
type StagedEnqueuer interface {
	// RunEnqueueStaged is RunEnqueue, except that once the runs are
	// written the transaction calls release and waits for it before it
	// commits: nil commits the runs, an error rolls them back and is
	// returned. Until then nothing of the call is visible. A database
	// store holds the transaction open meanwhile: the schedules named are
	// locked against other writers, and with one writer (SQLite) every
	// other write waits. CreatedAt is the time the write began. It
	// returns once the runs are committed; the schedules' LastFiredAt may
	// follow in a write of their own after it returned.
	//
	// With claim set, the runs commit claimed, as one RunClaim for claim
	// would claim them at the commit: up to claim.Limit of the ticks
	// written (kind schedule), in the order of params, that are due by
	// their tick (RunAt not after ScheduledFor: a staged call is made for
	// the moment of its ticks) and free to start (neither skipped nor held
	// by their schedule's overlap policy, nor cancelled by a later tick of
	// the call). Their results' runs are running, leased to claim.Node for
	// claim.Lease from a time no later than the commit, with StartedAt
	// their RunAt. The node that wrote the ticks starts them the moment
	// they commit, without a claim after it; it reserves claim.Limit
	// workers for them meanwhile. Runs of other kinds, and ticks past the
	// limit, commit queued, as may a tick that, claimed, would start before
	// its RunAt on the store's clock (a node whose clock runs ahead of the
	// database's). A nil claim claims nothing.
	RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *RunClaimParams, params ...*RunEnqueueParams) ([]*EnqueueResult, error)
}

// RunStore keeps runs and moves them through their life. Every transition
// is one conditional write: two nodes never both finish one run.
//
// Whose clock. Every "now" of a run's life is read from one clock that
// every node shares, so that nodes whose clocks disagree cannot take each
// other's runs: a run's default RunAt, a claim's due-time comparison and
// its StartedAt, a lease's expiry (claim, RunExtendLease), a rescue's
// comparison and stamps, a requeue's Delay, a finish's FinishedAt and
// the due-time comparison of RunDeliveryClaim. A store shared by several
// machines reads the database's clock for them (PostgreSQL's now()); a
// store on one machine reads the process's. A clock injected into the
// store wins over both, so that tests can move it. Instants that the
// caller passes (RunAt, DeliverAfter, Until) are taken as they are.
// Record stamps that no node compares (CreatedAt of runs, events and
// schedules, a queued run's FinishedAt when it is cancelled or skipped)
// come from the store's process.
type RunStore interface {
	// RunEnqueue validates and inserts runs, all in one transaction: an
	// invalid entry fails the whole call, naming its index, and nothing is
	// written. Each run that names a schedule is subject to the schedule's
	// overlap policy in that transaction; a tick also advances the
	// schedule's LastFiredAt. When claimable runs appear (due now or later)
	// it publishes TopicRunDue. The results are in the order of params.
	RunEnqueue(ctx context.Context, params ...*RunEnqueueParams) ([]*EnqueueResult, error)
	// RunGet returns the run, or ErrNotFound.
	RunGet(ctx context.Context, id string) (*Run, error)
	// RunList returns one page of runs.
	RunList(ctx context.Context, params *RunListParams) (*RunPage, error)
	// RunClaim sets up to Limit due runs (queued, not held, RunAt not after
	// now) running under a lease of Node, oldest RunAt first, and returns
	// them. Concurrent claimers never claim the same run. Claiming does not
	// change Attempt. A run that becomes due behind runs already claimed
	// (its enqueue committed late) may be passed over until the store hears
	// of it, for a second at most.
	RunClaim(ctx context.Context, params *RunClaimParams) ([]*Run, error)
	// RunExtendLease extends the leases Node still holds and returns them;
	// runs missing from the result are no longer held.
	RunExtendLease(ctx context.Context, params *RunExtendLeaseParams) ([]*RunLease, error)
	// RunProgress records progress counters, or returns ErrLeaseLost.
	RunProgress(ctx context.Context, params *RunProgressParams) error
	// RunFinish ends running runs. Each entry is applied on its own: the
	// result holds the finished runs in the order given, nil where the entry
	// was refused, and a refusal makes the error a *LeaseLostError listing
	// the refused runs (which are left as they were); a run that does not
	// exist is refused like one not held. Invalid input fails the whole call
	// and writes nothing. A run that ends cancelled takes its CancelReason,
	// when it has one, as its Error. A finished run releases the next held
	// run of its schedule.
	RunFinish(ctx context.Context, params ...*RunFinishParams) ([]*Run, error)
	// RunRequeue puts running runs back to queued, clearing the lease. A
	// run whose cancellation was requested is not run again: it ends
	// cancelled, with its CancelReason as its Error, its DeliverAfter as
	// the entry asks, and it releases the next held run of its schedule.
	// Results and refusals are as for RunFinish.
	RunRequeue(ctx context.Context, params ...*RunRequeueParams) ([]*Run, error)
	// RunRescue finds running runs whose lease expired: each goes back to
	// queued with Attempt + 1, or to failed when Attempt has reached
	// MaxAttempts (or when its cancellation was requested, to cancelled). It
	// returns the runs it rescued. It also releases held runs whose
	// schedule has nothing running or claimable (a release lost to a crash),
	// without returning them.
	RunRescue(ctx context.Context, params *RunRescueParams) ([]*Run, error)
	// RunCancel cancels a queued run at once and marks a running run
	// CancelRequested (publishing TopicRunCancel for the node running it). A
	// run that already ended is ErrConflict; a missing run ErrNotFound.
	RunCancel(ctx context.Context, params *RunCancelParams) (*Run, error)
	// RunNextDue returns the earliest RunAt of the claimable queued runs, or
	// ErrNotFound when there are none.
	RunNextDue(ctx context.Context) (time.Time, error)
	// RunDeleteFinished deletes runs that ended long enough ago, with their
	// deliveries, and returns how many; a run whose deliveries are still to
	// be made (a DeliverAfter) stays. Their ticks and idempotency keys are
	// free again; webhook events stay (a redelivery is still a duplicate,
	// with no run).
	RunDeleteFinished(ctx context.Context, params *RunDeleteFinishedParams) (int, error)
}

// Bounds of a run's trace context (RunEnqueueParams.TraceContext). A W3C
// traceparent is 55 bytes and a tracestate at most 32 members of about 256
// bytes each in theory, 512 bytes in practice.
const (
	// TraceContextMax bounds the bytes of a trace context's keys and
	// values together.
	TraceContextMax = 2048
	// TraceContextFieldsMax bounds the fields of a trace context.
	TraceContextFieldsMax = 8
)
