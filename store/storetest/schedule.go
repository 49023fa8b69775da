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

func scheduleTests() []test {
	return []test{
		{"CreateAssignsIDVersionAndDefaults", testScheduleCreate},
		{"CreateRejectsDuplicateName", testScheduleDuplicateName},
		{"CreateRejectsBadInputAndWritesNothing", testScheduleBadInput},
		{"MissingScheduleIsNotFound", testScheduleNotFound},
		{"UpdateReplacesDefinitionAndKeepsBookkeeping", testScheduleUpdate},
		{"UpdateWithStaleVersionIsConflict", testScheduleStaleVersion},
		{"UpdateOntoTakenNameIsConflict", testScheduleRenameConflict},
		{"UpdateRejectsBadInput", testScheduleUpdateBadInput},
		{"PauseAndResumeAreIdempotent", testSchedulePauseResume},
		{"CountActiveCountsUnpausedOfOwner", testScheduleCountActive},
		{"SetTimesDoesNotBumpVersion", testScheduleSetTimes},
		{"DeleteKeepsRunsAndFreesName", testScheduleDelete},
		{"ListPagesInCreationOrder", testScheduleList},
		{"ListSeesEveryRowOnceDuringInserts", testScheduleListDuringInserts},
		{"RecordsAreCopies", testScheduleCopies},
	}
}

func testScheduleCreate(t *testing.T, fx *fixture) {
	in := &store.Schedule{
		Owner:       alice,
		Name:        "daily report",
		Agent:       agent,
		Payload:     json.RawMessage(`{"report": "kpi", "n": 3}`),
		Trigger:     store.Trigger{Kind: store.TriggerCron, Cron: "0 9 * * 1-5", Timezone: "Europe/Paris", Jitter: time.Second},
		MisfireCap:  4,
		Timeout:     time.Minute,
		MaxAttempts: 3,
		Targets:     []store.Target{{Channel: "slack", To: "#ops"}, {Channel: "email", To: "a@example.com", On: delivery.OnFailure}},
		Static:      true,
	}
	got, err := fx.st.ScheduleCreate(fx.ctx, in)
	if err != nil {
		t.Fatalf("ScheduleCreate: %v", err)
	}
	if got.ID == "" {
		t.Fatal("ScheduleCreate assigned no ID")
	}
	if in.ID != "" || in.Version != 0 {
		t.Errorf("ScheduleCreate modified its argument: ID %q, Version %d", in.ID, in.Version)
	}
	check := func(how string, s *store.Schedule) {
		t.Helper()
		want(t, how+" ID", s.ID, got.ID)
		want(t, how+" Owner", s.Owner, alice)
		want(t, how+" Name", s.Name, "daily report")
		want(t, how+" Agent", s.Agent, agent)
		wantJSON(t, how+" Payload", s.Payload, in.Payload)
		want(t, how+" Trigger.Kind", s.Trigger.Kind, store.TriggerCron)
		want(t, how+" Trigger.Cron", s.Trigger.Cron, "0 9 * * 1-5")
		want(t, how+" Trigger.Timezone", s.Trigger.Timezone, "Europe/Paris")
		want(t, how+" Trigger.Jitter", s.Trigger.Jitter, time.Second)
		want(t, how+" Overlap", s.Overlap, store.OverlapSkip)
		want(t, how+" Misfire", s.Misfire, store.MisfireRunOnce)
		want(t, how+" MisfireCap", s.MisfireCap, 4)
		want(t, how+" Timeout", s.Timeout, time.Minute)
		want(t, how+" MaxAttempts", s.MaxAttempts, 3)
		want(t, how+" Static", s.Static, true)
		want(t, how+" Paused", s.Paused, false)
		want(t, how+" Version", s.Version, int64(1))
		wantTime(t, how+" CreatedAt", s.CreatedAt, fx.now())
		wantTime(t, how+" UpdatedAt", s.UpdatedAt, fx.now())
		if len(s.Targets) != 2 {
			t.Fatalf("%s Targets = %+v, want 2", how, s.Targets)
		}
		want(t, how+" Targets[0]", s.Targets[0], store.Target{Channel: "slack", To: "#ops", On: delivery.OnAlways})
		want(t, how+" Targets[1]", s.Targets[1], store.Target{Channel: "email", To: "a@example.com", On: delivery.OnFailure})
	}
	check("created", got)
	other, err := fx.open().ScheduleGet(fx.ctx, got.ID)
	if err != nil {
		t.Fatalf("ScheduleGet on another handle: %v", err)
	}
	check("read by another handle", other)

	utc := fx.schedule("utc by default")
	want(t, "empty time zone stored as", utc.Trigger.Timezone, "UTC")
}

