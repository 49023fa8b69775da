package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

func runTests() []test {
	return []test{
		{"EnqueueFillsDefaults", testRunEnqueueDefaults},
		{"EnqueueResolvesKind", testRunEnqueueKinds},
		{"EnqueueRejectsBadInputAndWritesNothing", testRunEnqueueBadInput},
		{"EnqueueBatchWithBadEntryWritesNone", testRunEnqueueBadBatch},
		{"EnqueueForMissingScheduleWritesNothing", testRunEnqueueMissingSchedule},
		{"TickIsEnqueuedOnce", testRunTickOnce},
		{"TickAdvancesLastFiredAt", testRunTickLastFired},
		{"TickSetsNextRunAt", testRunTickNextRunAt},
		{"ClaimSetsScheduleLastRunAt", testRunClaimLastRunAt},
		{"LastRunAtOutlivesThePrunedHistory", testRunLastRunAtAfterPrune},
		{"TickIsDueAtItsMoment", testRunTickDueAtItsMoment},
		{"IdempotencyKeyIsPerOwner", testRunIdempotencyKey},
		{"MissingRunIsNotFound", testRunNotFound},
		{"TraceContextIsKeptWithTheRun", testRunTraceContext},
		{"TraceContextOverItsBoundsIsRefused", testRunTraceContextBounds},
		{"ClaimWaitsForRunAt", testRunClaimRunAt},
		{"ClaimTakesOldestRunAtFirst", testRunClaimOrder},
		{"ClaimSetsLease", testRunClaimLease},
		{"ClaimRejectsBadInput", testRunClaimBadInput},
		{"FinishRecordsResult", testRunFinish},
		{"FinishRejectsBadInputAndWritesNothing", testRunFinishBadInput},
		{"CancelQueuedRunEndsIt", testRunCancelQueued},
		{"CancelRunningRunRequestsIt", testRunCancelRunning},
		{"CancelEndedRunIsConflict", testRunCancelEnded},
		{"NextDueIsEarliestClaimable", testRunNextDue},
		{"ListFilters", testRunListFilters},
		{"ListPagesNewestFirst", testRunListPages},
		{"ListSeesEveryRowOnceDuringInserts", testRunListDuringInserts},
		{"ListFiltersByAgentAndKind", testRunListAgentKind},
		{"ListRejectsUnknownStatusesAndKinds", testRunListBadFilters},
		{"ListCreatedBoundsAreExact", testRunListCreatedBounds},
		{"DeleteFinishedPrunesOldHistory", testRunDeleteFinished},
		{"ConcurrentClaimersClaimEveryRunOnce", testRunConcurrentClaimers},
		{"ConcurrentTicksYieldOneRunAllowAll", func(t *testing.T, fx *fixture) {
			testRunConcurrentTicks(t, fx, store.OverlapAllowAll)
		}},
		{"ConcurrentTicksYieldOneRunSkip", func(t *testing.T, fx *fixture) {
			testRunConcurrentTicks(t, fx, store.OverlapSkip)
		}},
		{"ConcurrentDistinctTicksAreDecidedOneAtATimeSkip", func(t *testing.T, fx *fixture) {
			testRunConcurrentDistinctTicks(t, fx, store.OverlapSkip, 1, 0)
		}},
		{"ConcurrentDistinctTicksAreDecidedOneAtATimeBufferOne", func(t *testing.T, fx *fixture) {
			testRunConcurrentDistinctTicks(t, fx, store.OverlapBufferOne, 1, 1)
		}},
	}
}

func testRunEnqueueDefaults(t *testing.T, fx *fixture) {
	p := adhoc()
	p.Payload = json.RawMessage(`{"q": "hello"}`)
	p.Targets = []store.Target{{Channel: "slack", To: "#ops"}}
	res := fx.enqueue(p)
	if res[0].Duplicate {
		t.Error("a new run is marked Duplicate")
	}
	r := res[0].Run
	if r.ID == "" {
		t.Fatal("RunEnqueue assigned no ID")
	}
	for how, got := range map[string]*store.Run{"enqueued": r, "read back": fx.run(r.ID)} {
		want(t, how+" Kind", got.Kind, store.RunKindEnqueue)
		want(t, how+" Status", got.Status, store.RunQueued)
		want(t, how+" Owner", got.Owner, alice)
		want(t, how+" Agent", got.Agent, agent)
		wantJSON(t, how+" Payload", got.Payload, p.Payload)
		if len(got.Targets) != 1 {
			t.Errorf("%s Targets = %+v, want 1", how, got.Targets)
		} else {
			want(t, how+" Targets[0]", got.Targets[0], store.Target{Channel: "slack", To: "#ops", On: delivery.OnAlways})
		}
		want(t, how+" Held", got.Held, false)
		want(t, how+" Attempt", got.Attempt, 1)
		want(t, how+" MaxAttempts", got.MaxAttempts, 1)
		want(t, how+" Timeout", got.Timeout, time.Duration(0))
		wantTime(t, how+" RunAt", got.RunAt, fx.now())
		wantTime(t, how+" CreatedAt", got.CreatedAt, fx.now())
		want(t, how+" LeaseOwner", got.LeaseOwner, "")
		want(t, how+" CancelRequested", got.CancelRequested, false)
		if !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() {
			t.Errorf("%s StartedAt %v, FinishedAt %v, want zero", how, got.StartedAt, got.FinishedAt)
		}
	}
	p2 := adhoc()
	p2.MaxAttempts, p2.Timeout, p2.RunAt = 4, time.Minute, fx.now().Add(time.Hour)
	r2 := fx.enqueueRun(p2)
	want(t, "MaxAttempts", r2.MaxAttempts, 4)
	want(t, "Timeout", r2.Timeout, time.Minute)
	wantTime(t, "RunAt", r2.RunAt, fx.now().Add(time.Hour))
}

