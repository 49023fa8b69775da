package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func summaryTests() []test {
	return []test{
		{"EmptyStoreCountsNothing", testSummaryEmpty},
		{"CountsAnOwnersRunsOrAll", testSummaryCounts},
		{"OldestQueuedIsNotHeld", testSummaryHeld},
		{"NextSchedulesByNextRunAt", testSummaryNextSchedules},
		{"RefusesInvalidParams", testSummaryInvalid},
	}
}

// summary reads the store's summary of params.
func (fx *fixture) summary(p store.RunSummaryParams) *store.RunSummary {
	fx.t.Helper()
	sum, err := fx.st.RunSummary(fx.ctx, &p)
	if err != nil {
		fx.t.Fatalf("RunSummary: %v", err)
	}
	return sum
}

// wantSummary reports the fields of got that differ from w, but
// NextSchedules.
func wantSummary(t *testing.T, what string, got, w *store.RunSummary) {
	t.Helper()
	for st, c := range got.Statuses {
		if c != w.Statuses[st] {
			t.Errorf("%s: Statuses[%s] = %+v, want %+v", what, st, c, w.Statuses[st])
		}
	}
	for st, c := range w.Statuses {
		if _, ok := got.Statuses[st]; !ok {
			t.Errorf("%s: Statuses[%s] missing, want %+v", what, st, c)
		}
	}
	if !slices.Equal(got.Agents, w.Agents) {
		t.Errorf("%s: Agents = %+v, want %+v", what, got.Agents, w.Agents)
	}
	if !slices.Equal(got.Finished, w.Finished) {
		t.Errorf("%s: Finished = %v, want %v", what, got.Finished, w.Finished)
	}
	want(t, what+": Queued", got.Queued, w.Queued)
	wantTime(t, what+": OldestQueuedRunAt", got.OldestQueuedRunAt, w.OldestQueuedRunAt)
	if !got.OldestQueuedRunAt.IsZero() && got.OldestQueuedRunAt.Location() != time.UTC {
		t.Errorf("%s: OldestQueuedRunAt is in %v, want UTC", what, got.OldestQueuedRunAt.Location())
	}
}

func testSummaryEmpty(t *testing.T, fx *fixture) {
	got := fx.summary(store.RunSummaryParams{Since: fx.now().Add(-24 * time.Hour), FinishedFrom: fx.now().Add(-2 * time.Hour),
		FinishedWidth: time.Hour, FinishedBuckets: 2, NextSchedules: 10})
	wantSummary(t, "empty store", got, &store.RunSummary{Finished: []int64{0, 0}})
	if len(got.NextSchedules) != 0 {
		t.Errorf("NextSchedules of an empty store = %v, want none", scheduleIDs(got.NextSchedules))
	}
}