func testScheduleDuplicateName(t *testing.T, fx *fixture) {
	first := fx.schedule("nightly")
	_, err := fx.st.ScheduleCreate(fx.ctx, &store.Schedule{
		Owner: alice, Name: "nightly", Agent: "other",
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Minute},
	})
	wantErr(t, "second schedule of the same name", err, store.ErrConflict)
	fx.schedule("nightly", func(s *store.Schedule) { s.Owner = bob }) // another owner may
	got := fx.schedules(store.ScheduleListParams{Owner: alice})
	wantIDs(t, "alice's schedules", scheduleIDs(got), []string{first.ID})
	want(t, "agent of the first", got[0].Agent, agent)
}

func testScheduleBadInput(t *testing.T, fx *fixture) {
	valid := func() *store.Schedule {
		return &store.Schedule{
			Owner: alice, Name: "x", Agent: agent,
			Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Minute},
		}
	}
	cases := []struct {
		name  string
		edit  func(*store.Schedule)
		field string
	}{
		{"empty agent", func(s *store.Schedule) { s.Agent = "" }, "agent"},
		{"empty owner", func(s *store.Schedule) { s.Owner = "" }, "owner"},
		{"empty name", func(s *store.Schedule) { s.Name = " " }, "name"},
		{"no trigger", func(s *store.Schedule) { s.Trigger = store.Trigger{} }, "trigger.kind"},
		{"unknown trigger kind", func(s *store.Schedule) { s.Trigger.Kind = "hourly" }, "trigger.kind"},
		{"interval not positive", func(s *store.Schedule) { s.Trigger.Interval = 0 }, "trigger.interval"},
		{"cron without expression", func(s *store.Schedule) { s.Trigger = store.Trigger{Kind: store.TriggerCron} }, "trigger.cron"},
		{"cron expression out of range", func(s *store.Schedule) {
			s.Trigger = store.Trigger{Kind: store.TriggerCron, Cron: "0,61 * * * *"}
		}, "trigger.cron"},
		{"interval under a second", func(s *store.Schedule) { s.Trigger.Interval = time.Millisecond }, "trigger.interval"},
		{"zone of the node", func(s *store.Schedule) { s.Trigger.Timezone = "Local" }, "trigger.timezone"},
		{"once without instant", func(s *store.Schedule) { s.Trigger = store.Trigger{Kind: store.TriggerOnce} }, "trigger.at"},
		{"unknown time zone", func(s *store.Schedule) { s.Trigger.Timezone = "Mars/Olympus" }, "trigger.timezone"},
		{"end before start", func(s *store.Schedule) {
			s.Trigger.StartAt = fx.now()
			s.Trigger.EndAt = fx.now().Add(-time.Hour)
		}, "trigger.end_at"},
		{"negative timeout", func(s *store.Schedule) { s.Timeout = -time.Second }, "timeout"},
		{"negative max attempts", func(s *store.Schedule) { s.MaxAttempts = -1 }, "max_attempts"},
		{"unknown overlap policy", func(s *store.Schedule) { s.Overlap = "queue" }, "overlap"},
		{"unknown misfire policy", func(s *store.Schedule) { s.Misfire = "later" }, "misfire"},
		{"target without channel", func(s *store.Schedule) { s.Targets = []store.Target{{Channel: "log"}, {To: "x"}} }, "targets[1].channel"},
		{"payload not JSON", func(s *store.Schedule) { s.Payload = json.RawMessage(`{"a":`) }, "payload"},
		{"oversized payload", func(s *store.Schedule) { s.Payload = jsonString(store.MaxPayloadDefault + 1) }, "payload"},
		{"once past year 9999", func(s *store.Schedule) {
			s.Trigger = store.Trigger{Kind: store.TriggerOnce, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
		}, "trigger.at"},
		{"next run past year 9999", func(s *store.Schedule) { s.NextRunAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "next_run_at"},
	}
	for _, tc := range cases {
		s := valid()
		tc.edit(s)
		_, err := fx.st.ScheduleCreate(fx.ctx, s)
		wantInvalid(t, tc.name, err, tc.field)
	}
	if got := fx.schedules(store.ScheduleListParams{}); len(got) != 0 {
		t.Errorf("refused schedules were written: %v", scheduleIDs(got))
	}
	n, err := fx.st.ScheduleCountActive(fx.ctx, alice)
	if err != nil || n != 0 {
		t.Errorf("ScheduleCountActive = %d, %v; want 0", n, err)
	}
}

func testScheduleNotFound(t *testing.T, fx *fixture) {
	_, err := fx.st.ScheduleGet(fx.ctx, missingID)
	wantErr(t, "ScheduleGet", err, store.ErrNotFound)
	_, err = fx.st.ScheduleUpdate(fx.ctx, &store.Schedule{
		ID: missingID, Owner: alice, Name: "x", Agent: agent,
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Minute},
	})
	wantErr(t, "ScheduleUpdate", err, store.ErrNotFound)
	wantErr(t, "ScheduleDelete", fx.st.ScheduleDelete(fx.ctx, missingID), store.ErrNotFound)
	_, err = fx.st.SchedulePause(fx.ctx, missingID)
	wantErr(t, "SchedulePause", err, store.ErrNotFound)
	_, err = fx.st.ScheduleResume(fx.ctx, missingID)
	wantErr(t, "ScheduleResume", err, store.ErrNotFound)
	next := fx.now()
	_, err = fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: missingID, NextRunAt: &next})
	wantErr(t, "ScheduleSetTimes", err, store.ErrNotFound)
	if got := fx.schedules(store.ScheduleListParams{}); len(got) != 0 {
		t.Errorf("schedules appeared: %v", scheduleIDs(got))
	}
}

