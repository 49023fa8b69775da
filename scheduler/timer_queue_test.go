package scheduler

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

func TestAlarmWakesOnceAtItsMoment(t *testing.T) {
	woken := make(chan struct{}, 10)
	q := newAlarmQueue(func() { woken <- struct{}{} })
	sched, err := quartz.NewStdScheduler(quartz.WithQueue(q, &sync.Mutex{}), quartz.WithOutdatedThreshold(math.MaxInt64))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sched.Start(ctx)
	defer func() {
		cancel()
		sched.Wait(context.Background())
	}()

	// A later alarm replaces an earlier one, and the latest wakes.
	q.set(time.Now().Add(time.Hour))
	sched.(*quartz.StdScheduler).Reset()
	q.set(time.Now().Add(5 * time.Millisecond))
	sched.(*quartz.StdScheduler).Reset()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("the alarm did not wake the loop")
	}
	if n, _ := q.Size(); n != 0 {
		t.Errorf("after the alarm the queue holds %d jobs, want 0: it fires once", n)
	}

	// A cleared alarm never wakes; an alarm in the past wakes at once.
	q.set(time.Time{})
	sched.(*quartz.StdScheduler).Reset()
	q.set(time.Now().Add(-time.Hour))
	sched.(*quartz.StdScheduler).Reset()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("a late alarm did not wake the loop")
	}
}

func TestAlarmQueue(t *testing.T) {
	q := newAlarmQueue(func() {})
	if _, err := q.Head(); !errors.Is(err, quartz.ErrQueueEmpty) {
		t.Errorf("Head of an empty queue: %v, want ErrQueueEmpty", err)
	}
	if _, err := q.Pop(); !errors.Is(err, quartz.ErrQueueEmpty) {
		t.Errorf("Pop of an empty queue: %v, want ErrQueueEmpty", err)
	}
	t1 := time.Unix(1000, 0)
	q.set(t1)
	key := quartz.NewJobKey(alarmKey)
	if j, err := q.Get(key); err != nil || j.NextRunTime() != t1.UnixNano() {
		t.Errorf("Get: %v, %v", j, err)
	}
	if _, err := q.Get(quartz.NewJobKey("other")); !errors.Is(err, quartz.ErrJobNotFound) {
		t.Errorf("Get of another key: %v, want ErrJobNotFound", err)
	}
	if jobs, _ := q.ScheduledJobs(nil); len(jobs) != 1 {
		t.Errorf("ScheduledJobs: %d, want 1", len(jobs))
	}

	// go-quartz pushes back an alarm it popped too early: restored, unless
	// another was set meanwhile.
	a, err := q.Pop()
	if err != nil || a.NextRunTime() != t1.UnixNano() {
		t.Fatalf("Pop: %v, %v", a, err)
	}
	if err := q.Push(a); err != nil {
		t.Fatal(err)
	}
	if h, err := q.Head(); err != nil || h.NextRunTime() != t1.UnixNano() {
		t.Errorf("Head after the push-back: %v, %v; want the alarm restored", h, err)
	}
	a, _ = q.Pop()
	t2 := time.Unix(2000, 0)
	q.set(t2)
	if err := q.Push(a); err != nil {
		t.Fatal(err)
	}
	if h, err := q.Head(); err != nil || h.NextRunTime() != t2.UnixNano() {
		t.Errorf("Head: %v, %v; want the alarm set after the pop", h, err)
	}

	if _, err := a.Trigger().NextFireTime(a.NextRunTime()); !errors.Is(err, quartz.ErrTriggerExpired) {
		t.Errorf("the alarm's trigger: %v, want ErrTriggerExpired (it fires once)", err)
	}
	if _, err := q.Remove(key); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if n, _ := q.Size(); n != 0 {
		t.Errorf("Size after Remove: %d", n)
	}
	q.set(t1)
	if err := q.Clear(); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Size(); n != 0 {
		t.Errorf("Size after Clear: %d", n)
	}
}
