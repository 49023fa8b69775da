package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func notifyTests() []test {
	return []test{
		{"ScheduleChangesReachAnotherHandle", testNotifySchedule},
		{"ScheduleDeleteIsNotified", testNotifyDelete},
		{"SetTimesIsNotNotified", testNotifySetTimes},
		{"EnqueuePublishesRunDue", testNotifyRunDue},
		{"CancelOfRunningRunPublishesRunCancel", testNotifyRunCancel},
		{"SubscriptionClosesWithItsContext", testNotifyClose},
	}
}

// notifyWithin is the contract's bound on notification latency.
const notifyWithin = time.Second

// subscribe subscribes on a second handle, as another node would.
func (fx *fixture) subscribe() <-chan store.Notification {
	fx.t.Helper()
	ch, err := fx.open().Subscribe(fx.ctx)
	if err != nil {
		fx.t.Fatalf("Subscribe: %v", err)
	}
	return ch
}

// await reads ch until a notification matches, for at most notifyWithin
// of real time, and returns it. Notifications that do not match (other
// topics, TopicResync) are passed over.
func await(t *testing.T, ch <-chan store.Notification, what string, match func(store.Notification) bool) store.Notification {
	t.Helper()
	deadline := time.NewTimer(notifyWithin)
	defer deadline.Stop()
	for {
		select {
		case n, ok := <-ch:
			if !ok {
				t.Fatalf("%s: the subscription closed", what)
			}
			if match(n) {
				return n
			}
		case <-deadline.C:
			t.Fatalf("%s: no notification within %v", what, notifyWithin)
		}
	}
}

func scheduleVersion(id string, version int64) func(store.Notification) bool {
	return func(n store.Notification) bool {
		return n.Topic == store.TopicSchedule && n.ID == id && n.Version == version
	}
}

func testNotifySchedule(t *testing.T, fx *fixture) {
	ch := fx.subscribe()
	s := fx.schedule("report")
	n := await(t, ch, "create", scheduleVersion(s.ID, 1))
	want(t, "Deleted on create", n.Deleted, false)

	u := *s
	u.Agent = "other"
	if _, err := fx.st.ScheduleUpdate(fx.ctx, &u); err != nil {
		t.Fatal(err)
	}
	await(t, ch, "update", scheduleVersion(s.ID, 2))
	if _, err := fx.st.SchedulePause(fx.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	await(t, ch, "pause", scheduleVersion(s.ID, 3))
	// Pausing again changes nothing and publishes nothing: the next
	// notification of the schedule is the resume's.
	if _, err := fx.st.SchedulePause(fx.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.st.ScheduleResume(fx.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	n = await(t, ch, "resume", func(n store.Notification) bool {
		return n.Topic == store.TopicSchedule && n.ID == s.ID
	})
	want(t, "version of the notification after pause, pause, resume", n.Version, int64(4))
}

func testNotifyDelete(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	ch := fx.subscribe()
	if err := fx.st.ScheduleDelete(fx.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	n := await(t, ch, "delete", func(n store.Notification) bool {
		return n.Topic == store.TopicSchedule && n.ID == s.ID && n.Deleted
	})
	want(t, "version of the deletion", n.Version, s.Version+1)
}

func testNotifySetTimes(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	ch := fx.subscribe()
	next := fx.now().Add(time.Hour)
	if _, err := fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, NextRunAt: &next}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.st.SchedulePause(fx.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	n := await(t, ch, "pause after set times", func(n store.Notification) bool {
		return n.Topic == store.TopicSchedule && n.ID == s.ID
	})
	want(t, "version of the first schedule notification", n.Version, int64(2))
}

func testNotifyRunDue(t *testing.T, fx *fixture) {
	ch := fx.subscribe()
	fx.enqueue(adhoc())
	await(t, ch, "enqueue", func(n store.Notification) bool { return n.Topic == store.TopicRunDue })
}

func testNotifyRunCancel(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	ch := fx.subscribe()
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID}); err != nil {
		t.Fatal(err)
	}
	await(t, ch, "cancel of a running run", func(n store.Notification) bool {
		return n.Topic == store.TopicRunCancel && n.ID == r.ID
	})
}

func testNotifyClose(t *testing.T, fx *fixture) {
	ctx, cancel := context.WithCancel(fx.ctx)
	ch, err := fx.open().Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	cancel()
	deadline := time.NewTimer(notifyWithin)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline.C:
			t.Fatalf("the subscription did not close within %v of its context's end", notifyWithin)
		}
	}
}
