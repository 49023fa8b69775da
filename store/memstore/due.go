package memstore

import (
	"container/heap"
	"time"

	"github.com/heraldhq/herald/store"
)

// dueQueue orders the claimable runs by (RunAt, ID), so that a claim costs
// O(log n) per run instead of a scan of every run. Entries go stale when a
// run changes after it was pushed; they are dropped when they reach the top.
type dueQueue []dueEntry

type dueEntry struct {
	runAt time.Time
	id    string
}

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if c := q[i].runAt.Compare(q[j].runAt); c != 0 {
		return c < 0
	}
	return q[i].id < q[j].id
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(dueEntry)) }
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// markDue records that r may be claimable from r.RunAt on. Call it whenever
// a run becomes queued and not held, or its RunAt changes while it is.
func (s *Store) markDue(r *store.Run) {
	if r.Status == store.RunQueued && !r.Held {
		heap.Push(&s.due, dueEntry{runAt: r.RunAt, id: r.ID})
	}
}

// nextDue returns the claimable run with the earliest (RunAt, ID), dropping
// stale entries, or nil.
func (s *Store) nextDue() *store.Run {
	for s.due.Len() > 0 {
		e := s.due[0]
		r := s.runs[e.id]
		if r != nil && r.Status == store.RunQueued && !r.Held && r.RunAt.Equal(e.runAt) {
			return r
		}
		heap.Pop(&s.due)
	}
	return nil
}