func testScheduleUpdate(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	created := fx.now()
	lastRun, lastFired := created.Add(-time.Hour), created.Add(-30*time.Minute)
	if _, err := fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, LastRunAt: &lastRun, LastFiredAt: &lastFired}); err != nil {
		t.Fatalf("ScheduleSetTimes: %v", err)
	}
	fx.clock.Advance(time.Minute)
	next := fx.now().Add(time.Hour)

	u := *s
	u.Name = "weekly report"
	u.Agent = "reporter"
	u.Payload = json.RawMessage(`{"week": true}`)
	u.Trigger = store.Trigger{Kind: store.TriggerCron, Cron: "0 1 * * 1", Timezone: "America/New_York"}
	u.Overlap = store.OverlapBufferAll
	u.Misfire = store.MisfireRunAll
	u.MisfireCap = 7
	u.Timeout = 2 * time.Minute
	u.MaxAttempts = 5
	u.Targets = []store.Target{{Channel: "log"}}
	u.Paused = true
	u.NextRunAt = next
	// Fields the store keeps, whatever the caller sends:
	u.Owner = ""
	u.Static = true
	u.CreatedAt = time.Time{}
	u.LastRunAt = time.Time{}
	u.LastFiredAt = time.Time{}

	got, err := fx.st.ScheduleUpdate(fx.ctx, &u)
	if err != nil {
		t.Fatalf("ScheduleUpdate: %v", err)
	}
	for how, g := range map[string]*store.Schedule{"updated": got, "read back": fx.getSchedule(s.ID)} {
		want(t, how+" Name", g.Name, "weekly report")
		want(t, how+" Agent", g.Agent, "reporter")
		wantJSON(t, how+" Payload", g.Payload, u.Payload)
		want(t, how+" Trigger.Cron", g.Trigger.Cron, "0 1 * * 1")
		want(t, how+" Trigger.Timezone", g.Trigger.Timezone, "America/New_York")
		want(t, how+" Overlap", g.Overlap, store.OverlapBufferAll)
		want(t, how+" Misfire", g.Misfire, store.MisfireRunAll)
		want(t, how+" MisfireCap", g.MisfireCap, 7)
		want(t, how+" Timeout", g.Timeout, 2*time.Minute)
		want(t, how+" MaxAttempts", g.MaxAttempts, 5)
		if len(g.Targets) != 1 || g.Targets[0].Channel != "log" {
			t.Errorf("%s Targets = %+v, want [log]", how, g.Targets)
		}
		want(t, how+" Paused", g.Paused, true)
		wantTime(t, how+" NextRunAt", g.NextRunAt, next)
		want(t, how+" Version", g.Version, int64(2))
		want(t, how+" Owner (kept)", g.Owner, alice)
		want(t, how+" Static (kept)", g.Static, false)
		wantTime(t, how+" CreatedAt (kept)", g.CreatedAt, created)
		wantTime(t, how+" LastRunAt (kept)", g.LastRunAt, lastRun)
		wantTime(t, how+" LastFiredAt (kept)", g.LastFiredAt, lastFired)
		wantTime(t, how+" UpdatedAt", g.UpdatedAt, fx.now())
	}
	// The old name is free again.
	fx.schedule("report")
}