func testRunEnqueueKinds(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	at := fx.now().Add(-time.Minute)
	res := fx.enqueue(tick(s, at), manual(s), adhoc())
	want(t, "kind of a tick", res[0].Run.Kind, store.RunKindSchedule)
	want(t, "ScheduleID of a tick", res[0].Run.ScheduleID, s.ID)
	wantTime(t, "ScheduledFor of a tick", res[0].Run.ScheduledFor, at)
	want(t, "kind of a run naming a schedule", res[1].Run.Kind, store.RunKindManual)
	want(t, "ScheduleID of a manual run", res[1].Run.ScheduleID, s.ID)
	if !res[1].Run.ScheduledFor.IsZero() {
		t.Errorf("ScheduledFor of a manual run = %v, want zero", res[1].Run.ScheduledFor)
	}
	want(t, "kind of ad hoc work", res[2].Run.Kind, store.RunKindEnqueue)
	for i, r := range res {
		got := fx.run(r.Run.ID)
		want(t, fmt.Sprintf("read back kind of run %d", i), got.Kind, r.Run.Kind)
		want(t, fmt.Sprintf("read back status of run %d", i), got.Status, store.RunQueued)
	}
	p := manual(s)
	p.Kind = store.RunKindManual
	want(t, "explicit manual kind", fx.enqueueRun(p).Kind, store.RunKindManual)
}

