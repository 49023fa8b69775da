package agents

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/store"
)

// Bounds of the KPI report's window.
const (
	// KPIWindowDefault is the window of a report whose payload names none:
	// the last 7 days.
	KPIWindowDefault = 7 * 24 * time.Hour
	// KPIWindowMax is the longest window a payload may ask for: 366 days.
	KPIWindowMax = 366 * 24 * time.Hour
)

// kpiTopFailures is how many failure reasons a group lists.
const kpiTopFailures = 5

// KPIStore is what KPIReport reads: the run history and the schedules'
// names. A store.Store is one.
type KPIStore interface {
	// RunList returns one page of runs (see store.RunStore).
	RunList(ctx context.Context, params *store.RunListParams) (*store.RunPage, error)
	// ScheduleGet returns a schedule, or an error matching store.ErrNotFound.
	ScheduleGet(ctx context.Context, id string) (*store.Schedule, error)
}

var _ KPIStore = store.Store(nil)

// KPIReportConfig configures NewKPIReport.
type KPIReportConfig struct {
	// Store is read for runs and schedules. Required.
	Store KPIStore
	// Clock is the clock that ends the window; nil means clock.System.
	Clock clock.Clock
	// SystemOwners are the owners whose reports cover every owner's runs
	// (the server passes the owner of its static schedules). A report run
	// by any other owner covers that owner's runs only. None by default.
	SystemOwners []string
}

// KPIReport is the "kpi_report" agent: the weekly report of a Herald
// deployment, built on its own run history. For the runs created in the
// window [now-window, now), it counts, per schedule and in total, the runs
// by status, the success rate, the p50 and p95 durations and the failures
// by reason; the package documentation says exactly what counts. The
// Result's Output is a KPIReportOutput and its Summary a text of a few
// lines for Slack or email. Create it with NewKPIReport; it is safe for
// concurrent use.
//
// Its payload may be empty or an object with these optional fields:
//
//	{"days": 7}         the window in whole days, 1 to 366 (default 7)
//	{"window": "36h"}   the window as a duration, up to 366 days; not with "days"
//	{"owner": "ops"}    report on this owner's runs only
//
// Any other payload (an unknown field, a bad value, an owner the task may
// not report on) fails the run without retry, with an error naming the
// field and the rule. Errors of the store are retryable.
type KPIReport struct {
	st     KPIStore
	now    func() time.Time
	system map[string]bool
}

var _ agent.Agent = (*KPIReport)(nil)

// NewKPIReport returns a KPIReport reading cfg.Store, or an error when the
// store is missing.
func NewKPIReport(cfg KPIReportConfig) (*KPIReport, error) {
	if cfg.Store == nil {
		return nil, errors.New("agents: kpi report: no Store")
	}
	k := &KPIReport{st: cfg.Store, now: clock.OrSystem(cfg.Clock).Now, system: make(map[string]bool)}
	for _, o := range cfg.SystemOwners {
		k.system[o] = true
	}
	return k, nil
}

// KPIReportOutput is the Output of KPIReport.
type KPIReportOutput struct {
	// From is the start of the window, inclusive: the runs counted were
	// created at From or later.
	From time.Time `json:"from"`
	// To is the end of the window, exclusive: the time of the report.
	To time.Time `json:"to"`
	// Owner is the owner reported on; empty means every owner.
	Owner string `json:"owner,omitempty"`
	// Total counts every run in the window.
	Total KPIFigures `json:"total"`
	// Schedules are the groups of the runs in the window, one per schedule
	// (and one per owner and agent of the runs without a schedule): by name,
	// then schedule ID, with the "(no schedule)" groups last.
	Schedules []KPIGroup `json:"schedules"`
}

// KPIGroup is the figures of one schedule, or of one owner's runs of one
// agent that name no schedule.
type KPIGroup struct {
	// ScheduleID is the schedule; empty for the runs without one.
	ScheduleID string `json:"schedule_id,omitempty"`
	// Name is the schedule's name, "(deleted schedule)" when it no longer
	// exists, or "(no schedule)".
	Name string `json:"name"`
	// Owner owns the schedule (or the runs).
	Owner string `json:"owner"`
	// Agent is the schedule's agent (or the runs').
	Agent string `json:"agent"`
	KPIFigures
}

