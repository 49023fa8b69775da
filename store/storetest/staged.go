package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func stagedTests() []test {
	return []test{
		{"RunsCommitWhenReleased", testStagedRelease},
		{"ReleaseErrorWritesNothing", testStagedReleaseError},
		{"BadInputIsRefusedBeforeRelease", testStagedBadInput},
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
		}, tick(s, fx.tickAt(1)))
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
	again, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { return nil }, tick(s, fx.tickAt(1)))
	if err != nil || !again[0].Duplicate || again[0].Run.ID != o.res[0].Run.ID {
		t.Fatalf("the same tick staged again = %+v, %v; want the first run as a duplicate", again, err)
	}
}

func testStagedReleaseError(t *testing.T, fx *fixture) {
	st := fx.st
	s := fx.schedule("report")
	stop := errors.New("stopping")
	res, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { return stop },
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
	_, err := st.RunEnqueueStaged(fx.ctx, func(context.Context) error { released = true; return nil }, adhoc(), bad)
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