func testRunEnqueueBadInput(t *testing.T, fx *fixture) {
	cases := []struct {
		name  string
		edit  func(*store.RunEnqueueParams)
		field string
	}{
		{"empty agent", func(p *store.RunEnqueueParams) { p.Agent = "" }, "agent"},
		{"empty owner", func(p *store.RunEnqueueParams) { p.Owner = "" }, "owner"},
		{"negative timeout", func(p *store.RunEnqueueParams) { p.Timeout = -time.Second }, "timeout"},
		{"negative max attempts", func(p *store.RunEnqueueParams) { p.MaxAttempts = -1 }, "max_attempts"},
		{"oversized payload", func(p *store.RunEnqueueParams) { p.Payload = jsonString(store.MaxPayloadDefault + 1) }, "payload"},
		{"payload not JSON", func(p *store.RunEnqueueParams) { p.Payload = json.RawMessage("nope") }, "payload"},
		{"unknown kind", func(p *store.RunEnqueueParams) { p.Kind = "cron" }, "kind"},
		{"tick without schedule", func(p *store.RunEnqueueParams) { p.ScheduledFor = fx.now() }, "schedule_id"},
		{"manual run without schedule", func(p *store.RunEnqueueParams) { p.Kind = store.RunKindManual }, "schedule_id"},
		{"target without channel", func(p *store.RunEnqueueParams) { p.Targets = []store.Target{{To: "x"}} }, "targets[0].channel"},
		{"webhook run outside EventAccept", func(p *store.RunEnqueueParams) { p.Kind = store.RunKindWebhook }, "kind"},
		{"due past year 9999", func(p *store.RunEnqueueParams) { p.RunAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "run_at"},
	}
	for _, tc := range cases {
		p := adhoc()
		tc.edit(p)
		_, err := fx.st.RunEnqueue(fx.ctx, p)
		wantInvalid(t, tc.name, err, tc.field)
	}
	_, err := fx.st.RunEnqueue(fx.ctx)
	wantInvalid(t, "no runs", err, "runs")
	if got := fx.runs(store.RunListParams{}); len(got) != 0 {
		t.Errorf("refused runs were written: %v", runIDs(got))
	}
}

func testRunEnqueueBadBatch(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	bad := adhoc()
	bad.Agent = ""
	_, err := fx.st.RunEnqueue(fx.ctx, tick(s, fx.now()), bad, adhoc())
	wantInvalid(t, "batch with a bad second entry", err, "runs[1].agent")
	if got := fx.runs(store.RunListParams{}); len(got) != 0 {
		t.Errorf("runs of a refused batch were written: %v", runIDs(got))
	}
	if got := fx.getSchedule(s.ID); !got.LastFiredAt.IsZero() {
		t.Errorf("a refused batch advanced LastFiredAt to %v", got.LastFiredAt)
	}
}

func testRunEnqueueMissingSchedule(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	missing := &store.RunEnqueueParams{ScheduleID: missingID, Owner: alice, Agent: agent}
	_, err := fx.st.RunEnqueue(fx.ctx, adhoc(), tick(s, fx.now()), missing)
	wantErr(t, "batch naming a missing schedule", err, store.ErrNotFound)
	if got := fx.runs(store.RunListParams{}); len(got) != 0 {
		t.Errorf("runs of a refused batch were written: %v", runIDs(got))
	}
	if got := fx.getSchedule(s.ID); !got.LastFiredAt.IsZero() {
		t.Errorf("a refused batch advanced LastFiredAt to %v", got.LastFiredAt)
	}
}

func testRunTickOnce(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	at := fx.now()
	first := fx.enqueue(tick(s, at))[0]
	if first.Duplicate {
		t.Fatal("first tick marked Duplicate")
	}
	// The same tick again, from another handle, and twice in one batch.
	again, err := fx.open().RunEnqueue(fx.ctx, tick(s, at))
	if err != nil {
		t.Fatalf("RunEnqueue: %v", err)
	}
	want(t, "second enqueue Duplicate", again[0].Duplicate, true)
	want(t, "second enqueue run", again[0].Run.ID, first.Run.ID)
	later := at.Add(time.Minute)
	batch := fx.enqueue(tick(s, later), tick(s, later), tick(s, at))
	want(t, "batch entry 0 Duplicate", batch[0].Duplicate, false)
	want(t, "batch entry 1 Duplicate", batch[1].Duplicate, true)
	want(t, "batch entry 1 run", batch[1].Run.ID, batch[0].Run.ID)
	want(t, "batch entry 2 Duplicate", batch[2].Duplicate, true)
	want(t, "batch entry 2 run", batch[2].Run.ID, first.Run.ID)
	if got := fx.runs(store.RunListParams{ScheduleID: s.ID}); len(got) != 2 {
		t.Errorf("runs of the schedule = %v, want 2", runIDs(got))
	}
}

func testRunTickLastFired(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	t2 := fx.now().Add(-time.Minute)
	t1 := t2.Add(-time.Hour)
	fx.enqueue(tick(s, t2))
	got := fx.getSchedule(s.ID)
	wantTime(t, "LastFiredAt after a tick", got.LastFiredAt, t2)
	want(t, "Version after a tick", got.Version, int64(1))
	fx.enqueue(tick(s, t1)) // an older tick does not move it back
	got = fx.getSchedule(s.ID)
	wantTime(t, "LastFiredAt after an older tick", got.LastFiredAt, t2)
	fx.enqueue(manual(s)) // a manual run is no tick
	got = fx.getSchedule(s.ID)
	wantTime(t, "LastFiredAt after a manual run", got.LastFiredAt, t2)
	want(t, "Version", got.Version, int64(1))
	if !got.LastRunAt.IsZero() {
		t.Errorf("LastRunAt = %v, want zero", got.LastRunAt)
	}
}

func testRunTickNextRunAt(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	t1 := fx.now().Add(-time.Minute)
	p := tick(s, t1)
	p.NextRunAt = t1.Add(time.Hour)
	fx.enqueue(p)
	wantTime(t, "NextRunAt after a tick", fx.getSchedule(s.ID).NextRunAt, t1.Add(time.Hour))
	old := tick(s, t1.Add(-time.Hour)) // an older tick moves nothing
	old.NextRunAt = t1
	fx.enqueue(old)
	wantTime(t, "NextRunAt after an older tick", fx.getSchedule(s.ID).NextRunAt, t1.Add(time.Hour))
	fx.enqueue(tick(s, t1.Add(time.Hour))) // no NextRunAt given: kept
	wantTime(t, "NextRunAt after a tick without one", fx.getSchedule(s.ID).NextRunAt, t1.Add(time.Hour))
	for _, p := range []*store.RunEnqueueParams{manual(s), adhoc()} {
		p.NextRunAt = t1
		_, err := fx.st.RunEnqueue(fx.ctx, p)
		wantInvalid(t, "NextRunAt on a run that is no tick", err, "next_run_at")
	}
}

func testRunClaimLastRunAt(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	fx.enqueue(manual(s), adhoc())
	fx.clock.Advance(time.Second)
	if got := fx.claim("node-a", 10); len(got) != 2 {
		t.Fatalf("claimed %d runs, want 2", len(got))
	}
	wantTime(t, "LastRunAt after a claim", fx.getSchedule(s.ID).LastRunAt, fx.now())
	want(t, "Version after a claim", fx.getSchedule(s.ID).Version, int64(1))
	page, err := fx.st.ScheduleList(fx.ctx, &store.ScheduleListParams{Owner: s.Owner})
	if err != nil || len(page.Schedules) != 1 {
		t.Fatalf("ScheduleList = %v, %v; want the schedule", page, err)
	}
	wantTime(t, "LastRunAt after a claim, listed", page.Schedules[0].LastRunAt, fx.now())
	// A later start moves it; ScheduleSetTimes cannot move it back before
	// the runs' latest start.
	r := fx.enqueueRun(manual(s))
	fx.clock.Advance(time.Minute)
	fx.claimOne("node-a", r.ID)
	wantTime(t, "LastRunAt after a second claim", fx.getSchedule(s.ID).LastRunAt, fx.now())
	upd := fx.getSchedule(s.ID)
	upd.Payload = json.RawMessage(`{"v":2}`)
	updated, err := fx.st.ScheduleUpdate(fx.ctx, upd)
	if err != nil {
		t.Fatalf("ScheduleUpdate: %v", err)
	}
	wantTime(t, "LastRunAt of an updated schedule, as the update returns it", updated.LastRunAt, fx.now())
}

func testRunLastRunAtAfterPrune(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	r := fx.enqueueRun(manual(s))
	fx.clock.Advance(time.Second)
	started := fx.now()
	fx.claimOne(nodeA, r.ID)
	fx.finish(r.ID, nodeA, store.RunSucceeded)
	fx.clock.Advance(48 * time.Hour)
	n, err := fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: 24 * time.Hour})
	if err != nil || n != 1 {
		t.Fatalf("RunDeleteFinished = %d, %v; want 1 run deleted", n, err)
	}
	wantTime(t, "LastRunAt once its run is pruned", fx.getSchedule(s.ID).LastRunAt, started)
}