func testSummaryCounts(t *testing.T, fx *fixture) {
	start := fx.now()
	run := func(owner, agent string) *store.RunEnqueueParams {
		return &store.RunEnqueueParams{Owner: owner, Agent: agent}
	}
	// Before the window: created, and failed, at start.
	old := fx.enqueueRun(run(alice, "old"))
	fx.claimOne(nodeA, old.ID)
	fx.finish(old.ID, nodeA, store.RunFailed)

	// In the window, before its recent part.
	fx.clock.Set(start.Add(2 * time.Hour))
	res := fx.enqueue(run(alice, agent), run(alice, agent), run(alice, "other"), run(bob, agent))
	if got := fx.claim(nodeA, 4); len(got) != 4 {
		t.Fatalf("claimed %v, want 4 runs", runIDs(got))
	}
	// In the recent part: one due, one later, one cancelled (which
	// finishes as it is cancelled), all alice's.
	fx.clock.Set(start.Add(3 * time.Hour))
	due := fx.enqueueRun(run(alice, agent))
	later := run(alice, agent)
	later.RunAt = start.Add(5 * time.Hour)
	fx.enqueue(later)
	cancelled := fx.enqueueRun(run(alice, agent))
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: cancelled.ID}); err != nil {
		t.Fatalf("RunCancel: %v", err)
	}
	fx.clock.Set(start.Add(3*time.Hour + 10*time.Minute))
	fx.finish(res[0].Run.ID, nodeA, store.RunSucceeded)
	fx.finish(res[1].Run.ID, nodeA, store.RunTimedOut)
	fx.clock.Set(start.Add(3*time.Hour + 40*time.Minute))
	fx.finish(res[2].Run.ID, nodeA, store.RunFailed)
	fx.finish(res[3].Run.ID, nodeA, store.RunFailed)

	params := func(owner string) store.RunSummaryParams {
		return store.RunSummaryParams{Owner: owner, Since: start.Add(time.Hour), RecentSince: start.Add(150 * time.Minute),
			FinishedFrom: start, FinishedWidth: time.Hour, FinishedBuckets: 4}
	}
	wantSummary(t, "alice's", fx.summary(params(alice)), &store.RunSummary{
		Statuses: map[store.RunStatus]store.StatusCount{
			store.RunSucceeded: {Since: 1}, store.RunTimedOut: {Since: 1}, store.RunFailed: {Since: 1},
			store.RunQueued: {Since: 2, Recent: 2}, store.RunCancelled: {Since: 1, Recent: 1},
		},
		Agents:   []store.AgentCount{{Agent: agent, Ended: 2, Failed: 1}, {Agent: "other", Ended: 1, Failed: 1}},
		Finished: []int64{1, 0, 0, 4}, Queued: 2, OldestQueuedRunAt: due.RunAt,
	})
	wantSummary(t, "bob's", fx.summary(params(bob)), &store.RunSummary{
		Statuses: map[store.RunStatus]store.StatusCount{store.RunFailed: {Since: 1}},
		Agents:   []store.AgentCount{{Agent: agent, Ended: 1, Failed: 1}},
		Finished: []int64{0, 0, 0, 1},
	})
	wantSummary(t, "nobody's", fx.summary(params("carol")), &store.RunSummary{Finished: []int64{0, 0, 0, 0}})
	all, err := fx.open().RunSummary(fx.ctx, new(params("")))
	if err != nil {
		t.Fatalf("RunSummary: %v", err)
	}
	wantSummary(t, "everyone's, from another handle", all, &store.RunSummary{
		Statuses: map[store.RunStatus]store.StatusCount{
			store.RunSucceeded: {Since: 1}, store.RunTimedOut: {Since: 1}, store.RunFailed: {Since: 2},
			store.RunQueued: {Since: 2, Recent: 2}, store.RunCancelled: {Since: 1, Recent: 1},
		},
		Agents:   []store.AgentCount{{Agent: agent, Ended: 3, Failed: 2}, {Agent: "other", Ended: 1, Failed: 1}},
		Finished: []int64{1, 0, 0, 5}, Queued: 2, OldestQueuedRunAt: due.RunAt,
	})
	// Without RecentSince, the recent counts are those of the window.
	p := params(bob)
	p.RecentSince = time.Time{}
	p.FinishedBuckets = 0
	wantSummary(t, "bob's, one window", fx.summary(p), &store.RunSummary{
		Statuses: map[store.RunStatus]store.StatusCount{store.RunFailed: {Since: 1, Recent: 1}},
		Agents:   []store.AgentCount{{Agent: agent, Ended: 1, Failed: 1}},
	})
}

func testSummaryHeld(t *testing.T, fx *fixture) {
	now := fx.now()
	buffered := fx.schedule("buffered", withOverlap(store.OverlapBufferOne))
	first := fx.enqueueRun(tick(buffered, now.Add(-3*time.Hour)))
	fx.claimOne(nodeA, first.ID)
	// The next tick waits for the first, held: queued, not claimable.
	held := fx.enqueueRun(tick(buffered, now.Add(-2*time.Hour)))
	if r := fx.run(held.ID); r.Status != store.RunQueued || !r.Held {
		t.Fatalf("the second tick of a buffer_one schedule is %s, held %v; want queued and held", r.Status, r.Held)
	}
	p := store.RunSummaryParams{Owner: alice, Since: now.Add(-time.Hour)}
	sum := fx.summary(p)
	want(t, "Queued with a held run", sum.Queued, 1)
	wantTime(t, "OldestQueuedRunAt with a held run", sum.OldestQueuedRunAt, time.Time{})
	later := adhoc()
	later.RunAt = now.Add(time.Hour)
	fx.enqueue(later)
	sum = fx.summary(p)
	want(t, "Queued with a held run and another", sum.Queued, 2)
	wantTime(t, "OldestQueuedRunAt with a held run and another", sum.OldestQueuedRunAt, now.Add(time.Hour))
}

