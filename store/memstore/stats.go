package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
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

// RunSummary implements store.RunSummaryReader. It reads every run and
// schedule, as Stats does.
func (s *Store) RunSummary(ctx context.Context, p *store.RunSummaryParams) (*store.RunSummary, error) {
	if err := storekit.CheckRunSummary(p); err != nil {
		return nil, fmt.Errorf("summarise runs: %w", err)
	}
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("summarise runs: %w", err)
	}
	defer s.mu.Unlock()
	since, recent := store.Timestamp(p.Since), store.Timestamp(cmp.Or(p.RecentSince, p.Since))
	from := store.Timestamp(p.FinishedFrom)
	sum := &store.RunSummary{Statuses: map[store.RunStatus]store.StatusCount{}, Finished: make([]int64, p.FinishedBuckets)}
	agents := map[string]*store.AgentCount{}
	for _, r := range s.runs {
		if p.Owner != "" && r.Owner != p.Owner {
			continue
		}
		if r.Status == store.RunQueued {
			sum.Queued++
			if !r.Held && (sum.OldestQueuedRunAt.IsZero() || r.RunAt.Before(sum.OldestQueuedRunAt)) {
				sum.OldestQueuedRunAt = r.RunAt
			}
		}
		if !r.FinishedAt.IsZero() && !r.FinishedAt.Before(from) && p.FinishedBuckets > 0 {
			if i := r.FinishedAt.Sub(from) / p.FinishedWidth; i < time.Duration(p.FinishedBuckets) {
				sum.Finished[i]++
			}
		}
		if r.CreatedAt.Before(since) {
			continue
		}
		c := sum.Statuses[r.Status]
		c.Since++
		if !r.CreatedAt.Before(recent) {
			c.Recent++
		}
		sum.Statuses[r.Status] = c
		a := agents[r.Agent]
		if a == nil {
			a = &store.AgentCount{Agent: r.Agent}
			agents[r.Agent] = a
		}
		a.Add(r.Status, 1)
	}
	for _, a := range agents {
		if a.Ended > 0 {
			sum.Agents = append(sum.Agents, *a)
		}
	}
	slices.SortFunc(sum.Agents, func(a, b store.AgentCount) int { return cmp.Compare(a.Agent, b.Agent) })
	var next []*store.Schedule
	for _, sch := range s.schedules {
		if !sch.Paused && !sch.NextRunAt.IsZero() && (p.Owner == "" || sch.Owner == p.Owner) {
			next = append(next, sch)
		}
	}
	slices.SortFunc(next, func(a, b *store.Schedule) int {
		return cmp.Or(a.NextRunAt.Compare(b.NextRunAt), cmp.Compare(a.ID, b.ID))
	})
	for _, sch := range next[:min(len(next), p.NextSchedules)] {
		sum.NextSchedules = append(sum.NextSchedules, cloneSchedule(sch))
	}
	return sum, nil
}
