package bunstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
)

// statsPG reads the stats on PostgreSQL. Each count reads an index of its
// own rows only: the queued and running runs in herald_runs_status_idx
// (whose condition names kind IS NOT NULL: the counts state it), the
// oldest claimable run at the head of herald_runs_due_idx; the schedules
// are few.
const statsPG = `SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND kind IS NOT NULL) AS queued,
	(SELECT min(run_at) FROM herald_runs WHERE status = 'queued' AND NOT held) AS oldest_queued_run_at,
	(SELECT count(*) FROM herald_runs WHERE status = 'running' AND kind IS NOT NULL) AS running,
	(SELECT count(*) FROM herald_schedules WHERE NOT paused) AS schedules_active,
	(SELECT count(*) FROM herald_schedules WHERE paused) AS schedules_paused`

// statsSQLite reads the stats on SQLite, as statsPG does. The oldest
// claimable run is read from herald_runs_due_idx by name (SQLite would
// rather read every queued run through herald_runs_status_idx). Each
// count states the condition of the partial index it reads as the index
// does: SQLite uses a partial index only for a statement that does.
const statsSQLite = `SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND status <> 'succeeded') AS queued,
	(SELECT min(run_at) FROM herald_runs INDEXED BY herald_runs_due_idx WHERE status = 'queued' AND held = 0) AS oldest_queued_run_at,
	(SELECT count(*) FROM herald_runs WHERE status = 'running' AND status <> 'succeeded') AS running,
	(SELECT count(*) FROM herald_schedules WHERE paused = 0) AS schedules_active,
	(SELECT count(*) FROM herald_schedules WHERE paused = 1) AS schedules_paused`

// statsRow is the row of statsPG and statsSQLite.
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
	q := statsPG
	if !s.pg() {
		q = statsSQLite
	}
	var row statsRow
	if err := s.db.NewRaw(q).Scan(ctx, &row); err != nil {
		return nil, fmt.Errorf("read stats: %w", translate(err))
	}
	return &store.Stats{
		Queued: row.Queued, OldestQueuedRunAt: utc(row.OldestQueuedRunAt.Time), Running: row.Running,
		SchedulesActive: row.SchedulesActive, SchedulesPaused: row.SchedulesPaused,
	}, nil
}
