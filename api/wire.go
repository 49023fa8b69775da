package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

// The wire types: what the API reads and writes. The store's records have
// no JSON form of their own; these are it.

// Target is a delivery target: a channel, an address within it, and which
// outcomes it receives (always, success or failure).
type Target struct {
	Channel string `json:"channel"`
	To      string `json:"to"`
	On      string `json:"on"`
}

// TriggerFields say when a schedule fires: exactly one of Cron (5 or 6
// fields, or @daily, @every 10m), Every (a duration, "15m") and At (an RFC
// 3339 instant), read in Timezone (IANA, default UTC), between Start and
// End (RFC 3339, both optional).
type TriggerFields struct {
	Cron     *string `json:"cron"`
	Every    *string `json:"every"`
	At       *string `json:"at"`
	Timezone *string `json:"timezone"`
	Start    *string `json:"start"`
	End      *string `json:"end"`
}

// ScheduleRequest is the body of POST /v1/schedules and PATCH
// /v1/schedules/{id}. Exactly one of Cron, Every and At says when the
// schedule fires. Durations are Go duration strings, times RFC 3339.
type ScheduleRequest struct {
	Name    *string         `json:"name"`
	Owner   *string         `json:"owner"`
	Agent   *string         `json:"agent"`
	Payload json.RawMessage `json:"payload"`
	TriggerFields
	Jitter      *string  `json:"jitter"`
	Deliver     []Target `json:"deliver"`
	Overlap     *string  `json:"overlap"`
	Misfire     *string  `json:"misfire"`
	MisfireCap  *int     `json:"misfire_cap"`
	Timeout     *string  `json:"timeout"`
	MaxAttempts *int     `json:"max_attempts"`
	Paused      *bool    `json:"paused"`
	// Version, in a PATCH, must be the schedule's current version (else
	// 409); absent means any.
	Version *int64 `json:"version"`
}

