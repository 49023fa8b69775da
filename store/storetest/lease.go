package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func leaseTests() []test {
	return []test{
		{"ExtendLeaseOnlyForTheHolder", testLeaseExtend},
		{"ProgressIsRecordedByTheHolder", testLeaseProgress},
		{"FinishBatchRefusesWhatIsNotHeld", testLeaseFinishPartial},
		{"RequeueForRetryCountsTheAttempt", testLeaseRequeueRetry},
		{"RequeueForReleaseKeepsTheAttempt", testLeaseRequeueRelease},
		{"RequeueDelayCountsOnTheStoresClock", testLeaseRequeueDelay},
		{"RequeueEndsARunWhoseCancelWasRequested", testLeaseRequeueCancelled},
		{"RequeueRejectsBadInputAndWritesNothing", testLeaseRequeueBadInput},
		{"RescueRequeuesExpiredLeases", testLeaseRescueRequeue},
		{"RescueFailsWhenAttemptsAreSpent", testLeaseRescueFail},
		{"RescueCancelsWhenCancelWasRequested", testLeaseRescueCancel},
		{"RescueRespectsLimit", testLeaseRescueLimit},
		{"OldNodeIsRefusedAfterRescue", testLeaseLostAfterRescue},
	}
}

func testLeaseExtend(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc(), adhoc())
	a, b, c := res[0].Run.ID, res[1].Run.ID, res[2].Run.ID
	fx.claim(nodeA, 2) // a and b
	fx.claimOne(nodeB, c)
	fx.finish(b, nodeA, store.RunSucceeded)
	fx.clock.Advance(10 * time.Second)
	leases, err := fx.st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{Node: nodeA, IDs: []string{a, b, c, missingID}, Lease: time.Minute})
	if err != nil {
		t.Fatalf("RunExtendLease: %v", err)
	}
	if len(leases) != 1 {
		t.Fatalf("RunExtendLease = %+v, want only run a's lease", leases)
	}
	want(t, "extended run", leases[0].ID, a)
	wantTime(t, "LeaseExpiresAt", leases[0].LeaseExpiresAt, fx.now().Add(time.Minute))
	want(t, "CancelRequested", leases[0].CancelRequested, false)
	wantTime(t, "read back LeaseExpiresAt", fx.run(a).LeaseExpiresAt, fx.now().Add(time.Minute))
	wantTime(t, "LeaseExpiresAt of another node's run", fx.run(c).LeaseExpiresAt, fx.now().Add(lease-10*time.Second))

	// The extended lease outlives the original one.
	fx.clock.Advance(45 * time.Second)
	rescued, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantIDs(t, "rescued", runIDs(rescued), []string{c})

	_, err = fx.st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{IDs: []string{a}, Lease: time.Minute})
	wantInvalid(t, "extend without node", err, "node")
	_, err = fx.st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{Node: nodeA, IDs: []string{a}})
	wantInvalid(t, "extend without lease", err, "lease")
}

func testLeaseProgress(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	if err := fx.st.RunProgress(fx.ctx, &store.RunProgressParams{ID: r.ID, Node: nodeA, Progress: map[string]int64{"channels_processed": 1}}); err != nil {
		t.Fatalf("RunProgress: %v", err)
	}
	progress := map[string]int64{"channels_processed": 2, "messages_collected": 40}
	if err := fx.st.RunProgress(fx.ctx, &store.RunProgressParams{ID: r.ID, Node: nodeA, Progress: progress}); err != nil {
		t.Fatalf("RunProgress: %v", err)
	}
	progress["channels_processed"] = 99 // the store keeps its own copy
	got := fx.run(r.ID)
	want(t, "channels_processed", got.Progress["channels_processed"], int64(2))
	want(t, "messages_collected", got.Progress["messages_collected"], int64(40))
	want(t, "counters", len(got.Progress), 2)

	err := fx.st.RunProgress(fx.ctx, &store.RunProgressParams{ID: r.ID, Node: nodeB, Progress: map[string]int64{"x": 1}})
	wantLeaseLost(t, "progress from another node", err, r.ID)

	// Finishing with nil Progress keeps the counters.
	done := fx.finish(r.ID, nodeA, store.RunSucceeded)
	want(t, "messages_collected after finish", done.Progress["messages_collected"], int64(40))
	want(t, "read back messages_collected", fx.run(r.ID).Progress["messages_collected"], int64(40))
	err = fx.st.RunProgress(fx.ctx, &store.RunProgressParams{ID: r.ID, Node: nodeA, Progress: map[string]int64{"x": 1}})
	wantLeaseLost(t, "progress of a finished run", err, r.ID)
	if _, ok := fx.run(r.ID).Progress["x"]; ok {
		t.Error("refused progress was written")
	}
}