func testSummaryNextSchedules(t *testing.T, fx *fixture) {
	now := fx.now()
	setNext := func(s *store.Schedule, d time.Duration) *store.Schedule {
		t.Helper()
		at := time.Time{}
		if d != 0 {
			at = now.Add(d)
		}
		out, err := fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, NextRunAt: &at})
		if err != nil {
			t.Fatalf("ScheduleSetTimes: %v", err)
		}
		return out
	}
	a1 := setNext(fx.schedule("a1"), 5*time.Hour)
	a2 := setNext(fx.schedule("a2"), 4*time.Hour)
	setNext(fx.schedule("paused", func(s *store.Schedule) { s.Paused = true }), time.Hour)
	setNext(fx.schedule("none"), 0)
	a5 := setNext(fx.schedule("a5"), 4*time.Hour) // as a2's, with a later id
	b1 := setNext(fx.schedule("b1", func(s *store.Schedule) { s.Owner = bob }), 3*time.Hour)

	got := func(owner string, n int) []string {
		t.Helper()
		sum := fx.summary(store.RunSummaryParams{Owner: owner, Since: now, NextSchedules: n})
		for _, s := range sum.NextSchedules {
			if owner != "" && s.Owner != owner {
				t.Errorf("%s's NextSchedules hold %s of %s", owner, s.Name, s.Owner)
			}
			if s.Name == "" || s.Agent == "" || s.NextRunAt.IsZero() || s.Trigger.Kind == "" {
				t.Errorf("NextSchedules hold %+v, want the whole schedule", s)
			}
		}
		return scheduleIDs(sum.NextSchedules)
	}
	wantIDs(t, "alice's next", got(alice, 10), scheduleIDs([]*store.Schedule{a2, a5, a1}))
	wantIDs(t, "alice's next two", got(alice, 2), scheduleIDs([]*store.Schedule{a2, a5}))
	wantIDs(t, "everyone's next", got("", 10), scheduleIDs([]*store.Schedule{b1, a2, a5, a1}))
	wantIDs(t, "none asked for", got("", 0), nil)
	if s := fx.summary(store.RunSummaryParams{Owner: alice, Since: now, NextSchedules: 1}).NextSchedules; len(s) == 1 {
		wantTime(t, "NextRunAt", s[0].NextRunAt, now.Add(4*time.Hour))
		want(t, "NextRunAt's zone", s[0].NextRunAt.Location(), time.UTC)
	}
}

func testSummaryInvalid(t *testing.T, fx *fixture) {
	r := fx.st
	now := fx.now()
	for _, tc := range []struct {
		field string
		p     *store.RunSummaryParams
	}{
		{"params", nil},
		{"since", &store.RunSummaryParams{}},
		{"finished_buckets", &store.RunSummaryParams{Since: now, FinishedFrom: now, FinishedWidth: time.Hour, FinishedBuckets: -1}},
		{"finished_buckets", &store.RunSummaryParams{Since: now, FinishedFrom: now, FinishedWidth: time.Hour, FinishedBuckets: store.RunSummaryBucketsMax + 1}},
		{"finished_width", &store.RunSummaryParams{Since: now, FinishedFrom: now, FinishedBuckets: 2}},
		{"finished_from", &store.RunSummaryParams{Since: now, FinishedWidth: time.Hour, FinishedBuckets: 2}},
		{"next_schedules", &store.RunSummaryParams{Since: now, NextSchedules: store.ListLimitMax + 1}},
	} {
		_, err := r.RunSummary(fx.ctx, tc.p)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RunSummary(%+v) = %v, want a validation error of %s", tc.p, err, tc.field)
		}
	}
}
