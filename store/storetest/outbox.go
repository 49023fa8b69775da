package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

func outboxTests() []test {
	return []test{
		{"FinishRecordsDeliverAfterAndTargets", testOutboxFinish},
		{"FinishWithoutDeliverAfterLeavesNothing", testOutboxNothing},
		{"RescueRecordsDeliverAfterOfEndedRunsWithTargets", testOutboxRescue},
		{"RequeueRecordsDeliverAfterOfCancelledRunsWithTargets", testOutboxRequeue},
		{"ConcurrentClaimsTakeEachRunOnce", testOutboxConcurrent},
		{"ExtendKeepsDeliveriesFromBeingTakenOver", testOutboxExtend},
		{"PruningKeepsRunsWithDeliveriesToMake", testOutboxPrune},
		{"BadInputIsRefused", testOutboxBadInput},
	}
}

// deliveryClaim takes up to limit runs due for delivery, until until.
func (fx *fixture) deliveryClaim(until time.Time, limit int) []*store.Run {
	fx.t.Helper()
	runs, err := fx.st.RunDeliveryClaim(fx.ctx, &store.RunDeliveryClaimParams{Until: until, Limit: limit})
	if err != nil {
		fx.t.Fatalf("RunDeliveryClaim: %v", err)
	}
	return runs
}

// withTargets is an ad hoc run with a delivery target.
func withTargets() *store.RunEnqueueParams {
	p := adhoc()
	p.Targets = []store.Target{{Channel: "email", To: "ops@example.test", On: delivery.OnFailure}}
	return p
}

func testOutboxFinish(t *testing.T, fx *fixture) {
	ob := fx.st
	r := fx.enqueueRun(withTargets())
	fx.claimOne(nodeA, r.ID)
	after := fx.now().Add(10 * time.Minute)
	targets := []store.Target{{Channel: "email", To: "ops@example.test", On: delivery.OnFailure}, {Channel: "slack", To: "#ops"}}
	done, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunFailed, Error: "boom",
		Targets: targets, DeliverAfter: after})
	if err != nil {
		t.Fatalf("RunFinish: %v", err)
	}
	wantTargets := []store.Target{targets[0], {Channel: "slack", To: "#ops", On: delivery.OnAlways}}
	for how, got := range map[string]*store.Run{"finished": done[0], "read back": fx.run(r.ID)} {
		wantTime(t, how+" DeliverAfter", got.DeliverAfter, after)
		if !reflect.DeepEqual(got.Targets, wantTargets) {
			t.Errorf("%s Targets = %+v, want %+v", how, got.Targets, wantTargets)
		}
	}
	if runs := fx.deliveryClaim(fx.now().Add(time.Minute), 10); len(runs) != 0 {
		t.Errorf("RunDeliveryClaim before DeliverAfter = %v, want none", runIDs(runs))
	}

	fx.clock.Advance(10 * time.Minute)
	until := fx.now().Add(5 * time.Minute)
	runs := fx.deliveryClaim(until, 10)
	if len(runs) != 1 || runs[0].ID != r.ID {
		t.Fatalf("RunDeliveryClaim at DeliverAfter = %v, want [%s]", runIDs(runs), r.ID)
	}
	wantTime(t, "claimed DeliverAfter", runs[0].DeliverAfter, until)
	want(t, "claimed Status", runs[0].Status, store.RunFailed)
	if again := fx.deliveryClaim(fx.now().Add(time.Minute), 10); len(again) != 0 {
		t.Errorf("a second RunDeliveryClaim = %v, want none before Until", runIDs(again))
	}

	if err := ob.RunDelivered(fx.ctx, r.ID); err != nil {
		t.Fatalf("RunDelivered: %v", err)
	}
	if got := fx.run(r.ID).DeliverAfter; !got.IsZero() {
		t.Errorf("DeliverAfter after RunDelivered = %v, want zero", got)
	}
	fx.clock.Advance(time.Hour)
	if again := fx.deliveryClaim(fx.now().Add(time.Minute), 10); len(again) != 0 {
		t.Errorf("RunDeliveryClaim after RunDelivered = %v, want none", runIDs(again))
	}
	if err := ob.RunDelivered(fx.ctx, "0190a000-0000-7000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunDelivered of a missing run = %v, want ErrNotFound", err)
	}
}

