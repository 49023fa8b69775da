package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// Principal is who acts: a subject, and whether it is an admin. An admin
// reads and changes everything; anyone else only what they own.
type Principal struct {
	Subject string
	Admin   bool
}

// can reports whether p may see and change what owner owns.
func (p Principal) can(owner string) bool { return p.Admin || (p.Subject != "" && p.Subject == owner) }

// minGapFires is how many fire times the minimum-interval policy examines.
const minGapFires = 1000

// checkSchedule checks what the store cannot: the trigger, the agent, the
// targets and the policies. prefix goes before field names.
func (s *Scheduler) checkSchedule(ctx context.Context, sch *store.Schedule, prefix string) error {
	if _, err := storekit.PrepareSchedule(withOwner(sch), s.limits); err != nil {
		var ve *store.ValidationError
		if prefix != "" && errors.As(err, &ve) {
			return store.Invalid(prefix+ve.Field, ve.Rule)
		}
		return err
	}
	probe := *sch
	if probe.CreatedAt.IsZero() {
		probe.CreatedAt = s.clock.Now()
	}
	trig, err := s.triggers.compile(&probe)
	if err != nil {
		var ve *store.ValidationError
		if prefix != "" && errors.As(err, &ve) {
			return store.Invalid(prefix+ve.Field, ve.Rule)
		}
		return err
	}
	if _, err := s.cfg.Agents.Lookup(sch.Agent); err != nil {
		return store.Invalid(prefix+"agent", fmt.Sprintf("names no registered agent: %q", sch.Agent))
	}
	for i, t := range sch.Targets {
		if _, err := s.cfg.Delivery.Lookup(t.Channel); err != nil {
			return store.Invalid(fmt.Sprintf("%stargets[%d].channel", prefix, i), fmt.Sprintf("names no delivery channel: %q", t.Channel))
		}
	}
	if sch.Trigger.Kind == store.TriggerOnce && !sch.Trigger.At.After(s.clock.Now()) && sch.LastFiredAt.IsZero() {
		return store.Invalid(prefix+"trigger.at", "must be in the future")
	}
	pol := s.cfg.Policy
	if pol.MaxTimeout > 0 && sch.Timeout > pol.MaxTimeout {
		return store.Invalid(prefix+"timeout", fmt.Sprintf("must be at most %v (policy)", pol.MaxTimeout))
	}
	if pol.MinInterval > 0 {
		gap, ok := trig.MinGap(s.clock.Now(), minGapFires)
		if ok && gap < pol.MinInterval {
			return store.Invalid(prefix+"trigger", fmt.Sprintf("fires %v apart at the closest; the minimum interval is %v (policy)", gap, pol.MinInterval))
		}
	}
	return nil
}

// withOwner lets validation pass a static schedule that names no owner.
func withOwner(sch *store.Schedule) *store.Schedule {
	if sch.Owner != "" {
		return sch
	}
	c := *sch
	c.Owner = StaticOwner
	return &c
}

// nextRun is the first fire time of sch after now, zero when paused or none.
func (s *Scheduler) nextRun(sch *store.Schedule) time.Time {
	if sch.Paused {
		return time.Time{}
	}
	trig, err := s.triggers.compile(sch)
	if err != nil {
		return time.Time{}
	}
	next, _ := trig.Next(s.clock.Now())
	return next
}

// checkActiveLimit refuses one more active schedule of owner when the
// policy's cap is reached. Updates and resumes call it before they move
// the last fired tick, so that a plain refusal has nothing to undo; the
// capped write then counts again in its transaction.
func (s *Scheduler) checkActiveLimit(ctx context.Context, owner string) error {
	return activeLimit(ctx, s.st, owner, s.cfg.Policy.MaxActiveSchedules)
}

// activeLimit refuses one more active schedule of owner when owner has max
// (> 0) already.
func activeLimit(ctx context.Context, st store.Store, owner string, max int) error {
	if max == 0 {
		return nil
	}
	n, err := st.ScheduleCountActive(ctx, owner)
	if err != nil {
		return err
	}
	if n >= max {
		return store.ActiveLimit(owner, n)
	}
	return nil
}

