package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func timeTests() []test {
	return []test{
		{"TimesRoundTripAtMicrosecondsInUTC", testTimeRoundTrip},
	}
}

// wantStoredTime checks that got is in as a store keeps times: in UTC,
// at microsecond precision, equal to written truncated.
func wantStoredTime(t *testing.T, what string, got, written time.Time) {
	t.Helper()
	want := store.Timestamp(written)
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v (written %v)", what, got, want, written)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
	if got.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v keeps nanoseconds", what, got)
	}
}

func testTimeRoundTrip(t *testing.T, fx *fixture) {
	zone := time.FixedZone("X", 5*3600+1800)
	at := func(d time.Duration, ns int) time.Time {
		return time.Date(2030, 3, 4, 10, 36, 7, ns, zone).Add(d) // 05:06:07 UTC
	}
	// The store's own clock, too, reads nanoseconds in another zone.
	clock := at(0, 123456789)
	fx.clock.Set(clock)

	trigAt, startAt, endAt, nextRun := at(time.Hour, 1), at(-time.Hour, 999), at(48*time.Hour, 999999999), at(time.Minute, 500500)
	s, err := fx.st.ScheduleCreate(fx.ctx, &store.Schedule{
		Owner: alice, Name: "once", Agent: agent,
		Trigger:   store.Trigger{Kind: store.TriggerOnce, At: trigAt, StartAt: startAt, EndAt: endAt},
		NextRunAt: nextRun,
	})
	if err != nil {
		t.Fatalf("ScheduleCreate: %v", err)
	}
	other := fx.open()
	back, err := other.ScheduleGet(fx.ctx, s.ID)
	if err != nil {
		t.Fatalf("ScheduleGet: %v", err)
	}
	for how, g := range map[string]*store.Schedule{"created": s, "read back": back} {
		wantStoredTime(t, how+" Trigger.At", g.Trigger.At, trigAt)
		wantStoredTime(t, how+" Trigger.StartAt", g.Trigger.StartAt, startAt)
		wantStoredTime(t, how+" Trigger.EndAt", g.Trigger.EndAt, endAt)
		wantStoredTime(t, how+" NextRunAt", g.NextRunAt, nextRun)
		wantStoredTime(t, how+" CreatedAt", g.CreatedAt, clock)
		wantStoredTime(t, how+" UpdatedAt", g.UpdatedAt, clock)
	}

	lastRun := at(-time.Minute, 777)
	if _, err := fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, LastRunAt: &lastRun}); err != nil {
		t.Fatalf("ScheduleSetTimes: %v", err)
	}
	scheduledFor, runAt := at(-2*time.Minute, 654321987), at(-time.Second, 1001)
	p := tick(s, scheduledFor)
	p.RunAt = runAt
	res := fx.enqueue(p)
	r, err := other.RunGet(fx.ctx, res[0].Run.ID)
	if err != nil {
		t.Fatalf("RunGet: %v", err)
	}
	for how, g := range map[string]*store.Run{"enqueued": res[0].Run, "read back": r} {
		wantStoredTime(t, how+" ScheduledFor", g.ScheduledFor, scheduledFor)
		wantStoredTime(t, how+" RunAt", g.RunAt, runAt)
		wantStoredTime(t, how+" CreatedAt", g.CreatedAt, clock)
	}
	back, err = other.ScheduleGet(fx.ctx, s.ID)
	if err != nil {
		t.Fatalf("ScheduleGet: %v", err)
	}
	wantStoredTime(t, "LastRunAt", back.LastRunAt, lastRun)
	wantStoredTime(t, "LastFiredAt", back.LastFiredAt, scheduledFor)

	// The same tick, written with other nanoseconds and in another zone,
	// is the same tick.
	again := fx.enqueue(tick(s, scheduledFor.UTC().Add(-321)))
	if !again[0].Duplicate || again[0].Run.ID != r.ID {
		t.Errorf("the tick written again at another sub-microsecond instant: Duplicate %v, run %s; want run %s", again[0].Duplicate, again[0].Run.ID, r.ID)
	}

	claimed := fx.claimOne(nodeA, r.ID)
	wantStoredTime(t, "StartedAt", claimed.StartedAt, clock)
	wantStoredTime(t, "LeaseExpiresAt", claimed.LeaseExpiresAt, store.Timestamp(clock).Add(lease))
	done := fx.finish(r.ID, nodeA, store.RunSucceeded)
	wantStoredTime(t, "FinishedAt", done.FinishedAt, clock)

	dStart := at(0, 333)
	d, err := fx.st.DeliveryRecord(fx.ctx, &store.Delivery{RunID: r.ID, Channel: "log", Attempt: 1, Status: store.DeliverySucceeded, StartedAt: dStart})
	if err != nil {
		t.Fatalf("DeliveryRecord: %v", err)
	}
	ds, err := other.DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: r.ID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("DeliveryList = %v, %v", ds, err)
	}
	for how, g := range map[string]*store.Delivery{"recorded": d, "read back": ds[0]} {
		wantStoredTime(t, how+" delivery StartedAt", g.StartedAt, dStart)
		wantStoredTime(t, how+" delivery FinishedAt", g.FinishedAt, clock)
	}

	ev, err := fx.st.EventAccept(fx.ctx, webhookDelivery("github", "d-1"))
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	wantStoredTime(t, "ReceivedAt", ev.Event.ReceivedAt, clock)
	c, err := fx.st.CursorSet(fx.ctx, &store.Cursor{CursorKey: generalKey(), Latest: "1"})
	if err != nil {
		t.Fatalf("CursorSet: %v", err)
	}
	wantStoredTime(t, "cursor UpdatedAt", c.UpdatedAt, clock)
	if _, err := fx.st.MessageUpsert(fx.ctx, message(generalKey(), "1", "hi")); err != nil {
		t.Fatalf("MessageUpsert: %v", err)
	}
	msgs, err := other.MessageList(fx.ctx, &store.MessageListParams{CursorKey: generalKey()})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("MessageList = %v, %v", msgs, err)
	}
	wantStoredTime(t, "CollectedAt", msgs[0].CollectedAt, clock)
}