func testOutboxNothing(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(withTargets())
	fx.claimOne(nodeA, r.ID)
	done := fx.finish(r.ID, nodeA, store.RunSucceeded)
	if !done.DeliverAfter.IsZero() || len(done.Targets) != 1 {
		t.Errorf("finished run = DeliverAfter %v, targets %+v; want no DeliverAfter and its own target", done.DeliverAfter, done.Targets)
	}
	fx.clock.Advance(time.Hour)
	if runs := fx.deliveryClaim(fx.now().Add(time.Minute), 10); len(runs) != 0 {
		t.Errorf("RunDeliveryClaim = %v, want none", runIDs(runs))
	}
}

func testOutboxRescue(t *testing.T, fx *fixture) {
	spent := withTargets()
	spent.MaxAttempts = 1
	bare := adhoc()
	bare.MaxAttempts = 1
	again := withTargets()
	again.MaxAttempts = 3
	rs := []*store.Run{fx.enqueueRun(spent), fx.enqueueRun(bare), fx.enqueueRun(again)}
	if got := fx.claim(nodeA, 3); len(got) != 3 {
		t.Fatalf("claimed %d runs, want 3", len(got))
	}
	fx.clock.Advance(lease + time.Second)
	after := fx.now().Add(10 * time.Minute)
	if _, err := fx.st.RunRescue(fx.ctx, &store.RunRescueParams{DeliverAfter: after}); err != nil {
		t.Fatalf("RunRescue: %v", err)
	}
	wantTime(t, "failed run with targets: DeliverAfter", fx.run(rs[0].ID).DeliverAfter, after)
	wantTime(t, "failed run without targets: DeliverAfter", fx.run(rs[1].ID).DeliverAfter, time.Time{})
	wantTime(t, "requeued run: DeliverAfter", fx.run(rs[2].ID).DeliverAfter, time.Time{})
	want(t, "failed run status", fx.run(rs[0].ID).Status, store.RunFailed)
	fx.clock.Advance(10 * time.Minute)
	runs := fx.deliveryClaim(fx.now().Add(time.Minute), 10)
	wantIDs(t, "RunDeliveryClaim", runIDs(runs), []string{rs[0].ID})
}

func testOutboxRequeue(t *testing.T, fx *fixture) {
	rs := []*store.Run{fx.enqueueRun(withTargets()), fx.enqueueRun(adhoc()), fx.enqueueRun(withTargets())}
	if got := fx.claim(nodeA, 3); len(got) != 3 {
		t.Fatalf("claimed %d runs, want 3", len(got))
	}
	for _, r := range rs[:2] {
		if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID}); err != nil {
			t.Fatal(err)
		}
	}
	after := fx.now().Add(10 * time.Minute)
	params := make([]*store.RunRequeueParams, len(rs))
	for i, r := range rs {
		params[i] = &store.RunRequeueParams{ID: r.ID, Node: nodeA, DeliverAfter: after}
	}
	if _, err := fx.st.RunRequeue(fx.ctx, params...); err != nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	wantTime(t, "cancelled run with targets: DeliverAfter", fx.run(rs[0].ID).DeliverAfter, after)
	wantTime(t, "cancelled run without targets: DeliverAfter", fx.run(rs[1].ID).DeliverAfter, time.Time{})
	wantTime(t, "requeued run: DeliverAfter", fx.run(rs[2].ID).DeliverAfter, time.Time{})
	want(t, "requeued run status", fx.run(rs[2].ID).Status, store.RunQueued)
}