// CreateSchedule creates a schedule owned by p (an admin may name another
// owner in sch.Owner). It checks the trigger, the agent, the delivery
// targets and the policies, and sets NextRunAt. Every node fires it within
// a second.
func (s *Scheduler) CreateSchedule(ctx context.Context, p Principal, sch *store.Schedule) (*store.Schedule, error) {
	if sch == nil {
		return nil, store.Invalid("schedule", "must not be nil")
	}
	c := *sch
	if c.Owner == "" || !p.Admin {
		if c.Owner != "" && c.Owner != p.Subject {
			return nil, store.Invalid("owner", "only an admin may create a schedule for another owner")
		}
		c.Owner = p.Subject
	}
	c.Static = false
	c.ID, c.Version, c.LastRunAt, c.LastFiredAt = "", 0, time.Time{}, time.Time{}
	if err := s.checkSchedule(ctx, &c, ""); err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	out, err := s.st.ScheduleCreateCapped(ctx, &c, s.cfg.Policy.MaxActiveSchedules)
	if err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	if err := s.setNextRun(ctx, out); err != nil {
		return nil, fmt.Errorf("create schedule: %w", err)
	}
	return out, nil
}

// setNextRun stores the next fire time of sch, computed from the stored
// schedule (an interval counts from its creation), and sets it on sch.
func (s *Scheduler) setNextRun(ctx context.Context, sch *store.Schedule) error {
	next := s.nextRun(sch)
	if next.Equal(sch.NextRunAt) {
		return nil
	}
	out, err := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: sch.ID, NextRunAt: &next})
	if err != nil {
		return err
	}
	*sch = *out
	return nil
}

// updateDefinition writes the new definition c of schedule cur. When the
// trigger changes, or the update resumes a paused schedule, the schedule's
// last fired tick first moves to now (and back if the update fails), so no
// node catches up ticks of the new trigger, or of the paused stretch, from
// before the change.
func (s *Scheduler) updateDefinition(ctx context.Context, cur, c *store.Schedule) (*store.Schedule, error) {
	retrigger := !sameTrigger(cur.Trigger, c.Trigger)
	move := retrigger || (cur.Paused && !c.Paused)
	if move {
		if _, err := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: cur.ID, LastFiredAt: ptr(s.clock.Now())}); err != nil {
			return nil, err
		}
	}
	c.NextRunAt = s.nextRun(c)
	out, err := s.st.ScheduleUpdateCapped(ctx, c, s.cfg.Policy.MaxActiveSchedules)
	if err != nil && move {
		if _, rerr := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: cur.ID, LastFiredAt: ptr(cur.LastFiredAt)}); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the last fired tick: %w", rerr))
		}
	}
	if err == nil && (retrigger || c.Paused) {
		s.flushBefore(ctx, cur, out.UpdatedAt)
	}
	return out, err
}

// flushBefore writes the ticks of cur due before the change at until that
// stops or replaces them. Every node's fire loop does the same when it
// learns of the change; this writes them before the change returns, and
// is the only writer of those of a node that missed the change (a pause
// and a resume read at once). A failure is logged: the change stands, and
// the fire loops still write the ticks.
func (s *Scheduler) flushBefore(ctx context.Context, cur *store.Schedule, until time.Time) {
	if err := s.writeDueBefore(ctx, cur, until); err != nil {
		level.Warn(s.logger).Log("msg", "write the ticks due before a change of schedule", "schedule_id", cur.ID, "err", err)
	}
}

func sameTrigger(a, b store.Trigger) bool {
	na, errA := storekit.PrepareSchedule(&store.Schedule{Owner: "x", Name: "x", Agent: "x", Trigger: a}, store.Limits{})
	nb, errB := storekit.PrepareSchedule(&store.Schedule{Owner: "x", Name: "x", Agent: "x", Trigger: b}, store.Limits{})
	if errA != nil || errB != nil {
		return false
	}
	ta, tb := na.Trigger, nb.Trigger
	return ta.Kind == tb.Kind && ta.Cron == tb.Cron && ta.Interval == tb.Interval && ta.At.Equal(tb.At) &&
		ta.Timezone == tb.Timezone && ta.StartAt.Equal(tb.StartAt) && ta.EndAt.Equal(tb.EndAt) && ta.Jitter == tb.Jitter
}

// GetSchedule returns a schedule p may see.
func (s *Scheduler) GetSchedule(ctx context.Context, p Principal, id string) (*store.Schedule, error) {
	sch, err := s.st.ScheduleGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get schedule: %w", err)
	}
	if !p.can(sch.Owner) {
		return nil, fmt.Errorf("get schedule: %w", store.ErrNotFound)
	}
	return sch, nil
}

// ListSchedules lists the schedules p may see: an admin's listing is as
// params say, anyone else's is limited to their own.
func (s *Scheduler) ListSchedules(ctx context.Context, p Principal, params store.ScheduleListParams) (*store.SchedulePage, error) {
	if !p.Admin {
		if params.Owner != "" && params.Owner != p.Subject {
			return &store.SchedulePage{}, nil
		}
		params.Owner = p.Subject
		if p.Subject == "" {
			return &store.SchedulePage{}, nil
		}
	}
	page, err := s.st.ScheduleList(ctx, &params)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return page, nil
}

