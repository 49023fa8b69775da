// Package delivery is Herald's contract for sending a run's result
// somewhere: the Deliverer interface, the Message it sends, the Router that
// maps channel names to deliverers, and the error wrappers that tell the
// scheduler whether and when a failed delivery is retried.
//
// Import it to write a deliverer (Slack, Teams, email, an HTTP callback), to
// register deliverers with the scheduler, or to carry deliverers across a
// process boundary. It imports nothing from the rest of Herald, so a
// deliverer depends on this package alone; the scheduler imports it, never
// the other way round. Every implementation should pass the conformance
// suite in delivery/deliverytest.
//
// # Writing a deliverer
//
// A deliverer is one method, Deliver(ctx, *Message) error; Func adapts a
// plain function. The scheduler calls Deliver once per attempt, for many
// runs at once, and owns the retries: it records each attempt, spaces
// them, bounds them and keeps them across restarts, so Deliver should make
// one attempt and return its error rather than retry within the call
// (retries there would be multiplied by the scheduler's, and unseen).
// Deliver must be safe for concurrent use and must not modify the
// Message. When ctx is done, Deliver returns promptly with an
// error that matches ctx.Err(). A delivery may be attempted more than once:
// receivers that can deduplicate should use Message.IdempotencyKey.
//
// # Errors and retries
//
// An error from Deliver fails the attempt. Errors are transient unless
// marked: wrap an error with Permanent when retrying cannot help (the
// address does not exist, the receiver refused the message for good), and
// with RetryAfter when the receiver asked to wait (an HTTP Retry-After). Both
// wrappers keep the wrapped error's text and identity, and survive further
// wrapping with fmt.Errorf and %w. A context error (context.Canceled,
// context.DeadlineExceeded) is always transient, even when marked Permanent:
// an attempt that was cut short says nothing about the next one.
package delivery
