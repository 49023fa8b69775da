package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/delivery"
)

// TriggerKind says how a schedule fires.
type TriggerKind string

// Trigger kinds.
const (
	// TriggerCron fires on a cron expression in the trigger's time zone.
	TriggerCron TriggerKind = "cron"
	// TriggerInterval fires every Interval.
	TriggerInterval TriggerKind = "interval"
	// TriggerOnce fires once, at At.
	TriggerOnce TriggerKind = "once"
)

// Trigger is a schedule's typed trigger spec, stored as data (never as a
// serialized timer object). The store checks it by the rules the scheduler
// fires it with, cron expression included: a store refuses what the
// scheduler could not fire.
type Trigger struct {
	// Kind is cron, interval or once. Required.
	Kind TriggerKind `json:"kind"`
	// Cron is the expression as the user wrote it (5 or 6 fields, or a
	// descriptor such as @daily or @every 5m). Required for kind cron.
	Cron string `json:"cron,omitempty"`
	// Interval is the period of kind interval; it must be positive.
	Interval time.Duration `json:"interval,omitempty"`
	// At is the instant of kind once. Required for kind once.
	At time.Time `json:"at,omitzero"`
	// Timezone is the IANA zone the trigger is read in; stored as "UTC" when
	// empty.
	Timezone string `json:"timezone,omitempty"`
	// StartAt and EndAt bound the fire times; zero means unbounded. EndAt
	// must be after StartAt when both are set.
	StartAt time.Time `json:"start_at,omitzero"`
	EndAt   time.Time `json:"end_at,omitzero"`
	// Jitter delays each fire by a random duration up to Jitter; not
	// negative.
	Jitter time.Duration `json:"jitter,omitempty"`
}

// OverlapPolicy says what a new run of a schedule does while an earlier run
// of the same schedule is still active (queued or running).
type OverlapPolicy string

// Overlap policies.
const (
	// OverlapSkip drops the new run while any run is active (the default).
	OverlapSkip OverlapPolicy = "skip"
	// OverlapBufferOne keeps at most one run waiting behind the active one;
	// further runs are dropped.
	OverlapBufferOne OverlapPolicy = "buffer_one"
	// OverlapBufferAll keeps every new run, each waiting for the one before.
	OverlapBufferAll OverlapPolicy = "buffer_all"
	// OverlapCancelOther cancels the active runs; the new run starts when
	// they have ended.
	OverlapCancelOther OverlapPolicy = "cancel_other"
	// OverlapAllowAll runs every new run at once, alongside the others.
	OverlapAllowAll OverlapPolicy = "allow_all"
)

// MisfirePolicy says what the scheduler does with ticks missed while no node
// was running.
type MisfirePolicy string

// Misfire policies.
const (
	// MisfireSkip drops missed ticks.
	MisfireSkip MisfirePolicy = "skip"
	// MisfireRunOnce coalesces all missed ticks into one run (the default).
	MisfireRunOnce MisfirePolicy = "run_once"
	// MisfireRunAll runs every missed tick, up to a cap.
	MisfireRunAll MisfirePolicy = "run_all"
)

// Target is a place a run's result is delivered to: delivery.Target, the
// one target type of every package.
type Target = delivery.Target

