package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// ScheduleCreate implements store.ScheduleStore.
func (s *Store) ScheduleCreate(ctx context.Context, in *store.Schedule) (*store.Schedule, error) {
	return s.ScheduleCreateCapped(ctx, in, 0)
}

// ScheduleCreateCapped implements store.ScheduleCapper.
func (s *Store) ScheduleCreateCapped(ctx context.Context, in *store.Schedule, max int) (*store.Schedule, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	defer s.mu.Unlock()
	c, err := storekit.PrepareSchedule(in, s.limits)
	if err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	key := ownerKey{c.Owner, c.Name}
	if _, ok := s.scheduleNames[key]; ok {
		return nil, fmt.Errorf("create schedule: owner %q already has a schedule named %q: %w", c.Owner, c.Name, store.ErrConflict)
	}
	if !c.Paused {
		if err := s.capActive(c.Owner, max); err != nil {
			return nil, fmt.Errorf("create schedule: %w", err)
		}
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	c.ID = id
	c.Version = 1
	c.CreatedAt = now
	c.UpdatedAt = now
	s.schedules[id] = c
	s.scheduleNames[key] = id
	s.publishSchedule(c, false)
	return cloneSchedule(c), nil
}

// ScheduleGet implements store.ScheduleStore.
func (s *Store) ScheduleGet(ctx context.Context, id string) (*store.Schedule, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("get schedule %s: %w", id, err)
	}
	defer s.mu.Unlock()
	sch, ok := s.schedules[id]
	if !ok {
		return nil, fmt.Errorf("get schedule %s: %w", id, store.ErrNotFound)
	}
	return cloneSchedule(sch), nil
}

// ScheduleUpdate implements store.ScheduleStore.
func (s *Store) ScheduleUpdate(ctx context.Context, in *store.Schedule) (*store.Schedule, error) {
	return s.ScheduleUpdateCapped(ctx, in, 0)
}

// ScheduleUpdateCapped implements store.ScheduleCapper.
func (s *Store) ScheduleUpdateCapped(ctx context.Context, in *store.Schedule, max int) (*store.Schedule, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update schedule: %w", err)
	}
	defer s.mu.Unlock()
	if in == nil {
		return nil, store.Invalid("schedule", "must not be nil")
	}
	old, ok := s.schedules[in.ID]
	if !ok {
		return nil, fmt.Errorf("update schedule %s: %w", in.ID, store.ErrNotFound)
	}
	given := *in
	given.Owner = old.Owner // the owner is kept, whatever the input says
	c, err := storekit.PrepareSchedule(&given, s.limits)
	if err != nil {
		return nil, fmt.Errorf("update schedule: %w", err)
	}
	if c.Version != 0 && c.Version != old.Version {
		return nil, fmt.Errorf("update schedule %s: version %d is stale (stored %d): %w", c.ID, c.Version, old.Version, store.ErrConflict)
	}
	if old.Paused && !c.Paused {
		if err := s.capActive(old.Owner, max); err != nil {
			return nil, fmt.Errorf("update schedule %s: %w", c.ID, err)
		}
	}
	if c.Name != old.Name {
		if _, taken := s.scheduleNames[ownerKey{old.Owner, c.Name}]; taken {
			return nil, fmt.Errorf("update schedule %s: owner %q already has a schedule named %q: %w", c.ID, old.Owner, c.Name, store.ErrConflict)
		}
		delete(s.scheduleNames, ownerKey{old.Owner, old.Name})
		s.scheduleNames[ownerKey{old.Owner, c.Name}] = old.ID
	}
	old.Name = c.Name
	old.Agent = c.Agent
	old.Payload = c.Payload
	old.Trigger = c.Trigger
	old.Overlap = c.Overlap
	old.Misfire = c.Misfire
	old.MisfireCap = c.MisfireCap
	old.Timeout = c.Timeout
	old.MaxAttempts = c.MaxAttempts
	old.Targets = c.Targets
	old.Paused = c.Paused
	old.NextRunAt = c.NextRunAt
	old.Version++
	old.UpdatedAt = now
	s.publishSchedule(old, false)
	return cloneSchedule(old), nil
}

// ScheduleDelete implements store.ScheduleStore. The schedule's runs stay.
// The notification carries the version after the schedule's last one.
func (s *Store) ScheduleDelete(ctx context.Context, id string) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	defer s.mu.Unlock()
	sch, ok := s.schedules[id]
	if !ok {
		return fmt.Errorf("delete schedule %s: %w", id, store.ErrNotFound)
	}
	delete(s.schedules, id)
	delete(s.scheduleNames, ownerKey{sch.Owner, sch.Name})
	sch.Version++
	s.publishSchedule(sch, true)
	return nil
}

