package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func cappedTests() []test {
	return []test{
		{"CapRefusesOneMoreActiveSchedule", testCapRefuses},
		{"ConcurrentWritesKeepTheCap", testCapConcurrent},
	}
}

func hourly(owner, name string, paused bool) *store.Schedule {
	return &store.Schedule{Owner: owner, Name: name, Agent: agent, Paused: paused,
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Hour}}
}

// wantActive checks how many active schedules owner has.
func (fx *fixture) wantActive(what, owner string, want int) {
	fx.t.Helper()
	n, err := fx.st.ScheduleCountActive(fx.ctx, owner)
	if err != nil || n != want {
		fx.t.Fatalf("%s: %d active schedules of %s (%v), want %d", what, n, owner, err, want)
	}
}

func testCapRefuses(t *testing.T, fx *fixture) {
	c := fx.st
	for i := range 2 {
		if _, err := c.ScheduleCreateCapped(fx.ctx, hourly(alice, "s"+strconv.Itoa(i), false), 2); err != nil {
			t.Fatalf("create %d under the cap: %v", i, err)
		}
	}
	if _, err := c.ScheduleCreateCapped(fx.ctx, hourly(alice, "third", false), 2); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("a third active schedule under a cap of 2: %v, want ErrLimit", err)
	}
	if got := fx.schedules(store.ScheduleListParams{Owner: alice, Name: "third"}); len(got) != 0 {
		t.Fatal("the refused schedule was written")
	}
	// Other owners and paused schedules are not counted, nor refused.
	if _, err := c.ScheduleCreateCapped(fx.ctx, hourly(bob, "b", false), 2); err != nil {
		t.Fatalf("bob's first schedule: %v", err)
	}
	paused, err := c.ScheduleCreateCapped(fx.ctx, hourly(alice, "paused", true), 2)
	if err != nil {
		t.Fatalf("a paused schedule at the cap: %v", err)
	}
	if _, err := c.ScheduleResumeCapped(fx.ctx, paused.ID, 2); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("resume at the cap: %v, want ErrLimit", err)
	}
	active := *paused
	active.Paused = false
	if _, err := c.ScheduleUpdateCapped(fx.ctx, &active, 2); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("an update that resumes at the cap: %v, want ErrLimit", err)
	}
	if got := fx.getSchedule(paused.ID); !got.Paused || got.Version != paused.Version {
		t.Fatalf("refused resumes changed the schedule: paused %v, version %d (was %d)", got.Paused, got.Version, paused.Version)
	}
	// An update that leaves a schedule paused is not refused.
	renamed := *paused
	renamed.Name = "still paused"
	if _, err := c.ScheduleUpdateCapped(fx.ctx, &renamed, 2); err != nil {
		t.Fatalf("an update of a paused schedule at the cap: %v", err)
	}
	fx.wantActive("at the cap", alice, 2)
	// Below the cap again, the resume goes through.
	first := fx.schedules(store.ScheduleListParams{Owner: alice, Name: "s0"})[0]
	if _, err := fx.st.SchedulePause(fx.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ScheduleResumeCapped(fx.ctx, paused.ID, 2); err != nil || got.Paused {
		t.Fatalf("resume below the cap: %+v, %v", got, err)
	}
	fx.wantActive("after the resume", alice, 2)
	// Zero is no cap.
	if _, err := c.ScheduleCreateCapped(fx.ctx, hourly(alice, "uncapped", false), 0); err != nil {
		t.Fatalf("create with no cap: %v", err)
	}
}

func testCapConcurrent(t *testing.T, fx *fixture) {
	c := fx.st
	const n, max = 16, 5
	// Paused schedules to resume, and new ones to create, all at once.
	var resumable []string
	for i := range n / 2 {
		s, err := c.ScheduleCreateCapped(fx.ctx, hourly(alice, "paused"+strconv.Itoa(i), true), max)
		if err != nil {
			t.Fatal(err)
		}
		resumable = append(resumable, s.ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < n/2 {
				_, errs[i] = c.ScheduleResumeCapped(fx.ctx, resumable[i], max)
			} else {
				_, errs[i] = c.ScheduleCreateCapped(fx.ctx, hourly(alice, "new"+strconv.Itoa(i), false), max)
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLimit):
			t.Errorf("write %d: %v, want nil or ErrLimit", i, err)
		}
	}
	if ok != max {
		t.Errorf("%d of %d concurrent writes went through under a cap of %d", ok, n, max)
	}
	fx.wantActive("after concurrent writes", alice, max)
}
