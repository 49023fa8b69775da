package bunstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// validID reports whether id can name a record; anything else is not found
// without asking the database (PostgreSQL would refuse it as a uuid).
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// newID is the id of a new schedule or delivery. Those of runs and events
// come from Store.ids, out of their creation times.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// ScheduleCreate implements store.ScheduleStore.
func (s *Store) ScheduleCreate(ctx context.Context, in *store.Schedule) (*store.Schedule, error) {
	return s.ScheduleCreateCapped(ctx, in, 0)
}

// ScheduleCreateCapped implements store.ScheduleCapper.
func (s *Store) ScheduleCreateCapped(ctx context.Context, in *store.Schedule, max int) (*store.Schedule, error) {
	c, err := storekit.PrepareSchedule(in, s.limits)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	c.ID, c.Version, c.CreatedAt, c.UpdatedAt = newID(), 1, now, now
	row := scheduleToRow(c)
	err = s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		if !c.Paused {
			if err := s.capActive(ctx, tx, c.Owner, max); err != nil {
				return err
			}
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		out.add(store.Notification{Topic: store.TopicSchedule, ID: c.ID, Version: c.Version})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	return row.schedule(), nil
}

// ScheduleGet implements store.ScheduleStore.
func (s *Store) ScheduleGet(ctx context.Context, id string) (*store.Schedule, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	row, err := getSchedule(ctx, s.db, id, "")
	if err != nil {
		return nil, fmt.Errorf("get schedule %s: %w", id, err)
	}
	return row.schedule(), nil
}

func getSchedule(ctx context.Context, db bun.IDB, id, lock string) (*scheduleRow, error) {
	if !validID(id) {
		return nil, store.ErrNotFound
	}
	row := new(scheduleRow)
	q := withLastRun(db.NewSelect().Model(row)).Where("id = ?", id)
	if lock != "" {
		q = q.For(lock + " OF ?TableAlias")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	return row, nil
}

// ScheduleUpdate implements store.ScheduleStore.
func (s *Store) ScheduleUpdate(ctx context.Context, in *store.Schedule) (*store.Schedule, error) {
	return s.ScheduleUpdateCapped(ctx, in, 0)
}

// ScheduleUpdateCapped implements store.ScheduleCapper.
func (s *Store) ScheduleUpdateCapped(ctx context.Context, in *store.Schedule, max int) (*store.Schedule, error) {
	if in == nil {
		return nil, store.Invalid("schedule", "must not be nil")
	}
	var out *store.Schedule
	err := s.changeSchedule(ctx, in.ID, max, func(cur *scheduleRow) (*scheduleRow, error) {
		// Owner is kept, but the rules of the whole record apply.
		in := *in
		in.Owner = cur.Owner
		c, err := storekit.PrepareSchedule(&in, s.limits)
		if err != nil {
			return nil, err
		}
		if c.Version != 0 && c.Version != cur.Version {
			return nil, fmt.Errorf("%w: version %d is stale (stored %d)", store.ErrConflict, c.Version, cur.Version)
		}
		next := scheduleToRow(c)
		next.ID, next.Owner, next.Static, next.CreatedAt = cur.ID, cur.Owner, cur.Static, cur.CreatedAt
		next.LastRunAt, next.LastFiredAt, next.RunStartedAt = cur.LastRunAt, cur.LastFiredAt, cur.RunStartedAt
		return next, nil
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("update schedule %s: %w", in.ID, err)
	}
	return out, nil
}

// SchedulePause implements store.ScheduleStore.
func (s *Store) SchedulePause(ctx context.Context, id string) (*store.Schedule, error) {
	return s.setPaused(ctx, id, true, 0)
}

// ScheduleResume implements store.ScheduleStore.
func (s *Store) ScheduleResume(ctx context.Context, id string) (*store.Schedule, error) {
	return s.setPaused(ctx, id, false, 0)
}

// ScheduleResumeCapped implements store.ScheduleCapper.
func (s *Store) ScheduleResumeCapped(ctx context.Context, id string, max int) (*store.Schedule, error) {
	return s.setPaused(ctx, id, false, max)
}

func (s *Store) setPaused(ctx context.Context, id string, paused bool, max int) (*store.Schedule, error) {
	var out *store.Schedule
	err := s.changeSchedule(ctx, id, max, func(cur *scheduleRow) (*scheduleRow, error) {
		if cur.Paused == paused {
			return nil, nil
		}
		next := *cur
		next.Paused = paused
		return &next, nil
	}, &out)
	if err != nil {
		verb := "resume"
		if paused {
			verb = "pause"
		}
		return nil, fmt.Errorf("%s schedule %s: %w", verb, id, err)
	}
	return out, nil
}

// changeSchedule reads schedule id under a lock, lets change compute the new
// row (nil: nothing to change), writes it with the next version and
// notifies. A change that makes the schedule active is subject to the cap
// max of its owner's active schedules (capActive).
func (s *Store) changeSchedule(ctx context.Context, id string, max int, change func(cur *scheduleRow) (*scheduleRow, error), out **store.Schedule) error {
	return s.tx(ctx, func(tx bun.Tx, ob *outbox) error {
		cur, err := getSchedule(ctx, tx, id, s.lockClause("NO KEY UPDATE"))
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if next == nil {
			*out = cur.schedule()
			return nil
		}
		if cur.Paused && !next.Paused {
			if err := s.capActive(ctx, tx, cur.Owner, max); err != nil {
				return err
			}
		}
		next.Version = cur.Version + 1
		next.UpdatedAt = s.stamp()
		if _, err := tx.NewUpdate().Model(next).WherePK().Exec(ctx); err != nil {
			return err
		}
		ob.add(store.Notification{Topic: store.TopicSchedule, ID: next.ID, Version: next.Version})
		*out = next.schedule()
		return nil
	})
}

// capActive refuses, in tx, one more active schedule of owner when owner
// has max (> 0) already. On PostgreSQL it first takes a lock on the owner
// until the transaction ends, so that the checks of one owner, and the
// writes they allow, take turns: each sees what the one before wrote.
// SQLite's single writer takes turns already.
func (s *Store) capActive(ctx context.Context, tx bun.Tx, owner string, max int) error {
	if max <= 0 {
		return nil
	}
	if s.pg() {
		if _, err := s.exec(ctx, tx, s.sql.ScheduleOwnerLock, s.channel+" active schedules of "+owner); err != nil {
			return err
		}
	}
	n, err := countActive(ctx, tx, owner)
	if err != nil {
		return err
	}
	if n >= max {
		return store.ActiveLimit(owner, n)
	}
	return nil
}

// countActive counts the schedules of owner that are not paused.
func countActive(ctx context.Context, db bun.IDB, owner string) (int, error) {
	n, err := db.NewSelect().Model((*scheduleRow)(nil)).Where("owner = ?", owner).Where("NOT paused").Count(ctx)
	return int(n), err
}

// lockClause is the row lock mode ("UPDATE", "NO KEY UPDATE", "SHARE") a
// transaction takes on PostgreSQL, or "" on SQLite, whose writer lock
// covers the database. A change of a schedule's row takes NO KEY UPDATE,
// the lock of its UPDATE, which the KEY SHARE of staged ticks of
// schedules that allow every overlap does not hold up (lockSchedules).
func (s *Store) lockClause(mode string) string {
	if s.pg() {
		return mode
	}
	return ""
}

// ScheduleDelete implements store.ScheduleStore.
func (s *Store) ScheduleDelete(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("delete schedule %s: %w", id, store.ErrNotFound)
	}
	err := s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		var version int64
		err := tx.NewDelete().Model((*scheduleRow)(nil)).Where("id = ?", id).Returning("version").Scan(ctx, &version)
		if err != nil {
			return translate(err)
		}
		out.add(store.Notification{Topic: store.TopicSchedule, ID: id, Version: version + 1, Deleted: true})
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}

// ScheduleList implements store.ScheduleStore.
func (s *Store) ScheduleList(ctx context.Context, p *store.ScheduleListParams) (*store.SchedulePage, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil {
		p = &store.ScheduleListParams{}
	}
	limit := storekit.ListLimit(p.Limit)
	var rows []scheduleRow
	q := withLastRun(s.db.NewSelect().Model(&rows)).OrderExpr("id ASC").Limit(int64(limit + 1))
	if p.Owner != "" {
		q = q.Where("owner = ?", p.Owner)
	}
	if p.Name != "" {
		q = q.Where("name = ?", p.Name)
	}
	if p.Cursor != "" {
		if !validID(p.Cursor) {
			return nil, store.Invalid("cursor", "must be the Next of a previous page")
		}
		q = q.Where("id > ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list schedules: %w", translate(err))
	}
	page := &store.SchedulePage{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = rows[limit-1].ID
	}
	page.Schedules = make([]*store.Schedule, len(rows))
	for i := range rows {
		page.Schedules[i] = rows[i].schedule()
	}
	return page, nil
}

// ScheduleCountActive implements store.ScheduleStore.
func (s *Store) ScheduleCountActive(ctx context.Context, owner string) (int, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	n, err := countActive(ctx, s.db, owner)
	if err != nil {
		return 0, fmt.Errorf("count schedules of %s: %w", owner, translate(err))
	}
	return n, nil
}

// ScheduleSetTimes implements store.ScheduleStore.
func (s *Store) ScheduleSetTimes(ctx context.Context, p *store.ScheduleSetTimesParams) (*store.Schedule, error) {
	if p == nil {
		return nil, store.Invalid("params", "must not be nil")
	}
	var out *store.Schedule
	err := s.tx(ctx, func(tx bun.Tx, _ *outbox) error {
		row, err := getSchedule(ctx, tx, p.ID, s.lockClause("NO KEY UPDATE"))
		if err != nil {
			return err
		}
		q := tx.NewUpdate().Model(row).WherePK()
		if p.NextRunAt != nil {
			row.NextRunAt = store.Timestamp(*p.NextRunAt)
			q = q.Column("next_run_at")
		}
		if p.LastRunAt != nil {
			row.LastRunAt = store.Timestamp(*p.LastRunAt)
			q = q.Column("last_run_at")
		}
		if p.LastFiredAt != nil {
			row.LastFiredAt = store.Timestamp(*p.LastFiredAt)
			q = q.Column("last_fired_at")
		}
		if p.NextRunAt != nil || p.LastRunAt != nil || p.LastFiredAt != nil {
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		out = row.schedule()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set times of schedule %s: %w", p.ID, err)
	}
	return out, nil
}
