package scheduler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// stagedCalls is a store that records its RunEnqueueStaged calls: when the
// release was called, when the call returned and the ticks it wrote.
type stagedCalls struct {
	store.Store
	mu    sync.Mutex
	calls []stagedCall
}

type stagedCall struct {
	released, returned time.Time
	ticks              []time.Time
	err                error
}

func (s *stagedCalls) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, ps ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	var c stagedCall
	res, err := s.Store.RunEnqueueStaged(ctx, func(ctx context.Context) error {
		c.released = time.Now()
		return release(ctx)
	}, ps...)
	c.returned, c.err = time.Now(), err
	for _, p := range ps {
		c.ticks = append(c.ticks, p.ScheduledFor)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return res, err
}

func (s *stagedCalls) snapshot() []stagedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stagedCall(nil), s.calls...)
}

// TestTicksAreWrittenAheadAndCommittedOnTime: on the system clock, the
// ticks of a moment are written before it and committed when it comes,
// never before; each tick still makes one run.
func TestTicksAreWrittenAheadAndCommittedOnTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() store.Store) {
		st := &stagedCalls{Store: open()}
		c := newCounter()
		s := startNode(t, st, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c}), Logger: testLogger(t)})
		var ids []string
		for _, name := range []string{"a", "b", "c"} {
			sch := cronSchedule(name, "count", "* * * * * *")
			sch.Overlap = store.OverlapAllowAll
			created, err := s.CreateSchedule(ctx, admin, sch)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, created.ID)
		}
		eventually(t, 10*time.Second, "three staged moments", func() bool { return len(st.snapshot()) >= 3 })
		ahead := 0
		for _, c := range st.snapshot() {
			if c.err != nil {
				t.Errorf("staged enqueue failed: %v", c.err)
				continue
			}
			at := c.ticks[0]
			for _, tk := range c.ticks {
				if !tk.Equal(at) {
					t.Errorf("one staged call wrote ticks of %v and %v", at, tk)
				}
			}
			// A write that took longer than the lead is committed late,
			// not early; on a loaded machine that may happen to some.
			if c.released.Before(at) {
				ahead++
			}
			if c.returned.Before(at) {
				t.Errorf("tick %v: committed early, at %v", at, c.returned)
			}
		}
		if ahead == 0 {
			t.Error("no moment's ticks were written ahead of it")
		}
		for _, id := range ids {
			runs := allRuns(t, st, store.RunListParams{ScheduleID: id})
			seen := map[time.Time]bool{}
			for _, r := range runs {
				if seen[r.ScheduledFor] {
					t.Errorf("schedule %s: two runs for tick %v", id, r.ScheduledFor)
				}
				seen[r.ScheduledFor] = true
			}
		}
	})
}
