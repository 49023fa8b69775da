package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func stagedTests() []test {
	return []test{
		{"RunsCommitWhenReleased", testStagedRelease},
		{"ReleaseErrorWritesNothing", testStagedReleaseError},
		{"BadInputIsRefusedBeforeRelease", testStagedBadInput},
		{"ClaimTakesTheTicksFreeToStart", testStagedClaim},
		{"BadClaimIsRefusedBeforeRelease", testStagedBadClaim},
		{"ClaimedTicksWakeNoWorker", testStagedClaimNotifies},
	}
}

func testStagedRelease(t *testing.T, fx *fixture) {
	st := fx.st
	s := fx.schedule("report")
	written, commit := make(chan struct{}), make(chan struct{})
	type outcome struct {
		res []*store.EnqueueResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error {
			close(written)
			<-commit
			return nil
		}, nil, tick(s, fx.tickAt(1)))
		done <- outcome{res, err}
	}()
	<-written
	if runs := fx.runs(store.RunListParams{ScheduleID: s.ID}); len(runs) != 0 {
		t.Errorf("before the release, %d runs are visible", len(runs))
	}
	if got := fx.getSchedule(s.ID).LastFiredAt; !got.IsZero() {
		t.Errorf("before the release, LastFiredAt is %v", got)
	}
	close(commit)
	o := <-done
	if o.err != nil || len(o.res) != 1 || o.res[0].Run == nil || o.res[0].Duplicate {
		t.Fatalf("RunEnqueueStaged = %v, %v", o.res, o.err)
	}
	fx.wantRun("released tick", o.res[0].Run.ID, store.RunQueued, false)
	// The schedule's LastFiredAt may follow the commit (RunEnqueueStaged).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := fx.getSchedule(s.ID).LastFiredAt
		if got.Equal(fx.tickAt(1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LastFiredAt = %v 10 s after the commit, want %v", got, fx.tickAt(1))
		}
	}
	// The same tick again is a duplicate, staged or not.
	again, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { return nil }, nil, tick(s, fx.tickAt(1)))
	if err != nil || !again[0].Duplicate || again[0].Run.ID != o.res[0].Run.ID {
		t.Fatalf("the same tick staged again = %+v, %v; want the first run as a duplicate", again, err)
	}
}

func testStagedReleaseError(t *testing.T, fx *fixture) {
	st := fx.st
	s := fx.schedule("report")
	stop := errors.New("stopping")
	res, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { return stop }, nil,
		tick(s, fx.tickAt(1)), adhoc())
	if !errors.Is(err, stop) || res != nil {
		t.Fatalf("RunEnqueueStaged with a failing release = %v, %v; want the release's error", res, err)
	}
	if runs := fx.runs(store.RunListParams{}); len(runs) != 0 {
		t.Errorf("%d runs written", len(runs))
	}
	if got := fx.getSchedule(s.ID).LastFiredAt; !got.IsZero() {
		t.Errorf("LastFiredAt moved to %v", got)
	}
	// The tick is still free.
	if r := fx.enqueueRun(tick(s, fx.tickAt(1))); r.Status != store.RunQueued {
		t.Errorf("the tick afterwards: %s", r.Status)
	}
}

func testStagedBadInput(t *testing.T, fx *fixture) {
	st := fx.st
	released := false
	bad := adhoc()
	bad.Agent = ""
	_, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { released = true; return nil }, nil, adhoc(), bad)
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RunEnqueueStaged with an empty agent: %v, want ErrInvalid", err)
	}
	if released {
		t.Error("release was called for a call that writes nothing")
	}
	if runs := fx.runs(store.RunListParams{}); len(runs) != 0 {
		t.Errorf("%d runs written", len(runs))
	}
}