func testLeaseFinishPartial(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc(), adhoc())
	a, b, c := res[0].Run.ID, res[1].Run.ID, res[2].Run.ID
	fx.claim(nodeA, 2) // a and b
	fx.claimOne(nodeB, c)
	got, err := fx.st.RunFinish(fx.ctx,
		&store.RunFinishParams{ID: a, Node: nodeA, Status: store.RunSucceeded},
		&store.RunFinishParams{ID: c, Node: nodeA, Status: store.RunSucceeded},
		&store.RunFinishParams{ID: missingID, Node: nodeA, Status: store.RunSucceeded},
		&store.RunFinishParams{ID: b, Node: nodeA, Status: store.RunFailed},
	)
	wantLeaseLost(t, "batch finish", err, c, missingID)
	if len(got) != 4 {
		t.Fatalf("RunFinish returned %d results for 4 entries", len(got))
	}
	if got[0] == nil || got[0].ID != a || got[0].Status != store.RunSucceeded {
		t.Errorf("result 0 = %+v, want run a succeeded", got[0])
	}
	if got[1] != nil || got[2] != nil {
		t.Errorf("results 1 and 2 = %+v, %+v, want nil", got[1], got[2])
	}
	if got[3] == nil || got[3].ID != b || got[3].Status != store.RunFailed {
		t.Errorf("result 3 = %+v, want run b failed", got[3])
	}
	want(t, "status of a", fx.run(a).Status, store.RunSucceeded)
	want(t, "status of b", fx.run(b).Status, store.RunFailed)
	rc := fx.run(c)
	want(t, "status of c", rc.Status, store.RunRunning)
	want(t, "lease owner of c", rc.LeaseOwner, nodeB)
}

func testLeaseRequeueDelay(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 3
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	got, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA, Delay: 30 * time.Second, NextAttempt: true})
	if err != nil || len(got) != 1 || got[0] == nil {
		t.Fatalf("RunRequeue with a Delay = %v, %v; want the run", got, err)
	}
	wantTime(t, "RunAt of a requeue with Delay and no RunAt", got[0].RunAt, fx.now().Add(30*time.Second))
	fx.clock.Advance(30*time.Second - time.Microsecond)
	if claimed := fx.claim(nodeB, 1); len(claimed) != 0 {
		t.Fatalf("claimed a microsecond before its Delay was over: %v", runIDs(claimed))
	}
	fx.clock.Advance(time.Microsecond)
	fx.claimOne(nodeB, r.ID)

	// With RunAt, Delay counts from it.
	at := fx.now().Add(time.Hour)
	got, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeB, RunAt: at, Delay: time.Minute})
	if err != nil || len(got) != 1 || got[0] == nil {
		t.Fatalf("RunRequeue with RunAt and Delay = %v, %v; want the run", got, err)
	}
	wantTime(t, "RunAt of a requeue with RunAt and Delay", got[0].RunAt, at.Add(time.Minute))
}

func testLeaseRequeueRetry(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 3
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	fx.clock.Advance(time.Second)
	retryAt := fx.now().Add(time.Minute)
	got, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA, RunAt: retryAt, Error: "timeout talking to slack", NextAttempt: true})
	if err != nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("RunRequeue = %v, want the run", got)
	}
	for how, g := range map[string]*store.Run{"requeued": got[0], "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunQueued)
		want(t, how+" Attempt", g.Attempt, 2)
		wantTime(t, how+" RunAt", g.RunAt, retryAt)
		want(t, how+" Error", g.Error, "timeout talking to slack")
		want(t, how+" LeaseOwner", g.LeaseOwner, "")
		if !g.LeaseExpiresAt.IsZero() {
			t.Errorf("%s LeaseExpiresAt = %v, want zero", how, g.LeaseExpiresAt)
		}
	}
	if claimed := fx.claim(nodeB, 1); len(claimed) != 0 {
		t.Fatalf("claimed before the retry was due: %v", runIDs(claimed))
	}
	fx.clock.Advance(time.Minute)
	again := fx.claimOne(nodeB, r.ID)
	want(t, "Attempt when claimed again", again.Attempt, 2)
	wantTime(t, "StartedAt of the second attempt", again.StartedAt, fx.now())

	got, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeB, NextAttempt: true})
	if err != nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	want(t, "Attempt after the second retry", got[0].Attempt, 3)
	wantTime(t, "RunAt of a requeue without RunAt", got[0].RunAt, fx.now())
	want(t, "Error kept when none is given", got[0].Error, "timeout talking to slack")
}

