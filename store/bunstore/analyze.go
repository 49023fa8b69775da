package bunstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
)

// analyzeFirst is how many runs a process inserts before it first analyzes
// the runs table; every later analysis waits for twice as many.
const analyzeFirst = 1000

// grew counts runs this store inserted. On PostgreSQL, the claim query's
// plan depends on the runs table's statistics, and autovacuum refreshes
// them only every minute or so: a fresh table loaded with thousands of runs
// would be claimed through a sort of all of them until then. So a store
// that has inserted analyzeFirst runs, then twice as many, and so on,
// analyzes the table in the background.
func (s *Store) grew(n int) {
	if !s.pg() || n == 0 {
		return
	}
	total := s.inserted.Add(int64(n))
	next := s.analyzeAt.Load()
	if next == 0 {
		s.analyzeAt.CompareAndSwap(0, analyzeFirst)
		next = analyzeFirst
	}
	if total < next || !s.analyzeAt.CompareAndSwap(next, 2*total) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() {
			select {
			case <-s.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := s.db.ExecContext(ctx, "ANALYZE herald_runs"); err != nil && !s.isClosed() {
			level.Warn(s.logger).Log("msg", "analyze runs table", "err", err)
		}
	}()
}

// counters of grew, kept on Store.
type growth struct {
	inserted  atomic.Int64
	analyzeAt atomic.Int64
}
