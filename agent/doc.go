// Package agent is Herald's contract for the code that does the work of a
// run: the Agent interface, the Task it is given and the Result it returns,
// the Registry that maps explicit names to agents, and the error wrappers
// that tell the scheduler whether and when a failed attempt is retried.
//
// Import it to write an agent, to register agents with the scheduler, or to
// carry agents across a process boundary. It imports nothing from the rest
// of Herald, so an agent depends on this package alone; the scheduler
// imports it, never the other way round. Every implementation should pass
// the conformance suite in agent/agenttest.
//
// # Writing an agent
//
// An agent is one method, Run(ctx, *Task) (*Result, error); Func adapts a
// plain function. The scheduler calls Run once per attempt, from many runs
// at once, so Run must be safe for concurrent use. Run must return soon
// after ctx is done (the run was cancelled, timed out, or its node is
// shutting down), with an error that matches ctx.Err(). While it works, an
// agent may record progress counters with Task.Progress.
//
// # Errors and retries
//
// An error from Run fails the attempt. The scheduler retries it, with
// backoff, until Task.MaxAttempts is reached, unless the error says
// otherwise: wrap it with Permanent when retrying cannot help (the payload is
// malformed, the input is refused), or with RetryAfter when the other side
// asked to wait (a rate limit). Both wrappers keep the wrapped error's text
// and identity, and survive further wrapping with fmt.Errorf and %w. An
// error marked both ways is not retried.
package agent