// Schedule is a schedule as the API shows it.
type Schedule struct {
	ID            string          `json:"id"`
	Owner         string          `json:"owner"`
	Name          string          `json:"name"`
	Agent         string          `json:"agent"`
	Payload       json.RawMessage `json:"payload"`
	Cron          *string         `json:"cron"`
	Every         *Duration       `json:"every"`
	At            *time.Time      `json:"at"`
	Timezone      string          `json:"timezone"`
	Start         *time.Time      `json:"start"`
	End           *time.Time      `json:"end"`
	Jitter        *Duration       `json:"jitter"`
	Deliver       []Target        `json:"deliver"`
	Overlap       string          `json:"overlap"`
	Misfire       string          `json:"misfire"`
	MisfireCap    *int            `json:"misfire_cap"`
	Timeout       *Duration       `json:"timeout"`
	MaxAttempts   *int            `json:"max_attempts"`
	Paused        bool            `json:"paused"`
	Static        bool            `json:"static"`
	NextRunAt     *time.Time      `json:"next_run_at"`
	LastRunAt     *time.Time      `json:"last_run_at"`
	NextFireTimes []time.Time     `json:"next_fire_times"`
	Version       int64           `json:"version"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// ScheduleList is a page of schedules.
type ScheduleList struct {
	Schedules  []*Schedule `json:"schedules"`
	NextCursor *string     `json:"next_cursor"`
}

// RunRequest is the body of POST /v1/runs.
type RunRequest struct {
	Agent          string          `json:"agent"`
	Owner          string          `json:"owner"`
	Payload        json.RawMessage `json:"payload"`
	Deliver        []Target        `json:"deliver"`
	IdempotencyKey string          `json:"idempotency_key"`
	RunAt          *string         `json:"run_at"`
	Timeout        *string         `json:"timeout"`
	MaxAttempts    int             `json:"max_attempts"`
}

// RunAccepted is the answer to a request that enqueued a run.
type RunAccepted struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
}

// Run is a run as the API shows it.
type Run struct {
	ID              string           `json:"id"`
	Kind            string           `json:"kind"`
	ScheduleID      *string          `json:"schedule_id"`
	ScheduledFor    *time.Time       `json:"scheduled_for"`
	EventID         *string          `json:"event_id"`
	Owner           string           `json:"owner"`
	Agent           string           `json:"agent"`
	Payload         json.RawMessage  `json:"payload"`
	Deliver         []Target         `json:"deliver"`
	IdempotencyKey  *string          `json:"idempotency_key"`
	Status          string           `json:"status"`
	Held            bool             `json:"held"`
	Attempt         int              `json:"attempt"`
	MaxAttempts     int              `json:"max_attempts"`
	Timeout         *Duration        `json:"timeout"`
	RunAt           time.Time        `json:"run_at"`
	StartedAt       *time.Time       `json:"started_at"`
	FinishedAt      *time.Time       `json:"finished_at"`
	Duration        *Duration        `json:"duration"`
	Node            *string          `json:"node"`
	CancelRequested bool             `json:"cancel_requested"`
	Error           *string          `json:"error"`
	Output          json.RawMessage  `json:"output"`
	Summary         *string          `json:"summary"`
	Progress        map[string]int64 `json:"progress"`
	CreatedAt       time.Time        `json:"created_at"`
}

// RunDetail is a run with its delivery attempts, in the order they were
// made: the answer of GET /v1/runs/{id}.
type RunDetail struct {
	Run
	Deliveries []*Delivery `json:"deliveries"`
}

// RunList is a page of runs.
type RunList struct {
	Runs       []*Run  `json:"runs"`
	NextCursor *string `json:"next_cursor"`
}

// Delivery is one attempt to deliver a run's result.
type Delivery struct {
	ID         string     `json:"id"`
	Channel    string     `json:"channel"`
	To         string     `json:"to"`
	Attempt    int        `json:"attempt"`
	Status     string     `json:"status"`
	Error      *string    `json:"error"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// CancelRequest is the body of POST /v1/runs/{id}/cancel.
type CancelRequest struct {
	Reason string `json:"reason"`
}

// Summary is the answer of GET /v1/summary.
type Summary struct {
	// Now is the API's time of the summary; Since the start of its window.
	Now   time.Time `json:"now"`
	Since time.Time `json:"since"`
	// Statuses counts the runs created in the window, and in its last
	// hour, for every status.
	Statuses []StatusCount `json:"statuses"`
	// Agents counts, per agent, the runs created in the window that ended.
	Agents []AgentCount `json:"agents"`
	// Finished counts the runs finished in each of the last 24 hours, the
	// current one last.
	Finished []HourCount `json:"finished"`
	// Queue is the queue now, whenever its runs were created.
	Queue Queue `json:"queue"`
	// NextFires are the next fire times of the active schedules, first
	// first; a schedule may have several.
	NextFires []Fire `json:"next_fires"`
}

// StatusCount counts the runs of a status.
type StatusCount struct {
	Status   string `json:"status"`
	Since    int64  `json:"since"`
	LastHour int64  `json:"last_hour"`
}

// AgentCount counts an agent's ended runs: Ended those that succeeded,
// failed or timed out, Failed those that failed or timed out.
type AgentCount struct {
	Agent  string `json:"agent"`
	Ended  int64  `json:"ended"`
	Failed int64  `json:"failed"`
}

// HourCount counts the runs finished in the hour from From.
type HourCount struct {
	From     time.Time `json:"from"`
	Finished int64     `json:"finished"`
}

// Queue is the depth of the queue and the run waiting longest.
type Queue struct {
	// Queued counts the queued runs, held ones included.
	Queued int64 `json:"queued"`
	// OldestRunAt is the earliest run_at of a queued run that is not held
	// (one waiting for its schedule's earlier run); null when none.
	OldestRunAt *time.Time `json:"oldest_run_at"`
}

// Fire is a fire time of a schedule.
type Fire struct {
	At         time.Time `json:"at"`
	ScheduleID string    `json:"schedule_id"`
	Name       string    `json:"name"`
	Agent      string    `json:"agent"`
}

// PreviewRequest is the body of POST /v1/triggers/preview: a trigger as in
// ScheduleRequest, the instant to start from (default now) and how many
// fire times to return (default 10, at most 1,000).
type PreviewRequest struct {
	TriggerFields
	From  *string `json:"from"`
	Count *int    `json:"count"`
}

// Preview is the answer of POST /v1/triggers/preview.
type Preview struct {
	FireTimes []time.Time `json:"fire_times"`
}

// Event is a webhook event as the API shows it. Headers and Body are shown
// to admins only; Body is the body's text when it is UTF-8, else its
// base64 (BodyEncoding says which).
type Event struct {
	ID           string              `json:"id"`
	Source       string              `json:"source"`
	DeliveryID   string              `json:"delivery_id"`
	RunID        *string             `json:"run_id"`
	Owner        string              `json:"owner"`
	ReceivedAt   time.Time           `json:"received_at"`
	Headers      map[string][]string `json:"headers,omitempty"`
	Body         *string             `json:"body,omitempty"`
	BodyEncoding *string             `json:"body_encoding,omitempty"`
}

// EventList is a page of events.
type EventList struct {
	Events     []*Event `json:"events"`
	NextCursor *string  `json:"next_cursor"`
}

// Named is an entry of GET /v1/agents and /v1/channels.
type Named struct {
	Name string `json:"name"`
}

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// toTargets converts wire targets.
func toTargets(ts []Target) []store.Target {
	if len(ts) == 0 {
		return nil
	}
	out := make([]store.Target, len(ts))
	for i, t := range ts {
		out[i] = store.Target{Channel: t.Channel, To: t.To, On: delivery.On(t.On)}
	}
	return out
}

// fromTargets converts store targets; never nil.
func fromTargets(ts []store.Target) []Target {
	out := make([]Target, len(ts))
	for i, t := range ts {
		on := string(t.On)
		if on == "" {
			on = string(delivery.OnAlways)
		}
		out[i] = Target{Channel: t.Channel, To: t.To, On: on}
	}
	return out
}

// jsonOrNull is raw, or null when empty.
func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// payloadOf is the payload a request sent: nil for none or null.
func payloadOf(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

func timePtr(t time.Time, loc *time.Location) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.In(loc)
	return &t
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func durPtr(d time.Duration) *Duration {
	if d == 0 {
		return nil
	}
	v := Duration(d)
	return &v
}

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// location is the zone of a schedule's times, UTC when unknown.
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

// scheduleOut shows sch, with its next fire times.
func scheduleOut(sch *store.Schedule, next []time.Time) *Schedule {
	tr := sch.Trigger
	loc := location(tr.Timezone)
	out := &Schedule{
		ID: sch.ID, Owner: sch.Owner, Name: sch.Name, Agent: sch.Agent, Payload: jsonOrNull(sch.Payload),
		Timezone: tr.Timezone, Start: timePtr(tr.StartAt, loc), End: timePtr(tr.EndAt, loc), Jitter: durPtr(tr.Jitter),
		Deliver: fromTargets(sch.Targets), Overlap: string(sch.Overlap), Misfire: string(sch.Misfire),
		MisfireCap: intPtr(sch.MisfireCap), Timeout: durPtr(sch.Timeout), MaxAttempts: intPtr(sch.MaxAttempts),
		Paused: sch.Paused, Static: sch.Static, NextRunAt: timePtr(sch.NextRunAt, loc), LastRunAt: timePtr(sch.LastRunAt, loc),
		NextFireTimes: next, Version: sch.Version, CreatedAt: sch.CreatedAt.UTC(), UpdatedAt: sch.UpdatedAt.UTC(),
	}
	if out.Timezone == "" {
		out.Timezone = "UTC"
	}
	if out.NextFireTimes == nil {
		out.NextFireTimes = []time.Time{}
	}
	switch tr.Kind {
	case store.TriggerCron:
		out.Cron = strPtr(tr.Cron)
	case store.TriggerInterval:
		out.Every = durPtr(tr.Interval)
	case store.TriggerOnce:
		out.At = timePtr(tr.At, loc)
	}
	return out
}

// scheduleRequestOf is sch as the request that would make it: the base a
// PATCH is applied to.
func scheduleRequestOf(sch *store.Schedule) *ScheduleRequest {
	tr := sch.Trigger
	str := func(s string) *string { return &s }
	dur := func(d time.Duration) *string {
		if d == 0 {
			return nil
		}
		return str(d.String())
	}
	tm := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		return str(t.Format(time.RFC3339Nano))
	}
	req := &ScheduleRequest{
		Name: str(sch.Name), Agent: str(sch.Agent), Payload: sch.Payload,
		TriggerFields: TriggerFields{Timezone: str(tr.Timezone), Start: tm(tr.StartAt), End: tm(tr.EndAt)},
		Jitter:        dur(tr.Jitter), Deliver: fromTargets(sch.Targets),
		Overlap: str(string(sch.Overlap)), Misfire: str(string(sch.Misfire)), MisfireCap: &sch.MisfireCap,
		Timeout: dur(sch.Timeout), MaxAttempts: &sch.MaxAttempts, Paused: &sch.Paused,
	}
	switch tr.Kind {
	case store.TriggerCron:
		req.Cron = str(tr.Cron)
	case store.TriggerInterval:
		req.Every = dur(tr.Interval)
	case store.TriggerOnce:
		req.At = tm(tr.At)
	}
	return req
}

// triggerOf reads the trigger fields of a request; which names the field
// that was used (cron, every or at) for the errors of the whole trigger.
func triggerOf(errs *[]FieldError, f *TriggerFields, jitter *string) (tr store.Trigger, which string) {
	cron, every, at := f.Cron, f.Every, f.At
	n := 0
	if cron != nil {
		tr.Kind, tr.Cron, which = store.TriggerCron, *cron, "cron"
		n++
	}
	if every != nil {
		tr.Kind, tr.Interval, which = store.TriggerInterval, parseDuration(errs, "every", every), "every"
		if tr.Interval <= 0 && len(*errs) == 0 {
			*errs = append(*errs, FieldError{Field: "every", Message: "must be a positive duration"})
		}
		n++
	}
	if at != nil {
		tr.Kind, tr.At, which = store.TriggerOnce, parseTime(errs, "at", at), "at"
		if tr.At.IsZero() && len(*errs) == 0 {
			*errs = append(*errs, FieldError{Field: "at", Message: "must be an RFC 3339 time"})
		}
		n++
	}
	if n != 1 {
		*errs = append(*errs, FieldError{Field: "cron", Message: "exactly one of cron, every and at is required"})
		which = "cron"
	}
	if f.Timezone != nil {
		tr.Timezone = *f.Timezone
	}
	tr.StartAt = parseTime(errs, "start", f.Start)
	tr.EndAt = parseTime(errs, "end", f.End)
	tr.Jitter = parseDuration(errs, "jitter", jitter)
	return tr, which
}

// scheduleOf reads a schedule request into a store schedule.
func scheduleOf(req *ScheduleRequest) (*store.Schedule, fieldMap, *Problem) {
	var errs []FieldError
	tr, which := triggerOf(&errs, &req.TriggerFields, req.Jitter)
	sch := &store.Schedule{Trigger: tr, Payload: payloadOf(req.Payload), Targets: toTargets(req.Deliver)}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	sch.Name, sch.Agent, sch.Owner = deref(req.Name), deref(req.Agent), deref(req.Owner)
	sch.Overlap, sch.Misfire = store.OverlapPolicy(deref(req.Overlap)), store.MisfirePolicy(deref(req.Misfire))
	sch.Timeout = parseDuration(&errs, "timeout", req.Timeout)
	if req.MisfireCap != nil {
		sch.MisfireCap = *req.MisfireCap
	}
	if req.MaxAttempts != nil {
		sch.MaxAttempts = *req.MaxAttempts
	}
	if req.Paused != nil {
		sch.Paused = *req.Paused
	}
	if req.Version != nil {
		sch.Version = *req.Version
	}
	checkText(&errs, "name", sch.Name)
	checkText(&errs, "agent", sch.Agent)
	checkText(&errs, "owner", sch.Owner)
	checkText(&errs, "cron", tr.Cron)
	checkText(&errs, "timezone", tr.Timezone)
	checkText(&errs, "overlap", string(sch.Overlap))
	checkText(&errs, "misfire", string(sch.Misfire))
	checkTargets(&errs, req.Deliver)
	if sch.Name == "" {
		errs = append(errs, FieldError{Field: "name", Message: "is required"})
	}
	if sch.Agent == "" {
		errs = append(errs, FieldError{Field: "agent", Message: "is required"})
	}
	if p := checkPayload(req.Payload); p != "" {
		errs = append(errs, FieldError{Field: "payload", Message: p})
	}
	if len(errs) > 0 {
		return nil, nil, invalid(errs...)
	}
	return sch, scheduleFields.with("trigger", which).with("trigger.kind", which), nil
}

// checkText refuses text fields that hold control characters (a NUL
// byte, a newline in a name) or that are not UTF-8: no store keeps them
// faithfully, and they make logs lie.
func checkText(errs *[]FieldError, field, s string) {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		*errs = append(*errs, FieldError{Field: field, Message: "must be UTF-8 text without control characters"})
	}
}

