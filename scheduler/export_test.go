package scheduler

import "time"

// ScheduleCount is how many active schedules s's fire loop holds, for
// tests that wait for a node to have loaded a change.
func (s *Scheduler) ScheduleCount() int { return s.fire.size() }

// SetAbandonAfter sets how long s's workers wait for an agent that ignores
// its cancelled context, for tests that would otherwise wait two seconds;
// call it before Start.
func (s *Scheduler) SetAbandonAfter(d time.Duration) { s.abandonAfter = d }

// ParkedDeliveries is how many delivery attempts s holds parked until
// their next attempt, for tests that move the clock past it.
func (s *Scheduler) ParkedDeliveries() int {
	s.deliver.mu.Lock()
	defer s.deliver.mu.Unlock()
	return len(s.deliver.parked)
}
