package bunstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// The run summary (store.RunSummaryReader) is four aggregates, each over
// an index of its own rows, so that it costs about the runs of its window,
// not the history:
//
//   - the runs created since the window's start, by status and agent: a
//     span of ids (a run's id carries its creation time, see idSpan) in the
//     primary key, or in herald_runs_owner_idx for an owner (which holds
//     no running run on PostgreSQL: those are read apart);
//   - the runs finished in each bucket: a span of herald_runs_finished_idx;
//   - the queue: the count in herald_runs_status_idx (which carries the
//     owner), the oldest claimable run at the head of herald_runs_due_idx;
//   - the active schedules with the earliest next_run_at: the schedules
//     are few (a cap per owner keeps them so), and are sorted whole; an
//     index on next_run_at would be written by every tick.
//
// The owner is a condition of every statement, never a filter of their
// results. PostgreSQL folds "(?any_owner OR owner = ?owner)" as RunList's
// statements say (list.go); SQLite, which folds nothing, has a statement
// of its own for an owner's counts, the one aggregate whose index depends
// on it.

// runSummaryCountsPG counts the runs created since ?since by status and
// agent, and those created since ?recent among them. The runs not running
// and the running ones are read apart: herald_runs_owner_idx holds no
// running run on PostgreSQL (migration 20261209000001), so an owner's
// runs not running are a span of it, and the running ones, few, come from
// herald_runs_lease_idx or the span of ids, whichever the planner finds
// cheaper.
const runSummaryCountsPG = `SELECT status, agent, count(*) AS since, count(*) FILTER (WHERE created_at >= ?recent) AS recent
FROM (
	SELECT status, agent, created_at FROM herald_runs
	WHERE status <> 'running' AND id >= ?id_from AND created_at >= ?since AND (?any_owner OR owner = ?owner)
	UNION ALL
	SELECT status, agent, created_at FROM herald_runs
	WHERE status = 'running' AND id >= ?id_from AND created_at >= ?since AND (?any_owner OR owner = ?owner)
) AS r
GROUP BY status, agent`

// runSummaryFinishedPG counts the runs finished in each bucket of ?width
// microseconds from ?finished_from to ?finished_to.
const runSummaryFinishedPG = `SELECT (extract(epoch FROM finished_at - ?finished_from) * 1000000)::bigint / ?width AS bucket, count(*) AS n
FROM herald_runs
WHERE finished_at >= ?finished_from AND finished_at < ?finished_to AND (?any_owner OR owner = ?owner)
GROUP BY bucket`

// runSummaryQueuePG counts the queued runs and finds the oldest claimable
// one, as statsPG does.
const runSummaryQueuePG = `SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND kind IS NOT NULL AND (?any_owner OR owner = ?owner)) AS queued,
	(SELECT min(run_at) FROM herald_runs WHERE status = 'queued' AND NOT held AND (?any_owner OR owner = ?owner)) AS oldest_queued_run_at`

// runSummaryNextPG reads the active schedules with the earliest
// next_run_at.
const runSummaryNextPG = `SELECT * FROM herald_schedules
WHERE NOT paused AND next_run_at IS NOT NULL AND (?any_owner OR owner = ?owner)
ORDER BY next_run_at, id
LIMIT ?limit`

// runSummaryCountsSQLite is runSummaryCountsPG for everyone's runs on
// SQLite: a span of the primary key.
const runSummaryCountsSQLite = `SELECT status, agent, count(*) AS since, sum(created_at >= ?recent) AS recent
FROM herald_runs
WHERE id >= ?id_from AND created_at >= ?since
GROUP BY status, agent`

// runSummaryOwnerCountsSQLite is runSummaryCountsPG for an owner's runs on
// SQLite: a span of herald_runs_owner_idx.
const runSummaryOwnerCountsSQLite = `SELECT status, agent, count(*) AS since, sum(created_at >= ?recent) AS recent
FROM herald_runs INDEXED BY herald_runs_owner_idx
WHERE owner = ?owner AND id >= ?id_from AND created_at >= ?since
GROUP BY status, agent`

// runSummaryFinishedSQLite is runSummaryFinishedPG on SQLite, whose times
// are integer microseconds already.
const runSummaryFinishedSQLite = `SELECT (finished_at - ?finished_from) / ?width AS bucket, count(*) AS n
FROM herald_runs INDEXED BY herald_runs_finished_idx
WHERE finished_at >= ?finished_from AND finished_at < ?finished_to AND (?any_owner OR owner = ?owner)
GROUP BY bucket`

// runSummaryQueueSQLite is runSummaryQueuePG on SQLite, as statsSQLite
// states its indexes' conditions.
const runSummaryQueueSQLite = `SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND status <> 'succeeded' AND (?any_owner OR owner = ?owner)) AS queued,
	(SELECT min(run_at) FROM herald_runs INDEXED BY herald_runs_due_idx WHERE status = 'queued' AND held = 0 AND (?any_owner OR owner = ?owner)) AS oldest_queued_run_at`

// runSummaryNextSQLite is runSummaryNextPG on SQLite.
const runSummaryNextSQLite = `SELECT * FROM herald_schedules
WHERE paused = 0 AND next_run_at IS NOT NULL AND (?any_owner OR owner = ?owner)
ORDER BY next_run_at, id
LIMIT ?limit`

