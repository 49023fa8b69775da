package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/internal/trigger"
)

// The Prepare functions validate input and return a normalized copy (defaults
// filled in, times in UTC at microsecond precision). Every implementation
// calls them, so that every store refuses the same input with the same
// error. They never modify their argument.

// maxNameLen bounds names and keys.
const maxNameLen = 200

// Bounds of a run's trace context (RunEnqueueParams.TraceContext). A W3C
// traceparent is 55 bytes and a tracestate at most 32 members of about 256
// bytes each in theory, 512 bytes in practice.
const (
	// TraceContextMax bounds the bytes of a trace context's keys and
	// values together.
	TraceContextMax = 2048
	// TraceContextFieldsMax bounds the fields of a trace context.
	TraceContextFieldsMax = 8
)

// prepareTraceContext checks a run's trace context and returns a copy of
// it; an empty one is nil.
func prepareTraceContext(field string, tc map[string]string) (map[string]string, error) {
	if len(tc) == 0 {
		return nil, nil
	}
	if len(tc) > TraceContextFieldsMax {
		return nil, Invalid(field, fmt.Sprintf("must have at most %d fields", TraceContextFieldsMax))
	}
	n := 0
	c := make(map[string]string, len(tc))
	for k, v := range tc {
		if k == "" {
			return nil, Invalid(field, "must not have an empty key")
		}
		n += len(k) + len(v)
		c[k] = v
	}
	if n > TraceContextMax {
		return nil, Invalid(field, fmt.Sprintf("must be at most %d bytes", TraceContextMax))
	}
	return c, nil
}

// PrepareSchedule validates s for ScheduleCreate and ScheduleUpdate.
func PrepareSchedule(s *Schedule, lim Limits) (*Schedule, error) {
	if s == nil {
		return nil, Invalid("schedule", "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *s
	switch {
	case strings.TrimSpace(c.Owner) == "":
		return nil, Invalid("owner", "must not be empty")
	case len(c.Owner) > maxNameLen:
		return nil, Invalid("owner", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Name) == "":
		return nil, Invalid("name", "must not be empty")
	case len(c.Name) > maxNameLen:
		return nil, Invalid("name", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Agent) == "":
		return nil, Invalid("agent", "must not be empty")
	case c.Timeout < 0:
		return nil, Invalid("timeout", "must not be negative")
	case c.MaxAttempts < 0:
		return nil, Invalid("max_attempts", "must not be negative")
	case c.MisfireCap < 0:
		return nil, Invalid("misfire_cap", "must not be negative")
	}
	if err := checkJSON("payload", c.Payload, lim.MaxPayload); err != nil {
		return nil, err
	}
	c.Payload = cloneJSON(c.Payload)
	t, err := prepareTrigger(c.Trigger)
	if err != nil {
		return nil, err
	}
	c.Trigger = t
	switch c.Overlap {
	case "":
		c.Overlap = OverlapSkip
	case OverlapSkip, OverlapBufferOne, OverlapBufferAll, OverlapCancelOther, OverlapAllowAll:
	default:
		return nil, Invalid("overlap", "must be one of skip, buffer_one, buffer_all, cancel_other, allow_all")
	}
	switch c.Misfire {
	case "":
		c.Misfire = MisfireRunOnce
	case MisfireSkip, MisfireRunOnce, MisfireRunAll:
	default:
		return nil, Invalid("misfire", "must be one of skip, run_once, run_all")
	}
	if c.Targets, err = prepareTargets("targets", c.Targets); err != nil {
		return nil, err
	}
	c.NextRunAt = Timestamp(c.NextRunAt)
	c.LastRunAt = Timestamp(c.LastRunAt)
	c.LastFiredAt = Timestamp(c.LastFiredAt)
	return &c, nil
}

// prepareTrigger checks t with the trigger package's Compile, which the
// scheduler fires with, and returns it normalized.
func prepareTrigger(t Trigger) (Trigger, error) {
	if t.Timezone == "" {
		t.Timezone = "UTC"
	}
	t.At = Timestamp(t.At)
	t.StartAt = Timestamp(t.StartAt)
	t.EndAt = Timestamp(t.EndAt)
	if _, err := trigger.Compile(t.spec(), time.Time{}); err != nil {
		var te *trigger.Error
		if errors.As(err, &te) {
			return t, Invalid(te.Field, te.Rule)
		}
		return t, err
	}
	return t, nil
}

// spec is t as the trigger package takes it.
func (t Trigger) spec() trigger.Spec {
	return trigger.Spec{Kind: string(t.Kind), Cron: t.Cron, Interval: t.Interval, At: t.At,
		Timezone: t.Timezone, StartAt: t.StartAt, EndAt: t.EndAt, Jitter: t.Jitter}
}

func prepareTargets(field string, ts []Target) ([]Target, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]Target, len(ts))
	for i, t := range ts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(t.Channel) == "" {
			return nil, Invalid(f+".channel", "must not be empty")
		}
		switch t.On {
		case "":
			t.On = delivery.OnAlways
		case delivery.OnAlways, delivery.OnSuccess, delivery.OnFailure:
		default:
			return nil, Invalid(f+".on", "must be one of always, success, failure")
		}
		out[i] = t
	}
	return out, nil
}

