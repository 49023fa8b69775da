package memstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
)

// Stats implements store.StatsReader. It reads every run and schedule: a
// memory store holds few enough.
func (s *Store) Stats(ctx context.Context) (*store.Stats, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("read stats: %w", err)
	}
	defer s.mu.Unlock()
	st := &store.Stats{}
	for _, r := range s.runs {
		switch r.Status {
		case store.RunQueued:
			st.Queued++
			if !r.Held && (st.OldestQueuedRunAt.IsZero() || r.RunAt.Before(st.OldestQueuedRunAt)) {
				st.OldestQueuedRunAt = r.RunAt
			}
		case store.RunRunning:
			st.Running++
		}
	}
	for _, sch := range s.schedules {
		if sch.Paused {
			st.SchedulesPaused++
		} else {
			st.SchedulesActive++
		}
	}
	return st, nil
}