func testRunTickDueAtItsMoment(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	at := fx.now().Add(time.Minute)
	r := fx.enqueueRun(tick(s, at))
	wantTime(t, "RunAt of a tick without RunAt", r.RunAt, at)
	wantTime(t, "RunAt of a tick without RunAt, read back", fx.run(r.ID).RunAt, at)
	if got := fx.claim(nodeA, 10); len(got) != 0 {
		t.Fatalf("claimed %v before its tick", runIDs(got))
	}
	fx.clock.Advance(time.Minute)
	fx.claimOne(nodeA, r.ID)
}

func testRunIdempotencyKey(t *testing.T, fx *fixture) {
	p := adhoc()
	p.IdempotencyKey = "order-42"
	p.Payload = json.RawMessage(`{"n":1}`)
	first := fx.enqueue(p)[0]
	want(t, "first Duplicate", first.Duplicate, false)

	p2 := adhoc()
	p2.IdempotencyKey = "order-42"
	p2.Payload = json.RawMessage(`{"n":2}`)
	dup := fx.enqueue(p2)[0]
	want(t, "same key Duplicate", dup.Duplicate, true)
	want(t, "same key run", dup.Run.ID, first.Run.ID)
	wantJSON(t, "payload of the duplicate's run", dup.Run.Payload, p.Payload)
	want(t, "IdempotencyKey", dup.Run.IdempotencyKey, "order-42")

	p3 := adhoc()
	p3.Owner = bob
	p3.IdempotencyKey = "order-42"
	other := fx.enqueue(p3)[0]
	want(t, "same key, another owner: Duplicate", other.Duplicate, false)
	if other.Run.ID == first.Run.ID {
		t.Error("another owner's key returned alice's run")
	}
	if got := fx.runs(store.RunListParams{}); len(got) != 2 {
		t.Errorf("runs = %v, want 2", runIDs(got))
	}
}

func testRunNotFound(t *testing.T, fx *fixture) {
	_, err := fx.st.RunGet(fx.ctx, missingID)
	wantErr(t, "RunGet", err, store.ErrNotFound)
	_, err = fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: missingID})
	wantErr(t, "RunCancel", err, store.ErrNotFound)
	_, err = fx.st.RunNextDue(fx.ctx)
	wantErr(t, "RunNextDue with no runs", err, store.ErrNotFound)
}

func testRunClaimRunAt(t *testing.T, fx *fixture) {
	p := adhoc()
	p.RunAt = fx.now().Add(time.Minute)
	r := fx.enqueueRun(p)
	if got := fx.claim(nodeA, 10); len(got) != 0 {
		t.Fatalf("claimed %v before its RunAt", runIDs(got))
	}
	fx.clock.Advance(time.Minute - time.Microsecond)
	if got := fx.claim(nodeA, 10); len(got) != 0 {
		t.Fatalf("claimed %v a microsecond before its RunAt", runIDs(got))
	}
	fx.clock.Advance(time.Microsecond)
	fx.claimOne(nodeA, r.ID) // due at RunAt exactly
}

func testRunClaimOrder(t *testing.T, fx *fixture) {
	at := func(d time.Duration) *store.RunEnqueueParams {
		p := adhoc()
		p.RunAt = fx.now().Add(d)
		return p
	}
	res := fx.enqueue(at(-time.Minute), at(-3*time.Minute), at(-2*time.Minute))
	r1, r3, r2 := res[0].Run, res[1].Run, res[2].Run
	// Two more with the same RunAt, enqueued one after the other: in ID order.
	res = fx.enqueue(at(0), at(0))
	r4, r5 := res[0].Run, res[1].Run
	wantIDs(t, "first claim", runIDs(fx.claim(nodeA, 2)), []string{r3.ID, r2.ID})
	wantIDs(t, "second claim", runIDs(fx.claim(nodeB, 2)), []string{r1.ID, r4.ID})
	wantIDs(t, "third claim", runIDs(fx.claim(nodeA, 2)), []string{r5.ID})
	if got := fx.claim(nodeA, 2); len(got) != 0 {
		t.Errorf("claimed %v from an empty queue", runIDs(got))
	}
}

func testRunClaimLease(t *testing.T, fx *fixture) {
	p := adhoc()
	p.MaxAttempts = 3
	r := fx.enqueueRun(p)
	fx.clock.Advance(time.Second)
	claimed := fx.claimOne(nodeA, r.ID)
	for how, got := range map[string]*store.Run{"claimed": claimed, "read back": fx.run(r.ID)} {
		want(t, how+" Status", got.Status, store.RunRunning)
		want(t, how+" LeaseOwner", got.LeaseOwner, nodeA)
		wantTime(t, how+" LeaseExpiresAt", got.LeaseExpiresAt, fx.now().Add(lease))
		wantTime(t, how+" StartedAt", got.StartedAt, fx.now())
		want(t, how+" Attempt", got.Attempt, 1)
		want(t, how+" MaxAttempts", got.MaxAttempts, 3)
		want(t, how+" CancelRequested", got.CancelRequested, false)
		wantTime(t, how+" CreatedAt", got.CreatedAt, fx.now().Add(-time.Second))
	}
	if got := fx.claim(nodeB, 10); len(got) != 0 {
		t.Errorf("a running run was claimed again: %v", runIDs(got))
	}
}