// KPIFigures are the figures of a set of runs.
type KPIFigures struct {
	// Runs counts the runs, in every status.
	Runs int `json:"runs"`
	// ByStatus counts the runs by status.
	ByStatus StatusCounts `json:"by_status"`
	// Finished counts the runs that ended with an outcome: succeeded,
	// failed or timed out.
	Finished int `json:"finished"`
	// SuccessRate is succeeded / finished, rounded to 4 decimals; null
	// when nothing finished.
	SuccessRate *float64 `json:"success_rate"`
	// P50MS is the median duration of the finished runs (nearest rank), in
	// milliseconds; null when nothing finished.
	P50MS *int64 `json:"p50_ms"`
	// P95MS is the 95th percentile of the same durations (nearest rank).
	P95MS *int64 `json:"p95_ms"`
	// Failures counts the failed and timed-out runs.
	Failures int `json:"failures"`
	// TopFailures are the most frequent reasons of the failures, at most
	// five, most frequent first.
	TopFailures []FailureReason `json:"top_failures"`
}

// StatusCounts counts runs by status (see store.RunStatus); every status
// is always present in the JSON, zero or not.
type StatusCounts struct {
	// Queued counts the runs waiting to start (or to be retried).
	Queued int `json:"queued"`
	// Running counts the runs in progress.
	Running int `json:"running"`
	// Succeeded counts the runs that succeeded.
	Succeeded int `json:"succeeded"`
	// Failed counts the runs that failed.
	Failed int `json:"failed"`
	// TimedOut counts the runs whose last attempt ran out of time.
	TimedOut int `json:"timed_out"`
	// Cancelled counts the runs cancelled, queued or running.
	Cancelled int `json:"cancelled"`
	// Skipped counts the ticks an overlap policy dropped.
	Skipped int `json:"skipped"`
}

// FailureReason is a failure reason and how many runs failed for it.
type FailureReason struct {
	// Reason is the error's first line, trimmed, at most 120 characters.
	Reason string `json:"reason"`
	// Count is how many runs failed for this reason.
	Count int `json:"count"`
}

// kpiPayload is what KPIReport understands in its payload.
type kpiPayload struct {
	Days   *float64 `json:"days"`
	Window *string  `json:"window"`
	Owner  *string  `json:"owner"`
}

// kpiFieldRule is the rule of a payload field, for error texts; empty for
// an unknown field.
func kpiFieldRule(field string) string {
	switch field {
	case "days":
		return "a whole number of days from 1 to 366"
	case "window":
		return `a positive duration of at most 8784h, such as "168h"`
	case "owner":
		return "an owner's name"
	}
	return ""
}

// Run implements agent.Agent.
func (k *KPIReport) Run(ctx context.Context, t *agent.Task) (*agent.Result, error) {
	window, owner, err := k.parse(t)
	if err != nil {
		return nil, agent.Permanent(err)
	}
	to := store.Timestamp(k.now())
	out := &KPIReportOutput{From: to.Add(-window), To: to, Owner: owner}
	if err := k.collect(ctx, t, out); err != nil {
		return nil, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("kpi_report: encode report: %w", err)
	}
	return &agent.Result{Output: data, Summary: out.Text()}, nil
}

// parse reads the window and the owner from t's payload.
func (k *KPIReport) parse(t *agent.Task) (time.Duration, string, error) {
	var p kpiPayload
	if len(bytes.TrimSpace(t.Payload)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(t.Payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && kpiFieldRule(te.Field) != "" {
				return 0, "", fmt.Errorf("kpi_report: payload field %q must be %s", te.Field, kpiFieldRule(te.Field))
			}
			return 0, "", fmt.Errorf(`kpi_report: payload must be empty or an object with "days", "window" or "owner": %w`, err)
		}
	}
	window := KPIWindowDefault
	switch {
	case p.Days != nil && p.Window != nil:
		return 0, "", errors.New(`kpi_report: payload fields "days" and "window" exclude each other`)
	case p.Days != nil:
		d := *p.Days
		if d != math.Trunc(d) || d < 1 || d > KPIWindowMax.Hours()/24 {
			return 0, "", fmt.Errorf("kpi_report: payload field \"days\" must be %s, not %v", kpiFieldRule("days"), d)
		}
		window = time.Duration(d) * 24 * time.Hour
	case p.Window != nil:
		d, err := time.ParseDuration(*p.Window)
		if err != nil || d <= 0 || d > KPIWindowMax {
			return 0, "", fmt.Errorf("kpi_report: payload field \"window\" must be %s, not %q", kpiFieldRule("window"), *p.Window)
		}
		window = d
	}
	var owner string
	if p.Owner != nil {
		if owner = *p.Owner; owner == "" {
			return 0, "", fmt.Errorf("kpi_report: payload field \"owner\" must be %s, not empty", kpiFieldRule("owner"))
		}
	}
	if !k.system[t.Owner] {
		switch {
		case t.Owner == "":
			return 0, "", errors.New("kpi_report: the task has no owner to report on")
		case owner != "" && owner != t.Owner:
			return 0, "", fmt.Errorf("kpi_report: payload field \"owner\": a report of owner %q covers its own runs only, not those of %q", t.Owner, owner)
		}
		owner = t.Owner
	}
	return window, owner, nil
}