// checkTargets checks the text of delivery targets.
func checkTargets(errs *[]FieldError, ts []Target) {
	for i, t := range ts {
		checkText(errs, fmt.Sprintf("deliver[%d].channel", i), t.Channel)
		checkText(errs, fmt.Sprintf("deliver[%d].to", i), t.To)
		checkText(errs, fmt.Sprintf("deliver[%d].on", i), t.On)
	}
}

// checkPayload says what is wrong with a payload, or "".
func checkPayload(raw json.RawMessage) string {
	if len(raw) > 0 && string(raw) != "null" && raw[0] != '{' && raw[0] != '[' {
		return "must be a JSON object or array (or null)"
	}
	return ""
}

// runOut shows r.
func runOut(r *store.Run) *Run {
	out := &Run{
		ID: r.ID, Kind: string(r.Kind), ScheduleID: strPtr(r.ScheduleID), ScheduledFor: timePtr(r.ScheduledFor, time.UTC),
		EventID: strPtr(r.EventID), Owner: r.Owner, Agent: r.Agent, Payload: jsonOrNull(r.Payload),
		Deliver: fromTargets(r.Targets), IdempotencyKey: strPtr(r.IdempotencyKey), Status: string(r.Status),
		Held: r.Held, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts, Timeout: durPtr(r.Timeout), RunAt: r.RunAt.UTC(),
		StartedAt: timePtr(r.StartedAt, time.UTC), FinishedAt: timePtr(r.FinishedAt, time.UTC),
		Node: strPtr(r.LeaseOwner), CancelRequested: r.CancelRequested, Error: strPtr(r.Error),
		Output: jsonOrNull(r.Output), Summary: strPtr(r.Summary), Progress: r.Progress, CreatedAt: r.CreatedAt.UTC(),
	}
	if out.Progress == nil {
		out.Progress = map[string]int64{}
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() && !r.FinishedAt.Before(r.StartedAt) {
		out.Duration = durPtr(r.FinishedAt.Sub(r.StartedAt))
		if out.Duration == nil {
			zero := Duration(0)
			out.Duration = &zero
		}
	}
	return out
}

// deliveryOut shows d.
func deliveryOut(d *store.Delivery) *Delivery {
	return &Delivery{ID: d.ID, Channel: d.Channel, To: d.To, Attempt: d.Attempt, Status: string(d.Status),
		Error: strPtr(d.Error), StartedAt: d.StartedAt.UTC(), FinishedAt: timePtr(d.FinishedAt, time.UTC)}
}

// eventOut shows e; full adds its headers and body.
func eventOut(e *store.Event, full bool) *Event {
	out := &Event{ID: e.ID, Source: e.Source, DeliveryID: e.DeliveryID, RunID: strPtr(e.RunID), Owner: e.Owner,
		ReceivedAt: e.ReceivedAt.UTC()}
	if full {
		out.Headers = e.Headers
		if out.Headers == nil {
			out.Headers = map[string][]string{}
		}
		body, enc := string(e.Body), "utf-8"
		if !utf8.Valid(e.Body) {
			body, enc = base64Std(e.Body), "base64"
		}
		out.Body, out.BodyEncoding = &body, &enc
	}
	return out
}

// nextCursor is a page's cursor, null on the last page.
func nextCursor(next string) *string { return strPtr(next) }