// SchedulePause implements store.ScheduleStore.
func (s *Store) SchedulePause(ctx context.Context, id string) (*store.Schedule, error) {
	return s.setPaused(ctx, "pause", id, true, 0)
}

// ScheduleResume implements store.ScheduleStore.
func (s *Store) ScheduleResume(ctx context.Context, id string) (*store.Schedule, error) {
	return s.setPaused(ctx, "resume", id, false, 0)
}

// ScheduleResumeCapped implements store.ScheduleCapper.
func (s *Store) ScheduleResumeCapped(ctx context.Context, id string, max int) (*store.Schedule, error) {
	return s.setPaused(ctx, "resume", id, false, max)
}

// capActive refuses one more active schedule of owner when owner has max
// (> 0) already. The caller holds mu.
func (s *Store) capActive(owner string, max int) error {
	if max <= 0 {
		return nil
	}
	if n := s.countActive(owner); n >= max {
		return store.ActiveLimit(owner, n)
	}
	return nil
}

func (s *Store) setPaused(ctx context.Context, op, id string, paused bool, max int) (*store.Schedule, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s schedule %s: %w", op, id, err)
	}
	defer s.mu.Unlock()
	sch, ok := s.schedules[id]
	if !ok {
		return nil, fmt.Errorf("%s schedule %s: %w", op, id, store.ErrNotFound)
	}
	if sch.Paused != paused {
		if !paused {
			if err := s.capActive(sch.Owner, max); err != nil {
				return nil, fmt.Errorf("%s schedule %s: %w", op, id, err)
			}
		}
		sch.Paused = paused
		sch.Version++
		sch.UpdatedAt = now
		s.publishSchedule(sch, false)
	}
	return cloneSchedule(sch), nil
}

// ScheduleList implements store.ScheduleStore: ascending ID, the cursor
// being the last ID of the previous page.
func (s *Store) ScheduleList(ctx context.Context, params *store.ScheduleListParams) (*store.SchedulePage, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer s.mu.Unlock()
	var p store.ScheduleListParams
	if params != nil {
		p = *params
	}
	var rows []*store.Schedule
	for _, sch := range s.schedules {
		switch {
		case p.Owner != "" && sch.Owner != p.Owner,
			p.Name != "" && sch.Name != p.Name,
			p.Cursor != "" && sch.ID <= p.Cursor:
			continue
		}
		rows = append(rows, sch)
	}
	slices.SortFunc(rows, func(a, b *store.Schedule) int { return cmp.Compare(a.ID, b.ID) })
	page := &store.SchedulePage{Schedules: []*store.Schedule{}}
	limit := storekit.ListLimit(p.Limit)
	for _, sch := range rows[:min(limit, len(rows))] {
		page.Schedules = append(page.Schedules, cloneSchedule(sch))
	}
	if len(rows) > limit {
		page.Next = rows[limit-1].ID
	}
	return page, nil
}

// ScheduleCountActive implements store.ScheduleStore.
func (s *Store) ScheduleCountActive(ctx context.Context, owner string) (int, error) {
	if _, err := s.begin(ctx); err != nil {
		return 0, fmt.Errorf("count active schedules: %w", err)
	}
	defer s.mu.Unlock()
	return s.countActive(owner), nil
}

// countActive counts the active schedules of owner. The caller holds mu.
func (s *Store) countActive(owner string) int {
	n := 0
	for _, sch := range s.schedules {
		if sch.Owner == owner && !sch.Paused {
			n++
		}
	}
	return n
}

// ScheduleSetTimes implements store.ScheduleStore. It changes neither
// Version nor UpdatedAt, and publishes nothing.
func (s *Store) ScheduleSetTimes(ctx context.Context, params *store.ScheduleSetTimesParams) (*store.Schedule, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("set schedule times: %w", err)
	}
	defer s.mu.Unlock()
	if params == nil {
		return nil, fmt.Errorf("set schedule times: %w", store.Invalid("params", "must not be nil"))
	}
	sch, ok := s.schedules[params.ID]
	if !ok {
		return nil, fmt.Errorf("set schedule times %s: %w", params.ID, store.ErrNotFound)
	}
	if params.NextRunAt != nil {
		sch.NextRunAt = store.Timestamp(*params.NextRunAt)
	}
	if params.LastRunAt != nil {
		sch.LastRunAt = store.Timestamp(*params.LastRunAt)
	}
	if params.LastFiredAt != nil {
		sch.LastFiredAt = store.Timestamp(*params.LastFiredAt)
	}
	return cloneSchedule(sch), nil
}

func (s *Store) publishSchedule(sch *store.Schedule, deleted bool) {
	s.hub.Publish(store.Notification{Topic: store.TopicSchedule, ID: sch.ID, Version: sch.Version, Deleted: deleted})
}