func testScheduleStaleVersion(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	u := *s // Version 1
	u.Agent = "first"
	if _, err := fx.st.ScheduleUpdate(fx.ctx, &u); err != nil {
		t.Fatalf("ScheduleUpdate at version 1: %v", err)
	}
	u.Agent = "second" // still Version 1: stale
	_, err := fx.st.ScheduleUpdate(fx.ctx, &u)
	wantErr(t, "update at a stale version", err, store.ErrConflict)
	got := fx.getSchedule(s.ID)
	want(t, "Agent after the refused update", got.Agent, "first")
	want(t, "Version after the refused update", got.Version, int64(2))

	u.Version = 0 // unconditional
	u.Agent = "third"
	got, err = fx.st.ScheduleUpdate(fx.ctx, &u)
	if err != nil {
		t.Fatalf("ScheduleUpdate at version 0: %v", err)
	}
	want(t, "Agent", got.Agent, "third")
	want(t, "Version", got.Version, int64(3))
}

func testScheduleRenameConflict(t *testing.T, fx *fixture) {
	fx.schedule("a")
	b := fx.schedule("b")
	fx.schedule("c", func(s *store.Schedule) { s.Owner = bob })
	u := *b
	u.Name = "a"
	_, err := fx.st.ScheduleUpdate(fx.ctx, &u)
	wantErr(t, "renaming onto a taken name", err, store.ErrConflict)
	got := fx.getSchedule(b.ID)
	want(t, "Name after the refused rename", got.Name, "b")
	want(t, "Version after the refused rename", got.Version, int64(1))

	u.Name = "c" // bob's name: free for alice
	got, err = fx.st.ScheduleUpdate(fx.ctx, &u)
	if err != nil {
		t.Fatalf("renaming onto another owner's name: %v", err)
	}
	want(t, "Name", got.Name, "c")
}

func testScheduleUpdateBadInput(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	u := *s
	u.Agent = ""
	u.Paused = true
	_, err := fx.st.ScheduleUpdate(fx.ctx, &u)
	wantInvalid(t, "update without agent", err, "agent")
	u = *s
	u.Trigger = store.Trigger{}
	_, err = fx.st.ScheduleUpdate(fx.ctx, &u)
	wantInvalid(t, "update without trigger", err, "trigger.kind")
	got := fx.getSchedule(s.ID)
	want(t, "Version", got.Version, int64(1))
	want(t, "Agent", got.Agent, agent)
	want(t, "Paused", got.Paused, false)
}

func testSchedulePauseResume(t *testing.T, fx *fixture) {
	s := fx.schedule("report")
	steps := []struct {
		op      string
		paused  bool
		version int64
	}{
		{"pause", true, 2},
		{"pause", true, 2},
		{"resume", false, 3},
		{"resume", false, 3},
		{"pause", true, 4},
	}
	for i, st := range steps {
		fx.clock.Advance(time.Second)
		var got *store.Schedule
		var err error
		if st.op == "pause" {
			got, err = fx.st.SchedulePause(fx.ctx, s.ID)
		} else {
			got, err = fx.st.ScheduleResume(fx.ctx, s.ID)
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.op, err)
		}
		what := fmt.Sprintf("step %d (%s)", i, st.op)
		want(t, what+" Paused", got.Paused, st.paused)
		want(t, what+" Version", got.Version, st.version)
		back := fx.getSchedule(s.ID)
		want(t, what+" read back Paused", back.Paused, st.paused)
		want(t, what+" read back Version", back.Version, st.version)
	}
}

