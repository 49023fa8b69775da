package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/delivery"
)

// Agent does the work of a run. Implementations must honour ctx
// cancellation: when ctx is done, Run returns promptly with an error that
// matches ctx.Err() (or wraps it). Run is called concurrently by many runs
// and must not modify the Task. A nil Result with a nil error counts as an
// empty Result.
type Agent interface {
	Run(ctx context.Context, task *Task) (*Result, error)
}

// Func adapts a function to Agent.
type Func func(ctx context.Context, task *Task) (*Result, error)

// Run calls f(ctx, task).
func (f Func) Run(ctx context.Context, task *Task) (*Result, error) { return f(ctx, task) }

// RunKind says how the run came to be; the values equal the store's run
// kinds.
type RunKind string

// Run kinds.
const (
	// RunKindSchedule is a schedule's tick; Task.ScheduledFor is the tick.
	RunKindSchedule RunKind = "schedule"
	// RunKindManual is a "run now" of a schedule.
	RunKindManual RunKind = "manual"
	// RunKindWebhook is the run of a webhook event; Task.Event is set.
	RunKindWebhook RunKind = "webhook"
	// RunKindEnqueue is ad hoc work enqueued by code.
	RunKindEnqueue RunKind = "enqueue"
)

// Task is one attempt of a run, as the scheduler hands it to an agent.
type Task struct {
	// RunID identifies the run; it is the same for every attempt.
	RunID string
	// Owner owns the run.
	Owner string
	// Agent is the agent's registered name.
	Agent string
	// ScheduleID names the schedule; set for schedule and manual runs.
	ScheduleID string
	// Payload is the run's JSON input; it may be empty.
	Payload json.RawMessage
	// Kind says how the run came to be.
	Kind RunKind
	// ScheduledFor is the tick of a schedule run, zero otherwise.
	ScheduledFor time.Time
	// Attempt is the 1-based number of this attempt.
	Attempt int
	// MaxAttempts bounds Attempt: the attempt with Attempt == MaxAttempts
	// is the last.
	MaxAttempts int
	// Event is the webhook delivery that started the run; set for webhook
	// runs only.
	Event *Event
	// Progress records the run's progress counters. It is never nil when
	// the scheduler builds a Task; agents call it as they go.
	Progress Reporter
}

// Event is the webhook delivery that started a run.
type Event struct {
	// ID identifies the event in the run history.
	ID string
	// Source is the webhook source's name.
	Source string
	// DeliveryID is the sender's identifier of the delivery.
	DeliveryID string
	// Headers are the request headers the source chose to keep.
	Headers map[string][]string
	// Body is the raw, verified request body.
	Body []byte
	// ReceivedAt is when the delivery was accepted.
	ReceivedAt time.Time
}

// Reporter records a running task's progress counters. Each call replaces
// the counters of the previous one, so an agent passes all of its counters
// every time (as in {"channels_processed": 3, "messages_collected": 1200}).
// Report may fail when the run is no longer held by this node; the agent
// should then stop, since the run will end without it.
type Reporter interface {
	Report(ctx context.Context, counters map[string]int64) error
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(ctx context.Context, counters map[string]int64) error

// Report calls f(ctx, counters).
func (f ReporterFunc) Report(ctx context.Context, counters map[string]int64) error {
	return f(ctx, counters)
}

// Result is what a successful attempt produced.
type Result struct {
	// Output is the structured result: empty or valid JSON.
	Output json.RawMessage
	// Summary is the readable result, delivered as the message text.
	Summary string
	// Targets are extra delivery targets for this run, beside the
	// schedule's own.
	Targets []delivery.Target
}
