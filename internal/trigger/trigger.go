package trigger

import (
	"fmt"
	"time"
)

// minInterval is the shortest period of an interval or @every trigger.
const minInterval = time.Second

// The kinds of trigger, spelled as store.TriggerKind spells them.
const (
	KindCron     = "cron"
	KindInterval = "interval"
	KindOnce     = "once"
)

// Spec is a trigger's spec: the fields of store.Trigger, which the store
// checks and the scheduler compiles, both with Compile.
type Spec struct {
	Kind           string
	Cron           string
	Interval       time.Duration
	At             time.Time
	Timezone       string
	StartAt, EndAt time.Time
	Jitter         time.Duration
}

// Error is a spec Compile refuses: Field names the field at fault, as in
// "trigger.cron" or "trigger.timezone", and Rule says what it breaks. The
// store reports it as a *store.ValidationError with the same field and rule.
type Error struct {
	Field, Rule string
}

func (e *Error) Error() string { return "invalid " + e.Field + ": " + e.Rule }

func invalid(field, rule string) error { return &Error{Field: field, Rule: rule} }

// Trigger is a compiled schedule trigger: a pure function from a time to the
// next fire time. It is immutable and safe for concurrent use.
type Trigger struct {
	loc        *time.Location
	start, end time.Time // zero: unbounded

	// at is the instant of a once trigger.
	at time.Time
	// anchor and every describe an interval or @every trigger.
	anchor time.Time
	every  time.Duration
	// cron is the schedule of any other cron trigger.
	cron *cronSchedule
}

// Compile checks spec and builds its Trigger: it is the one place where a
// trigger is checked and parsed. The errors are *Error values naming the
// field at fault.
//
// anchor is the origin of interval and @every triggers (the scheduler passes
// StartAt when it is set, else the schedule's CreatedAt): they fire at
// anchor + k*period for every k >= 0, keeping the times from StartAt on. A
// zero anchor means StartAt, or the Unix epoch when StartAt is zero too.
//
// Compile checks that Jitter is not negative but does not apply it: the
// scheduler adds it to a run's due time, so that every node computes the
// same fire times.
func Compile(spec Spec, anchor time.Time) (*Trigger, error) {
	if spec.Jitter < 0 {
		return nil, invalid("trigger.jitter", fmt.Sprintf("must not be negative: got %s", spec.Jitter))
	}
	loc, err := loadLocation(spec.Timezone)
	if err != nil {
		return nil, err
	}
	t := &Trigger{loc: loc, start: spec.StartAt, end: spec.EndAt}
	if !t.start.IsZero() && !t.end.IsZero() && !t.end.After(t.start) {
		return nil, invalid("trigger.end_at", "must be after trigger.start_at")
	}
	if anchor.IsZero() {
		anchor = t.start
		if anchor.IsZero() {
			anchor = time.Unix(0, 0)
		}
	}
	switch spec.Kind {
	case KindOnce:
		if spec.At.IsZero() {
			return nil, invalid("trigger.at", "must be set for a once trigger")
		}
		if spec.Cron != "" || spec.Interval != 0 {
			return nil, invalid("trigger", "a once trigger takes no cron or interval")
		}
		t.at = spec.At.UTC()
	case KindInterval:
		if spec.Interval < minInterval {
			return nil, invalid("trigger.interval", fmt.Sprintf("must be at least %s: got %s", minInterval, spec.Interval))
		}
		if spec.Cron != "" || !spec.At.IsZero() {
			return nil, invalid("trigger", "an interval trigger takes no cron or at")
		}
		t.anchor, t.every = anchor.UTC(), spec.Interval
	case KindCron:
		if spec.Interval != 0 || !spec.At.IsZero() {
			return nil, invalid("trigger", "a cron trigger takes no interval or at")
		}
		c, err := parseCron(spec.Cron)
		if err != nil {
			return nil, err
		}
		if c.every != 0 {
			t.anchor, t.every = anchor.UTC(), c.every
			break
		}
		t.cron = newCronSchedule(c, loc)
	case "":
		return nil, invalid("trigger.kind", "is required: a schedule needs a trigger (cron, interval or once)")
	default:
		return nil, invalid("trigger.kind", fmt.Sprintf("unknown kind %q: must be cron, interval or once", spec.Kind))
	}
	return t, nil
}

// loadLocation loads an IANA zone; "" is UTC. "Local" is refused: it
// differs from node to node.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, invalid("trigger.timezone", `"Local" differs from node to node: name an IANA time zone`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid("trigger.timezone", fmt.Sprintf("unknown IANA time zone %q", name))
	}
	return loc, nil
}

// Next returns the first fire time strictly after after, in UTC; callers
// show it in Location. Fire times lie within StartAt and EndAt, both
// inclusive. ok is false when there is none: a one-off already passed, the
// end bound passed, or a cron expression with no later match (its years are
// over, or it names a date that never occurs, such as February 30).
func (t *Trigger) Next(after time.Time) (next time.Time, ok bool) {
	if !t.start.IsZero() && after.Before(t.start) {
		after = t.start.Add(-time.Nanosecond)
	}
	switch {
	case t.every != 0:
		next, ok = t.nextPeriod(after)
	case t.cron != nil:
		var s int64
		if s, ok = t.cron.next(after.Unix()); ok {
			next = time.Unix(s, 0).UTC()
		}
	default:
		next, ok = t.at, t.at.After(after)
	}
	if !ok || !t.end.IsZero() && next.After(t.end) {
		return time.Time{}, false
	}
	return next, true
}

// nextPeriod returns the first anchor + k*every (k >= 0) after after.
func (t *Trigger) nextPeriod(after time.Time) (time.Time, bool) {
	if after.Before(t.anchor) {
		return t.anchor, true
	}
	d := after.Sub(t.anchor)
	if d > maxDuration-t.every {
		return time.Time{}, false // some 290 years away
	}
	return t.anchor.Add((d/t.every + 1) * t.every), true
}

const maxDuration = time.Duration(1<<63 - 1)

// Location is the trigger's time zone (UTC when the spec has none).
func (t *Trigger) Location() *time.Location { return t.loc }

// MinGap returns the smallest gap between two consecutive fire times among
// the first n fire times after from, or 0 and false when there are fewer than
// two. The scheduler's minimum-interval policy uses it.
func (t *Trigger) MinGap(from time.Time, n int) (time.Duration, bool) {
	if n < 2 {
		return 0, false
	}
	prev, ok := t.Next(from)
	if !ok {
		return 0, false
	}
	if t.every != 0 {
		// Periodic: every gap is the period, once there are two fires.
		if _, ok := t.Next(prev); !ok {
			return 0, false
		}
		return t.every, true
	}
	var (
		gap   time.Duration
		found bool
	)
	for range n - 1 {
		next, ok := t.Next(prev)
		if !ok {
			break
		}
		if d := next.Sub(prev); !found || d < gap {
			gap, found = d, true
		}
		prev = next
	}
	return gap, found
}
