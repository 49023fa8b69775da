package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// runRow is a run as the test reads it from herald_runs.
type runRow struct {
	id           string
	kind         string
	scheduleID   string
	scheduledFor time.Time // zero unless a tick
	status       string
	attempt      int
	err          string
	payload      string
	createdAt    time.Time
	deliverAfter time.Time // zero unless deliveries are due
}

// terminal reports whether the run has ended.
func (r *runRow) terminal() bool {
	switch r.status {
	case "succeeded", "failed", "cancelled", "timed_out", "skipped":
		return true
	}
	return false
}

// execRow is one execution of a run's agent, as a node recorded it.
type execRow struct {
	runID   string
	attempt int
	node    string
	pid     int
	started time.Time
	ended   time.Time // zero when it never ended (its process died)
	outcome string    // succeeded, failed, interrupted; empty when it never ended
}

// deliveryRow is one delivery, as a node's deliverer recorded it.
type deliveryRow struct {
	runID  string
	node   string
	target string
	at     time.Time
}

// records is everything the database holds about a test's runs.
type records struct {
	runs       []*runRow
	byID       map[string]*runRow
	execs      map[string][]execRow     // by run id, in start order
	deliveries map[string][]deliveryRow // by run id, in time order
	nExecs     int
	nDeliv     int
}

