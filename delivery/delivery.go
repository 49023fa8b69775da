package delivery

import (
	"context"
	"encoding/json"
)

// Deliverer sends a run's result to one target. Implementations honour ctx
// and classify errors: Permanent(err) when retrying cannot help, anything
// else is transient. Deliver is called concurrently and must not modify m.
type Deliverer interface {
	Deliver(ctx context.Context, m *Message) error
}

// Func adapts a function to Deliverer.
type Func func(ctx context.Context, m *Message) error

// Deliver calls f(ctx, m).
func (f Func) Deliver(ctx context.Context, m *Message) error { return f(ctx, m) }

// Target is where a run's result goes: a channel of the Router, an address
// within the channel, and which of the run's outcomes it receives. It is
// the one target type of every package: a schedule's and a run's
// (store.Target is this type), a webhook source's, the extra targets of an
// agent's result and a Message's.
type Target struct {
	// Channel names a deliverer in the Router ("slack", "email").
	Channel string `json:"channel"`
	// To is the address within the channel (a URL, an email address); some
	// channels need none.
	To string `json:"to,omitempty"`
	// On says which outcomes of a run the target receives; empty means
	// OnAlways (stores record it as such). The extra targets of an agent's
	// result receive its success.
	On On `json:"on,omitempty"`
}

// On says which run outcomes a target receives.
type On string

// The values of Target.On.
const (
	// OnAlways delivers every finished run (the default).
	OnAlways On = "always"
	// OnSuccess delivers succeeded runs only.
	OnSuccess On = "success"
	// OnFailure delivers runs that did not succeed.
	OnFailure On = "failure"
)

// The values of Message.Status: a run's final statuses, as the store names
// them.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
)

// Message is a run's result, addressed to one target.
type Message struct {
	// RunID identifies the run.
	RunID string
	// Owner owns the run.
	Owner string
	// Agent is the name of the agent that ran.
	Agent string
	// Status is the run's final status: StatusSucceeded, StatusFailed,
	// StatusCancelled or StatusTimedOut.
	Status string
	// Target is where the message goes.
	Target Target
	// Subject is a one-line title.
	Subject string
	// Text is the readable body: the agent's summary, or the error.
	Text string
	// Output is the agent's structured output: empty or valid JSON.
	Output json.RawMessage
	// Error is the run's error when it did not succeed.
	Error string
	// IdempotencyKey is stable for one run and target across retries;
	// receivers use it to deduplicate.
	IdempotencyKey string
}