// testLeaseRequeueCancelled: a run whose cancellation was requested is not
// run again when its node gives it back (a retry, or a release at
// shutdown): it ends cancelled with the request's reason, and the next held
// run of its schedule is released.
func testLeaseRequeueCancelled(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapBufferOne))
	r1 := fx.enqueueRun(tick(s, fx.tickAt(1)))
	fx.claimOne(nodeA, r1.ID)
	r2 := fx.enqueueRun(tick(s, fx.tickAt(2)))
	fx.wantRun("second run while the first runs", r2.ID, store.RunQueued, true)
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r1.ID, Reason: "too late"}); err != nil {
		t.Fatal(err)
	}
	fx.clock.Advance(time.Second)
	got, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r1.ID, Node: nodeA, NextAttempt: true,
		RunAt: fx.now().Add(time.Minute), Error: "boom"})
	if err != nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	for how, g := range map[string]*store.Run{"requeued": got[0], "read back": fx.run(r1.ID)} {
		want(t, how+" Status", g.Status, store.RunCancelled)
		want(t, how+" Error", g.Error, "too late")
		want(t, how+" Attempt", g.Attempt, 1)
		want(t, how+" LeaseOwner", g.LeaseOwner, "")
		wantTime(t, how+" FinishedAt", g.FinishedAt, fx.now())
	}
	fx.wantRun("second run after the first was given back", r2.ID, store.RunQueued, false)
	fx.clock.Advance(time.Hour)
	wantIDs(t, "claimed after the requeue", runIDs(fx.claim(nodeB, 10)), []string{r2.ID})
}

func testLeaseRequeueRelease(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	got, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA})
	if err != nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	want(t, "Attempt after a release", got[0].Attempt, 1)
	want(t, "Status after a release", got[0].Status, store.RunQueued)
	wantTime(t, "RunAt", got[0].RunAt, fx.now())
	want(t, "Attempt when claimed again", fx.claimOne(nodeB, r.ID).Attempt, 1)

	got, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA})
	wantLeaseLost(t, "requeue by a node that lost the run", err, r.ID)
	if len(got) != 1 || got[0] != nil {
		t.Errorf("RunRequeue = %v, want [nil]", got)
	}
	want(t, "lease owner", fx.run(r.ID).LeaseOwner, nodeB)
}

func testLeaseRequeueBadInput(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc())
	fx.claim(nodeA, 2)
	_, err := fx.st.RunRequeue(fx.ctx,
		&store.RunRequeueParams{ID: res[0].Run.ID, Node: nodeA},
		&store.RunRequeueParams{ID: res[1].Run.ID})
	wantInvalid(t, "requeue without node", err, "runs[1].node")
	// A time no store keeps: past year 9999 once the delay is added, or
	// set there.
	last := time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)
	_, err = fx.st.RunRequeue(fx.ctx,
		&store.RunRequeueParams{ID: res[0].Run.ID, Node: nodeA},
		&store.RunRequeueParams{ID: res[1].Run.ID, Node: nodeA, RunAt: last, Delay: 2 * time.Hour})
	wantInvalid(t, "requeue due past year 9999", err, "runs[1].delay")
	_, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: res[0].Run.ID, Node: nodeA, RunAt: last.Add(2 * time.Hour)})
	wantInvalid(t, "requeue at a time past year 9999", err, "run_at")
	_, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: res[0].Run.ID, Node: nodeA, DeliverAfter: last.Add(2 * time.Hour)})
	wantInvalid(t, "requeue delivering after year 9999", err, "deliver_after")
	_, err = fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: res[0].Run.ID, Node: nodeA, Status: store.RunSucceeded, DeliverAfter: last.Add(2 * time.Hour)})
	wantInvalid(t, "finish delivering after year 9999", err, "deliver_after")
	for _, r := range res {
		want(t, "status after a refused requeue", fx.run(r.Run.ID).Status, store.RunRunning)
	}
}

func testLeaseRescueRequeue(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 2
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	fx.clock.Advance(lease) // expires now: not yet lapsed
	rescued, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	if len(rescued) != 0 {
		t.Fatalf("rescued %v at the instant the lease ends", runIDs(rescued))
	}
	fx.clock.Advance(time.Microsecond)
	rescued, err = fx.st.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantIDs(t, "rescued", runIDs(rescued), []string{r.ID})
	for how, g := range map[string]*store.Run{"rescued": rescued[0], "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunQueued)
		want(t, how+" Attempt", g.Attempt, 2)
		want(t, how+" LeaseOwner", g.LeaseOwner, "")
		want(t, how+" Error", g.Error, "lease expired on node "+nodeA)
		wantTime(t, how+" RunAt", g.RunAt, fx.now())
		if !g.FinishedAt.IsZero() {
			t.Errorf("%s FinishedAt = %v, want zero", how, g.FinishedAt)
		}
	}
	fx.claimOne(nodeB, r.ID)
}

