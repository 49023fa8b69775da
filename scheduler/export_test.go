package scheduler

// ScheduleCount is how many active schedules s's fire loop holds, for
// tests that wait for a node to have loaded a change.
func (s *Scheduler) ScheduleCount() int { return s.fire.size() }