func testOutboxConcurrent(t *testing.T, fx *fixture) {
	const n = 40
	want := map[string]bool{}
	for range n {
		r := fx.enqueueRun(withTargets())
		fx.claimOne(nodeA, r.ID)
		if _, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunFailed,
			DeliverAfter: fx.now()}); err != nil {
			t.Fatalf("RunFinish: %v", err)
		}
		want[r.ID] = true
	}
	handles := []store.Store{fx.st, fx.open()}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		ob := handles[g%len(handles)]
		wg.Go(func() {
			for {
				runs, err := ob.RunDeliveryClaim(fx.ctx, &store.RunDeliveryClaimParams{Until: fx.now().Add(time.Hour), Limit: 3})
				if err != nil {
					t.Errorf("RunDeliveryClaim: %v", err)
					return
				}
				if len(runs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range runs {
					got[r.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id := range want {
		if got[id] != 1 {
			t.Errorf("run %s taken %d times, want once", id, got[id])
		}
	}
	if len(got) != n {
		t.Errorf("%d runs taken, want %d", len(got), n)
	}
}

// failedPair returns two failed runs with targets: pending with deliveries
// to make in a minute, done with none.
func (fx *fixture) failedPair() (pending, done *store.Run) {
	fx.t.Helper()
	pending = fx.enqueueRun(withTargets())
	fx.claimOne(nodeA, pending.ID)
	if _, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: pending.ID, Node: nodeA, Status: store.RunFailed,
		DeliverAfter: fx.now().Add(time.Minute)}); err != nil {
		fx.t.Fatalf("RunFinish: %v", err)
	}
	done = fx.enqueueRun(withTargets())
	fx.claimOne(nodeA, done.ID)
	fx.finish(done.ID, nodeA, store.RunFailed)
	return pending, done
}

func testOutboxExtend(t *testing.T, fx *fixture) {
	ob := fx.st
	pending, done := fx.failedPair()

	until := fx.now().Add(time.Hour)
	if err := ob.RunDeliveryExtend(fx.ctx, &store.RunDeliveryExtendParams{IDs: []string{pending.ID, done.ID, missingID}, Until: until}); err != nil {
		t.Fatalf("RunDeliveryExtend: %v", err)
	}
	wantTime(t, "extended DeliverAfter", fx.run(pending.ID).DeliverAfter, until)
	wantTime(t, "DeliverAfter of a run with none", fx.run(done.ID).DeliverAfter, time.Time{})
	fx.clock.Advance(30 * time.Minute)
	if runs := fx.deliveryClaim(fx.now().Add(time.Minute), 10); len(runs) != 0 {
		t.Errorf("RunDeliveryClaim before the extended DeliverAfter = %v, want none", runIDs(runs))
	}
	for _, p := range []*store.RunDeliveryExtendParams{nil, {IDs: []string{pending.ID}, Until: fx.now()}} {
		if err := ob.RunDeliveryExtend(fx.ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RunDeliveryExtend(%+v) = %v, want ErrInvalid", p, err)
		}
	}
}

func testOutboxPrune(t *testing.T, fx *fixture) {
	pending, done := fx.failedPair()
	fx.clock.Advance(48 * time.Hour)
	n, err := fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: time.Hour})
	if err != nil {
		t.Fatalf("RunDeleteFinished: %v", err)
	}
	want(t, "runs deleted", n, 1)
	fx.run(pending.ID) // still there
	if _, err := fx.st.RunGet(fx.ctx, done.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RunGet of the pruned run = %v, want ErrNotFound", err)
	}
}

func testOutboxBadInput(t *testing.T, fx *fixture) {
	ob := fx.st
	for _, p := range []*store.RunDeliveryClaimParams{
		nil,
		{Until: fx.now().Add(time.Minute)},
		{Until: fx.now().Add(time.Minute), Limit: store.ListLimitMax + 1},
		{Until: fx.now(), Limit: 1},
	} {
		if _, err := ob.RunDeliveryClaim(fx.ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RunDeliveryClaim(%+v) = %v, want ErrInvalid", p, err)
		}
	}
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	_, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunSucceeded,
		Targets: []store.Target{{Channel: ""}}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RunFinish with a target without channel = %v, want ErrInvalid", err)
	}
	want(t, "status after the refused finish", fx.run(r.ID).Status, store.RunRunning)
}