func testRunClaimBadInput(t *testing.T, fx *fixture) {
	fx.enqueue(adhoc())
	_, err := fx.st.RunClaim(fx.ctx, &store.RunClaimParams{Limit: 1, Lease: lease})
	wantInvalid(t, "claim without node", err, "node")
	_, err = fx.st.RunClaim(fx.ctx, &store.RunClaimParams{Node: nodeA, Lease: lease})
	wantInvalid(t, "claim with limit 0", err, "limit")
	_, err = fx.st.RunClaim(fx.ctx, &store.RunClaimParams{Node: nodeA, Limit: 1})
	wantInvalid(t, "claim without lease", err, "lease")
	if got := fx.runs(store.RunListParams{Statuses: []store.RunStatus{store.RunQueued}}); len(got) != 1 {
		t.Errorf("queued runs after refused claims = %v, want 1", runIDs(got))
	}
}

func testRunFinish(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc())
	a, b := res[0].Run, res[1].Run
	fx.claim(nodeA, 2)
	fx.clock.Advance(5 * time.Second)
	got, err := fx.st.RunFinish(fx.ctx,
		&store.RunFinishParams{ID: a.ID, Node: nodeA, Status: store.RunSucceeded,
			Output: json.RawMessage(`{"ok": true}`), Summary: "all good", Progress: map[string]int64{"items": 7}},
		&store.RunFinishParams{ID: b.ID, Node: nodeA, Status: store.RunFailed, Error: "boom"},
	)
	if err != nil {
		t.Fatalf("RunFinish: %v", err)
	}
	if len(got) != 2 || got[0] == nil || got[1] == nil {
		t.Fatalf("RunFinish = %v, want both runs", got)
	}
	for how, r := range map[string]*store.Run{"finished": got[0], "read back": fx.run(a.ID)} {
		want(t, how+" Status", r.Status, store.RunSucceeded)
		wantJSON(t, how+" Output", r.Output, json.RawMessage(`{"ok":true}`))
		want(t, how+" Summary", r.Summary, "all good")
		want(t, how+" Progress[items]", r.Progress["items"], int64(7))
		want(t, how+" Error", r.Error, "")
		wantTime(t, how+" FinishedAt", r.FinishedAt, fx.now())
		wantTime(t, how+" StartedAt", r.StartedAt, fx.now().Add(-5*time.Second))
		want(t, how+" LeaseOwner", r.LeaseOwner, "")
		want(t, how+" Attempt", r.Attempt, 1)
	}
	for how, r := range map[string]*store.Run{"finished": got[1], "read back": fx.run(b.ID)} {
		want(t, how+" Status", r.Status, store.RunFailed)
		want(t, how+" Error", r.Error, "boom")
		wantTime(t, how+" FinishedAt", r.FinishedAt, fx.now())
	}
	// A finished run cannot be finished again.
	again, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: a.ID, Node: nodeA, Status: store.RunFailed})
	wantLeaseLost(t, "finishing a finished run", err, a.ID)
	if len(again) != 1 || again[0] != nil {
		t.Errorf("RunFinish of a finished run = %v, want [nil]", again)
	}
	want(t, "status after the refused finish", fx.run(a.ID).Status, store.RunSucceeded)
}

func testRunFinishBadInput(t *testing.T, fx *fixture) {
	res := fx.enqueue(adhoc(), adhoc())
	fx.claim(nodeA, 2)
	a, b := res[0].Run.ID, res[1].Run.ID
	_, err := fx.st.RunFinish(fx.ctx,
		&store.RunFinishParams{ID: a, Node: nodeA, Status: store.RunSucceeded},
		&store.RunFinishParams{ID: b, Node: nodeA, Status: store.RunQueued})
	wantInvalid(t, "finish to queued", err, "runs[1].status")
	_, err = fx.st.RunFinish(fx.ctx,
		&store.RunFinishParams{ID: a, Node: nodeA, Status: store.RunSucceeded},
		&store.RunFinishParams{ID: b, Node: nodeA, Status: store.RunSucceeded, Output: jsonString(store.MaxPayloadDefault + 1)})
	wantInvalid(t, "oversized output", err, "runs[1].output")
	_, err = fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: a, Status: store.RunSucceeded})
	wantInvalid(t, "finish without node", err, "node")
	for _, id := range []string{a, b} {
		want(t, "status after refused finishes", fx.run(id).Status, store.RunRunning)
	}
}

func testRunCancelQueued(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.clock.Advance(time.Second)
	got, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID, Reason: "not needed"})
	if err != nil {
		t.Fatalf("RunCancel: %v", err)
	}
	for how, g := range map[string]*store.Run{"cancelled": got, "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunCancelled)
		want(t, how+" Error", g.Error, "not needed")
		wantTime(t, how+" FinishedAt", g.FinishedAt, fx.now())
	}
	if claimed := fx.claim(nodeA, 10); len(claimed) != 0 {
		t.Errorf("claimed a cancelled run: %v", runIDs(claimed))
	}
}

