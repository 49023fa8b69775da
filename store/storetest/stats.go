package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func statsTests() []test {
	return []test{
		{"EmptyStoreCountsNothing", testStatsEmpty},
		{"CountsTheQueueAndTheSchedules", testStatsCounts},
	}
}

// stats reads the store's stats.
func (fx *fixture) stats() *store.Stats {
	fx.t.Helper()
	st, err := fx.st.Stats(fx.ctx)
	if err != nil {
		fx.t.Fatalf("Stats: %v", err)
	}
	return st
}

// wantStats reports the fields of got that differ from w.
func wantStats(t *testing.T, what string, got, w *store.Stats) {
	t.Helper()
	want(t, what+": Queued", got.Queued, w.Queued)
	want(t, what+": Running", got.Running, w.Running)
	want(t, what+": SchedulesActive", got.SchedulesActive, w.SchedulesActive)
	want(t, what+": SchedulesPaused", got.SchedulesPaused, w.SchedulesPaused)
	wantTime(t, what+": OldestQueuedRunAt", got.OldestQueuedRunAt, w.OldestQueuedRunAt)
	if !got.OldestQueuedRunAt.IsZero() && got.OldestQueuedRunAt.Location() != time.UTC {
		t.Errorf("%s: OldestQueuedRunAt is in %v, want UTC", what, got.OldestQueuedRunAt.Location())
	}
}

func testStatsEmpty(t *testing.T, fx *fixture) {
	got := fx.stats()
	wantStats(t, "empty store", got, &store.Stats{})
	if !got.OldestQueuedRunAt.IsZero() {
		t.Errorf("OldestQueuedRunAt of an empty store = %v, want zero", got.OldestQueuedRunAt)
	}
}

func testStatsCounts(t *testing.T, fx *fixture) {
	now := fx.now()
	buffered := fx.schedule("buffered", withOverlap(store.OverlapBufferOne))
	other := fx.schedule("other")
	fx.schedule("paused", func(s *store.Schedule) { s.Paused = true })
	fx.schedule("bob's paused", func(s *store.Schedule) { s.Owner, s.Paused = bob, true })

	// Three runs go running (the oldest due first); one of them ends.
	at := func(d time.Duration) *store.RunEnqueueParams {
		p := adhoc()
		p.RunAt = now.Add(d)
		return p
	}
	res := fx.enqueue(at(-5*time.Hour), at(-4*time.Hour), tick(buffered, now.Add(-3*time.Hour)))
	if got := fx.claim(nodeA, 3); len(got) != 3 {
		t.Fatalf("claimed %v, want 3 runs", runIDs(got))
	}
	fx.finish(res[0].Run.ID, nodeA, store.RunSucceeded)
	first := res[2].Run
	// The buffered schedule's next tick waits for its first, held: it is
	// queued, and older than the other queued runs, but not claimable.
	held := fx.enqueueRun(tick(buffered, now.Add(-2*time.Hour)))
	if r := fx.run(held.ID); r.Status != store.RunQueued || !r.Held {
		t.Fatalf("the second tick of a buffer_one schedule is %s, held %v; want queued and held", r.Status, r.Held)
	}
	fx.enqueue(at(-time.Hour), at(time.Hour))
	cancelled := fx.enqueueRun(at(2 * time.Hour))
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: cancelled.ID}); err != nil {
		t.Fatalf("RunCancel: %v", err)
	}

	wantStats(t, "with a held run", fx.stats(), &store.Stats{
		Queued: 3, OldestQueuedRunAt: now.Add(-time.Hour), Running: 2, SchedulesActive: 2, SchedulesPaused: 2,
	})
	// The first tick's end releases the held one.
	fx.finish(first.ID, nodeA, store.RunFailed)
	if _, err := fx.st.SchedulePause(fx.ctx, other.ID); err != nil {
		t.Fatalf("SchedulePause: %v", err)
	}
	again, err := fx.open().Stats(fx.ctx) // another handle
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	wantStats(t, "once released", again, &store.Stats{
		Queued: 3, OldestQueuedRunAt: now.Add(-2 * time.Hour), Running: 1, SchedulesActive: 1, SchedulesPaused: 3,
	})
}
