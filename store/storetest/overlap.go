package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func overlapTests() []test {
	return []test{
		{"SkipRecordsSkippedRun", testOverlapSkip},
		{"BufferOneHoldsOneAndSkipsTheRest", testOverlapBufferOne},
		{"BufferAllReleasesHeldRunsInOrder", testOverlapBufferAll},
		{"CancelOtherCancelsQueuedRuns", testOverlapCancelOtherQueued},
		{"CancelOtherStopsRunningRunAndHolds", testOverlapCancelOtherRunning},
		{"AllowAllRunsAlongside", testOverlapAllowAll},
		{"BatchIsDecidedEntryByEntry", testOverlapBatch},
		{"ManualRunFollowsThePolicy", testOverlapManual},
		{"DuplicateTickDecidesNothing", testOverlapDuplicate},
		{"CancelOfQueuedRunReleasesHeldRun", testOverlapReleaseOnCancel},
		{"RescueToFailedReleasesHeldRun", testOverlapReleaseOnRescue},
		{"HeldRunsAreNotDue", testOverlapHeldNotDue},
	}
}

// tickAt returns the i-th tick of a test: one minute apart, before now.
func (fx *fixture) tickAt(i int) time.Time {
	return suiteStart().Add(time.Duration(i-10) * time.Minute)
}

// wantRun checks a run's status and, for a queued run, its Held flag, as
// stored.
func (fx *fixture) wantRun(what, id string, status store.RunStatus, held bool) *store.Run {
	fx.t.Helper()
	r := fx.run(id)
	if r.Status != status || (status == store.RunQueued && r.Held != held) {
		fx.t.Errorf("%s: run is %s (held %v), want %s (held %v)", what, r.Status, r.Held, status, held)
	}
	return r
}

func testOverlapSkip(t *testing.T, fx *fixture) {
	s := fx.schedule("report") // skip is the default
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	want(t, "first tick", r1.Status, store.RunQueued)
	fx.clock.Advance(time.Second)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2))) // r1 is queued: active
	for how, g := range map[string]*store.Run{"enqueued": r2, "read back": fx.run(r2.ID)} {
		want(t, how+" Status", g.Status, store.RunSkipped)
		want(t, how+" Held", g.Held, false)
		wantTime(t, how+" FinishedAt", g.FinishedAt, fx.now())
		if g.Error == "" {
			t.Errorf("%s: a skipped run records no reason", how)
		}
	}
	wantTime(t, "LastFiredAt after a skipped tick", fx.getSchedule(s.ID).LastFiredAt, fx.tickAt(2))
	fx.claimOne(nodeA, r1.ID)
	r3 := fx.enqueueRun(tick(s, fx.tickAt(3))) // r1 is running: active
	want(t, "tick while running", r3.Status, store.RunSkipped)
	fx.finish(r1.ID, nodeA, store.RunSucceeded)
	r4 := fx.enqueueRun(tick(s, fx.tickAt(4)))
	want(t, "tick after the run ended", r4.Status, store.RunQueued)
	fx.claimOne(nodeA, r4.ID)
}

func testOverlapBufferOne(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferOne))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	want(t, "second tick Status", r2.Status, store.RunQueued)
	want(t, "second tick Held", r2.Held, true)
	r3 := fx.enqueueRun(tick(s, fx.tickAt(3)))
	want(t, "third tick Status", r3.Status, store.RunSkipped)
	if got := fx.claim(nodeB, 10); len(got) != 0 {
		t.Fatalf("claimed a held run: %v", runIDs(got))
	}
	fx.finish(r1.ID, nodeA, store.RunSucceeded)
	fx.wantRun("second tick after the first ended", r2.ID, store.RunQueued, false)
	fx.claimOne(nodeB, r2.ID)
	// Running again with nothing held: the next one is held, not skipped.
	r4 := fx.enqueueRun(tick(s, fx.tickAt(4)))
	want(t, "fourth tick Held", r4.Held, true)
	want(t, "fourth tick Status", r4.Status, store.RunQueued)
}

func testOverlapBufferAll(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferAll))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	r3 := fx.enqueueRun(tick(s, fx.tickAt(3)))
	r4 := fx.enqueueRun(manual(s))
	for i, r := range []*store.Run{r2, r3, r4} {
		fx.wantRun(fmt.Sprintf("buffered run %d", i+2), r.ID, store.RunQueued, true)
	}
	fx.finish(r1.ID, nodeA, store.RunFailed)
	fx.wantRun("r2 after r1 ended", r2.ID, store.RunQueued, false)
	fx.wantRun("r3 after r1 ended", r3.ID, store.RunQueued, true)
	fx.claimOne(nodeA, r2.ID)
	fx.finish(r2.ID, nodeA, store.RunSucceeded)
	fx.wantRun("r3 after r2 ended", r3.ID, store.RunQueued, false)
	fx.wantRun("r4 after r2 ended", r4.ID, store.RunQueued, true)
	fx.claimOne(nodeA, r3.ID)
	fx.finish(r3.ID, nodeA, store.RunTimedOut)
	fx.wantRun("r4 after r3 ended", r4.ID, store.RunQueued, false)
}

func testOverlapCancelOtherQueued(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapCancelOther))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.clock.Advance(time.Second)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	want(t, "new run Status", r2.Status, store.RunQueued)
	want(t, "new run Held", r2.Held, false)
	old := fx.wantRun("replaced run", r1.ID, store.RunCancelled, false)
	wantTime(t, "replaced run FinishedAt", old.FinishedAt, fx.now())
	if old.Error == "" {
		t.Error("the replaced run records no reason")
	}
	fx.claimOne(nodeA, r2.ID)
}