func testRunCancelRunning(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	got, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID, Reason: "user asked"})
	if err != nil {
		t.Fatalf("RunCancel: %v", err)
	}
	for how, g := range map[string]*store.Run{"cancel requested": got, "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunRunning)
		want(t, how+" CancelRequested", g.CancelRequested, true)
		want(t, how+" CancelReason", g.CancelReason, "user asked")
		want(t, how+" LeaseOwner", g.LeaseOwner, nodeA)
	}
	leases, err := fx.st.RunExtendLease(fx.ctx, &store.RunExtendLeaseParams{Node: nodeA, IDs: []string{r.ID}, Lease: lease})
	if err != nil {
		t.Fatalf("RunExtendLease: %v", err)
	}
	if len(leases) != 1 || !leases[0].CancelRequested {
		t.Fatalf("RunExtendLease = %+v, want one lease with CancelRequested", leases)
	}
	// Asking twice is harmless, and keeps the first reason.
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID, Reason: "changed my mind"}); err != nil {
		t.Errorf("second RunCancel of a running run: %v", err)
	}
	want(t, "CancelReason after a second request", fx.run(r.ID).CancelReason, "user asked")
	// The node's own error gives way to the request's reason.
	got2, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunCancelled, Error: "context canceled"})
	if err != nil {
		t.Fatalf("RunFinish: %v", err)
	}
	for how, g := range map[string]*store.Run{"stopped by its node": got2[0], "read back": fx.run(r.ID)} {
		want(t, how+" Status", g.Status, store.RunCancelled)
		want(t, how+" Error", g.Error, "user asked")
	}

	// A request the run outran leaves the run's own outcome.
	r = fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID, Reason: "too slow"}); err != nil {
		t.Fatal(err)
	}
	got2, err = fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: r.ID, Node: nodeA, Status: store.RunFailed, Error: "boom"})
	if err != nil {
		t.Fatalf("RunFinish: %v", err)
	}
	want(t, "Status of a run that failed before it was stopped", got2[0].Status, store.RunFailed)
	want(t, "Error of a run that failed before it was stopped", got2[0].Error, "boom")
}

func testRunCancelEnded(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	fx.claimOne(nodeA, r.ID)
	fx.finish(r.ID, nodeA, store.RunSucceeded)
	_, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: r.ID})
	wantErr(t, "cancelling a succeeded run", err, store.ErrConflict)
	got := fx.run(r.ID)
	want(t, "Status", got.Status, store.RunSucceeded)
	want(t, "CancelRequested", got.CancelRequested, false)

	q := fx.enqueueRun(adhoc())
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: q.ID}); err != nil {
		t.Fatalf("RunCancel: %v", err)
	}
	_, err = fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: q.ID})
	wantErr(t, "cancelling a cancelled run", err, store.ErrConflict)
}

func testRunNextDue(t *testing.T, fx *fixture) {
	at := func(d time.Duration) *store.RunEnqueueParams {
		p := adhoc()
		p.RunAt = fx.now().Add(d)
		return p
	}
	res := fx.enqueue(at(-time.Minute), at(time.Hour), at(2*time.Hour))
	next, err := fx.st.RunNextDue(fx.ctx)
	if err != nil {
		t.Fatalf("RunNextDue: %v", err)
	}
	wantTime(t, "next due with a past run", next, fx.now().Add(-time.Minute))
	fx.claimOne(nodeA, res[0].Run.ID) // running runs are not due
	next, err = fx.st.RunNextDue(fx.ctx)
	if err != nil {
		t.Fatalf("RunNextDue: %v", err)
	}
	wantTime(t, "next due", next, fx.now().Add(time.Hour))
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: res[1].Run.ID}); err != nil {
		t.Fatal(err)
	}
	next, err = fx.st.RunNextDue(fx.ctx)
	if err != nil {
		t.Fatalf("RunNextDue: %v", err)
	}
	wantTime(t, "next due after a cancel", next, fx.now().Add(2*time.Hour))
	if _, err := fx.st.RunCancel(fx.ctx, &store.RunCancelParams{ID: res[2].Run.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = fx.st.RunNextDue(fx.ctx)
	wantErr(t, "RunNextDue with only a running run", err, store.ErrNotFound)
}

func testRunListFilters(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	t0 := fx.now()
	a1 := fx.enqueueRun(adhoc())
	fx.clock.Advance(time.Minute)
	t1 := fx.now()
	pb := adhoc()
	pb.Owner = bob
	b1 := fx.enqueueRun(pb)
	s1 := fx.enqueueRun(tick(s, t1))
	fx.clock.Advance(time.Minute)
	t2 := fx.now()
	s2 := fx.enqueueRun(manual(s))
	fx.claimOne(nodeA, a1.ID)
	fx.finish(a1.ID, nodeA, store.RunSucceeded)
	fx.claimOne(nodeA, b1.ID)

	cases := []struct {
		name   string
		params store.RunListParams
		want   []string
	}{
		{"all, newest first", store.RunListParams{}, []string{s2.ID, s1.ID, b1.ID, a1.ID}},
		{"owner", store.RunListParams{Owner: alice}, []string{s2.ID, s1.ID, a1.ID}},
		{"schedule", store.RunListParams{ScheduleID: s.ID}, []string{s2.ID, s1.ID}},
		{"statuses", store.RunListParams{Statuses: []store.RunStatus{store.RunSucceeded, store.RunRunning}}, []string{b1.ID, a1.ID}},
		{"one status", store.RunListParams{Statuses: []store.RunStatus{store.RunQueued}}, []string{s2.ID, s1.ID}},
		{"created from (inclusive)", store.RunListParams{CreatedFrom: t1}, []string{s2.ID, s1.ID, b1.ID}},
		{"created to (exclusive)", store.RunListParams{CreatedTo: t1}, []string{a1.ID}},
		{"created range", store.RunListParams{CreatedFrom: t1, CreatedTo: t2}, []string{s1.ID, b1.ID}},
		{"combined", store.RunListParams{Owner: alice, CreatedFrom: t0, CreatedTo: t2.Add(time.Microsecond), Statuses: []store.RunStatus{store.RunQueued}}, []string{s2.ID, s1.ID}},
		{"no match", store.RunListParams{Owner: "carol"}, nil},
	}
	for _, tc := range cases {
		page, err := fx.st.RunList(fx.ctx, &tc.params)
		if err != nil {
			t.Errorf("%s: RunList: %v", tc.name, err)
			continue
		}
		got := runIDs(page.Runs)
		if len(got) == 0 {
			got = nil
		}
		wantIDs(t, tc.name, got, tc.want)
		want(t, tc.name+": Next", page.Next, "")
	}
}

func testRunListPages(t *testing.T, fx *fixture) {
	var ps []*store.RunEnqueueParams
	for range 7 {
		ps = append(ps, adhoc())
	}
	res := fx.enqueue(ps...)
	var newestFirst []string
	for i := len(res) - 1; i >= 0; i-- {
		newestFirst = append(newestFirst, res[i].Run.ID)
	}
	var got []string
	params := &store.RunListParams{Limit: 3}
	var sizes []int
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 3 for 7 runs; so far %v", got)
		}
		page, err := fx.st.RunList(fx.ctx, params)
		if err != nil {
			t.Fatalf("RunList: %v", err)
		}
		sizes = append(sizes, len(page.Runs))
		got = append(got, runIDs(page.Runs)...)
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	wantIDs(t, "runs page by page", got, newestFirst)
	want(t, "page sizes", fmt.Sprint(sizes), "[3 3 1]")
	page, err := fx.st.RunList(fx.ctx, &store.RunListParams{Limit: 7})
	if err != nil {
		t.Fatalf("RunList: %v", err)
	}
	want(t, "Next of a last page that is exactly full", page.Next, "")
}