// runSummaryArgs are the named arguments of the summary's statements.
type runSummaryArgs struct {
	AnyOwner     bool      `bun:"any_owner"`
	Owner        string    `bun:"owner"`
	IDFrom       string    `bun:"id_from"`
	Since        time.Time `bun:"since"`
	Recent       time.Time `bun:"recent"`
	FinishedFrom time.Time `bun:"finished_from"`
	FinishedTo   time.Time `bun:"finished_to"`
	Width        int64     `bun:"width"` // microseconds
	Limit        int       `bun:"limit"`
}

// runSummaryCountRow is a row of the counts statements.
type runSummaryCountRow struct {
	Status string `bun:"status"`
	Agent  string `bun:"agent"`
	Since  int64  `bun:"since"`
	Recent int64  `bun:"recent"`
}

// runSummaryBucketRow is a row of the finished statements.
type runSummaryBucketRow struct {
	Bucket int64 `bun:"bucket"`
	N      int64 `bun:"n"`
}

// runSummaryStatements are the statements of one RunSummary call.
type runSummaryStatements struct{ counts, finished, queue, next string }

// RunSummary implements store.RunSummaryReader.
func (s *Store) RunSummary(ctx context.Context, p *store.RunSummaryParams) (*store.RunSummary, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	q, args, err := s.runSummaryQuery(p)
	if err != nil {
		return nil, err
	}
	sum := &store.RunSummary{Statuses: map[store.RunStatus]store.StatusCount{}, Finished: make([]int64, p.FinishedBuckets)}

	var rows []runSummaryCountRow
	if err := s.db.NewRaw(q.counts, args).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("summarise runs: count: %w", translate(err))
	}
	var agents []store.AgentCount
	byAgent := map[string]int{}
	for _, r := range rows {
		st := store.RunStatus(r.Status)
		c := sum.Statuses[st]
		c.Since += r.Since
		c.Recent += r.Recent
		sum.Statuses[st] = c
		i, ok := byAgent[r.Agent]
		if !ok {
			i = len(agents)
			byAgent[r.Agent] = i
			agents = append(agents, store.AgentCount{Agent: r.Agent})
		}
		agents[i].Add(st, r.Since)
	}
	for _, a := range agents {
		if a.Ended > 0 {
			sum.Agents = append(sum.Agents, a)
		}
	}
	slices.SortFunc(sum.Agents, func(a, b store.AgentCount) int { return cmp.Compare(a.Agent, b.Agent) })

	if p.FinishedBuckets > 0 {
		var buckets []runSummaryBucketRow
		if err := s.db.NewRaw(q.finished, args).Scan(ctx, &buckets); err != nil {
			return nil, fmt.Errorf("summarise runs: count finished: %w", translate(err))
		}
		for _, b := range buckets {
			if b.Bucket >= 0 && b.Bucket < int64(p.FinishedBuckets) {
				sum.Finished[b.Bucket] += b.N
			}
		}
	}

	var queue statsRow
	if err := s.db.NewRaw(q.queue, args).Scan(ctx, &queue); err != nil {
		return nil, fmt.Errorf("summarise runs: read the queue: %w", translate(err))
	}
	sum.Queued, sum.OldestQueuedRunAt = queue.Queued, utc(queue.OldestQueuedRunAt.Time)

	if p.NextSchedules > 0 {
		var schedules []scheduleRow
		if err := s.db.NewRaw(q.next, args).Scan(ctx, &schedules); err != nil {
			return nil, fmt.Errorf("summarise runs: read the next schedules: %w", translate(err))
		}
		for i := range schedules {
			sum.NextSchedules = append(sum.NextSchedules, schedules[i].schedule())
		}
	}
	return sum, nil
}

// runSummaryQuery returns the statements of a RunSummary call and their
// arguments.
func (s *Store) runSummaryQuery(p *store.RunSummaryParams) (*runSummaryStatements, *runSummaryArgs, error) {
	if err := storekit.CheckRunSummary(p); err != nil {
		return nil, nil, fmt.Errorf("summarise runs: %w", err)
	}
	since := store.Timestamp(p.Since)
	lo, _, err := idSpan(since, time.Time{}, "")
	if err != nil {
		return nil, nil, fmt.Errorf("summarise runs: %w", err)
	}
	from := store.Timestamp(p.FinishedFrom)
	args := &runSummaryArgs{AnyOwner: p.Owner == "", Owner: p.Owner, IDFrom: lo,
		Since: since, Recent: store.Timestamp(cmp.Or(p.RecentSince, p.Since)), FinishedFrom: from,
		FinishedTo: from.Add(time.Duration(p.FinishedBuckets) * p.FinishedWidth),
		Width:      p.FinishedWidth.Microseconds(), Limit: p.NextSchedules}
	if s.pg() {
		return &runSummaryStatements{runSummaryCountsPG, runSummaryFinishedPG, runSummaryQueuePG, runSummaryNextPG}, args, nil
	}
	q := &runSummaryStatements{runSummaryCountsSQLite, runSummaryFinishedSQLite, runSummaryQueueSQLite, runSummaryNextSQLite}
	if p.Owner != "" {
		q.counts = runSummaryOwnerCountsSQLite
	}
	return q, args, nil
}
