package bunstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
)

// statsRow is the row of the stats statement.
type statsRow struct {
	Queued            int64   `bun:"queued"`
	OldestQueuedRunAt anyTime `bun:"oldest_queued_run_at"`
	Running           int64   `bun:"running"`
	SchedulesActive   int64   `bun:"schedules_active"`
	SchedulesPaused   int64   `bun:"schedules_paused"`
}

// Stats implements store.StatsReader.
func (s *Store) Stats(ctx context.Context) (*store.Stats, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	var row statsRow
	if err := s.scan(ctx, s.db, &row, s.sql.Stats); err != nil {
		return nil, fmt.Errorf("read stats: %w", translate(err))
	}
	return &store.Stats{
		Queued: row.Queued, OldestQueuedRunAt: utc(row.OldestQueuedRunAt.Time), Running: row.Running,
		SchedulesActive: row.SchedulesActive, SchedulesPaused: row.SchedulesPaused,
	}, nil
}