func testRunListDuringInserts(t *testing.T, fx *fixture) {
	var ps []*store.RunEnqueueParams
	for range 60 {
		ps = append(ps, adhoc())
	}
	before := make(map[string]bool)
	for _, r := range fx.enqueue(ps...) {
		before[r.Run.ID] = true
	}
	writer := fx.open()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := writer.RunEnqueue(fx.ctx, adhoc()); err != nil {
				t.Errorf("RunEnqueue during paging: %v", err)
				return
			}
		}
	})
	seen := make(map[string]int)
	params := &store.RunListParams{Limit: 7}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Errorf("paging does not end")
			break
		}
		page, err := fx.st.RunList(fx.ctx, params)
		if err != nil {
			t.Errorf("RunList: %v", err)
			break
		}
		for _, r := range page.Runs {
			seen[r.ID]++
		}
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("run %s seen %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] == 0 {
			t.Errorf("run %s, there before paging began, was never seen", id)
		}
	}
}

func testRunDeleteFinished(t *testing.T, fx *fixture) {
	// Three runs finish at t0, one at t0+2h; one is still queued, one
	// running.
	res := fx.enqueue(adhoc(), adhoc(), adhoc(), adhoc(), adhoc(), adhoc())
	old := []string{res[0].Run.ID, res[1].Run.ID, res[2].Run.ID}
	recent, queued, running := res[3].Run.ID, res[4].Run.ID, res[5].Run.ID
	fx.claim(nodeA, 6)
	for _, id := range old {
		fx.finish(id, nodeA, store.RunSucceeded)
	}
	if _, err := fx.st.DeliveryRecord(fx.ctx, &store.Delivery{RunID: old[0], Channel: "log", Attempt: 1, Status: store.DeliverySucceeded}); err != nil {
		t.Fatalf("DeliveryRecord: %v", err)
	}
	requeued, err := fx.st.RunRequeue(fx.ctx, &store.RunRequeueParams{ID: queued, Node: nodeA})
	if err != nil || requeued[0] == nil {
		t.Fatalf("RunRequeue: %v", err)
	}
	fx.clock.Advance(2 * time.Hour)
	fx.finish(recent, nodeA, store.RunFailed)
	fx.clock.Advance(30 * time.Minute)

	_, err = fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{})
	wantInvalid(t, "OlderThan zero", err, "older_than")
	_, err = fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: -time.Hour})
	wantInvalid(t, "OlderThan negative", err, "older_than")

	n, err := fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: time.Hour, Limit: 2})
	if err != nil {
		t.Fatalf("RunDeleteFinished: %v", err)
	}
	want(t, "deleted with limit 2", n, 2)
	n, err = fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: time.Hour})
	if err != nil {
		t.Fatalf("RunDeleteFinished: %v", err)
	}
	want(t, "deleted without limit", n, 1)
	for _, id := range old {
		_, err := fx.st.RunGet(fx.ctx, id)
		wantErr(t, "RunGet of a deleted run", err, store.ErrNotFound)
	}
	ds, err := fx.st.DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: old[0]})
	if err != nil {
		t.Fatalf("DeliveryList: %v", err)
	}
	if len(ds) != 0 {
		t.Errorf("deliveries of a deleted run remain: %d", len(ds))
	}
	for _, id := range []string{recent, queued, running} {
		fx.run(id) // still there
	}
	n, err = fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: time.Hour})
	if err != nil {
		t.Fatalf("RunDeleteFinished: %v", err)
	}
	want(t, "deleted when nothing is old enough", n, 0)
	want(t, "runs left", len(fx.runs(store.RunListParams{})), 3)
}

