package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// fixedTrigger fires once at a fixed time.
type fixedTrigger int64

func (f fixedTrigger) NextFireTime(int64) (int64, error) { return int64(f), nil }
func (f fixedTrigger) Description() string               { return "fixed" }

func TestTimerQueueBehavesAsQuartzExpects(t *testing.T) {
	q := newTimerQueue()
	sched, err := quartz.NewStdScheduler(quartz.WithQueue(q, &noLock{}))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(time.Hour).UnixNano()
	add := func(name string, at int64, replace bool) error {
		opts := quartz.NewDefaultJobDetailOptions()
		opts.Replace = replace
		return sched.ScheduleJob(quartz.NewJobDetailWithOptions(&timerJob{id: name}, quartz.NewJobKey(name), opts), fixedTrigger(at))
	}
	for i, name := range []string{"c", "a", "b"} {
		if err := add(name, base+int64(3-i), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := add("a", base, false); !errors.Is(err, quartz.ErrJobAlreadyExists) {
		t.Errorf("duplicate push: %v, want ErrJobAlreadyExists", err)
	}
	if err := add("a", base+10, true); err != nil {
		t.Errorf("replace: %v", err)
	}
	if n, _ := q.Size(); n != 3 {
		t.Errorf("size %d, want 3", n)
	}
	if _, err := q.Get(quartz.NewJobKey("zz")); !errors.Is(err, quartz.ErrJobNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if _, err := q.Remove(quartz.NewJobKey("b")); err != nil {
		t.Errorf("remove: %v", err)
	}
	if _, err := q.Remove(quartz.NewJobKey("b")); !errors.Is(err, quartz.ErrJobNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	head, _ := q.Head()
	if head.JobDetail().JobKey().Name() != "c" {
		t.Errorf("head %s, want c (a was moved later)", head.JobDetail().JobKey().Name())
	}
	var order []string
	for {
		j, err := q.Pop()
		if errors.Is(err, quartz.ErrQueueEmpty) {
			break
		}
		order = append(order, j.JobDetail().JobKey().Name())
	}
	if len(order) != 2 || order[0] != "c" || order[1] != "a" {
		t.Errorf("pop order %v, want [c a]", order)
	}
	if _, err := q.Head(); !errors.Is(err, quartz.ErrQueueEmpty) {
		t.Errorf("head of empty: %v", err)
	}
}

type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}
