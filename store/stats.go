package store

import (
	"context"
	"time"
)

// Stats is a snapshot of a store's queue and schedules, for metrics and
// dashboards.
type Stats struct {
	// Queued counts the runs in status queued (held ones included).
	Queued int64
	// OldestQueuedRunAt is the earliest RunAt of a queued run that is not
	// held; zero when there is none.
	OldestQueuedRunAt time.Time
	// Running counts the runs in status running.
	Running int64
	// SchedulesActive and SchedulesPaused count the schedules that are
	// not paused and those that are.
	SchedulesActive int64
	SchedulesPaused int64
}

// StatsReader is an optional capability of a Store, found with a type
// assertion: it counts the queue and the schedules in one cheap call (each
// count is served by an index). Herald's stores implement it.
type StatsReader interface {
	// Stats returns the current counts.
	Stats(ctx context.Context) (*Stats, error)
}
