package scheduler

import (
	"container/heap"
	"fmt"
	"sync"

	"github.com/reugn/go-quartz/quartz"
)

// timerQueue is the timer's job queue: a heap by next run time with an index
// by job key. go-quartz's own queue finds a job by scanning every job (and
// copies the queue to do so), which makes loading a hundred thousand
// schedules quadratic; here push, remove and lookup are logarithmic or
// constant.
type timerQueue struct {
	mu    sync.Mutex
	jobs  timerHeap
	index map[string]*timerItem
}

type timerItem struct {
	job quartz.ScheduledJob
	key string
	pos int
}

type timerHeap []*timerItem

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	return h[i].job.NextRunTime() < h[j].job.NextRunTime()
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *timerHeap) Push(x any) {
	it := x.(*timerItem)
	it.pos = len(*h)
	*h = append(*h, it)
}
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

var _ quartz.JobQueue = (*timerQueue)(nil)

func newTimerQueue() *timerQueue { return &timerQueue{index: map[string]*timerItem{}} }

func keyOf(job quartz.ScheduledJob) string { return job.JobDetail().JobKey().String() }

// Push implements quartz.JobQueue.
func (q *timerQueue) Push(job quartz.ScheduledJob) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := keyOf(job)
	if old, ok := q.index[key]; ok {
		if !job.JobDetail().Options().Replace {
			return fmt.Errorf("push %s: %w", key, quartz.ErrJobAlreadyExists)
		}
		heap.Remove(&q.jobs, old.pos)
	}
	it := &timerItem{job: job, key: key}
	q.index[key] = it
	heap.Push(&q.jobs, it)
	return nil
}

// Pop implements quartz.JobQueue.
func (q *timerQueue) Pop() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return nil, fmt.Errorf("pop: %w", quartz.ErrQueueEmpty)
	}
	it := heap.Pop(&q.jobs).(*timerItem)
	delete(q.index, it.key)
	return it.job, nil
}

// Head implements quartz.JobQueue.
func (q *timerQueue) Head() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return nil, fmt.Errorf("head: %w", quartz.ErrQueueEmpty)
	}
	return q.jobs[0].job, nil
}

// Get implements quartz.JobQueue.
func (q *timerQueue) Get(key *quartz.JobKey) (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.index[key.String()]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, quartz.ErrJobNotFound)
	}
	return it.job, nil
}

// Remove implements quartz.JobQueue.
func (q *timerQueue) Remove(key *quartz.JobKey) (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.index[key.String()]
	if !ok {
		return nil, fmt.Errorf("remove %s: %w", key, quartz.ErrJobNotFound)
	}
	heap.Remove(&q.jobs, it.pos)
	delete(q.index, it.key)
	return it.job, nil
}

// ScheduledJobs implements quartz.JobQueue.
func (q *timerQueue) ScheduledJobs(matchers []quartz.Matcher[quartz.ScheduledJob]) ([]quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []quartz.ScheduledJob
next:
	for _, it := range q.jobs {
		for _, m := range matchers {
			if !m.IsMatch(it.job) {
				continue next
			}
		}
		out = append(out, it.job)
	}
	return out, nil
}

// Size implements quartz.JobQueue.
func (q *timerQueue) Size() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs), nil
}

// Clear implements quartz.JobQueue.
func (q *timerQueue) Clear() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs, q.index = nil, map[string]*timerItem{}
	return nil
}