func testLeaseRescueFail(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 2
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	if _, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA, NextAttempt: true}); err != nil {
		t.Fatal(err)
	}
	fx.claimOne(nodeA, r.ID) // attempt 2 of 2
	fx.clock.Advance(lease + time.Second)
	rescued, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantIDs(t, "rescued", runIDs(rescued), []string{r.ID})
	for how, g := range map[string]*store.Run{"rescued": rescued[0], "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunFailed)
		want(t, how+" Attempt", g.Attempt, 2)
		want(t, how+" Error", g.Error, "lease expired on node "+nodeA)
		wantTime(t, how+" FinishedAt", g.FinishedAt, fx.now())
		want(t, how+" LeaseOwner", g.LeaseOwner, "")
	}
	if claimed := fx.claim(nodeB, 1); len(claimed) != 0 {
		t.Errorf("claimed a failed run: %v", runIDs(claimed))
	}
}

func testLeaseRescueCancel(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 5
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID, Reason: "deploy freeze"}); err != nil {
		t.Fatal(err)
	}
	fx.clock.Advance(lease + time.Second)
	rescued, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantIDs(t, "rescued", runIDs(rescued), []string{r.ID})
	for how, g := range map[string]*store.Run{"rescued": rescued[0], "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunCancelled)
		want(t, how+" Error", g.Error, "deploy freeze; lease expired on node "+nodeA)
		wantTime(t, how+" FinishedAt", g.FinishedAt, fx.now())
		want(t, how+" Attempt", g.Attempt, 1)
	}
}

func testLeaseRescueLimit(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc(), adhoc())
	fx.claim(nodeA, 3)
	fx.clock.Advance(lease + time.Second)
	first, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{Limit: 2})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	want(t, "rescued with limit 2", len(first), 2)
	rest, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{Limit: 2})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	want(t, "rescued next", len(rest), 1)
	seen := make(map[string]bool)
	for _, r := range append(first, rest...) {
		seen[r.ID] = true
	}
	for _, r := range res {
		if !seen[r.Run.ID] {
			t.Errorf("run %s never rescued", r.Run.ID)
		}
	}
}

// testLeaseLostAfterRescue: a node whose lease lapsed, whose run was
// rescued and claimed by another node, can no longer touch the run.
func testLeaseLostAfterRescue(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 3
	r := fx.enqueueRun(p)
	fx.claimOne(nodeA, r.ID)
	fx.clock.Advance(lease + time.Second)

	other := fx.open()
	rescued, err := other.RunRescue(fx.ctx, &store.RunRescueParams{})
	if err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantIDs(t, "rescued", runIDs(rescued), []string{r.ID})
	claimed, err := other.RunClaim(fx.ctx, &store.RunClaimParams{Node: nodeB, Limit: 1, Lease: lease})
	if err != nil {
		t.Fatalf("RunClaim: %v", err)
	}
	wantIDs(t, "claimed by node b", runIDs(claimed), []string{r.ID})
	before := fx.run(r.ID)

	got, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunSucceeded, Summary: "stale"})
	wantLeaseLost(t, "finish by the old node", err, r.ID)
	if len(got) != 1 || got[0] != nil {
		t.Errorf("RunFinish by the old node = %v, want [nil]", got)
	}
	_, err = fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: r.ID, Node: nodeA, NextAttempt: true})
	wantLeaseLost(t, "requeue by the old node", err, r.ID)
	leases, err := fx.st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{Node: nodeA, IDs: []string{r.ID}, Lease: time.Hour})
	if err != nil {
		t.Fatalf("RunExtendLease: %v", err)
	}
	if len(leases) != 0 {
		t.Errorf("RunExtendLease by the old node = %+v, want none", leases)
	}
	err = fx.st.RunProgress(fx.ctx, &store.RunProgressParams{ID: r.ID, Node: nodeA, Progress: map[string]int64{"n": 1}})
	wantLeaseLost(t, "progress by the old node", err, r.ID)

	after := fx.run(r.ID)
	want(t, "Status", after.Status, store.RunRunning)
	want(t, "LeaseOwner", after.LeaseOwner, nodeB)
	want(t, "Attempt", after.Attempt, 2)
	want(t, "Summary", after.Summary, "")
	wantTime(t, "LeaseExpiresAt", after.LeaseExpiresAt, before.LeaseExpiresAt)
	if len(after.Progress) != 0 {
		t.Errorf("Progress = %v, want none", after.Progress)
	}
	fx.finish(r.ID, nodeB, store.RunSucceeded)
}
