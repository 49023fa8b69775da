package api

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// The summary's shape.
const (
	// summarySinceDefault is how far back the window reaches by default,
	// and summarySinceMax how far at most: its cost grows with its runs.
	summarySinceDefault = 24 * time.Hour
	summarySinceMax     = 7 * 24 * time.Hour
	// summaryHours is the hours of finished runs counted, the current one
	// last.
	summaryHours = 24
	// summaryFires is how many fire times a summary lists.
	summaryFires = 10
)

// summaryStatuses are the statuses a summary counts, in its order.
var summaryStatuses = []store.RunStatus{store.RunQueued, store.RunRunning, store.RunSucceeded, store.RunFailed,
	store.RunTimedOut, store.RunCancelled, store.RunSkipped}

// summary serves GET /v1/summary: the caller's runs (an admin's: everyone's,
// or owner's) summarised in one store call.
func (a *API) summary(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	q := newQuery(r, "since", "owner")
	owner, since := q.str("owner", 200), q.time("since")
	now := a.now().UTC()
	if since.IsZero() {
		since = now.Add(-summarySinceDefault)
	}
	if since.After(now) || since.Before(now.Add(-summarySinceMax)) {
		q.errs = append(q.errs, FieldError{Field: "since", Message: "must be within the last 7 days"})
	}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	since = since.UTC()
	hours := now.Add(-summaryHours * time.Hour).Truncate(time.Hour).Add(time.Hour)
	sum, err := a.sched.RunSummary(r.Context(), p, store.RunSummaryParams{Owner: owner, Since: since,
		RecentSince: later(since, now.Add(-time.Hour)), FinishedFrom: hours, FinishedWidth: time.Hour,
		FinishedBuckets: summaryHours, NextSchedules: summaryFires})
	if err != nil {
		a.fail(w, r, "summary", err, nil)
		return
	}
	out := &Summary{Now: now, Since: since, Agents: []AgentCount{}, Finished: make([]HourCount, summaryHours),
		Queue: Queue{Queued: sum.Queued, OldestRunAt: timePtr(sum.OldestQueuedRunAt, time.UTC)}}
	for _, st := range summaryStatuses {
		c := sum.Statuses[st]
		out.Statuses = append(out.Statuses, StatusCount{Status: string(st), Since: c.Since, LastHour: c.Recent})
	}
	for _, ac := range sum.Agents {
		out.Agents = append(out.Agents, AgentCount{Agent: ac.Agent, Ended: ac.Ended, Failed: ac.Failed})
	}
	for i, n := range sum.Finished {
		out.Finished[i] = HourCount{From: hours.Add(time.Duration(i) * time.Hour), Finished: n}
	}
	out.NextFires = a.nextFires(sum.NextSchedules, summaryFires)
	a.writeJSON(w, r, http.StatusOK, out)
}

// nextFires returns the first n fire times of schedules. The store gave
// the n schedules that fire first, by their next_run_at: any fire time of
// another schedule comes after the first of each of those, so these n
// schedules' first n fire times hold the first n of all.
func (a *API) nextFires(schedules []*store.Schedule, n int) []Fire {
	fires := []Fire{}
	for _, s := range schedules {
		for _, t := range a.sched.NextFireTimes(s, n) {
			fires = append(fires, Fire{At: t, ScheduleID: s.ID, Name: s.Name, Agent: s.Agent})
		}
	}
	slices.SortStableFunc(fires, func(x, y Fire) int { return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.ScheduleID, y.ScheduleID)) })
	return fires[:min(len(fires), n)]
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
