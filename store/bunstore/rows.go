package bunstore

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// The rows are the tables' shapes; they stay inside this package. Durations
// are stored as nanoseconds, JSON as text, empty strings and zero times as
// NULL; times on SQLite as integer microseconds (sqlitetime.go).

type scheduleRow struct {
	bun.BaseModel `bun:"table:herald_schedules"`

	ID              string        `bun:"id,pk"`
	Owner           string        `bun:"owner"`
	Name            string        `bun:"name"`
	Agent           string        `bun:"agent"`
	Payload         string        `bun:"payload,nullzero"`
	TriggerKind     string        `bun:"trigger_kind"`
	TriggerCron     string        `bun:"trigger_cron,nullzero"`
	TriggerInterval time.Duration `bun:"trigger_interval"`
	TriggerAt       time.Time     `bun:"trigger_at,nullzero"`
	TriggerTimezone string        `bun:"trigger_timezone"`
	TriggerStartAt  time.Time     `bun:"trigger_start_at,nullzero"`
	TriggerEndAt    time.Time     `bun:"trigger_end_at,nullzero"`
	TriggerJitter   time.Duration `bun:"trigger_jitter"`
	Overlap         string        `bun:"overlap"`
	Misfire         string        `bun:"misfire"`
	MisfireCap      int           `bun:"misfire_cap"`
	Timeout         time.Duration `bun:"timeout"`
	MaxAttempts     int           `bun:"max_attempts"`
	Targets         string        `bun:"targets,nullzero"`
	Static          bool          `bun:"static"`
	Paused          bool          `bun:"paused"`
	NextRunAt       time.Time     `bun:"next_run_at,nullzero"`
	LastRunAt       time.Time     `bun:"last_run_at,nullzero"`
	LastFiredAt     time.Time     `bun:"last_fired_at,nullzero"`
	Version         int64         `bun:"version"`
	CreatedAt       time.Time     `bun:"created_at"`
	UpdatedAt       time.Time     `bun:"updated_at"`

	// RunStartedAt is the latest start of the schedule's runs, read with
	// the row (withLastRun), never written.
	RunStartedAt anyTime `bun:"run_started_at,scanonly"`
}

// withLastRun adds RunStartedAt to a query of schedule rows: the latest
// started_at of the schedule's runs, found at the end of
// herald_runs_started_idx.
func withLastRun(q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("?TableAlias.*").
		ColumnExpr("(SELECT max(r.started_at) FROM herald_runs AS r WHERE r.schedule_id = ?TableAlias.id) AS run_started_at")
}

// anyTime scans a time that the driver may give as a time or, for an
// SQLite expression (which has no declared type), as integer microseconds.
type anyTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *anyTime) Scan(v any) error { return scanTime(&t.Time, v) }