// groupKey identifies a group: a schedule, or an owner's runs of an agent
// without a schedule.
type groupKey struct{ schedule, owner, agent string }

// tally accumulates the figures of a group.
type tally struct {
	KPIGroup
	durations []time.Duration
	reasons   map[string]int
}

// collect reads the runs of out's window, page by page, into out.
func (k *KPIReport) collect(ctx context.Context, t *agent.Task, out *KPIReportOutput) error {
	total := &tally{reasons: make(map[string]int)}
	groups := make(map[groupKey]*tally)
	params := &store.RunListParams{Owner: out.Owner, CreatedFrom: out.From, CreatedTo: out.To, Limit: store.ListLimitMax}
	var read int64
	for {
		page, err := k.st.RunList(ctx, params)
		if err != nil {
			return fmt.Errorf("kpi_report: list runs: %w", err)
		}
		for _, r := range page.Runs {
			if r.ID == t.RunID && t.RunID != "" {
				continue // the report's own run, still running
			}
			g, err := k.group(ctx, groups, r)
			if err != nil {
				return err
			}
			g.add(r)
			total.add(r)
		}
		read += int64(len(page.Runs))
		if t.Progress != nil {
			if err := t.Progress.Report(ctx, map[string]int64{"runs_read": read}); err != nil {
				return fmt.Errorf("kpi_report: report progress: %w", err)
			}
		}
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	out.Total = total.figures()
	out.Schedules = make([]KPIGroup, 0, len(groups))
	for _, g := range groups {
		g.KPIFigures = g.figures()
		out.Schedules = append(out.Schedules, g.KPIGroup)
	}
	slices.SortFunc(out.Schedules, func(a, b KPIGroup) int {
		return cmp.Or(compareBool(a.ScheduleID == "", b.ScheduleID == ""), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ScheduleID, b.ScheduleID),
			cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Agent, b.Agent))
	})
	return nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// group returns the group of run r, creating it (and looking up its
// schedule) on first sight.
func (k *KPIReport) group(ctx context.Context, groups map[groupKey]*tally, r *store.Run) (*tally, error) {
	key := groupKey{schedule: r.ScheduleID}
	if r.ScheduleID == "" {
		key = groupKey{owner: r.Owner, agent: r.Agent}
	}
	if g := groups[key]; g != nil {
		return g, nil
	}
	g := &tally{KPIGroup: KPIGroup{ScheduleID: r.ScheduleID, Name: "(no schedule)", Owner: r.Owner, Agent: r.Agent},
		reasons: make(map[string]int)}
	if r.ScheduleID != "" {
		s, err := k.st.ScheduleGet(ctx, r.ScheduleID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			g.Name = "(deleted schedule)"
		case err != nil:
			return nil, fmt.Errorf("kpi_report: get schedule %s: %w", r.ScheduleID, err)
		default:
			g.Name, g.Owner, g.Agent = s.Name, s.Owner, s.Agent
		}
	}
	groups[key] = g
	return g, nil
}

// add counts run r.
func (g *tally) add(r *store.Run) {
	g.Runs++
	c := &g.ByStatus
	switch r.Status {
	case store.RunQueued:
		c.Queued++
	case store.RunRunning:
		c.Running++
	case store.RunSucceeded:
		c.Succeeded++
	case store.RunFailed:
		c.Failed++
	case store.RunTimedOut:
		c.TimedOut++
	case store.RunCancelled:
		c.Cancelled++
	case store.RunSkipped:
		c.Skipped++
	}
	switch r.Status {
	case store.RunFailed, store.RunTimedOut:
		g.Failures++
		g.reasons[reason(r.Error)]++
		fallthrough
	case store.RunSucceeded:
		g.Finished++
		if !r.StartedAt.IsZero() && !r.FinishedAt.Before(r.StartedAt) {
			g.durations = append(g.durations, r.FinishedAt.Sub(r.StartedAt))
		}
	}
}