func testScheduleCountActive(t *testing.T, fx *fixture) {
	fx.schedule("a")
	b := fx.schedule("b")
	fx.schedule("c", func(s *store.Schedule) { s.Paused = true })
	fx.schedule("d", func(s *store.Schedule) { s.Owner = bob })
	count := func(owner string, n int) {
		t.Helper()
		got, err := fx.st.ScheduleCountActive(fx.ctx, owner)
		if err != nil {
			t.Fatalf("ScheduleCountActive(%s): %v", owner, err)
		}
		want(t, "active schedules of "+owner, got, n)
	}
	count(alice, 2)
	count(bob, 1)
	count("carol", 0)
	if _, err := fx.st.SchedulePause(fx.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	count(alice, 1)
}

func testScheduleSetTimes(t *testing.T, fx *fixture) {
	first := fx.now().Add(time.Hour)
	s := fx.schedule("report", func(s *store.Schedule) { s.NextRunAt = first })
	wantTime(t, "NextRunAt as created", s.NextRunAt, first)
	fx.clock.Advance(time.Minute)
	next, lastRun, lastFired := fx.now().Add(2*time.Hour), fx.now().Add(-time.Second), fx.now().Add(-time.Minute)
	got, err := fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, NextRunAt: &next, LastRunAt: &lastRun, LastFiredAt: &lastFired})
	if err != nil {
		t.Fatalf("ScheduleSetTimes: %v", err)
	}
	for how, g := range map[string]*store.Schedule{"set": got, "read back": fx.getSchedule(s.ID)} {
		wantTime(t, how+" NextRunAt", g.NextRunAt, next)
		wantTime(t, how+" LastRunAt", g.LastRunAt, lastRun)
		wantTime(t, how+" LastFiredAt", g.LastFiredAt, lastFired)
		want(t, how+" Version", g.Version, int64(1))
	}
	// nil leaves a time alone; a pointer to the zero time clears it.
	var zero time.Time
	got, err = fx.st.ScheduleSetTimes(fx.ctx, &store.ScheduleSetTimesParams{ID: s.ID, NextRunAt: &zero})
	if err != nil {
		t.Fatalf("ScheduleSetTimes: %v", err)
	}
	for how, g := range map[string]*store.Schedule{"cleared": got, "read back": fx.getSchedule(s.ID)} {
		if !g.NextRunAt.IsZero() {
			t.Errorf("%s NextRunAt = %v, want zero", how, g.NextRunAt)
		}
		wantTime(t, how+" LastRunAt", g.LastRunAt, lastRun)
		wantTime(t, how+" LastFiredAt", g.LastFiredAt, lastFired)
		want(t, how+" Version", g.Version, int64(1))
	}
}

func testScheduleDelete(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	r1 := fx.enqueueRun(manual(s))
	r2 := fx.enqueueRun(tick(s, fx.now()))
	if err := fx.st.ScheduleDelete(fx.ctx, s.ID); err != nil {
		t.Fatalf("ScheduleDelete: %v", err)
	}
	_, err := fx.st.ScheduleGet(fx.ctx, s.ID)
	wantErr(t, "ScheduleGet after delete", err, store.ErrNotFound)
	wantErr(t, "second ScheduleDelete", fx.st.ScheduleDelete(fx.ctx, s.ID), store.ErrNotFound)
	for _, r := range []*store.Run{r1, r2} {
		got := fx.run(r.ID)
		want(t, "ScheduleID of a run of the deleted schedule", got.ScheduleID, s.ID)
	}
	runs := fx.runs(store.RunListParams{ScheduleID: s.ID})
	if len(runs) != 2 {
		t.Errorf("runs of the deleted schedule = %v, want 2", runIDs(runs))
	}
	_, err = fx.st.RunEnqueue(fx.ctx, manual(s))
	wantErr(t, "RunEnqueue for a deleted schedule", err, store.ErrNotFound)
	again := fx.schedule("report")
	if again.ID == s.ID {
		t.Errorf("a new schedule reused the deleted one's ID %s", s.ID)
	}
}