// editable returns the schedule id if p may change it.
func (s *Scheduler) editable(ctx context.Context, p Principal, id string) (*store.Schedule, error) {
	cur, err := s.GetSchedule(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if cur.Static {
		return nil, fmt.Errorf("schedule %s: %w", id, ErrStatic)
	}
	return cur, nil
}

// UpdateSchedule replaces the definition of schedule sch.ID, checked as by
// CreateSchedule. When sch.Version is set it must be the current version
// (else store.ErrConflict). Static schedules are refused with ErrStatic.
func (s *Scheduler) UpdateSchedule(ctx context.Context, p Principal, sch *store.Schedule) (*store.Schedule, error) {
	if sch == nil {
		return nil, store.Invalid("schedule", "must not be nil")
	}
	cur, err := s.editable(ctx, p, sch.ID)
	if err != nil {
		return nil, fmt.Errorf("update schedule: %w", err)
	}
	c := *sch
	c.Owner, c.CreatedAt = cur.Owner, cur.CreatedAt
	if err := s.checkSchedule(ctx, &c, ""); err != nil {
		return nil, fmt.Errorf("update schedule: %w", err)
	}
	if cur.Paused && !c.Paused {
		if err := s.checkActiveLimit(ctx, c.Owner); err != nil {
			return nil, fmt.Errorf("update schedule: %w", err)
		}
	}
	out, err := s.updateDefinition(ctx, cur, &c)
	if err != nil {
		return nil, fmt.Errorf("update schedule: %w", err)
	}
	return out, nil
}

// DeleteSchedule deletes a schedule; its runs stay in the history. Static
// schedules are refused with ErrStatic. Ticks due before the delete are
// written first: the schedule is paused, which stops every node firing it
// at a known moment, then the ticks due by that moment and not yet written
// are written, then the schedule is deleted. When they cannot be written,
// the schedule is left paused and the error returned.
func (s *Scheduler) DeleteSchedule(ctx context.Context, p Principal, id string) error {
	cur, err := s.editable(ctx, p, id)
	if err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	if !cur.Paused {
		paused, err := s.st.SchedulePause(ctx, id)
		if err != nil {
			return fmt.Errorf("delete schedule: pause it first: %w", err)
		}
		cur.LastFiredAt = paused.LastFiredAt // the newest, ticks written meanwhile included
		if err := s.writeDueBefore(ctx, cur, paused.UpdatedAt); err != nil {
			return fmt.Errorf("delete schedule: left paused: %w", err)
		}
	}
	if err := s.st.ScheduleDelete(ctx, id); err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	return nil
}

// pausable returns schedule id if p may pause or resume it: its owner or an
// admin, and only an admin for a static schedule.
func (s *Scheduler) pausable(ctx context.Context, p Principal, id string) (*store.Schedule, error) {
	cur, err := s.GetSchedule(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if cur.Static && !p.Admin {
		return nil, fmt.Errorf("schedule %s: only an admin pauses or resumes a static schedule: %w", id, ErrStatic)
	}
	return cur, nil
}

// PauseSchedule stops a schedule from firing until it is resumed. Ticks
// due before the pause are run (written before it returns, when the store
// allows); ticks due while it is paused are not.
func (s *Scheduler) PauseSchedule(ctx context.Context, p Principal, id string) (*store.Schedule, error) {
	cur, err := s.pausable(ctx, p, id)
	if err != nil {
		return nil, fmt.Errorf("pause schedule: %w", err)
	}
	paused, err := s.st.SchedulePause(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("pause schedule: %w", err)
	}
	if !cur.Paused {
		cur.LastFiredAt = paused.LastFiredAt // the newest, ticks written meanwhile included
		s.flushBefore(ctx, cur, paused.UpdatedAt)
	}
	out, err := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: id, NextRunAt: ptr(time.Time{})})
	if err != nil {
		return nil, fmt.Errorf("pause schedule: %w", err)
	}
	return out, nil
}

// ResumeSchedule lets a paused schedule fire again, from its next fire time
// on (ticks due while it was paused are not run). It is subject to the
// active-schedule limit.
func (s *Scheduler) ResumeSchedule(ctx context.Context, p Principal, id string) (*store.Schedule, error) {
	cur, err := s.pausable(ctx, p, id)
	if err != nil {
		return nil, fmt.Errorf("resume schedule: %w", err)
	}
	if cur.Paused {
		if err := s.checkActiveLimit(ctx, cur.Owner); err != nil {
			return nil, fmt.Errorf("resume schedule: %w", err)
		}
		// Ticks due while paused are not run: the last fired tick moves
		// to now before any node learns of the resume.
		if _, err := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: id, LastFiredAt: ptr(s.clock.Now())}); err != nil {
			return nil, fmt.Errorf("resume schedule: %w", err)
		}
	}
	sch, err := s.st.ScheduleResumeCapped(ctx, id, s.cfg.Policy.MaxActiveSchedules)
	if err != nil && cur.Paused {
		if _, rerr := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: id, LastFiredAt: ptr(cur.LastFiredAt)}); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the last fired tick: %w", rerr))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("resume schedule: %w", err)
	}
	out, err := s.st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: id, NextRunAt: ptr(s.nextRun(sch))})
	if err != nil {
		return nil, fmt.Errorf("resume schedule: %w", err)
	}
	return out, nil
}