// figures computes the figures of g from what it counted.
func (g *tally) figures() KPIFigures {
	f := g.KPIFigures
	if f.Finished > 0 {
		rate := math.Round(float64(f.ByStatus.Succeeded)/float64(f.Finished)*1e4) / 1e4
		f.SuccessRate = &rate
	}
	if len(g.durations) > 0 {
		slices.Sort(g.durations)
		p50, p95 := percentile(g.durations, 50).Milliseconds(), percentile(g.durations, 95).Milliseconds()
		f.P50MS, f.P95MS = &p50, &p95
	}
	f.TopFailures = make([]FailureReason, 0, min(len(g.reasons), kpiTopFailures))
	for r, n := range g.reasons {
		f.TopFailures = append(f.TopFailures, FailureReason{Reason: r, Count: n})
	}
	slices.SortFunc(f.TopFailures, func(a, b FailureReason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	f.TopFailures = f.TopFailures[:min(len(f.TopFailures), kpiTopFailures)]
	return f
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted, by the
// nearest-rank method: the ⌈p·n/100⌉-th smallest of the n values.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ⌈p·n/100⌉ in integers
	return sorted[max(rank, 1)-1]
}

// Text is the report as a few lines of plain text, readable in Slack or
// email: the window, the total, a line per group with its failure reasons,
// and the top failure reasons overall.
func (o *KPIReportOutput) Text() string {
	var b strings.Builder
	scope := "every owner"
	if o.Owner != "" {
		scope = "owner " + o.Owner
	}
	fmt.Fprintf(&b, "KPI report, %s to %s UTC (%s), %s\n",
		o.From.UTC().Format("2006-01-02 15:04"), o.To.UTC().Format("2006-01-02 15:04"), windowText(o.To.Sub(o.From)), scope)
	fmt.Fprintf(&b, "Total: %s\n", o.Total.text())
	for _, g := range o.Schedules {
		fmt.Fprintf(&b, "- %s [%s, agent %s]: %s\n", g.Name, g.Owner, g.Agent, g.text())
		if len(g.TopFailures) > 0 {
			fmt.Fprintf(&b, "    failures: %s\n", reasonsText(g.TopFailures))
		}
	}
	if len(o.Total.TopFailures) > 0 {
		fmt.Fprintf(&b, "Top failure reasons: %s\n", reasonsText(o.Total.TopFailures))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// text is f in one line: "7 runs (5 succeeded, 2 failed); success 71.4%
// (5 of 7 finished); p50 4s, p95 30s".
func (f *KPIFigures) text() string {
	if f.Runs == 0 {
		return "no runs"
	}
	var parts []string
	c := f.ByStatus
	for _, s := range []struct {
		n    int
		name string
	}{
		{c.Succeeded, "succeeded"}, {c.Failed, "failed"}, {c.TimedOut, "timed out"}, {c.Cancelled, "cancelled"},
		{c.Skipped, "skipped"}, {c.Running, "running"}, {c.Queued, "queued"},
	} {
		if s.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", s.n, s.name))
		}
	}
	runs := "runs"
	if f.Runs == 1 {
		runs = "run"
	}
	s := fmt.Sprintf("%d %s (%s)", f.Runs, runs, strings.Join(parts, ", "))
	if f.SuccessRate == nil {
		return s + "; none finished"
	}
	s += fmt.Sprintf("; success %.1f%% (%d of %d finished)", *f.SuccessRate*100, f.ByStatus.Succeeded, f.Finished)
	if f.P50MS != nil {
		s += fmt.Sprintf("; p50 %s, p95 %s", durationText(*f.P50MS), durationText(*f.P95MS))
	}
	return s
}

// reasonsText lists failure reasons: `2× "disk full", 1× "timed out"`.
func reasonsText(rs []FailureReason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d× %q", r.Count, r.Reason)
	}
	return strings.Join(parts, ", ")
}

// durationText writes ms milliseconds readably: "850ms", "4.2s", "1m30s".
func durationText(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return d.String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// windowText writes a window: "7 days", "1 day", "36h0m0s".
func windowText(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