func testScheduleList(t *testing.T, fx *fixture) {
	var mine []string
	for i := range 5 {
		mine = append(mine, fx.schedule(fmt.Sprintf("s%d", i)).ID)
		if i == 1 {
			fx.schedule("b0", func(s *store.Schedule) { s.Owner = bob })
			fx.schedule("b1", func(s *store.Schedule) { s.Owner = bob })
		}
	}
	var got []string
	params := &store.ScheduleListParams{Owner: alice, Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 schedules; so far %v", got)
		}
		page, err := fx.st.ScheduleList(fx.ctx, params)
		if err != nil {
			t.Fatalf("ScheduleList: %v", err)
		}
		if len(page.Schedules) > 2 {
			t.Fatalf("page of %d schedules, limit 2", len(page.Schedules))
		}
		got = append(got, scheduleIDs(page.Schedules)...)
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	wantIDs(t, "alice's schedules, page by page", got, mine)

	page, err := fx.st.ScheduleList(fx.ctx, &store.ScheduleListParams{Owner: bob, Limit: 2})
	if err != nil {
		t.Fatalf("ScheduleList: %v", err)
	}
	want(t, "bob's schedules", len(page.Schedules), 2)
	want(t, "Next of a last page that is exactly full", page.Next, "")

	page, err = fx.st.ScheduleList(fx.ctx, &store.ScheduleListParams{Owner: alice, Name: "s3"})
	if err != nil {
		t.Fatalf("ScheduleList: %v", err)
	}
	wantIDs(t, "schedule named s3", scheduleIDs(page.Schedules), []string{mine[3]})

	all := fx.schedules(store.ScheduleListParams{})
	want(t, "all schedules", len(all), 7)
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Errorf("schedules not in ascending ID order: %v", scheduleIDs(all))
			break
		}
	}
}

func testScheduleListDuringInserts(t *testing.T, fx *fixture) {
	before := make(map[string]bool)
	for i := range 40 {
		before[fx.schedule(fmt.Sprintf("before-%d", i)).ID] = true
	}
	writer := fx.open()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 60 {
			select {
			case <-stop:
				return
			default:
			}
			_, err := writer.ScheduleCreate(fx.ctx, &store.Schedule{
				Owner: alice, Name: fmt.Sprintf("during-%d", i), Agent: agent,
				Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Hour},
			})
			if err != nil {
				t.Errorf("ScheduleCreate during paging: %v", err)
				return
			}
		}
	})
	seen := make(map[string]int)
	params := &store.ScheduleListParams{Limit: 7}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Errorf("paging does not end")
			break
		}
		page, err := fx.st.ScheduleList(fx.ctx, params)
		if err != nil {
			t.Errorf("ScheduleList: %v", err)
			break
		}
		for _, s := range page.Schedules {
			seen[s.ID]++
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
			t.Errorf("schedule %s seen %d times", id, n)
		}
	}
	for id := range before {
		if seen[id] == 0 {
			t.Errorf("schedule %s, there before paging began, was never seen", id)
		}
	}
}

func testScheduleCopies(t *testing.T, fx *fixture) {
	in := &store.Schedule{
		Owner: alice, Name: "copy", Agent: agent,
		Payload: json.RawMessage(`{"a":1}`),
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Hour},
		Targets: []store.Target{{Channel: "log"}},
	}
	got, err := fx.st.ScheduleCreate(fx.ctx, in)
	if err != nil {
		t.Fatalf("ScheduleCreate: %v", err)
	}
	in.Payload[5] = '9'
	in.Targets[0].Channel = "changed input"
	got.Payload[5] = '8'
	got.Targets[0].Channel = "changed output"
	back := fx.getSchedule(got.ID)
	wantJSON(t, "Payload", back.Payload, json.RawMessage(`{"a":1}`))
	want(t, "Targets[0].Channel", back.Targets[0].Channel, "log")
}