// RunNow enqueues a manual run of a schedule, due at once, subject to the
// schedule's overlap policy (the run may come back skipped).
func (s *Scheduler) RunNow(ctx context.Context, p Principal, id string) (*store.Run, error) {
	sch, err := s.GetSchedule(ctx, p, id)
	if err != nil {
		return nil, fmt.Errorf("run now: %w", err)
	}
	params := &store.RunEnqueueParams{
		Kind: store.RunKindManual, ScheduleID: sch.ID, Owner: sch.Owner, Agent: sch.Agent,
		Payload: sch.Payload, Targets: sch.Targets, MaxAttempts: s.maxAttempts(sch.MaxAttempts), Timeout: sch.Timeout,
	}
	w := EnqueueWork{Kind: store.RunKindManual, Agent: sch.Agent, ScheduleID: sch.ID}
	ctx = s.startEnqueue(ctx, w, params)
	res, err := s.st.RunEnqueue(ctx, params)
	s.endEnqueue(ctx, w, res, err)
	if err != nil {
		return nil, fmt.Errorf("run now: %w", err)
	}
	return res[0].Run, nil
}

// declared reports whether static schedule sch is declared in the config.
func (s *Scheduler) declared(sch *store.Schedule) bool {
	for _, d := range s.cfg.Static {
		if ownerOr(d.Owner) == sch.Owner && d.Name == sch.Name {
			return true
		}
	}
	return false
}

// upsertStatic creates or updates the static schedules of the config. A
// user's schedule of the same owner and name is not taken over: Start fails
// and says so.
func (s *Scheduler) upsertStatic(ctx context.Context) error {
	for _, want := range s.cfg.Static {
		c := *want
		c.Owner, c.Static = ownerOr(c.Owner), true
		page, err := s.st.ScheduleList(ctx, &store.ScheduleListParams{Owner: c.Owner, Name: c.Name, Limit: 1})
		if err != nil {
			return fmt.Errorf("static schedule %q: %w", c.Name, err)
		}
		if len(page.Schedules) == 0 {
			out, err := s.st.ScheduleCreate(ctx, &c)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("static schedule %q: %w", c.Name, err)
			}
			if err == nil {
				if err := s.setNextRun(ctx, out); err != nil {
					return fmt.Errorf("static schedule %q: %w", c.Name, err)
				}
			}
			continue
		}
		cur := page.Schedules[0]
		if !cur.Static {
			return fmt.Errorf("static schedule %q: owner %q already has a schedule of that name that is not static: %w", c.Name, c.Owner, store.ErrConflict)
		}
		c.ID, c.Version, c.CreatedAt = cur.ID, cur.Version, cur.CreatedAt
		c.Paused = cur.Paused || want.Paused // an admin's pause outlives restarts
		if sameDefinition(cur, &c) {
			continue
		}
		if _, err := s.updateDefinition(ctx, cur, &c); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("static schedule %q: %w", c.Name, err)
		}
	}
	return nil
}

// sameDefinition reports whether a and b define the same schedule, once
// both are in the store's normal form.
func sameDefinition(a, b *store.Schedule) bool {
	na, errA := storekit.PrepareSchedule(a, store.Limits{})
	nb, errB := storekit.PrepareSchedule(b, store.Limits{})
	if errA != nil || errB != nil {
		return false
	}
	return na.Agent == nb.Agent && sameJSON(na.Payload, nb.Payload) && sameTrigger(na.Trigger, nb.Trigger) &&
		na.Overlap == nb.Overlap && na.Misfire == nb.Misfire && na.MisfireCap == nb.MisfireCap &&
		na.Timeout == nb.Timeout && na.MaxAttempts == nb.MaxAttempts && na.Paused == nb.Paused &&
		slices.Equal(na.Targets, nb.Targets)
}

// sameJSON reports whether a and b hold the same JSON value (a database may
// store it re-formatted).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// maxAttempts is n, or the retry policy's default when n is zero.
func (s *Scheduler) maxAttempts(n int) int {
	if n > 0 {
		return n
	}
	return s.cfg.Retry.MaxAttempts
}
