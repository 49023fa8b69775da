package scheduler

import (
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// PreviewMax is the most fire times PreviewTrigger returns.
const PreviewMax = 1000

// PreviewTrigger returns the first count fire times of trig after from (zero
// means the clock's now), computed by the code the scheduler fires with, in
// the trigger's time zone. An interval trigger without a start is anchored
// at the clock's now, as a schedule created now would be. It refuses an
// invalid trigger with a *store.ValidationError naming the field
// ("trigger.cron") and a count outside 1..PreviewMax ("count"). Fewer
// times come back when the trigger has no more (a one-off, an end bound).
// Jitter is not applied.
func (s *Scheduler) PreviewTrigger(trig store.Trigger, from time.Time, count int) ([]time.Time, error) {
	if count < 1 || count > PreviewMax {
		return nil, store.Invalid("count", fmt.Sprintf("must be between 1 and %d", PreviewMax))
	}
	probe := &store.Schedule{Owner: StaticOwner, Name: "preview", Agent: "preview", Trigger: trig,
		CreatedAt: s.clock.Now()}
	if _, err := storekit.PrepareSchedule(probe, store.Limits{}); err != nil {
		return nil, err
	}
	if from.IsZero() {
		from = s.clock.Now()
	}
	return s.fireTimes(probe, from, count)
}

// NextFireTimes returns the next n fire times of sch after the clock's
// now, in the schedule's time zone; none when it is paused.
func (s *Scheduler) NextFireTimes(sch *store.Schedule, n int) []time.Time {
	if sch.Paused || n < 1 {
		return nil
	}
	times, err := s.fireTimes(sch, s.clock.Now(), n)
	if err != nil {
		return nil
	}
	return times
}

// fireTimes returns up to n fire times of sch after from, in its zone.
func (s *Scheduler) fireTimes(sch *store.Schedule, from time.Time, n int) ([]time.Time, error) {
	trig, err := s.triggers.compile(sch)
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, store.Invalid("trigger", err.Error())
	}
	loc := trig.Location()
	out := make([]time.Time, 0, n)
	for len(out) < n {
		next, ok := trig.Next(from)
		if !ok {
			break
		}
		out = append(out, next.In(loc))
		from = next
	}
	return out, nil
}