// PrepareEnqueue validates one run request; field names it in errors (as in
// "runs[3]"), empty for a lone request. It resolves Kind and fills
// MaxAttempts; a tick without RunAt is due at its ScheduledFor, any other
// run's RunAt stays zero when it was (the store fills in its clock).
func PrepareEnqueue(p *RunEnqueueParams, lim Limits, field string) (*RunEnqueueParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	if c.Kind == "" {
		switch {
		case !c.ScheduledFor.IsZero():
			c.Kind = RunKindSchedule
		case c.ScheduleID != "":
			c.Kind = RunKindManual
		default:
			c.Kind = RunKindEnqueue
		}
	}
	switch c.Kind {
	case RunKindSchedule:
		if c.ScheduleID == "" {
			return nil, Invalid(field+"schedule_id", "is required for a schedule run")
		}
		if c.ScheduledFor.IsZero() {
			return nil, Invalid(field+"scheduled_for", "is required for a schedule run")
		}
	case RunKindManual:
		if c.ScheduleID == "" {
			return nil, Invalid(field+"schedule_id", "is required for a manual run")
		}
	case RunKindEnqueue, RunKindWebhook:
		if c.ScheduleID != "" {
			return nil, Invalid(field+"schedule_id", "must be empty for a run of kind "+string(c.Kind))
		}
	default:
		return nil, Invalid(field+"kind", fmt.Sprintf("unknown kind %q: must be schedule, manual, webhook or enqueue", string(c.Kind)))
	}
	if c.Kind != RunKindSchedule && !c.ScheduledFor.IsZero() {
		return nil, Invalid(field+"scheduled_for", "is only for schedule runs")
	}
	if c.Kind != RunKindSchedule && !c.NextRunAt.IsZero() {
		return nil, Invalid(field+"next_run_at", "is only for schedule runs")
	}
	switch {
	case strings.TrimSpace(c.Owner) == "":
		return nil, Invalid(field+"owner", "must not be empty")
	case len(c.Owner) > maxNameLen:
		return nil, Invalid(field+"owner", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Agent) == "":
		return nil, Invalid(field+"agent", "must not be empty")
	case len(c.IdempotencyKey) > maxNameLen:
		return nil, Invalid(field+"idempotency_key", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case c.MaxAttempts < 0:
		return nil, Invalid(field+"max_attempts", "must not be negative")
	case c.Timeout < 0:
		return nil, Invalid(field+"timeout", "must not be negative")
	}
	if err := checkJSON(field+"payload", c.Payload, lim.MaxPayload); err != nil {
		return nil, err
	}
	c.Payload = cloneJSON(c.Payload)
	var err error
	if c.TraceContext, err = prepareTraceContext(field+"trace_context", c.TraceContext); err != nil {
		return nil, err
	}
	if c.Targets, err = prepareTargets(field+"targets", c.Targets); err != nil {
		return nil, err
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 1
	}
	c.ScheduledFor = Timestamp(c.ScheduledFor)
	c.NextRunAt = Timestamp(c.NextRunAt)
	c.RunAt = Timestamp(c.RunAt)
	if c.RunAt.IsZero() && c.Kind == RunKindSchedule {
		// Due at its moment on the store's clock, whatever the clock of
		// the node that wrote it (early, when that clock runs ahead).
		c.RunAt = c.ScheduledFor
	}
	return &c, nil
}

// batchField names entry i of a batch of n in errors: "runs[i]", or ""
// for a lone entry.
func batchField(n, i int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("runs[%d]", i)
}

// PrepareEnqueueBatch validates a RunEnqueue call.
func PrepareEnqueueBatch(params []*RunEnqueueParams, lim Limits) ([]*RunEnqueueParams, error) {
	if len(params) == 0 {
		return nil, Invalid("runs", "must not be empty")
	}
	out := make([]*RunEnqueueParams, len(params))
	for i, p := range params {
		field := batchField(len(params), i)
		if p != nil && p.Kind == RunKindWebhook {
			return nil, Invalid(strings.TrimPrefix(field+".kind", "."), "webhook runs are created by EventAccept")
		}
		c, err := PrepareEnqueue(p, lim, field)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareEventAccept validates an EventAccept call. The run is prepared as a
// webhook run.
func PrepareEventAccept(p *EventAcceptParams, lim Limits) (*EventAcceptParams, error) {
	if p == nil {
		return nil, Invalid("event", "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	switch {
	case c.Source == "":
		return nil, Invalid("source", "must not be empty")
	case len(c.Source) > 63:
		return nil, Invalid("source", "must be at most 63 bytes")
	case c.DeliveryID == "":
		return nil, Invalid("delivery_id", "must not be empty")
	case len(c.DeliveryID) > maxNameLen:
		return nil, Invalid("delivery_id", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case len(c.Body) > lim.MaxPayload:
		return nil, Invalid("body", fmt.Sprintf("must be at most %d bytes", lim.MaxPayload))
	}
	if c.Run.Kind != "" && c.Run.Kind != RunKindWebhook {
		return nil, Invalid("run.kind", "must be webhook or empty")
	}
	if c.Run.IdempotencyKey != "" {
		return nil, Invalid("run.idempotency_key", "must be empty: a webhook run is keyed by its delivery")
	}
	run := c.Run
	run.Kind = RunKindWebhook
	r, err := PrepareEnqueue(&run, lim, "run")
	if err != nil {
		return nil, err
	}
	c.Run = *r
	c.Body = append([]byte(nil), c.Body...)
	c.Headers = cloneHeaders(c.Headers)
	return &c, nil
}

// PrepareFinish validates one RunFinish entry; field names it in errors.
func PrepareFinish(p *RunFinishParams, lim Limits, field string) (*RunFinishParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	switch {
	case c.ID == "":
		return nil, Invalid(field+"id", "must not be empty")
	case c.Node == "":
		return nil, Invalid(field+"node", "must not be empty")
	}
	switch c.Status {
	case RunSucceeded, RunFailed, RunCancelled, RunTimedOut:
	default:
		return nil, Invalid(field+"status", "must be succeeded, failed, cancelled or timed_out")
	}
	if err := checkJSON(field+"output", c.Output, lim.MaxPayload); err != nil {
		return nil, err
	}
	var err error
	if c.Targets, err = prepareTargets(field+"targets", c.Targets); err != nil {
		return nil, err
	}
	c.Output = cloneJSON(c.Output)
	c.Progress = cloneProgress(c.Progress)
	c.DeliverAfter = Timestamp(c.DeliverAfter)
	return &c, nil
}

// PrepareFinishBatch validates a RunFinish call: an invalid entry fails
// the whole call.
func PrepareFinishBatch(params []*RunFinishParams, lim Limits) ([]*RunFinishParams, error) {
	out := make([]*RunFinishParams, len(params))
	for i, p := range params {
		c, err := PrepareFinish(p, lim, batchField(len(params), i))
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareRequeueBatch validates a RunRequeue call: an invalid entry fails
// the whole call.
func PrepareRequeueBatch(params []*RunRequeueParams) ([]*RunRequeueParams, error) {
	out := make([]*RunRequeueParams, len(params))
	for i, p := range params {
		c, err := PrepareRequeue(p, batchField(len(params), i))
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareRequeue validates one RunRequeue entry; field names it in errors.
func PrepareRequeue(p *RunRequeueParams, field string) (*RunRequeueParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	c := *p
	switch {
	case c.ID == "":
		return nil, Invalid(field+"id", "must not be empty")
	case c.Node == "":
		return nil, Invalid(field+"node", "must not be empty")
	case c.Delay < 0:
		return nil, Invalid(field+"delay", "must not be negative")
	}
	c.RunAt, c.DeliverAfter = Timestamp(c.RunAt), Timestamp(c.DeliverAfter)
	c.Delay = c.Delay.Truncate(time.Microsecond)
	return &c, nil
}

// CheckRunList validates a RunList call: every status and kind it filters
// on must be a known one. A nil p is an unfiltered listing.
func CheckRunList(p *RunListParams) error {
	if p == nil {
		return nil
	}
	for i, st := range p.Statuses {
		if !st.Valid() {
			return Invalid(fmt.Sprintf("statuses[%d]", i), "must be one of queued, running, succeeded, failed, cancelled, timed_out, skipped")
		}
	}
	for i, k := range p.Kinds {
		switch k {
		case RunKindSchedule, RunKindManual, RunKindWebhook, RunKindEnqueue:
		default:
			return Invalid(fmt.Sprintf("kinds[%d]", i), "must be one of schedule, manual, webhook, enqueue")
		}
	}
	return nil
}

// tokenHashLen is the length of a token's hash: a SHA-256.
const tokenHashLen = 32

// PrepareToken validates t for TokenCreate and returns a copy with its
// CreatedAt set to now (in storage form) and its own copy of the hash.
func PrepareToken(t *Token, now time.Time) (*Token, error) {
	if t == nil {
		return nil, Invalid("token", "must not be nil")
	}
	switch {
	case strings.TrimSpace(t.Name) == "":
		return nil, Invalid("name", "must not be empty")
	case len(t.Name) > maxNameLen:
		return nil, Invalid("name", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(t.Subject) == "":
		return nil, Invalid("subject", "must not be empty")
	case len(t.Subject) > maxNameLen:
		return nil, Invalid("subject", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case len(t.Hash) != tokenHashLen:
		return nil, Invalid("hash", fmt.Sprintf("must be a SHA-256: %d bytes (got %d)", tokenHashLen, len(t.Hash)))
	}
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	c.CreatedAt = Timestamp(now)
	return &c, nil
}

// CheckClaim validates a RunClaim call.
func CheckClaim(p *RunClaimParams) error {
	switch {
	case p == nil:
		return Invalid("claim", "must not be nil")
	case p.Node == "":
		return Invalid("node", "must not be empty")
	case p.Limit < 1:
		return Invalid("limit", "must be at least 1")
	case p.Lease <= 0:
		return Invalid("lease", "must be positive")
	}
	return nil
}

// CheckDeliveryClaim validates a RunDeliveryClaim call at now.
func CheckDeliveryClaim(p *RunDeliveryClaimParams, now time.Time) error {
	switch {
	case p == nil:
		return Invalid("claim", "must not be nil")
	case p.Limit < 1 || p.Limit > ListLimitMax:
		return Invalid("limit", fmt.Sprintf("must be between 1 and %d", ListLimitMax))
	case !p.Until.After(now):
		return Invalid("until", "must be in the future")
	}
	return nil
}

// CheckDeliveryExtend validates a RunDeliveryExtend call at now.
func CheckDeliveryExtend(p *RunDeliveryExtendParams, now time.Time) error {
	switch {
	case p == nil:
		return Invalid("extend", "must not be nil")
	case len(p.IDs) > ListLimitMax:
		return Invalid("ids", fmt.Sprintf("must be at most %d", ListLimitMax))
	case !p.Until.After(now):
		return Invalid("until", "must be in the future")
	}
	return nil
}

// CheckExtendLease validates a RunExtendLease call.
func CheckExtendLease(p *RunExtendLeaseParams) error {
	switch {
	case p == nil:
		return Invalid("extend", "must not be nil")
	case p.Node == "":
		return Invalid("node", "must not be empty")
	case p.Lease <= 0:
		return Invalid("lease", "must be positive")
	}
	return nil
}

// PrepareDelivery validates a DeliveryRecord call; zero times become now.
func PrepareDelivery(d *Delivery, now time.Time) (*Delivery, error) {
	if d == nil {
		return nil, Invalid("delivery", "must not be nil")
	}
	c := *d
	switch {
	case c.RunID == "":
		return nil, Invalid("run_id", "must not be empty")
	case strings.TrimSpace(c.Channel) == "":
		return nil, Invalid("channel", "must not be empty")
	case c.Attempt < 1:
		return nil, Invalid("attempt", "must be at least 1")
	}
	switch c.Status {
	case DeliverySucceeded, DeliveryRetrying, DeliveryFailed:
	default:
		return nil, Invalid("status", "must be succeeded, retrying or failed")
	}
	now = Timestamp(now)
	c.StartedAt = Timestamp(c.StartedAt)
	c.FinishedAt = Timestamp(c.FinishedAt)
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	if c.FinishedAt.IsZero() {
		c.FinishedAt = now
	}
	return &c, nil
}

// CheckCursorKey validates the key of a backfill cursor or message.
func CheckCursorKey(k CursorKey) error {
	switch {
	case k.Source == "":
		return Invalid("source", "must not be empty")
	case k.Workspace == "":
		return Invalid("workspace", "must not be empty")
	case k.Channel == "":
		return Invalid("channel", "must not be empty")
	}
	return nil
}

// PrepareMessages validates a MessageUpsert call.
func PrepareMessages(msgs []*Message, lim Limits) ([]*Message, error) {
	lim = lim.WithDefaults()
	out := make([]*Message, len(msgs))
	for i, m := range msgs {
		field := fmt.Sprintf("messages[%d]", i)
		if m == nil {
			return nil, Invalid(field, "must not be nil")
		}
		if err := CheckCursorKey(CursorKey{m.Source, m.Workspace, m.Channel}); err != nil {
			ve := err.(*ValidationError)
			return nil, Invalid(field+"."+ve.Field, ve.Rule)
		}
		if m.TS == "" {
			return nil, Invalid(field+".ts", "must not be empty")
		}
		if err := checkJSON(field+".raw", m.Raw, lim.MaxPayload); err != nil {
			return nil, err
		}
		c := *m
		c.Raw = cloneJSON(c.Raw)
		out[i] = &c
	}
	return out, nil
}

// ListLimit returns the page size for a requested limit.
func ListLimit(n int) int {
	switch {
	case n <= 0:
		return ListLimitDefault
	case n > ListLimitMax:
		return ListLimitMax
	}
	return n
}

func checkJSON(field string, b json.RawMessage, limit int) error {
	if len(b) > limit {
		return Invalid(field, fmt.Sprintf("must be at most %d bytes (got %d)", limit, len(b)))
	}
	if len(b) > 0 && !json.Valid(b) {
		return Invalid(field, "must be valid JSON")
	}
	return nil
}

func cloneJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

func cloneProgress(p map[string]int64) map[string]int64 {
	if p == nil {
		return nil
	}
	c := make(map[string]int64, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

func cloneHeaders(h map[string][]string) map[string][]string {
	if h == nil {
		return nil
	}
	c := make(map[string][]string, len(h))
	for k, v := range h {
		c[k] = append([]string(nil), v...)
	}
	return c
}