// readRecords reads the runs, executions and deliveries.
func readRecords(t *testing.T, db *sql.DB) *records {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := &records{byID: map[string]*runRow{}, execs: map[string][]execRow{}, deliveries: map[string][]deliveryRow{}}

	rows, err := db.QueryContext(ctx, `SELECT id::text, kind, COALESCE(schedule_id::text, ''), scheduled_for, status, attempt,
		COALESCE(error, ''), COALESCE(payload::text, ''), created_at, deliver_after FROM herald_runs`)
	if err != nil {
		t.Fatalf("read runs: %v", err)
	}
	for rows.Next() {
		r := &runRow{}
		var sf, da sql.NullTime
		if err := rows.Scan(&r.id, &r.kind, &r.scheduleID, &sf, &r.status, &r.attempt, &r.err, &r.payload, &r.createdAt, &da); err != nil {
			t.Fatalf("read runs: %v", err)
		}
		r.scheduledFor, r.deliverAfter = sf.Time.UTC(), da.Time.UTC()
		rec.runs = append(rec.runs, r)
		rec.byID[r.id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read runs: %v", err)
	}
	rows.Close()

	rows, err = db.QueryContext(ctx, `SELECT run_id::text, attempt, node, pid, started_at, ended_at, COALESCE(outcome, '')
		FROM herald_chaos_execs ORDER BY run_id, started_at, id`)
	if err != nil {
		t.Fatalf("read executions: %v", err)
	}
	for rows.Next() {
		var e execRow
		var ended sql.NullTime
		if err := rows.Scan(&e.runID, &e.attempt, &e.node, &e.pid, &e.started, &ended, &e.outcome); err != nil {
			t.Fatalf("read executions: %v", err)
		}
		e.started, e.ended = e.started.UTC(), ended.Time.UTC()
		rec.execs[e.runID] = append(rec.execs[e.runID], e)
		rec.nExecs++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read executions: %v", err)
	}
	rows.Close()

	rows, err = db.QueryContext(ctx, `SELECT run_id::text, node, target, at FROM herald_chaos_deliveries ORDER BY run_id, at, id`)
	if err != nil {
		t.Fatalf("read deliveries: %v", err)
	}
	for rows.Next() {
		var d deliveryRow
		if err := rows.Scan(&d.runID, &d.node, &d.target, &d.at); err != nil {
			t.Fatalf("read deliveries: %v", err)
		}
		d.at = d.at.UTC()
		rec.deliveries[d.runID] = append(rec.deliveries[d.runID], d)
		rec.nDeliv++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read deliveries: %v", err)
	}
	rows.Close()
	return rec
}

// inScope reports whether r is one of the runs a test checks to the end:
// every ad hoc run, and the ticks up to until (the end of the load; the
// ticks after it may be cut short by the nodes' final stop).
func inScope(r *runRow, until time.Time) bool {
	return r.kind == "enqueue" || (r.kind == "schedule" && !r.scheduledFor.After(until))
}

// openRuns counts the runs in scope that have not ended, and those whose
// deliveries are still due.
func openRuns(ctx context.Context, db *sql.DB, until time.Time) (open, undelivered int, err error) {
	err = db.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')),
		count(*) FILTER (WHERE deliver_after IS NOT NULL)
		FROM herald_runs WHERE kind = 'enqueue' OR (kind = 'schedule' AND scheduled_for <= $1)`, until).Scan(&open, &undelivered)
	return open, undelivered, err
}

// waitDrained polls until every run in scope has ended and been delivered,
// or the deadline passes; it returns how long that took.
func waitDrained(t *testing.T, db *sql.DB, until time.Time, deadline time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	logged := start
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		open, undelivered, err := openRuns(ctx, db, until)
		cancel()
		if err != nil {
			t.Fatalf("count open runs: %v", err)
		}
		if open == 0 && undelivered == 0 {
			return time.Since(start)
		}
		if time.Since(start) > deadline {
			t.Logf("drain: %d runs still open and %d still to deliver after %v; checking what the database holds", open, undelivered, deadline)
			return time.Since(start)
		}
		if time.Since(logged) > 10*time.Second {
			logged = time.Now()
			t.Logf("drain: %d runs open, %d still to deliver", open, undelivered)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// findings collects the violations of one check, for a report that shows
// their number and the first few.
type findings struct {
	what  string
	items []string
}

func (f *findings) add(format string, args ...any) {
	f.items = append(f.items, fmt.Sprintf(format, args...))
}

// report fails t when f holds violations.
func (f *findings) report(t *testing.T) {
	t.Helper()
	if len(f.items) == 0 {
		return
	}
	shown := f.items
	if len(shown) > 10 {
		shown = shown[:10]
	}
	t.Errorf("%s: %d\n  %s", f.what, len(f.items), strings.Join(shown, "\n  "))
}

// checkTerminal checks that every run in scope ended, and ended as want
// says.
func checkTerminal(t *testing.T, rec *records, until time.Time, want func(r *runRow) string) (adHoc, ticks int) {
	t.Helper()
	stuck := &findings{what: "runs stuck (not ended after the drain)"}
	wrong := &findings{what: "runs that ended otherwise than they should"}
	for _, r := range rec.runs {
		if !inScope(r, until) {
			continue
		}
		if r.kind == "enqueue" {
			adHoc++
		} else {
			ticks++
		}
		switch {
		case !r.terminal():
			stuck.add("%s run %s: %s, attempt %d, error %q", r.kind, r.id, r.status, r.attempt, r.err)
		case want(r) != r.status:
			wrong.add("%s run %s: %s (want %s), attempt %d, error %q", r.kind, r.id, r.status, want(r), r.attempt, r.err)
		}
	}
	stuck.report(t)
	wrong.report(t)
	return adHoc, ticks
}

// checkTicksOnce checks that no tick has two runs, and returns the ticks.
func checkTicksOnce(t *testing.T, rec *records) map[string]map[int64]*runRow {
	t.Helper()
	twice := &findings{what: "ticks with more than one run"}
	ticks := map[string]map[int64]*runRow{}
	for _, r := range rec.runs {
		if r.kind != "schedule" {
			continue
		}
		m := ticks[r.scheduleID]
		if m == nil {
			m = map[int64]*runRow{}
			ticks[r.scheduleID] = m
		}
		k := r.scheduledFor.UnixMicro()
		if first := m[k]; first != nil {
			twice.add("schedule %s tick %s: runs %s and %s", r.scheduleID, r.scheduledFor.Format(time.RFC3339Nano), first.id, r.id)
			continue
		}
		m[k] = r
	}
	twice.report(t)
	return ticks
}

// checkTicksPresent checks that every schedule has a run for every whole
// second in [from, to] at which up says a node was running; it returns
// the number of ticks checked.
func checkTicksPresent(t *testing.T, ticks map[string]map[int64]*runRow, schedules []string, from, to time.Time, up func(time.Time) bool) int {
	t.Helper()
	missing := &findings{what: "ticks missing while a node was up"}
	n := 0
	for tick := from.Truncate(time.Second).Add(time.Second); !tick.After(to); tick = tick.Add(time.Second) {
		if !up(tick) {
			continue
		}
		for _, id := range schedules {
			n++
			if ticks[id][tick.UnixMicro()] == nil {
				missing.add("schedule %s tick %s", id, tick.Format(time.RFC3339))
			}
		}
	}
	missing.report(t)
	return n
}

// execTally sums up the executions of the runs in scope.
type execTally struct {
	runs, executed, execs    int
	again                    int // runs executed more than once
	byKill, byStop, retries  int // second executions explained: a kill, a release at the final stop, a retry after a failure
	calmExecs, calmAgain     int // executions started before the first kill, and second executions among them
	sameAttempt              int // (run, attempt) executed more than once
	unexplained, overlapping int
}

// checkExecutions checks each run's executions, in start order: a second
// one is allowed only when the one before it failed (a retry of the next
// attempt), was cut short by its node's kill (SIGKILL between the two
// starts), or was released when its node was asked to stop; no two may
// overlap in time (an execution its node's kill cut short ends when the
// process died). calmEnd is the first kill, or zero without kills.
func checkExecutions(t *testing.T, rec *records, until time.Time, lives map[string]life, calmEnd time.Time) execTally {
	t.Helper()
	var tally execTally
	twice := &findings{what: "runs executed again with no kill, stop or failure to explain it"}
	calm := &findings{what: "runs executed twice before any kill (phase 1, where nothing may execute twice)"}
	overlap := &findings{what: "runs whose executions overlapped in time"}
	unended := &findings{what: "executions that never ended though their node was not killed"}
	attempts := &findings{what: "(run, attempt) pairs executed more than once"}
	success := &findings{what: "runs succeeded with no execution that succeeded"}
	inCalm := func(at time.Time) bool { return !calmEnd.IsZero() && at.Before(calmEnd) }
	for _, r := range rec.runs {
		if !inScope(r, until) {
			continue
		}
		tally.runs++
		es := rec.execs[r.id]
		tally.execs += len(es)
		if len(es) > 0 {
			tally.executed++
		}
		if len(es) > 1 {
			tally.again++
		}
		if r.status == "succeeded" && !containsOutcome(es, "succeeded") {
			success.add("%s run %s: %d executions %s", r.kind, r.id, len(es), describe(es, lives))
		}
		seen := map[int]bool{}
		var latestEnd time.Time // the latest end of the executions so far
		var latestBy execRow
		for i, e := range es {
			if inCalm(e.started) {
				tally.calmExecs++
			}
			if seen[e.attempt] {
				tally.sameAttempt++
				attempts.add("%s run %s attempt %d: %s", r.kind, r.id, e.attempt, describe(es, lives))
			}
			seen[e.attempt] = true
			end, ok := execEnd(e, lives)
			if !ok {
				unended.add("%s run %s attempt %d on %s started %s", r.kind, r.id, e.attempt, e.node, e.started.Format(timeFormat))
			}
			if i > 0 {
				prev := es[i-1]
				l := lives[prev.node]
				switch {
				case prev.outcome == "failed" && e.attempt == prev.attempt+1:
					tally.retries++
				case l.killed && l.killAt.Before(e.started):
					tally.byKill++
				case !l.stopAt.IsZero() && prev.outcome == "interrupted" && l.stopAt.Before(e.started) && prev.ended.Before(e.started):
					tally.byStop++
				default:
					tally.unexplained++
					twice.add("%s run %s: %s", r.kind, r.id, describe(es, lives))
				}
				if inCalm(e.started) && !(prev.outcome == "failed" && e.attempt == prev.attempt+1) {
					tally.calmAgain++
					calm.add("%s run %s: %s", r.kind, r.id, describe(es, lives))
				}
				if e.started.Before(latestEnd) {
					tally.overlapping++
					overlap.add("%s run %s: execution on %s started %s, before the one on %s (started %s) ended at %s",
						r.kind, r.id, e.node, e.started.Format(timeFormat), latestBy.node, latestBy.started.Format(timeFormat), latestEnd.Format(timeFormat))
				}
			}
			if !ok {
				end = time.Unix(1<<40, 0) // never: it overlaps whatever comes after
			}
			if end.After(latestEnd) {
				latestEnd, latestBy = end, e
			}
		}
	}
	calm.report(t)
	twice.report(t)
	overlap.report(t)
	unended.report(t)
	attempts.report(t)
	success.report(t)
	return tally
}

// execEnd returns when e ended: its recorded end, or the death of its
// process when that was killed; false when neither is known.
func execEnd(e execRow, lives map[string]life) (time.Time, bool) {
	if !e.ended.IsZero() {
		return e.ended, true
	}
	if l := lives[e.node]; l.killed && !l.deadAt.IsZero() {
		return l.deadAt, true
	}
	return time.Time{}, false
}

func containsOutcome(es []execRow, outcome string) bool {
	for _, e := range es {
		if e.outcome == outcome {
			return true
		}
	}
	return false
}

// timeFormat shows the instants of a report, to the millisecond.
const timeFormat = "15:04:05.000"

// describe lists executions for a report.
func describe(es []execRow, lives map[string]life) string {
	parts := make([]string, len(es))
	for i, e := range es {
		end := "never ended"
		if !e.ended.IsZero() {
			end = "ended " + e.ended.Format(timeFormat) + " " + e.outcome
		}
		s := fmt.Sprintf("[attempt %d on %s: started %s, %s", e.attempt, e.node, e.started.Format(timeFormat), end)
		if l := lives[e.node]; l.killed {
			s += ", node killed " + l.killAt.Format(timeFormat)
		}
		parts[i] = s + "]"
	}
	return strings.Join(parts, " ")
}

// deliveryTally sums up the deliveries of the runs in scope.
type deliveryTally struct {
	deliveries, delivered int
	again, byKill         int // runs delivered more than once; those a kill explains
	calmAgain             int
	unexplained, lost     int
}

// checkDeliveries checks that every run in scope was delivered, and that
// a run was delivered again only when a node that had delivered or
// executed it before was killed in between (never before calmEnd).
func checkDeliveries(t *testing.T, rec *records, until time.Time, lives map[string]life, calmEnd time.Time) deliveryTally {
	t.Helper()
	var tally deliveryTally
	twice := &findings{what: "results delivered more than once with no kill to explain it"}
	calm := &findings{what: "results delivered twice before any kill (phase 1)"}
	lost := &findings{what: "ended runs never delivered"}
	for _, r := range rec.runs {
		if !inScope(r, until) {
			continue
		}
		ds := rec.deliveries[r.id]
		tally.deliveries += len(ds)
		if len(ds) > 0 {
			tally.delivered++
		} else if r.terminal() {
			tally.lost++
			lost.add("%s run %s (%s): executions %s", r.kind, r.id, r.status, describe(rec.execs[r.id], lives))
		}
		if len(ds) > 1 {
			tally.again++
		}
		for i := 1; i < len(ds); i++ {
			d := ds[i]
			explained := false
			killedIn := func(node string, from time.Time) bool {
				l := lives[node]
				return l.killed && from.Before(l.deadAt) && l.killAt.Before(d.at)
			}
			for _, p := range ds[:i] {
				explained = explained || killedIn(p.node, p.at)
			}
			for _, e := range rec.execs[r.id] {
				explained = explained || (e.started.Before(d.at) && killedIn(e.node, e.started))
			}
			desc := fmt.Sprintf("%s run %s: deliveries %s; executions %s", r.kind, r.id, describeDeliveries(ds, lives), describe(rec.execs[r.id], lives))
			if !calmEnd.IsZero() && d.at.Before(calmEnd) {
				tally.calmAgain++
				calm.add("%s", desc)
			}
			if explained {
				tally.byKill++
			} else {
				tally.unexplained++
				twice.add("%s", desc)
			}
		}
	}
	calm.report(t)
	twice.report(t)
	lost.report(t)
	return tally
}

func describeDeliveries(ds []deliveryRow, lives map[string]life) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		s := fmt.Sprintf("[%s at %s", d.node, d.at.Format(timeFormat))
		if l := lives[d.node]; l.killed {
			s += ", node killed " + l.killAt.Format(timeFormat)
		}
		parts[i] = s + "]"
	}
	return strings.Join(parts, " ")
}
