package storekit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/internal/trigger"
	"github.com/heraldhq/herald/store"
)

// maxNameLen bounds names and keys.
const maxNameLen = 200

// prepareTraceContext checks a run's trace context and returns a copy of
// it; an empty one is nil.
func prepareTraceContext(field string, tc map[string]string) (map[string]string, error) {
	if len(tc) == 0 {
		return nil, nil
	}
	if len(tc) > store.TraceContextFieldsMax {
		return nil, store.Invalid(field, fmt.Sprintf("must have at most %d fields", store.TraceContextFieldsMax))
	}
	n := 0
	c := make(map[string]string, len(tc))
	for k, v := range tc {
		if k == "" {
			return nil, store.Invalid(field, "must not have an empty key")
		}
		n += len(k) + len(v)
		c[k] = v
	}
	if n > store.TraceContextMax {
		return nil, store.Invalid(field, fmt.Sprintf("must be at most %d bytes", store.TraceContextMax))
	}
	return c, nil
}

// PrepareSchedule validates s for ScheduleCreate and ScheduleUpdate.
func PrepareSchedule(s *store.Schedule, lim store.Limits) (*store.Schedule, error) {
	if s == nil {
		return nil, store.Invalid("schedule", "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *s
	switch {
	case strings.TrimSpace(c.Owner) == "":
		return nil, store.Invalid("owner", "must not be empty")
	case len(c.Owner) > maxNameLen:
		return nil, store.Invalid("owner", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Name) == "":
		return nil, store.Invalid("name", "must not be empty")
	case len(c.Name) > maxNameLen:
		return nil, store.Invalid("name", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Agent) == "":
		return nil, store.Invalid("agent", "must not be empty")
	case c.Timeout < 0:
		return nil, store.Invalid("timeout", "must not be negative")
	case c.MaxAttempts < 0:
		return nil, store.Invalid("max_attempts", "must not be negative")
	case c.MisfireCap < 0:
		return nil, store.Invalid("misfire_cap", "must not be negative")
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
		c.Overlap = store.OverlapSkip
	case store.OverlapSkip, store.OverlapBufferOne, store.OverlapBufferAll, store.OverlapCancelOther, store.OverlapAllowAll:
	default:
		return nil, store.Invalid("overlap", "must be one of skip, buffer_one, buffer_all, cancel_other, allow_all")
	}
	switch c.Misfire {
	case "":
		c.Misfire = store.MisfireRunOnce
	case store.MisfireSkip, store.MisfireRunOnce, store.MisfireRunAll:
	default:
		return nil, store.Invalid("misfire", "must be one of skip, run_once, run_all")
	}
	if c.Targets, err = prepareTargets("targets", c.Targets); err != nil {
		return nil, err
	}
	if err := checkTimes("", namedTime{"next_run_at", c.NextRunAt}, namedTime{"last_run_at", c.LastRunAt},
		namedTime{"last_fired_at", c.LastFiredAt}); err != nil {
		return nil, err
	}
	c.NextRunAt = store.Timestamp(c.NextRunAt)
	c.LastRunAt = store.Timestamp(c.LastRunAt)
	c.LastFiredAt = store.Timestamp(c.LastFiredAt)
	return &c, nil
}

// prepareTrigger checks t with the trigger package's Compile, which the
// scheduler fires with, and returns it normalized.
func prepareTrigger(t store.Trigger) (store.Trigger, error) {
	if t.Timezone == "" {
		t.Timezone = "UTC"
	}
	if err := checkTimes("trigger.", namedTime{"at", t.At}, namedTime{"start_at", t.StartAt},
		namedTime{"end_at", t.EndAt}); err != nil {
		return t, err
	}
	t.At = store.Timestamp(t.At)
	t.StartAt = store.Timestamp(t.StartAt)
	t.EndAt = store.Timestamp(t.EndAt)
	if _, err := trigger.CompileStore(t, time.Time{}); err != nil {
		return t, err
	}
	return t, nil
}

func prepareTargets(field string, ts []store.Target) ([]store.Target, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]store.Target, len(ts))
	for i, t := range ts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(t.Channel) == "" {
			return nil, store.Invalid(f+".channel", "must not be empty")
		}
		switch t.On {
		case "":
			t.On = delivery.OnAlways
		case delivery.OnAlways, delivery.OnSuccess, delivery.OnFailure:
		default:
			return nil, store.Invalid(f+".on", "must be one of always, success, failure")
		}
		out[i] = t
	}
	return out, nil
}