// testStagedClaim stages, with a claim, ticks of every kind a claim must
// tell apart, and checks that exactly the ticks free to start commit
// running, leased to the node, up to the limit in the order of the call.
func testStagedClaim(t *testing.T, fx *fixture) {
	st := fx.st
	at := fx.tickAt(1)
	free1 := fx.schedule("free-1", withOverlap(store.OverlapAllowAll))
	free2 := fx.schedule("free-2", withOverlap(store.OverlapAllowAll))
	overLimit := fx.schedule("over-limit", withOverlap(store.OverlapAllowAll))
	skipped := fx.schedule("skipped") // skip, with a run queued already
	busy := fx.enqueueRun(manual(skipped))
	held := fx.schedule("held", withOverlap(store.OverlapBufferOne))
	fx.enqueueRun(manual(held))
	replaced := fx.schedule("replaced", withOverlap(store.OverlapCancelOther))
	jittered := fx.schedule("jittered", withOverlap(store.OverlapAllowAll))
	dup := fx.schedule("dup", withOverlap(store.OverlapAllowAll))
	first := fx.enqueueRun(tick(dup, at))

	late := tick(jittered, at)
	late.RunAt = at.Add(time.Second)
	params := []*store.RunEnqueueParams{
		tick(free1, at),
		adhoc(),
		tick(skipped, at),
		tick(held, at),
		tick(replaced, at.Add(-time.Minute)), // cancelled by the next
		tick(replaced, at),
		late,
		tick(dup, at),
		tick(free2, at),
		tick(overLimit, at),
	}
	released := false
	res, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { released = true; return nil },
		&store.RunClaimParams{Node: nodeA, Limit: 3, Lease: lease}, params...)
	if err != nil || len(res) != len(params) {
		t.Fatalf("RunEnqueueStaged with a claim = %v, %v", res, err)
	}
	if !released {
		t.Fatal("release was not called")
	}
	claimed := map[int]bool{0: true, 5: true, 8: true}
	for i, r := range res {
		stored := fx.run(r.Run.ID)
		what := fmt.Sprintf("run %d (%s)", i, params[i].ScheduleID)
		if i == 7 {
			want(t, what+" is the first tick's", r.Duplicate && r.Run.ID == first.ID, true)
			want(t, what+" status", stored.Status, store.RunQueued)
			continue
		}
		want(t, what+" is new", r.Duplicate, false)
		if !claimed[i] {
			if stored.Status == store.RunRunning || stored.LeaseOwner != "" {
				t.Errorf("%s: claimed (%s, %q), want it left as the overlap policy made it", what, stored.Status, stored.LeaseOwner)
			}
			continue
		}
		for _, got := range []*store.Run{r.Run, stored} {
			want(t, what+" status", got.Status, store.RunRunning)
			want(t, what+" lease owner", got.LeaseOwner, nodeA)
			wantTime(t, what+" started at", got.StartedAt, got.RunAt)
			if got.LeaseExpiresAt.Before(fx.now().Add(lease-time.Minute)) || got.LeaseExpiresAt.After(fx.now().Add(lease)) {
				t.Errorf("%s: lease expires at %v, want within a minute before %v", what, got.LeaseExpiresAt, fx.now().Add(lease))
			}
		}
	}
	want(t, "the run behind skip's", fx.run(busy.ID).Status, store.RunQueued)
	want(t, "the ticks past the limit", fx.run(res[9].Run.ID).Status, store.RunQueued)
	want(t, "the tick cancelled by a later one", fx.run(res[4].Run.ID).Status, store.RunCancelled)

	// The claimed runs are the node's as if RunClaim had taken them: no
	// other claim takes them, the node extends and finishes them.
	for _, r := range fx.claim(nodeB, 100) {
		if claimed[slices.IndexFunc(res, func(e *store.EnqueueResult) bool { return e.Run.ID == r.ID })] {
			t.Errorf("RunClaim(%s) took %s, claimed by the staged call", nodeB, r.ID)
		}
	}
	leases, err := st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{Node: nodeA, IDs: []string{res[0].Run.ID}, Lease: lease})
	if err != nil || len(leases) != 1 {
		t.Fatalf("RunExtendLease of a staged claim = %v, %v", leases, err)
	}
	want(t, "finished", fx.finish(res[8].Run.ID, nodeA, store.RunSucceeded).Status, store.RunSucceeded)
}

func testStagedBadClaim(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	for _, c := range []struct {
		claim *store.RunClaimParams
		field string
	}{
		{&store.RunClaimParams{Limit: 1, Lease: lease}, "node"},
		{&store.RunClaimParams{Node: nodeA, Lease: lease}, "limit"},
		{&store.RunClaimParams{Node: nodeA, Limit: 1}, "lease"},
	} {
		released := false
		_, err := fx.st.RunEnqueueStaged(fx.ctx, func(context.Context) error { released = true; return nil }, c.claim, tick(s, fx.tickAt(1)))
		wantInvalid(t, "a claim without "+c.field, err, c.field)
		if released {
			t.Errorf("a claim without %s: release was called", c.field)
		}
	}
	if runs := fx.runs(store.RunListParams{}); len(runs) != 0 {
		t.Errorf("%d runs written", len(runs))
	}
}

// testStagedClaimNotifies: ticks that all commit claimed publish no
// TopicRunDue (no worker need look for them): a later write's notification
// reaches another handle with none before it. Ticks left queued (past the
// limit) publish one.
func testStagedClaimNotifies(t *testing.T, fx *fixture) {
	a := fx.schedule("a", withOverlap(store.OverlapAllowAll))
	b := fx.schedule("b", withOverlap(store.OverlapAllowAll))
	ch := fx.subscribe()
	release := func(context.Context) error { return nil }
	claim := &store.RunClaimParams{Node: nodeA, Limit: 2, Lease: lease}
	if _, err := fx.st.RunEnqueueStaged(fx.ctx, release, claim, tick(a, fx.tickAt(1)), tick(b, fx.tickAt(1))); err != nil {
		t.Fatal(err)
	}
	paused, err := fx.st.SchedulePause(fx.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	await(t, ch, "the pause after ticks all claimed", func(n store.Notification) bool {
		if n.Topic == store.TopicRunDue {
			t.Errorf("ticks that all committed claimed published %s", n.Topic)
		}
		return n.Topic == store.TopicSchedule && n.ID == a.ID && n.Version == paused.Version
	})
	claim.Limit = 1
	if _, err := fx.st.RunEnqueueStaged(fx.ctx, release, claim, tick(b, fx.tickAt(2)), tick(b, fx.tickAt(3))); err != nil {
		t.Fatal(err)
	}
	await(t, ch, "a tick left queued", func(n store.Notification) bool { return n.Topic == store.TopicRunDue })
}
