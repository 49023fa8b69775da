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

// StatsReader counts the queue and the schedules in one cheap call (each
// count is served by an index), for metrics scraped every few seconds.
type StatsReader interface {
	// Stats returns the current counts.
	Stats(ctx context.Context) (*Stats, error)
}

// RunSummaryParams says what RunSummary counts.
type RunSummaryParams struct {
	// Owner, when set, keeps that owner's runs and schedules only; empty
	// means everyone's. The store applies it in its queries.
	Owner string
	// Since starts the window of the counts by status and by agent: the
	// runs created at or after it. Required.
	Since time.Time
	// RecentSince starts a shorter window, counted by status again: the
	// runs created at or after it (the last hour). Zero means Since.
	RecentSince time.Time
	// FinishedFrom starts the first of FinishedBuckets consecutive buckets,
	// FinishedWidth long each, that count the runs by their FinishedAt.
	// FinishedBuckets is at most RunSummaryBucketsMax; zero means none.
	FinishedFrom    time.Time
	FinishedWidth   time.Duration
	FinishedBuckets int
	// NextSchedules is how many schedules RunSummary returns: the active
	// ones with the earliest NextRunAt. At most ListLimitMax.
	NextSchedules int
}

// RunSummaryBucketsMax is the most buckets of finished runs a summary
// counts.
const RunSummaryBucketsMax = 1000

// StatusCount counts the runs of one status in a summary's two windows.
type StatusCount struct {
	// Since counts the runs created since RunSummaryParams.Since, Recent
	// those created since RecentSince.
	Since, Recent int64
}

// AgentCount counts the ended runs of one agent created since
// RunSummaryParams.Since.
type AgentCount struct {
	Agent string
	// Ended counts the runs that succeeded, failed or timed out; Failed
	// those that failed or timed out. Cancelled and skipped runs are in
	// neither.
	Ended, Failed int64
}

// Add counts n runs of status st: ended when it succeeded, failed or timed
// out, failed when it failed or timed out.
func (a *AgentCount) Add(st RunStatus, n int64) {
	switch st {
	case RunSucceeded:
		a.Ended += n
	case RunFailed, RunTimedOut:
		a.Ended += n
		a.Failed += n
	}
}

// RunSummary summarises the runs and schedules of an owner, or of all.
type RunSummary struct {
	// Statuses counts the runs by status; a status without runs is absent.
	Statuses map[RunStatus]StatusCount
	// Agents has one entry per agent with ended runs, by agent name.
	Agents []AgentCount
	// Finished counts the runs finished in each bucket of
	// RunSummaryParams, in order (FinishedBuckets entries).
	Finished []int64
	// Queued counts the runs in status queued (held ones included), of
	// any creation time.
	Queued int64
	// OldestQueuedRunAt is the earliest RunAt of a queued run that is not
	// held; zero when there is none.
	OldestQueuedRunAt time.Time
	// NextSchedules are the active (not paused) schedules with the
	// earliest NextRunAt (ties by ID), at most NextSchedules of them;
	// schedules without a NextRunAt are not among them. Their LastRunAt
	// is as stored, without the latest start of their runs.
	NextSchedules []*Schedule
}

// RunSummaryReader summarises the runs of a window in one call, by
// aggregates over the store's indexes, for a dashboard's overview.
type RunSummaryReader interface {
	// RunSummary returns the summary params ask for. Invalid params are a
	// *ValidationError naming the field.
	RunSummary(ctx context.Context, params *RunSummaryParams) (*RunSummary, error)
}
