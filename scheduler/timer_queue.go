package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// alarmQueue is the job queue of the fire loop's timer, go-quartz's
// scheduler. What is due is the fire loop's: its due heap. The loop works
// out from the heap when it must next look (the earliest tick, less the
// lead of a staged write, or a retry) and sets that moment here; the queue
// then holds one job, the alarm, which go-quartz sleeps until and runs.
// The alarm fires once: running it pokes the loop, whose pass sets the next.
type alarmQueue struct {
	mu sync.Mutex
	// at is the moment of the alarm on the system clock, in Unix
	// nanoseconds; zero when none is set.
	at int64
	// gen counts the alarms set, so that go-quartz putting back an alarm
	// it found not yet due cannot undo a later one.
	gen    uint64
	detail *quartz.JobDetail
}

var _ quartz.JobQueue = (*alarmQueue)(nil)

// alarmKey names the alarm's job.
const alarmKey = "herald-fire-loop"

func newAlarmQueue(wake func()) *alarmQueue {
	return &alarmQueue{detail: quartz.NewJobDetail(alarmJob(wake), quartz.NewJobKey(alarmKey))}
}

// set sets the alarm at wake, or clears it when wake is zero. The caller
// then resets the scheduler, which reads the queue again.
func (q *alarmQueue) set(wake time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.gen++
	q.at = 0
	if !wake.IsZero() {
		q.at = wake.UnixNano()
	}
}

// alarm is the job go-quartz sees.
type alarm struct {
	q   *alarmQueue
	at  int64
	gen uint64
}

var _ quartz.ScheduledJob = alarm{}

func (a alarm) JobDetail() *quartz.JobDetail { return a.q.detail }
func (a alarm) Trigger() quartz.Trigger      { return alarmTrigger{} }
func (a alarm) NextRunTime() int64           { return a.at }

// alarmTrigger fires an alarm once: the fire loop sets the next one.
type alarmTrigger struct{}

func (alarmTrigger) NextFireTime(int64) (int64, error) { return 0, quartz.ErrTriggerExpired }
func (alarmTrigger) Description() string               { return "the fire loop's next moment" }

// alarmJob is what the alarm runs: it wakes the fire loop, which then
// enqueues the ticks due (or stages those coming), however many.
type alarmJob func()

func (j alarmJob) Execute(context.Context) error {
	j()
	return nil
}

func (alarmJob) Description() string { return "wake the fire loop" }

// current returns the alarm, if set.
func (q *alarmQueue) current() (alarm, bool) {
	return alarm{q: q, at: q.at, gen: q.gen}, q.at != 0
}

// Push implements quartz.JobQueue. go-quartz pushes back only an alarm it
// popped and found not yet due; it is restored unless another was set
// since.
func (q *alarmQueue) Push(job quartz.ScheduledJob) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a, ok := job.(alarm); ok && a.q == q && a.gen == q.gen && q.at == 0 {
		q.at = a.at
	}
	return nil
}

// Pop implements quartz.JobQueue.
func (q *alarmQueue) Pop() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.current()
	if !ok {
		return nil, fmt.Errorf("pop: %w", quartz.ErrQueueEmpty)
	}
	q.at = 0
	return a, nil
}

// Head implements quartz.JobQueue.
func (q *alarmQueue) Head() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.current()
	if !ok {
		return nil, fmt.Errorf("head: %w", quartz.ErrQueueEmpty)
	}
	return a, nil
}

// Get implements quartz.JobQueue.
func (q *alarmQueue) Get(key *quartz.JobKey) (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.current()
	if !ok || !key.Equals(q.detail.JobKey()) {
		return nil, fmt.Errorf("get %s: %w", key, quartz.ErrJobNotFound)
	}
	return a, nil
}

// Remove implements quartz.JobQueue.
func (q *alarmQueue) Remove(key *quartz.JobKey) (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.current()
	if !ok || !key.Equals(q.detail.JobKey()) {
		return nil, fmt.Errorf("remove %s: %w", key, quartz.ErrJobNotFound)
	}
	q.at = 0
	return a, nil
}

// ScheduledJobs implements quartz.JobQueue.
func (q *alarmQueue) ScheduledJobs(matchers []quartz.Matcher[quartz.ScheduledJob]) ([]quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.current()
	if !ok {
		return nil, nil
	}
	for _, m := range matchers {
		if !m.IsMatch(a) {
			return nil, nil
		}
	}
	return []quartz.ScheduledJob{a}, nil
}

// Size implements quartz.JobQueue.
func (q *alarmQueue) Size() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.at == 0 {
		return 0, nil
	}
	return 1, nil
}

// Clear implements quartz.JobQueue.
func (q *alarmQueue) Clear() error {
	q.set(time.Time{})
	return nil
}
