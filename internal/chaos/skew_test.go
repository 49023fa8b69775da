package chaos

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The shape of TestClockSkew.
const (
	skewBy          = 30 * time.Second // one node's clock is this far ahead, the other's this far behind
	skewSchedules   = 10               // each fires every second
	skewAdHoc       = 200              // ad hoc runs; every other one fails its first attempt
	skewLoad        = 20 * time.Second
	skewLease       = 2 * time.Second
	skewWorkers     = 8
	skewWork        = 100 * time.Millisecond
	skewRetryBase   = 2 * time.Second
	skewMaxAttempts = 3
	// skewSlack is what the backoff check forgives beyond the measured
	// offset between the database's clock and the nodes'.
	skewSlack = 20 * time.Millisecond
)

// TestClockSkew runs two node processes whose scheduler clocks are 30 s
// ahead and 30 s behind, under ticks of schedules that fire every second
// and ad hoc runs of which every other one fails its first attempt. Then it
// checks from the database: no run executed twice (a retry after a failed
// attempt is not a second execution), no run of a live node was rescued
// (no "lease expired"), each retry waited at least half its backoff, and
// every tick has one run, executed once.
func TestClockSkew(t *testing.T) {
	skipUnlessCluster(t)
	bin := buildNode(t)
	d := newDatabase(t)
	cl := newClient(t, d.dsn)
	schedules := cl.createSchedules(t, skewSchedules, skewMaxAttempts)
	deadlocksBefore := d.deadlocks(t)

	c := newCluster(t, bin, d.dsn,
		"-lease", skewLease.String(),
		"-workers", strconv.Itoa(skewWorkers),
		"-agent-ms", strconv.Itoa(int(skewWork/time.Millisecond)),
		"-retry-base", skewRetryBase.String(),
		"-max-attempts", strconv.Itoa(skewMaxAttempts),
	)
	t.Cleanup(c.reportLogs)
	c.start("ahead", "-skew", skewBy.String())
	c.start("behind", "-skew", (-skewBy).String())
	loadStart := time.Now()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enq := cl.enqueue(ctx, skewAdHoc, skewLoad*3/4, skewMaxAttempts, func(i int) json.RawMessage {
		if i%2 == 0 {
			return json.RawMessage(`{"fail_first":true}`)
		}
		return json.RawMessage(`{"fail_first":false}`)
	})
	time.Sleep(skewLoad)
	loadEnd := time.Now()
	enqueued := enq.wait(t, enqueueDeadline)
	cl.close(t)

	drained := waitDrained(t, d.db, d.at(loadEnd), drainDeadline)
	c.stopAll()
	c.checkExits()
	d.waitSessionsGone(t, nodeApp)
	d.waitSessionsGone(t, loadApp)

	rec := readRecords(t, d.db)
	lives := c.lives(d)
	until := d.at(loadEnd)

	adHoc, tickRuns := checkTerminal(t, rec, until, func(*runRow) string { return "succeeded" })
	if adHoc != enqueued {
		t.Errorf("the database holds %d ad hoc runs; the test enqueued %d", adHoc, enqueued)
	}
	ticks := checkTicksOnce(t, rec)
	up := func(tick time.Time) bool {
		for _, l := range lives {
			if l.upThrough(tick.Add(-time.Second), tick.Add(time.Second)) {
				return true
			}
		}
		return false
	}
	tickFrom, tickTo := d.at(loadStart).Add(tickMargin), until.Add(-tickMargin)
	ticksChecked := checkTicksPresent(t, ticks, schedules, tickFrom, tickTo, up)
	// No kills: a second execution is a retry after a failure, or wrong.
	ex := checkExecutions(t, rec, until, lives, time.Time{})
	dv := checkDeliveries(t, rec, until, lives, time.Time{})

	rescuedRuns := &findings{what: `runs rescued from a live node (error "lease expired")`}
	tickOnce := &findings{what: "ticks not executed exactly once"}
	shape := &findings{what: "runs whose attempts are not as their payload asks (one, or a failure then a success)"}
	early := &findings{what: "retries that did not wait half their backoff"}
	minWait := (skewRetryBase/2 - skewSlack - d.offset.Abs()).Round(time.Millisecond)
	var retries, earlyTicks int
	var shortest, longest, earliest time.Duration = -1, 0, 0
	for _, r := range rec.runs {
		if strings.Contains(r.err, "lease expired") {
			rescuedRuns.add("%s run %s (%s, attempt %d): %q; executions %s", r.kind, r.id, r.status, r.attempt, r.err, describe(rec.execs[r.id], lives))
		}
		if !inScope(r, until) {
			continue
		}
		es := rec.execs[r.id]
		if r.kind == "schedule" {
			if len(es) != 1 {
				tickOnce.add("run %s of tick %s: %d executions %s", r.id, r.scheduledFor.Format(time.RFC3339), len(es), describe(es, lives))
			}
			// Not a check: a node whose clock is ahead fires ticks early.
			if len(es) > 0 && es[0].started.Before(r.scheduledFor) {
				earlyTicks++
				earliest = max(earliest, r.scheduledFor.Sub(es[0].started))
			}
			continue
		}
		failFirst := strings.Contains(r.payload, `"fail_first":true`)
		switch {
		case !failFirst && len(es) != 1:
			shape.add("run %s: %s", r.id, describe(es, lives))
		case failFirst && (len(es) != 2 || es[0].attempt != 1 || es[0].outcome != "failed" || es[1].attempt != 2):
			shape.add("run %s (fails its first attempt): %s", r.id, describe(es, lives))
		case failFirst:
			retries++
			wait := es[1].started.Sub(es[0].ended)
			if shortest < 0 || wait < shortest {
				shortest = wait
			}
			longest = max(longest, wait)
			if wait < minWait {
				early.add("run %s: attempt 2 on %s started %v after attempt 1 on %s ended (want at least %v): %s",
					r.id, es[1].node, wait.Round(time.Millisecond), es[0].node, minWait, describe(es, lives))
			}
		}
	}
	rescuedRuns.report(t)
	tickOnce.report(t)
	shape.report(t)
	early.report(t)
	if lines, n := c.logLines(regexp.MustCompile(`run rescued from an expired lease`), 10); n > 0 {
		t.Errorf("the nodes logged %d rescues of runs from expired leases, with no node killed:\n%s", n, strings.Join(lines, "\n"))
	}
	// Read last: a session's statistics are flushed as it ends, just after
	// it leaves pg_stat_activity.
	deadlocks := d.deadlocks(t) - deadlocksBefore
	if deadlocks != 0 {
		t.Errorf("PostgreSQL counted %d deadlocks during the test (own database: %v)", deadlocks, d.own)
	}

	t.Logf("load: %v, drained in %v; runs checked: %d (%d ad hoc of %d enqueued, %d ticks); %d runs in the database",
		loadEnd.Sub(loadStart).Round(time.Second), drained.Round(100*time.Millisecond), ex.runs, adHoc, enqueued, tickRuns, len(rec.runs))
	t.Logf("executions: %d of %d runs; runs executed more than once: %d, with %d later executions — retries %d, unexplained %d; (run, attempt) executed twice %d; overlapping %d",
		ex.execs, ex.executed, ex.again, ex.execs-ex.executed, ex.retries, ex.unexplained, ex.sameAttempt, ex.overlapping)
	t.Logf("retries checked: %d, waits from %v to %v (backoff base %v: at least %v expected)",
		retries, shortest.Round(time.Millisecond), longest.Round(time.Millisecond), skewRetryBase, minWait)
	t.Logf("deliveries: %d for %d runs; delivered again %d; never delivered %d", dv.deliveries, dv.delivered, dv.again, dv.lost)
	t.Logf("ticks: %d required (%d schedules), none missing unless reported; %d executed before their time, by up to %v; PostgreSQL deadlocks: %d",
		ticksChecked, len(schedules), earlyTicks, earliest.Round(time.Millisecond), deadlocks)
}