func testOverlapCancelOtherRunning(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapCancelOther))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	want(t, "new run Status", r2.Status, store.RunQueued)
	want(t, "new run Held", r2.Held, true)
	old := fx.wantRun("running run", r1.ID, store.RunRunning, false)
	want(t, "running run CancelRequested", old.CancelRequested, true)
	if old.CancelReason == "" {
		t.Error("the running run's cancellation request records no reason")
	}
	// A third tick replaces the held second one and waits in its place.
	r3 := fx.enqueueRun(tick(s, fx.tickAt(3)))
	want(t, "third run Held", r3.Held, true)
	fx.wantRun("second run", r2.ID, store.RunCancelled, false)
	if got := fx.claim(nodeB, 10); len(got) != 0 {
		t.Fatalf("claimed %v while the cancelled run still runs", runIDs(got))
	}
	if done := fx.finish(r1.ID, nodeA, store.RunCancelled); done.Error != old.CancelReason {
		t.Errorf("stopped run Error = %q, want the request's reason %q", done.Error, old.CancelReason)
	}
	fx.wantRun("third run after the first stopped", r3.ID, store.RunQueued, false)
	fx.claimOne(nodeB, r3.ID)
}

func testOverlapAllowAll(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	r3 := fx.enqueueRun(manual(s))
	for _, r := range []*store.Run{r2, r3} {
		fx.wantRun("run alongside", r.ID, store.RunQueued, false)
	}
	wantIDs(t, "claimed alongside", runIDs(fx.claim(nodeB, 10)), []string{r2.ID, r3.ID})
	fx.wantRun("first run", r1.ID, store.RunRunning, false)
}

func testOverlapBatch(t *testing.T, fx *fixture) {
	one := fx.schedule("one", withOverlap(store.OverlapBufferOne))
	skip := fx.schedule("skip")
	r0 := fx.enqueueRun(tick(one, fx.tickAt(0)))
	fx.claimOne(nodeA, r0.ID)
	res := fx.enqueue(
		tick(one, fx.tickAt(1)),
		tick(skip, fx.tickAt(1)),
		tick(one, fx.tickAt(2)),
		tick(skip, fx.tickAt(2)),
		tick(one, fx.tickAt(3)),
	)
	wantStatus := []struct {
		status store.RunStatus
		held   bool
	}{
		{store.RunQueued, true},  // one: held behind the running r0
		{store.RunQueued, false}, // skip: idle, runs
		{store.RunSkipped, false},
		{store.RunSkipped, false}, // skip: the first is queued
		{store.RunSkipped, false},
	}
	for i, w := range wantStatus {
		fx.wantRun(fmt.Sprintf("batch entry %d", i), res[i].Run.ID, w.status, w.held)
		if res[i].Duplicate {
			t.Errorf("batch entry %d marked Duplicate", i)
		}
	}
	wantTime(t, "LastFiredAt of one", fx.getSchedule(one.ID).LastFiredAt, fx.tickAt(3))
	wantTime(t, "LastFiredAt of skip", fx.getSchedule(skip.ID).LastFiredAt, fx.tickAt(2))
}

func testOverlapManual(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	r1 := fx.enqueueRun(manual(s))
	want(t, "manual run on an idle schedule", r1.Status, store.RunQueued)
	r2 := fx.enqueueRun(manual(s))
	want(t, "manual run while one is queued", r2.Status, store.RunSkipped)
	want(t, "Kind", r2.Kind, store.RunKindManual)
}

func testOverlapDuplicate(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferOne))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	want(t, "second tick Held", r2.Held, true)
	// Re-enqueueing either tick is a duplicate: no skipped run, nothing
	// cancelled.
	res := fx.enqueue(tick(s, fx.tickAt(2)), tick(s, fx.tickAt(1)))
	for i, want := range []string{r2.ID, r1.ID} {
		if !res[i].Duplicate || res[i].Run.ID != want {
			t.Errorf("re-enqueued tick %d: Duplicate %v, run %s; want the original %s", i, res[i].Duplicate, res[i].Run.ID, want)
		}
	}
	if runs := fx.runs(store.RunListParams{ScheduleID: s.ID}); len(runs) != 2 {
		t.Errorf("runs of the schedule = %v, want 2", runIDs(runs))
	}
	fx.wantRun("second tick", r2.ID, store.RunQueued, true)
}

func testOverlapReleaseOnCancel(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferOne))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	fx.wantRun("second tick", r2.ID, store.RunQueued, true)
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r1.ID, Reason: "no"}); err != nil {
		t.Fatalf("RunCancel: %v", err)
	}
	fx.wantRun("second tick after the first was cancelled", r2.ID, store.RunQueued, false)
	fx.claimOne(nodeA, r2.ID)
}

func testOverlapReleaseOnRescue(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferAll))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1))) // one attempt
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	fx.clock.Advance(lease + time.Second)
	if _, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{}); err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	fx.wantRun("rescued run", r1.ID, store.RunFailed, false)
	fx.wantRun("held run", r2.ID, store.RunQueued, false)
	fx.claimOne(nodeB, r2.ID)
}

func testOverlapHeldNotDue(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferAll))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	fx.enqueue(tick(s, fx.tickAt(2)))
	_, err := fx.st.RunNextDue(fx.ctx)
	wantErr(t, "RunNextDue with only a held run queued", err, store.ErrNotFound)
	fx.finish(r1.ID, nodeA, store.RunSucceeded)
	next, err := fx.st.RunNextDue(fx.ctx)
	if err != nil {
		t.Fatalf("RunNextDue after the release: %v", err)
	}
	wantTime(t, "next due", next, fx.tickAt(2)) // a tick is due at its moment
}
