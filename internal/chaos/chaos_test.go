package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The shape of TestChaos.
const (
	chaosNodes     = 3
	chaosSchedules = 50   // each fires every second
	chaosAdHoc     = 1500 // ad hoc runs, spread over both phases
	chaosCalm      = 20 * time.Second
	chaosStorm     = 35 * time.Second
	chaosLease     = 3 * time.Second
	chaosWorkers   = 16
	chaosWork      = 200 * time.Millisecond // an attempt's mean work time
	chaosTakeover  = 10 * time.Second       // DeliveryTakeover
	// chaosRetryBase keeps the longest delivery retry sequence (four
	// delays from it, doubling: 3.75 s) below DeliveryTakeover, as its
	// documentation asks.
	chaosRetryBase   = 250 * time.Millisecond
	chaosMaxAttempts = 10 // kills spend attempts; they must not fail runs
	killEveryMin     = 3 * time.Second
	killEveryMax     = 6 * time.Second
	restartAfter     = time.Second
	tickMargin       = 3 * time.Second // ticks this close to the load's start or end are not required
	drainDeadline    = 2 * time.Minute
	enqueueDeadline  = 30 * time.Second
)

// TestChaos runs three node processes against one PostgreSQL database
// under a steady load (ticks of schedules that fire every second, ad hoc
// runs, a delivery for each), first with no kills (phase 1), then with one
// node killed with SIGKILL every few seconds and restarted a second later
// (phase 2). Then it checks from the database: every run ended, no tick
// has two runs, no tick is missing, a run executed again only after its
// node was killed (never in phase 1), no two executions of a run
// overlapped, a result delivered again only after a kill, and PostgreSQL
// counted no deadlock.
func TestChaos(t *testing.T) {
	skipUnlessCluster(t)
	bin := buildNode(t)
	d := newDatabase(t)
	cl := newClient(t, d.dsn)
	schedules := cl.createSchedules(t, chaosSchedules, chaosMaxAttempts)
	deadlocksBefore := d.deadlocks(t)

	c := newCluster(t, bin, d.dsn,
		"-lease", chaosLease.String(),
		"-workers", strconv.Itoa(chaosWorkers),
		"-agent-ms", strconv.Itoa(int(chaosWork/time.Millisecond)),
		"-takeover", chaosTakeover.String(),
		"-retry-base", chaosRetryBase.String(),
	)
	t.Cleanup(c.reportLogs)
	slots := make([]*proc, chaosNodes)
	incarnation := make([]int, chaosNodes)
	for i := range slots {
		slots[i] = c.start(nodeName(i, 0))
	}
	loadStart := time.Now()
	t.Logf("%d nodes ready; phase 1: %v with no kills", chaosNodes, chaosCalm)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enq := cl.enqueue(ctx, chaosAdHoc, chaosCalm+chaosStorm, chaosMaxAttempts, func(i int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	})

	// Phase 1, then phase 2: a kill every few seconds, the first at once.
	time.Sleep(chaosCalm)
	t.Logf("phase 2: %v with a node killed every %v to %v and restarted %v later", chaosStorm, killEveryMin, killEveryMax, restartAfter)
	stormEnd := time.Now().Add(chaosStorm)
	kills := 0
	for next := time.Now(); next.Add(restartAfter).Before(stormEnd); {
		time.Sleep(time.Until(next))
		i := rand.N(chaosNodes)
		c.kill(slots[i])
		kills++
		next = time.Now().Add(killEveryMin + rand.N(killEveryMax-killEveryMin))
		time.Sleep(restartAfter)
		incarnation[i]++
		slots[i] = c.start(nodeName(i, incarnation[i]))
	}
	time.Sleep(time.Until(stormEnd))
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
	var calmEnd time.Time // the first kill
	for _, l := range lives {
		if l.killed && (calmEnd.IsZero() || l.killAt.Before(calmEnd)) {
			calmEnd = l.killAt
		}
	}
	if kills < 3 || calmEnd.IsZero() {
		t.Fatalf("harness: phase 2 killed %d nodes; it should have killed several", kills)
	}
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
	ex := checkExecutions(t, rec, until, lives, calmEnd)
	dv := checkDeliveries(t, rec, until, lives, calmEnd)
	if ex.calmExecs == 0 {
		t.Errorf("harness: no execution started in phase 1")
	}
	// Read last: a session's statistics are flushed as it ends, just after
	// it leaves pg_stat_activity.
	deadlocks := d.deadlocks(t) - deadlocksBefore
	if deadlocks != 0 {
		t.Errorf("PostgreSQL counted %d deadlocks during the test (own database: %v)", deadlocks, d.own)
	}
	_, rescued := c.logLines(regexp.MustCompile(`run rescued from an expired lease`), 0)

	t.Logf("load: %v (phase 1 %v, phase 2 %v), drained in %v; %d node processes, %d kills",
		loadEnd.Sub(loadStart).Round(time.Second), chaosCalm, chaosStorm, drained.Round(100*time.Millisecond), len(lives), kills)
	t.Logf("runs checked: %d (%d ad hoc of %d enqueued, %d ticks up to the load's end); %d runs in the database",
		ex.runs, adHoc, enqueued, tickRuns, len(rec.runs))
	t.Logf("executions: %d of %d runs (%d started in phase 1); runs executed more than once: %d, with %d later executions — after a kill %d, after a release at the final stop %d, retries %d, unexplained %d (in phase 1: %d); overlapping %d; (run, attempt) executed twice %d",
		ex.execs, ex.executed, ex.calmExecs, ex.again, ex.execs-ex.executed, ex.byKill, ex.byStop, ex.retries, ex.unexplained, ex.calmAgain, ex.overlapping, ex.sameAttempt)
	t.Logf("deliveries: %d for %d runs; runs delivered more than once: %d, with %d later deliveries — after a kill %d, unexplained %d (in phase 1: %d); never delivered %d",
		dv.deliveries, dv.delivered, dv.again, dv.deliveries-dv.delivered, dv.byKill, dv.unexplained, dv.calmAgain, dv.lost)
	t.Logf("ticks: %d required (%d schedules, %s to %s), none missing unless reported; runs rescued from expired leases (node logs): %d; PostgreSQL deadlocks: %d",
		ticksChecked, len(schedules), tickFrom.Format(timeFormat), tickTo.Format(timeFormat), rescued, deadlocks)
}

// nodeName names the incarnation-th process of node slot i: every process
// has a name of its own.
func nodeName(i, incarnation int) string {
	return fmt.Sprintf("n%d.%d", i+1, incarnation)
}