func scheduleToRow(s *store.Schedule) *scheduleRow {
	return &scheduleRow{
		ID: s.ID, Owner: s.Owner, Name: s.Name, Agent: s.Agent, Payload: string(s.Payload),
		TriggerKind: string(s.Trigger.Kind), TriggerCron: s.Trigger.Cron, TriggerInterval: s.Trigger.Interval,
		TriggerAt: s.Trigger.At, TriggerTimezone: s.Trigger.Timezone, TriggerStartAt: s.Trigger.StartAt,
		TriggerEndAt: s.Trigger.EndAt, TriggerJitter: s.Trigger.Jitter,
		Overlap: string(s.Overlap), Misfire: string(s.Misfire), MisfireCap: s.MisfireCap,
		Timeout: s.Timeout, MaxAttempts: s.MaxAttempts, Targets: marshalTargets(s.Targets),
		Static: s.Static, Paused: s.Paused, NextRunAt: s.NextRunAt, LastRunAt: s.LastRunAt,
		LastFiredAt: s.LastFiredAt, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

func (r *scheduleRow) schedule() *store.Schedule {
	return &store.Schedule{
		ID: r.ID, Owner: r.Owner, Name: r.Name, Agent: r.Agent, Payload: rawJSON(r.Payload),
		Trigger: store.Trigger{
			Kind: store.TriggerKind(r.TriggerKind), Cron: r.TriggerCron, Interval: r.TriggerInterval,
			At: utc(r.TriggerAt), Timezone: r.TriggerTimezone, StartAt: utc(r.TriggerStartAt),
			EndAt: utc(r.TriggerEndAt), Jitter: r.TriggerJitter,
		},
		Overlap: store.OverlapPolicy(r.Overlap), Misfire: store.MisfirePolicy(r.Misfire),
		MisfireCap: r.MisfireCap, Timeout: r.Timeout, MaxAttempts: r.MaxAttempts,
		Targets: unmarshalTargets(r.Targets), Static: r.Static, Paused: r.Paused,
		NextRunAt: utc(r.NextRunAt), LastRunAt: utc(later(r.LastRunAt, r.RunStartedAt.Time)), LastFiredAt: utc(r.LastFiredAt),
		Version: r.Version, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
}

type runRow struct {
	bun.BaseModel `bun:"table:herald_runs"`

	ID              string        `bun:"id,pk"`
	Kind            string        `bun:"kind"`
	ScheduleID      string        `bun:"schedule_id,nullzero"`
	ScheduledFor    time.Time     `bun:"scheduled_for,nullzero"`
	EventID         string        `bun:"event_id,nullzero"`
	Owner           string        `bun:"owner"`
	Agent           string        `bun:"agent"`
	Payload         string        `bun:"payload,nullzero"`
	Targets         string        `bun:"targets,nullzero"`
	IdempotencyKey  string        `bun:"idempotency_key,nullzero"`
	Status          string        `bun:"status"`
	Held            bool          `bun:"held"`
	Attempt         int           `bun:"attempt"`
	MaxAttempts     int           `bun:"max_attempts"`
	Timeout         time.Duration `bun:"timeout"`
	RunAt           time.Time     `bun:"run_at"`
	LeaseOwner      string        `bun:"lease_owner,nullzero"`
	LeaseExpiresAt  time.Time     `bun:"lease_expires_at,nullzero"`
	CancelRequested bool          `bun:"cancel_requested"`
	Output          string        `bun:"output,nullzero"`
	Summary         string        `bun:"summary,nullzero"`
	Progress        string        `bun:"progress,nullzero"`
	Error           string        `bun:"error,nullzero"`
	CreatedAt       time.Time     `bun:"created_at"`
	StartedAt       time.Time     `bun:"started_at,nullzero"`
	FinishedAt      time.Time     `bun:"finished_at,nullzero"`
	DeliverAfter    time.Time     `bun:"deliver_after,nullzero"`
	CancelReason    string        `bun:"cancel_reason,nullzero"`
	TraceContext    string        `bun:"trace_context,nullzero"`

	// RowID is SQLite's rowid, read by the claim only (run_claim_pick).
	RowID int64 `bun:"row_id,scanonly"`
}

// insertArgs are r's values for the columns of run_insert, in runRow's
// order, as bun would write them: empty
// strings and zero times of nullable columns are NULL.
func (r *runRow) insertArgs() []any {
	return []any{r.ID, r.Kind, nullable(r.ScheduleID), nullTime(r.ScheduledFor), nullable(r.EventID), r.Owner, r.Agent,
		nullable(r.Payload), nullable(r.Targets), nullable(r.IdempotencyKey), r.Status, r.Held, r.Attempt, r.MaxAttempts,
		int64(r.Timeout), nullTime(r.RunAt), nullable(r.LeaseOwner), nullTime(r.LeaseExpiresAt), r.CancelRequested,
		nullable(r.Output), nullable(r.Summary), nullable(r.Progress), nullable(r.Error), r.CreatedAt,
		nullTime(r.StartedAt), nullTime(r.FinishedAt), nullTime(r.DeliverAfter), nullable(r.CancelReason),
		nullable(r.TraceContext)}
}

func (r *runRow) run() *store.Run {
	return &store.Run{
		ID: r.ID, Kind: store.RunKind(r.Kind), ScheduleID: r.ScheduleID, ScheduledFor: utc(r.ScheduledFor),
		EventID: r.EventID, Owner: r.Owner, Agent: r.Agent, Payload: rawJSON(r.Payload),
		Targets: unmarshalTargets(r.Targets), IdempotencyKey: r.IdempotencyKey,
		Status: store.RunStatus(r.Status), Held: r.Held, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Timeout: r.Timeout, RunAt: utc(r.RunAt), LeaseOwner: r.LeaseOwner, LeaseExpiresAt: utc(r.LeaseExpiresAt),
		CancelRequested: r.CancelRequested, CancelReason: r.CancelReason, Output: rawJSON(r.Output), Summary: r.Summary,
		Progress: unmarshalProgress(r.Progress), Error: r.Error,
		CreatedAt: utc(r.CreatedAt), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		DeliverAfter: utc(r.DeliverAfter), TraceContext: unmarshalTraceContext(r.TraceContext),
	}
}

func runs(rows []runRow) []*store.Run {
	out := make([]*store.Run, len(rows))
	for i := range rows {
		out[i] = rows[i].run()
	}
	return out
}

type eventRow struct {
	bun.BaseModel `bun:"table:herald_events"`

	ID         string    `bun:"id,pk"`
	Source     string    `bun:"source"`
	DeliveryID string    `bun:"delivery_id"`
	Headers    string    `bun:"headers,nullzero"`
	Body       []byte    `bun:"body"`
	RunID      string    `bun:"run_id"`
	Owner      string    `bun:"owner"`
	ReceivedAt time.Time `bun:"received_at"`
}

func (r *eventRow) event() *store.Event {
	e := &store.Event{ID: r.ID, Source: r.Source, DeliveryID: r.DeliveryID, Body: r.Body, RunID: r.RunID, Owner: r.Owner,
		ReceivedAt: utc(r.ReceivedAt)}
	if r.Headers != "" {
		_ = json.Unmarshal([]byte(r.Headers), &e.Headers)
	}
	if len(e.Body) == 0 {
		e.Body = nil
	}
	return e
}

type deliveryRow struct {
	bun.BaseModel `bun:"table:herald_deliveries"`

	ID         string    `bun:"id,pk"`
	RunID      string    `bun:"run_id"`
	Channel    string    `bun:"channel"`
	Address    string    `bun:"address,nullzero"`
	Attempt    int       `bun:"attempt"`
	Status     string    `bun:"status"`
	Error      string    `bun:"error,nullzero"`
	StartedAt  time.Time `bun:"started_at"`
	FinishedAt time.Time `bun:"finished_at"`
}

func (r *deliveryRow) delivery() *store.Delivery {
	return &store.Delivery{ID: r.ID, RunID: r.RunID, Channel: r.Channel, To: r.Address, Attempt: r.Attempt,
		Status: store.DeliveryStatus(r.Status), Error: r.Error, StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt)}
}

type cursorRow struct {
	bun.BaseModel `bun:"table:herald_cursors"`

	Source     string    `bun:"source,pk"`
	Workspace  string    `bun:"workspace,pk"`
	Channel    string    `bun:"channel,pk"`
	Latest     string    `bun:"latest,nullzero"`
	PageCursor string    `bun:"page_cursor,nullzero"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

type messageRow struct {
	bun.BaseModel `bun:"table:herald_messages"`

	Source      string    `bun:"source,pk"`
	Workspace   string    `bun:"workspace,pk"`
	Channel     string    `bun:"channel,pk"`
	TS          string    `bun:"ts,pk"`
	ThreadTS    string    `bun:"thread_ts,nullzero"`
	User        string    `bun:"user_id,nullzero"`
	UserName    string    `bun:"user_name,nullzero"`
	Text        string    `bun:"text,nullzero"`
	Raw         string    `bun:"raw,nullzero"`
	CollectedAt time.Time `bun:"collected_at"`
}

func (r *messageRow) message() *store.Message {
	return &store.Message{Source: r.Source, Workspace: r.Workspace, Channel: r.Channel, TS: r.TS,
		ThreadTS: r.ThreadTS, User: r.User, UserName: r.UserName, Text: r.Text, Raw: rawJSON(r.Raw),
		CollectedAt: utc(r.CollectedAt)}
}

func utc(t time.Time) time.Time { return store.Timestamp(t) }

func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func marshalTargets(ts []store.Target) string {
	if len(ts) == 0 {
		return ""
	}
	b, _ := json.Marshal(ts)
	return string(b)
}

func unmarshalTargets(s string) []store.Target {
	if s == "" {
		return nil
	}
	var ts []store.Target
	_ = json.Unmarshal([]byte(s), &ts)
	return ts
}

func marshalProgress(p map[string]int64) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func unmarshalProgress(s string) map[string]int64 {
	if s == "" {
		return nil
	}
	var p map[string]int64
	_ = json.Unmarshal([]byte(s), &p)
	return p
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