// Schedule is a durable recurring (or one-off) task.
type Schedule struct {
	// ID is a UUIDv7 string, assigned by the store on create.
	ID string
	// Owner is the principal that owns the schedule and its runs. Required.
	Owner string
	// Name is unique per owner. Required, at most 200 bytes.
	Name string
	// Agent names the agent that runs the task. Required.
	Agent string
	// Payload is the JSON handed to the agent; empty or valid JSON, within
	// the store's payload limit.
	Payload json.RawMessage
	// Trigger says when the schedule fires. Required.
	Trigger Trigger
	// Overlap is the overlap policy; stored as skip when empty.
	Overlap OverlapPolicy
	// Misfire is the misfire policy; stored as run_once when empty.
	Misfire MisfirePolicy
	// MisfireCap caps the runs of MisfireRunAll; zero means the scheduler's
	// default. Not negative.
	MisfireCap int
	// Timeout bounds one attempt; zero means the scheduler's default. Not
	// negative.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of each run; zero means the scheduler's
	// default. Not negative.
	MaxAttempts int
	// Targets receive the result of each run.
	Targets []Target
	// Static marks a schedule declared in code or configuration.
	Static bool
	// Paused schedules do not fire.
	Paused bool
	// NextRunAt is the next fire time; zero when none is due.
	NextRunAt time.Time
	// LastRunAt is the last time a run of the schedule started: RunClaim
	// sets it.
	LastRunAt time.Time
	// LastFiredAt is the latest tick for which a run was enqueued. RunEnqueue
	// advances it in the tick's transaction.
	LastFiredAt time.Time
	// Version starts at 1 and is bumped by every change of the definition
	// (create, update, pause, resume). ScheduleSetTimes does not bump it.
	Version int64
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ScheduleListParams selects schedules for ScheduleList.
type ScheduleListParams struct {
	// Owner, when set, keeps the schedules of that owner only.
	Owner string
	// Name, when set, keeps the schedule of that name only.
	Name string
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
	// Limit caps the page size: zero means ListLimitDefault, and it is at
	// most ListLimitMax.
	Limit int
}

// SchedulePage is one page of schedules, in ascending ID (creation) order.
type SchedulePage struct {
	Schedules []*Schedule
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// ScheduleSetTimesParams sets a schedule's bookkeeping times. A nil field
// is left as it is; a pointer to the zero time clears it.
type ScheduleSetTimesParams struct {
	ID          string
	NextRunAt   *time.Time
	LastRunAt   *time.Time
	LastFiredAt *time.Time
}

// ScheduleStore keeps schedules. Every change of a definition bumps its
// Version and publishes a TopicSchedule notification.
type ScheduleStore interface {
	// ScheduleCreate validates and inserts s, assigning ID, Version 1,
	// CreatedAt and UpdatedAt; it returns the stored schedule. A duplicate
	// (Owner, Name) is ErrConflict.
	ScheduleCreate(ctx context.Context, s *Schedule) (*Schedule, error)
	// ScheduleGet returns the schedule, or ErrNotFound.
	ScheduleGet(ctx context.Context, id string) (*Schedule, error)
	// ScheduleUpdate replaces the definition of schedule s.ID (Name, Agent,
	// Payload, Trigger, Overlap, Misfire, MisfireCap, Timeout, MaxAttempts,
	// Targets, Paused, NextRunAt) and returns the stored schedule. Owner,
	// Static, CreatedAt, LastRunAt and LastFiredAt are kept (s.Owner is
	// ignored); the rest is validated as by ScheduleCreate. When s.Version
	// is not zero it must equal the stored version, or the result is
	// ErrConflict and nothing changes.
	ScheduleUpdate(ctx context.Context, s *Schedule) (*Schedule, error)
	// ScheduleDelete removes the schedule (its runs stay, for the history),
	// or returns ErrNotFound.
	ScheduleDelete(ctx context.Context, id string) error
	// SchedulePause sets Paused; pausing a paused schedule changes nothing
	// and is not an error.
	SchedulePause(ctx context.Context, id string) (*Schedule, error)
	// ScheduleResume clears Paused; resuming an active schedule changes
	// nothing and is not an error.
	ScheduleResume(ctx context.Context, id string) (*Schedule, error)
	// ScheduleList returns one page of schedules.
	ScheduleList(ctx context.Context, params *ScheduleListParams) (*SchedulePage, error)
	// ScheduleCountActive counts the schedules of owner that are not paused.
	ScheduleCountActive(ctx context.Context, owner string) (int, error)
	// ScheduleSetTimes sets NextRunAt, LastRunAt and LastFiredAt. It bumps
	// neither Version nor UpdatedAt, and publishes nothing: these are
	// bookkeeping, not changes of the definition.
	ScheduleSetTimes(ctx context.Context, params *ScheduleSetTimesParams) (*Schedule, error)
}

// ScheduleCapper writes schedules under a cap on an owner's active (not
// paused) schedules, checked in the transaction that makes a schedule
// active, so that concurrent creates, updates or resumes of one owner's
// schedules cannot pass the cap together. A max of zero means no cap.
type ScheduleCapper interface {
	// ScheduleCreateCapped is ScheduleCreate; when s is active and its
	// owner already has max active schedules, it returns ErrLimit
	// (ActiveLimit) and writes nothing.
	ScheduleCreateCapped(ctx context.Context, s *Schedule, max int) (*Schedule, error)
	// ScheduleUpdateCapped is ScheduleUpdate with the same cap, applied
	// when the update makes a paused schedule active.
	ScheduleUpdateCapped(ctx context.Context, s *Schedule, max int) (*Schedule, error)
	// ScheduleResumeCapped is ScheduleResume with the same cap, applied
	// when the schedule is paused.
	ScheduleResumeCapped(ctx context.Context, id string, max int) (*Schedule, error)
}

// ActiveLimit is the ErrLimit of an owner who has n active schedules, the
// most allowed.
func ActiveLimit(owner string, n int) error {
	return fmt.Errorf("owner %q has %d active schedules, the most allowed: %w", owner, n, ErrLimit)
}

// List limits.
const (
	// ListLimitDefault is the page size when a list's Limit is zero.
	ListLimitDefault = 100
	// ListLimitMax is the largest page size.
	ListLimitMax = 1000
)