func testRunConcurrentClaimers(t *testing.T, fx *fixture) {
	const total, batch, claimers, limit = 2000, 250, 8, 50
	for i := 0; i < total; i += batch {
		ps := make([]*store.RunEnqueueParams, batch)
		for j := range ps {
			ps[j] = adhoc()
		}
		fx.enqueue(ps...)
	}
	handles := []store.Store{fx.st, fx.open()}
	var (
		mu      sync.Mutex
		claimed = make(map[string]int, total)
		wg      sync.WaitGroup
	)
	for c := range claimers {
		st, node := handles[c%len(handles)], fmt.Sprintf("node-%d", c)
		wg.Go(func() {
			for {
				runs, err := st.RunClaim(fx.ctx, &store.RunClaimParams{Node: node, Limit: limit, Lease: time.Minute})
				if err != nil {
					t.Errorf("%s: RunClaim: %v", node, err)
					return
				}
				if len(runs) == 0 {
					return
				}
				fin := make([]*store.RunFinishParams, len(runs))
				mu.Lock()
				for i, r := range runs {
					claimed[r.ID]++
					if r.Status != store.RunRunning || r.LeaseOwner != node {
						t.Errorf("%s claimed run %s as %s under %q", node, r.ID, r.Status, r.LeaseOwner)
					}
					fin[i] = &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunSucceeded}
				}
				mu.Unlock()
				done, err := st.RunFinish(fx.ctx, fin...)
				if err != nil {
					t.Errorf("%s: RunFinish: %v", node, err)
					return
				}
				for i, r := range done {
					if r == nil || r.Status != store.RunSucceeded {
						t.Errorf("%s: RunFinish result %d = %+v", node, i, r)
					}
				}
			}
		})
	}
	wg.Wait()
	want(t, "runs claimed", len(claimed), total)
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("run %s claimed %d times", id, n)
		}
	}
	succeeded := fx.runs(store.RunListParams{Statuses: []store.RunStatus{store.RunSucceeded}})
	want(t, "succeeded runs", len(succeeded), total)
	left := fx.runs(store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})
	if len(left) != 0 {
		t.Errorf("%d runs left queued or running", len(left))
	}
}

func testRunConcurrentTicks(t *testing.T, fx *fixture, policy store.OverlapPolicy) {
	const n = 16
	s := fx.schedule("report", withOverlap(policy))
	at := fx.now().Add(time.Hour)
	handles := []store.Store{fx.st, fx.open()}
	start := make(chan struct{})
	results := make([]*store.EnqueueResult, n)
	var wg sync.WaitGroup
	for i := range n {
		st := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			res, err := st.RunEnqueue(fx.ctx, tick(s, at))
			if err != nil {
				t.Errorf("goroutine %d: RunEnqueue: %v", i, err)
				return
			}
			results[i] = res[0]
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	fresh := 0
	for i, r := range results {
		if !r.Duplicate {
			fresh++
		}
		if r.Run.ID != results[0].Run.ID {
			t.Errorf("result %d names run %s, result 0 run %s", i, r.Run.ID, results[0].Run.ID)
		}
	}
	want(t, "results with Duplicate unset", fresh, 1)
	runs := fx.runs(store.RunListParams{ScheduleID: s.ID})
	if len(runs) != 1 {
		t.Fatalf("runs of the tick = %v, want 1", runIDs(runs))
	}
	want(t, "status of the tick's run", runs[0].Status, store.RunQueued)
	wantTime(t, "ScheduledFor", runs[0].ScheduledFor, at)
	wantTime(t, "LastFiredAt", fx.getSchedule(s.ID).LastFiredAt, at)
}

// testRunConcurrentDistinctTicks enqueues 16 different ticks of one idle
// schedule at once: the overlap policy must see each insert's predecessors,
// so the outcome is the same as in any serial order.
func testRunConcurrentDistinctTicks(t *testing.T, fx *fixture, policy store.OverlapPolicy, queued, held int) {
	const n = 16
	s := fx.schedule("report", withOverlap(policy))
	handles := []store.Store{fx.st, fx.open()}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		st := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			if _, err := st.RunEnqueue(fx.ctx, tick(s, fx.tickAt(i))); err != nil {
				t.Errorf("goroutine %d: RunEnqueue: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	counts := make(map[string]int)
	for _, r := range fx.runs(store.RunListParams{ScheduleID: s.ID}) {
		key := string(r.Status)
		if r.Status == store.RunQueued && r.Held {
			key = "held"
		}
		counts[key]++
	}
	want(t, "queued runs", counts[string(store.RunQueued)], queued)
	want(t, "held runs", counts["held"], held)
	want(t, "skipped runs", counts[string(store.RunSkipped)], n-queued-held)
	wantTime(t, "LastFiredAt", fx.getSchedule(s.ID).LastFiredAt, fx.tickAt(n-1))
}
