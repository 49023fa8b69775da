// Package overlap decides what a new run of a schedule does while earlier
// runs of that schedule are active. It is shared by Herald's stores so that
// every store applies the policies the same way.
package overlap

import "github.com/heraldhq/herald/store"

// Active counts a schedule's runs that are not finished.
type Active struct {
	// Running counts runs in status running.
	Running int
	// Queued counts queued runs that are not held.
	Queued int
	// Held counts queued runs waiting behind the others.
	Held int
}

// Busy reports whether a run of the schedule is running or claimable.
func (a Active) Busy() bool { return a.Running+a.Queued > 0 }

// Decision is what to do with the new run.
type Decision struct {
	// Skip records the run as skipped instead of queueing it.
	Skip bool
	// Held queues the run held, behind the active ones.
	Held bool
	// CancelOthers cancels every unfinished run of the schedule first: queued
	// ones at once, running ones by request.
	CancelOthers bool
}

// Decide applies policy to a new run given the schedule's active runs.
func Decide(policy store.OverlapPolicy, a Active) Decision {
	switch policy {
	case store.OverlapAllowAll:
		return Decision{}
	case store.OverlapBufferOne:
		switch {
		case a.Held > 0:
			return Decision{Skip: true}
		case a.Busy():
			return Decision{Held: true}
		}
		return Decision{}
	case store.OverlapBufferAll:
		return Decision{Held: a.Busy() || a.Held > 0}
	case store.OverlapCancelOther:
		return Decision{CancelOthers: a.Busy() || a.Held > 0, Held: a.Running > 0}
	default: // store.OverlapSkip and anything unknown
		return Decision{Skip: a.Busy() || a.Held > 0}
	}
}

// Apply updates a to account for a run queued by d (after its
// cancellations), so that the next run of the same schedule in one batch is
// decided on the state this one leaves.
func (d Decision) Apply(a Active) Active {
	if d.CancelOthers {
		a.Queued, a.Held = 0, 0 // running ones stay until they stop
	}
	switch {
	case d.Skip:
	case d.Held:
		a.Held++
	default:
		a.Queued++
	}
	return a
}

// SkipReason is the error recorded on a run the overlap policy skipped.
const SkipReason = "skipped: an earlier run of the schedule is still active (overlap policy)"

// CancelReason is the error recorded on a run cancelled by a newer run of
// its schedule under policy cancel_other.
const CancelReason = "cancelled: a newer run of the schedule replaced it (overlap policy cancel_other)"