// PrepareEnqueue validates one run request; field names it in errors (as in
// "runs[3]"), empty for a lone request. It resolves Kind and fills
// MaxAttempts; a tick without RunAt is due at its ScheduledFor, any other
// run's RunAt stays zero when it was (the store fills in its clock).
func PrepareEnqueue(p *store.RunEnqueueParams, lim store.Limits, field string) (*store.RunEnqueueParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, store.Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	if c.Kind == "" {
		switch {
		case !c.ScheduledFor.IsZero():
			c.Kind = store.RunKindSchedule
		case c.ScheduleID != "":
			c.Kind = store.RunKindManual
		default:
			c.Kind = store.RunKindEnqueue
		}
	}
	switch c.Kind {
	case store.RunKindSchedule:
		if c.ScheduleID == "" {
			return nil, store.Invalid(field+"schedule_id", "is required for a schedule run")
		}
		if c.ScheduledFor.IsZero() {
			return nil, store.Invalid(field+"scheduled_for", "is required for a schedule run")
		}
	case store.RunKindManual:
		if c.ScheduleID == "" {
			return nil, store.Invalid(field+"schedule_id", "is required for a manual run")
		}
	case store.RunKindEnqueue, store.RunKindWebhook:
		if c.ScheduleID != "" {
			return nil, store.Invalid(field+"schedule_id", "must be empty for a run of kind "+string(c.Kind))
		}
	default:
		return nil, store.Invalid(field+"kind", fmt.Sprintf("unknown kind %q: must be schedule, manual, webhook or enqueue", string(c.Kind)))
	}
	if c.Kind != store.RunKindSchedule && !c.ScheduledFor.IsZero() {
		return nil, store.Invalid(field+"scheduled_for", "is only for schedule runs")
	}
	if c.Kind != store.RunKindSchedule && !c.NextRunAt.IsZero() {
		return nil, store.Invalid(field+"next_run_at", "is only for schedule runs")
	}
	switch {
	case strings.TrimSpace(c.Owner) == "":
		return nil, store.Invalid(field+"owner", "must not be empty")
	case len(c.Owner) > maxNameLen:
		return nil, store.Invalid(field+"owner", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(c.Agent) == "":
		return nil, store.Invalid(field+"agent", "must not be empty")
	case len(c.IdempotencyKey) > maxNameLen:
		return nil, store.Invalid(field+"idempotency_key", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case c.MaxAttempts < 0:
		return nil, store.Invalid(field+"max_attempts", "must not be negative")
	case c.Timeout < 0:
		return nil, store.Invalid(field+"timeout", "must not be negative")
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
	if err := checkTimes(field, namedTime{"scheduled_for", c.ScheduledFor}, namedTime{"run_at", c.RunAt},
		namedTime{"next_run_at", c.NextRunAt}); err != nil {
		return nil, err
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 1
	}
	c.ScheduledFor = store.Timestamp(c.ScheduledFor)
	c.NextRunAt = store.Timestamp(c.NextRunAt)
	c.RunAt = store.Timestamp(c.RunAt)
	if c.RunAt.IsZero() && c.Kind == store.RunKindSchedule {
		// Due at its moment on the store's clock, whatever the clock of
		// the node that wrote it (early, when that clock runs ahead).
		c.RunAt = c.ScheduledFor
	}
	return &c, nil
}

// batchField names entry i of a batch of n in errors: "runs[i]", or ""
// for a lone entry. The batches validate each entry unnamed first (see
// prepareEntry): the names cost allocations per entry on the hot paths.
func batchField(n, i int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("runs[%d]", i)
}

// prepareEntry validates entry i of a batch of n with prepare, first
// without a name, which builds none of the field names its errors would
// carry, then, only when it fails, again with batchField's name, for the
// error.
func prepareEntry[P any](n, i int, p *P, prepare func(p *P, field string) (*P, error)) (*P, error) {
	c, err := prepare(p, "")
	if err != nil && n > 1 {
		_, err = prepare(p, batchField(n, i))
	}
	return c, err
}

// PrepareEnqueueBatch validates a RunEnqueue call.
func PrepareEnqueueBatch(params []*store.RunEnqueueParams, lim store.Limits) ([]*store.RunEnqueueParams, error) {
	if len(params) == 0 {
		return nil, store.Invalid("runs", "must not be empty")
	}
	out := make([]*store.RunEnqueueParams, len(params))
	for i, p := range params {
		if p != nil && p.Kind == store.RunKindWebhook {
			return nil, store.Invalid(strings.TrimPrefix(batchField(len(params), i)+".kind", "."), "webhook runs are created by EventAccept")
		}
		c, err := prepareEntry(len(params), i, p, func(p *store.RunEnqueueParams, field string) (*store.RunEnqueueParams, error) {
			return PrepareEnqueue(p, lim, field)
		})
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareEventAccept validates an EventAccept call. The run is prepared as a
// webhook run.
func PrepareEventAccept(p *store.EventAcceptParams, lim store.Limits) (*store.EventAcceptParams, error) {
	if p == nil {
		return nil, store.Invalid("event", "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	switch {
	case c.Source == "":
		return nil, store.Invalid("source", "must not be empty")
	case len(c.Source) > 63:
		return nil, store.Invalid("source", "must be at most 63 bytes")
	case c.DeliveryID == "":
		return nil, store.Invalid("delivery_id", "must not be empty")
	case len(c.DeliveryID) > maxNameLen:
		return nil, store.Invalid("delivery_id", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case len(c.Body) > lim.MaxPayload:
		return nil, store.Invalid("body", fmt.Sprintf("must be at most %d bytes", lim.MaxPayload))
	}
	if c.Run.Kind != "" && c.Run.Kind != store.RunKindWebhook {
		return nil, store.Invalid("run.kind", "must be webhook or empty")
	}
	if c.Run.IdempotencyKey != "" {
		return nil, store.Invalid("run.idempotency_key", "must be empty: a webhook run is keyed by its delivery")
	}
	run := c.Run
	run.Kind = store.RunKindWebhook
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
func PrepareFinish(p *store.RunFinishParams, lim store.Limits, field string) (*store.RunFinishParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, store.Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	lim = lim.WithDefaults()
	c := *p
	switch {
	case c.ID == "":
		return nil, store.Invalid(field+"id", "must not be empty")
	case c.Node == "":
		return nil, store.Invalid(field+"node", "must not be empty")
	}
	switch c.Status {
	case store.RunSucceeded, store.RunFailed, store.RunCancelled, store.RunTimedOut:
	default:
		return nil, store.Invalid(field+"status", "must be succeeded, failed, cancelled or timed_out")
	}
	if err := checkJSON(field+"output", c.Output, lim.MaxPayload); err != nil {
		return nil, err
	}
	var err error
	if c.Targets, err = prepareTargets(field+"targets", c.Targets); err != nil {
		return nil, err
	}
	if err := checkTimes(field, namedTime{"deliver_after", c.DeliverAfter}); err != nil {
		return nil, err
	}
	c.Output = cloneJSON(c.Output)
	c.Progress = cloneProgress(c.Progress)
	c.DeliverAfter = store.Timestamp(c.DeliverAfter)
	return &c, nil
}

// PrepareFinishBatch validates a RunFinish call: an invalid entry fails
// the whole call.
func PrepareFinishBatch(params []*store.RunFinishParams, lim store.Limits) ([]*store.RunFinishParams, error) {
	out := make([]*store.RunFinishParams, len(params))
	for i, p := range params {
		c, err := prepareEntry(len(params), i, p, func(p *store.RunFinishParams, field string) (*store.RunFinishParams, error) {
			return PrepareFinish(p, lim, field)
		})
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareRequeueBatch validates a RunRequeue call: an invalid entry fails
// the whole call.
func PrepareRequeueBatch(params []*store.RunRequeueParams) ([]*store.RunRequeueParams, error) {
	out := make([]*store.RunRequeueParams, len(params))
	for i, p := range params {
		c, err := prepareEntry(len(params), i, p, PrepareRequeue)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// PrepareRequeue validates one RunRequeue entry; field names it in errors.
func PrepareRequeue(p *store.RunRequeueParams, field string) (*store.RunRequeueParams, error) {
	if field != "" {
		field += "."
	}
	if p == nil {
		return nil, store.Invalid(strings.TrimSuffix(field, "."), "must not be nil")
	}
	c := *p
	switch {
	case c.ID == "":
		return nil, store.Invalid(field+"id", "must not be empty")
	case c.Node == "":
		return nil, store.Invalid(field+"node", "must not be empty")
	case c.Delay < 0:
		return nil, store.Invalid(field+"delay", "must not be negative")
	}
	var due time.Time // when the run is due again, when RunAt says
	if !c.RunAt.IsZero() {
		due = c.RunAt.Add(c.Delay)
	}
	if err := checkTimes(field, namedTime{"run_at", c.RunAt}, namedTime{"delay", due},
		namedTime{"deliver_after", c.DeliverAfter}); err != nil {
		return nil, err
	}
	c.RunAt, c.DeliverAfter = store.Timestamp(c.RunAt), store.Timestamp(c.DeliverAfter)
	c.Delay = c.Delay.Truncate(time.Microsecond)
	return &c, nil
}

// namedTime is a time and its field's name, for checkTimes.
type namedTime struct {
	name string
	t    time.Time
}

// checkTimes refuses the first time of ts that is set and outside years 1
// to 9999, naming it field+name: the times every store keeps and
// encoding/json writes (RFC 3339). On SQLite, a time past int64
// microseconds would be stored as a float, which no read could scan.
func checkTimes(field string, ts ...namedTime) error {
	for _, nt := range ts {
		if !nt.t.IsZero() && (nt.t.Year() < 1 || nt.t.Year() > 9999) {
			return store.Invalid(field+nt.name, "must be a time within years 1 to 9999")
		}
	}
	return nil
}

// CheckRunList validates a RunList call: every status and kind it filters
// on must be a known one. A nil p is an unfiltered listing.
func CheckRunList(p *store.RunListParams) error {
	if p == nil {
		return nil
	}
	for i, st := range p.Statuses {
		if !st.Valid() {
			return store.Invalid(fmt.Sprintf("statuses[%d]", i), "must be one of queued, running, succeeded, failed, cancelled, timed_out, skipped")
		}
	}
	for i, k := range p.Kinds {
		switch k {
		case store.RunKindSchedule, store.RunKindManual, store.RunKindWebhook, store.RunKindEnqueue:
		default:
			return store.Invalid(fmt.Sprintf("kinds[%d]", i), "must be one of schedule, manual, webhook, enqueue")
		}
	}
	return nil
}

// tokenHashLen is the length of a token's hash: a SHA-256.
const tokenHashLen = 32

// PrepareToken validates t for TokenCreate and returns a copy with its
// CreatedAt set to now (in storage form) and its own copy of the hash.
func PrepareToken(t *store.Token, now time.Time) (*store.Token, error) {
	if t == nil {
		return nil, store.Invalid("token", "must not be nil")
	}
	switch {
	case strings.TrimSpace(t.Name) == "":
		return nil, store.Invalid("name", "must not be empty")
	case len(t.Name) > maxNameLen:
		return nil, store.Invalid("name", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case strings.TrimSpace(t.Subject) == "":
		return nil, store.Invalid("subject", "must not be empty")
	case len(t.Subject) > maxNameLen:
		return nil, store.Invalid("subject", fmt.Sprintf("must be at most %d bytes", maxNameLen))
	case len(t.Hash) != tokenHashLen:
		return nil, store.Invalid("hash", fmt.Sprintf("must be a SHA-256: %d bytes (got %d)", tokenHashLen, len(t.Hash)))
	}
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	c.CreatedAt = store.Timestamp(now)
	return &c, nil
}

// CheckClaim validates a RunClaim call.
func CheckClaim(p *store.RunClaimParams) error {
	switch {
	case p == nil:
		return store.Invalid("claim", "must not be nil")
	case p.Node == "":
		return store.Invalid("node", "must not be empty")
	case p.Limit < 1:
		return store.Invalid("limit", "must be at least 1")
	case p.Lease <= 0:
		return store.Invalid("lease", "must be positive")
	}
	return nil
}

// CheckStagedClaim validates the claim of a RunEnqueueStaged call: nil,
// or a valid RunClaim.
func CheckStagedClaim(p *store.RunClaimParams) error {
	if p == nil {
		return nil
	}
	return CheckClaim(p)
}

// StagedClaimable reports whether the run written for prepared params p,
// now in status with held as given once the whole call is decided, is one
// that a staged call's claim takes (store.StagedEnqueuer): a tick due by
// its ScheduledFor, queued and not held.
func StagedClaimable(p *store.RunEnqueueParams, status store.RunStatus, held bool) bool {
	return p.Kind == store.RunKindSchedule && !p.RunAt.After(p.ScheduledFor) && status == store.RunQueued && !held
}

// CheckDeliveryClaim validates a RunDeliveryClaim call at now.
func CheckDeliveryClaim(p *store.RunDeliveryClaimParams, now time.Time) error {
	switch {
	case p == nil:
		return store.Invalid("claim", "must not be nil")
	case p.Limit < 1 || p.Limit > store.ListLimitMax:
		return store.Invalid("limit", fmt.Sprintf("must be between 1 and %d", store.ListLimitMax))
	case !p.Until.After(now):
		return store.Invalid("until", "must be in the future")
	}
	return nil
}

// CheckDeliveryExtend validates a RunDeliveryExtend call at now.
func CheckDeliveryExtend(p *store.RunDeliveryExtendParams, now time.Time) error {
	switch {
	case p == nil:
		return store.Invalid("extend", "must not be nil")
	case len(p.IDs) > store.ListLimitMax:
		return store.Invalid("ids", fmt.Sprintf("must be at most %d", store.ListLimitMax))
	case !p.Until.After(now):
		return store.Invalid("until", "must be in the future")
	}
	return nil
}

// CheckExtendLease validates a RunExtendLease call.
func CheckExtendLease(p *store.RunExtendLeaseParams) error {
	switch {
	case p == nil:
		return store.Invalid("extend", "must not be nil")
	case p.Node == "":
		return store.Invalid("node", "must not be empty")
	case p.Lease <= 0:
		return store.Invalid("lease", "must be positive")
	}
	return nil
}

// PrepareDelivery validates a DeliveryRecord call; zero times become now.
func PrepareDelivery(d *store.Delivery, now time.Time) (*store.Delivery, error) {
	if d == nil {
		return nil, store.Invalid("delivery", "must not be nil")
	}
	c := *d
	switch {
	case c.RunID == "":
		return nil, store.Invalid("run_id", "must not be empty")
	case strings.TrimSpace(c.Channel) == "":
		return nil, store.Invalid("channel", "must not be empty")
	case c.Attempt < 1:
		return nil, store.Invalid("attempt", "must be at least 1")
	}
	switch c.Status {
	case store.DeliverySucceeded, store.DeliveryRetrying, store.DeliveryFailed:
	default:
		return nil, store.Invalid("status", "must be succeeded, retrying or failed")
	}
	now = store.Timestamp(now)
	c.StartedAt = store.Timestamp(c.StartedAt)
	c.FinishedAt = store.Timestamp(c.FinishedAt)
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	if c.FinishedAt.IsZero() {
		c.FinishedAt = now
	}
	return &c, nil
}

// CheckCursorKey validates the key of a backfill cursor or message.
func CheckCursorKey(k store.CursorKey) error {
	switch {
	case k.Source == "":
		return store.Invalid("source", "must not be empty")
	case k.Workspace == "":
		return store.Invalid("workspace", "must not be empty")
	case k.Channel == "":
		return store.Invalid("channel", "must not be empty")
	}
	return nil
}

// PrepareMessages validates a MessageUpsert call.
func PrepareMessages(msgs []*store.Message, lim store.Limits) ([]*store.Message, error) {
	lim = lim.WithDefaults()
	out := make([]*store.Message, len(msgs))
	for i, m := range msgs {
		field := fmt.Sprintf("messages[%d]", i)
		if m == nil {
			return nil, store.Invalid(field, "must not be nil")
		}
		if err := CheckCursorKey(store.CursorKey{Source: m.Source, Workspace: m.Workspace, Channel: m.Channel}); err != nil {
			ve := err.(*store.ValidationError)
			return nil, store.Invalid(field+"."+ve.Field, ve.Rule)
		}
		if m.TS == "" {
			return nil, store.Invalid(field+".ts", "must not be empty")
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
		return store.ListLimitDefault
	case n > store.ListLimitMax:
		return store.ListLimitMax
	}
	return n
}

func checkJSON(field string, b json.RawMessage, limit int) error {
	if len(b) > limit {
		return store.Invalid(field, fmt.Sprintf("must be at most %d bytes (got %d)", limit, len(b)))
	}
	if len(b) > 0 && !json.Valid(b) {
		return store.Invalid(field, "must be valid JSON")
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

// PrepareWorkspace validates w for WorkspacePut and stamps it at now.
func PrepareWorkspace(w *store.Workspace, now time.Time) (*store.Workspace, error) {
	if w == nil {
		return nil, store.Invalid("workspace", "must not be nil")
	}
	text := func(field, v string, required bool) error {
		switch {
		case required && strings.TrimSpace(v) == "":
			return store.Invalid(field, "must not be empty")
		case len(v) > maxNameLen:
			return store.Invalid(field, fmt.Sprintf("must be at most %d bytes", maxNameLen))
		}
		return nil
	}
	for _, err := range []error{text("id", w.ID, true), text("source", w.Source, true), text("name", w.Name, false),
		text("owner", w.Owner, true)} {
		if err != nil {
			return nil, err
		}
	}
	if len(w.Secret) == 0 {
		return nil, store.Invalid("secret", "must not be empty")
	}
	if len(w.Secret) > 64<<10 {
		return nil, store.Invalid("secret", "must be at most 64 KiB")
	}
	c := *w
	c.Secret = append([]byte(nil), w.Secret...)
	c.CreatedAt, c.UpdatedAt = store.Timestamp(now), store.Timestamp(now)
	return &c, nil
}

// CheckRunSummary validates the params of RunSummary.
func CheckRunSummary(p *store.RunSummaryParams) error {
	switch {
	case p == nil:
		return store.Invalid("params", "must not be nil")
	case p.Since.IsZero():
		return store.Invalid("since", "is required")
	case p.FinishedBuckets < 0 || p.FinishedBuckets > store.RunSummaryBucketsMax:
		return store.Invalid("finished_buckets", fmt.Sprintf("must be between 0 and %d", store.RunSummaryBucketsMax))
	case p.FinishedBuckets > 0 && p.FinishedWidth <= 0:
		return store.Invalid("finished_width", "must be positive")
	case p.FinishedBuckets > 0 && p.FinishedFrom.IsZero():
		return store.Invalid("finished_from", "is required with buckets")
	case p.NextSchedules < 0 || p.NextSchedules > store.ListLimitMax:
		return store.Invalid("next_schedules", fmt.Sprintf("must be between 0 and %d", store.ListLimitMax))
	}
	return nil
}
