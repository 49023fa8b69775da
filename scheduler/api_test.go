package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

func TestNewRefusesInvalidConfig(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	cases := []struct {
		name  string
		cfg   scheduler.Config
		field string
	}{
		{"negative workers", scheduler.Config{Workers: -1}, "Workers"},
		{"short lease", scheduler.Config{Lease: 10 * time.Millisecond}, "Lease"},
		{"negative timeout", scheduler.Config{DefaultTimeout: -time.Second}, "DefaultTimeout"},
		{"retry max under base", scheduler.Config{Retry: scheduler.RetryPolicy{Base: time.Minute, Max: time.Second}}, "Retry.Max"},
		{"negative policy", scheduler.Config{Policy: scheduler.Policy{MaxActiveSchedules: -1}}, "Policy.MaxActiveSchedules"},
		{"nil static", scheduler.Config{Static: []*store.Schedule{nil}}, "Static[0]"},
		{"static twice", scheduler.Config{
			Agents: registry(map[string]agent.Agent{"ok": okAgent()}),
			Static: []*store.Schedule{cronSchedule("a", "ok", "@daily"), cronSchedule("a", "ok", "@hourly")},
		}, "Static[1].Name"},
		{"static bad cron", scheduler.Config{
			Agents: registry(map[string]agent.Agent{"ok": okAgent()}),
			Static: []*store.Schedule{cronSchedule("a", "ok", "61 * * * *")},
		}, "Static[0].trigger.cron"},
		{"static unknown agent", scheduler.Config{Static: []*store.Schedule{cronSchedule("a", "nope", "@daily")}}, "Static[0].agent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := scheduler.New(st, c.cfg)
			if err == nil {
				t.Fatalf("New accepted %+v", c.cfg)
			}
			if s != nil {
				t.Error("New returned a scheduler with its error")
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %s", err, c.field)
			}
		})
	}
	if _, err := scheduler.New(nil, scheduler.Config{}); err == nil {
		t.Error("New accepted a nil store")
	}
}

// newAPI returns a scheduler that is not started, for the API alone.
func newAPI(t *testing.T, pol scheduler.Policy) (*scheduler.Scheduler, store.Store) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	router := delivery.NewRouter()
	router.MustRegister("log", &recorder{})
	s, err := scheduler.New(st, scheduler.Config{
		Agents:   registry(map[string]agent.Agent{"ok": okAgent()}),
		Delivery: router,
		Policy:   pol,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestScheduleLifecycle(t *testing.T) {
	s, _ := newAPI(t, scheduler.Policy{})
	sch, err := s.CreateSchedule(ctx, alice, cronSchedule("report", "ok", "0 9 * * 1-5"))
	if err != nil {
		t.Fatal(err)
	}
	if sch.Owner != "alice" || sch.Version != 1 {
		t.Errorf("created owner %q version %d, want alice 1", sch.Owner, sch.Version)
	}
	if sch.NextRunAt.IsZero() || sch.NextRunAt.Hour() != 9 || sch.NextRunAt.Weekday() == time.Saturday || sch.NextRunAt.Weekday() == time.Sunday {
		t.Errorf("NextRunAt = %v, want a weekday at 09:00", sch.NextRunAt)
	}
	got, err := s.GetSchedule(ctx, alice, sch.ID)
	if err != nil || got.Name != "report" {
		t.Fatalf("get: %v %v", got, err)
	}
	upd := *got
	upd.Trigger.Cron = "30 10 * * *"
	got, err = s.UpdateSchedule(ctx, alice, &upd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.NextRunAt.Hour() != 10 || got.NextRunAt.Minute() != 30 {
		t.Errorf("updated version %d next %v, want 2 and 10:30", got.Version, got.NextRunAt)
	}
	if got, err = s.PauseSchedule(ctx, alice, sch.ID); err != nil || !got.Paused || !got.NextRunAt.IsZero() {
		t.Errorf("pause: paused %v next %v err %v", got.Paused, got.NextRunAt, err)
	}
	if got, err = s.ResumeSchedule(ctx, alice, sch.ID); err != nil || got.Paused || got.NextRunAt.IsZero() {
		t.Errorf("resume: paused %v next %v err %v", got.Paused, got.NextRunAt, err)
	}
	run, err := s.RunNow(ctx, alice, sch.ID)
	if err != nil || run.Kind != store.RunKindManual || run.ScheduleID != sch.ID || run.Owner != "alice" {
		t.Fatalf("run now: %+v %v", run, err)
	}
	if run.MaxAttempts != scheduler.MaxAttemptsDefault {
		t.Errorf("manual run MaxAttempts = %d, want the default %d", run.MaxAttempts, scheduler.MaxAttemptsDefault)
	}
	page, err := s.ListRuns(ctx, alice, store.RunListParams{ScheduleID: sch.ID})
	if err != nil || len(page.Runs) != 1 {
		t.Fatalf("list runs: %d %v", len(page.Runs), err)
	}
	if err := s.DeleteSchedule(ctx, alice, sch.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSchedule(ctx, alice, sch.ID)
	wantErr(t, "get after delete", err, store.ErrNotFound)
}

func TestOwnerIsolation(t *testing.T) {
	s, st := newAPI(t, scheduler.Policy{})
	sch, err := s.CreateSchedule(ctx, alice, cronSchedule("report", "ok", "@daily"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.Enqueue(ctx, alice, scheduler.EnqueueRequest{Agent: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSchedule(ctx, bob, sch.ID)
	wantErr(t, "bob gets alice's schedule", err, store.ErrNotFound)
	upd := *sch
	upd.Name = "hijacked"
	_, err = s.UpdateSchedule(ctx, bob, &upd)
	wantErr(t, "bob updates", err, store.ErrNotFound)
	wantErr(t, "bob deletes", s.DeleteSchedule(ctx, bob, sch.ID), store.ErrNotFound)
	_, err = s.PauseSchedule(ctx, bob, sch.ID)
	wantErr(t, "bob pauses", err, store.ErrNotFound)
	_, err = s.ResumeSchedule(ctx, bob, sch.ID)
	wantErr(t, "bob resumes", err, store.ErrNotFound)
	_, err = s.RunNow(ctx, bob, sch.ID)
	wantErr(t, "bob runs now", err, store.ErrNotFound)
	_, err = s.GetRun(ctx, bob, run.ID)
	wantErr(t, "bob gets the run", err, store.ErrNotFound)
	_, err = s.CancelRun(ctx, bob, run.ID, "")
	wantErr(t, "bob cancels the run", err, store.ErrNotFound)
	_, err = s.Enqueue(ctx, bob, scheduler.EnqueueRequest{Agent: "ok", Owner: "alice"})
	wantInvalid(t, "bob enqueues for alice", err, "owner")
	_, err = s.CreateSchedule(ctx, bob, &store.Schedule{Owner: "alice", Name: "x", Agent: "ok", Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "@daily"}})
	wantInvalid(t, "bob creates for alice", err, "owner")
	if page, err := s.ListSchedules(ctx, bob, store.ScheduleListParams{}); err != nil || len(page.Schedules) != 0 {
		t.Errorf("bob lists %d schedules (%v), want 0", len(page.Schedules), err)
	}
	if page, err := s.ListSchedules(ctx, bob, store.ScheduleListParams{Owner: "alice"}); err != nil || len(page.Schedules) != 0 {
		t.Errorf("bob lists alice's: %d schedules (%v), want 0", len(page.Schedules), err)
	}
	if page, err := s.ListRuns(ctx, bob, store.RunListParams{}); err != nil || len(page.Runs) != 0 {
		t.Errorf("bob lists %d runs (%v), want 0", len(page.Runs), err)
	}
	// Nothing changed.
	got, err := st.ScheduleGet(ctx, sch.ID)
	if err != nil || got.Name != "report" || got.Paused || got.Version != 1 {
		t.Errorf("alice's schedule after bob: %+v %v", got, err)
	}
	r, err := st.RunGet(ctx, run.ID)
	if err != nil || r.Status != store.RunQueued {
		t.Errorf("alice's run after bob: %v %v", r.Status, err)
	}
	if page, _ := st.RunList(ctx, &store.RunListParams{}); len(page.Runs) != 1 {
		t.Errorf("%d runs in the store, want 1", len(page.Runs))
	}
	// An admin sees and changes everything.
	if _, err := s.GetSchedule(ctx, admin, sch.ID); err != nil {
		t.Errorf("admin get: %v", err)
	}
	if page, err := s.ListSchedules(ctx, admin, store.ScheduleListParams{}); err != nil || len(page.Schedules) != 1 {
		t.Errorf("admin lists %d (%v), want 1", len(page.Schedules), err)
	}
	if _, err := s.CancelRun(ctx, admin, run.ID, ""); err != nil {
		t.Errorf("admin cancel: %v", err)
	}
}

func TestScheduleInputIsChecked(t *testing.T) {
	s, st := newAPI(t, scheduler.Policy{})
	cases := []struct {
		name  string
		edit  func(*store.Schedule)
		field string
	}{
		{"four fields", func(s *store.Schedule) { s.Trigger.Cron = "* * * *" }, "trigger.cron"},
		{"bad minute", func(s *store.Schedule) { s.Trigger.Cron = "61 * * * *" }, "trigger.cron"},
		{"unknown descriptor", func(s *store.Schedule) { s.Trigger.Cron = "@fortnightly" }, "trigger.cron"},
		{"unknown zone", func(s *store.Schedule) { s.Trigger.Timezone = "Mars/Olympus" }, "trigger.timezone"},
		{"no interval", func(s *store.Schedule) { s.Trigger = store.Trigger{Kind: store.TriggerInterval} }, "trigger.interval"},
		{"once without at", func(s *store.Schedule) { s.Trigger = store.Trigger{Kind: store.TriggerOnce} }, "trigger.at"},
		{"unknown agent", func(s *store.Schedule) { s.Agent = "nope" }, "agent"},
		{"unknown channel", func(s *store.Schedule) { s.Targets = []store.Target{{Channel: "pigeon"}} }, "targets[0].channel"},
		{"bad overlap", func(s *store.Schedule) { s.Overlap = "sometimes" }, "overlap"},
		{"empty name", func(s *store.Schedule) { s.Name = "" }, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sch := cronSchedule("report", "ok", "@daily")
			c.edit(sch)
			_, err := s.CreateSchedule(ctx, alice, sch)
			wantInvalid(t, "create", err, c.field)
		})
	}
	if page, _ := st.ScheduleList(ctx, &store.ScheduleListParams{}); len(page.Schedules) != 0 {
		t.Errorf("refused creates stored %d schedules", len(page.Schedules))
	}
	_, err := s.Enqueue(ctx, alice, scheduler.EnqueueRequest{Agent: "nope"})
	wantInvalid(t, "enqueue an unknown agent", err, "agent")
	_, err = s.Enqueue(ctx, alice, scheduler.EnqueueRequest{Agent: "ok", Payload: []byte("{")})
	wantInvalid(t, "enqueue bad JSON", err, "payload")
}

func TestPolicies(t *testing.T) {
	s, st := newAPI(t, scheduler.Policy{MaxActiveSchedules: 2, MinInterval: 15 * time.Minute, MaxTimeout: time.Hour})
	if _, err := s.CreateSchedule(ctx, alice, cronSchedule("every5", "ok", "*/5 * * * *")); err == nil {
		t.Error("*/5 * * * * accepted under a 15-minute minimum interval")
	} else {
		wantInvalid(t, "every 5 minutes", err, "trigger")
	}
	every := &store.Schedule{Name: "every10m", Agent: "ok", Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: 10 * time.Minute}}
	_, err := s.CreateSchedule(ctx, alice, every)
	wantInvalid(t, "an interval of 10 minutes", err, "trigger")
	_, err = s.CreateSchedule(ctx, alice, cronSchedule("twice", "ok", "0,5 9 * * *"))
	wantInvalid(t, "two fires five minutes apart each day", err, "trigger")
	slow := cronSchedule("slow", "ok", "@daily")
	slow.Timeout = 2 * time.Hour
	_, err = s.CreateSchedule(ctx, alice, slow)
	wantInvalid(t, "a timeout over the maximum", err, "timeout")
	_, err = s.Enqueue(ctx, alice, scheduler.EnqueueRequest{Agent: "ok", Timeout: 2 * time.Hour})
	wantInvalid(t, "an enqueued timeout over the maximum", err, "timeout")

	weekdays, err := s.CreateSchedule(ctx, alice, cronSchedule("weekdays", "ok", "0 9 * * 1-5"))
	if err != nil {
		t.Fatalf("0 9 * * 1-5 under a 15-minute minimum: %v", err)
	}
	if _, err := s.CreateSchedule(ctx, alice, cronSchedule("hourly", "ok", "@hourly")); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateSchedule(ctx, alice, cronSchedule("third", "ok", "@daily"))
	wantErr(t, "a third active schedule", err, store.ErrLimit)
	paused := cronSchedule("paused", "ok", "@daily")
	paused.Paused = true
	if _, err := s.CreateSchedule(ctx, alice, paused); err != nil {
		t.Errorf("a paused schedule over the limit: %v", err)
	}
	if _, err := s.CreateSchedule(ctx, bob, cronSchedule("bobs", "ok", "@daily")); err != nil {
		t.Errorf("the limit is per owner: %v", err)
	}
	if _, err := s.PauseSchedule(ctx, alice, weekdays.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSchedule(ctx, alice, cronSchedule("third", "ok", "@daily")); err != nil {
		t.Fatalf("after a pause: %v", err)
	}
	_, err = s.ResumeSchedule(ctx, alice, weekdays.ID)
	wantErr(t, "resume over the limit", err, store.ErrLimit)
	if n, _ := st.ScheduleCountActive(ctx, "alice"); n != 2 {
		t.Errorf("alice has %d active schedules, want 2", n)
	}
}

func TestStaticSchedules(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	agents := registry(map[string]agent.Agent{"ok": okAgent()})
	static := cronSchedule("weekly_kpi_report", "ok", "0 1 * * 1")
	start := func(static ...*store.Schedule) *scheduler.Scheduler {
		s, err := scheduler.New(st, scheduler.Config{Agents: agents, Static: static})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(ctx) })
		return s
	}
	s := start(static)
	page, err := s.ListSchedules(ctx, admin, store.ScheduleListParams{Owner: scheduler.StaticOwner})
	if err != nil || len(page.Schedules) != 1 || !page.Schedules[0].Static {
		t.Fatalf("static schedules: %+v %v", page, err)
	}
	sch := page.Schedules[0]
	upd := *sch
	upd.Trigger.Cron = "@hourly"
	_, err = s.UpdateSchedule(ctx, admin, &upd)
	wantErr(t, "update a static schedule", err, scheduler.ErrStatic)
	wantErr(t, "delete a static schedule", s.DeleteSchedule(ctx, admin, sch.ID), scheduler.ErrStatic)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A second start with the same declaration changes nothing; a changed
	// declaration updates the schedule in place.
	s = start(static)
	if got, _ := st.ScheduleGet(ctx, sch.ID); got.Version != sch.Version {
		t.Errorf("an unchanged static schedule went from version %d to %d", sch.Version, got.Version)
	}
	s.Stop(ctx)
	changed := cronSchedule("weekly_kpi_report", "ok", "0 2 * * 1")
	s = start(changed)
	got, err := st.ScheduleGet(ctx, sch.ID)
	if err != nil || got.Trigger.Cron != "0 2 * * 1" || !got.Static {
		t.Errorf("changed static schedule: %+v %v", got, err)
	}
	_, err = s.PauseSchedule(ctx, scheduler.Principal{Subject: scheduler.StaticOwner}, sch.ID)
	wantErr(t, "a non-admin owner pauses a static schedule", err, scheduler.ErrStatic)
	if _, err := s.PauseSchedule(ctx, admin, sch.ID); err != nil {
		t.Fatal(err)
	}
	s.Stop(ctx)
	s = start(changed) // an admin's pause outlives a restart
	if got, _ := st.ScheduleGet(ctx, sch.ID); !got.Paused {
		t.Error("a restart resumed a static schedule an admin paused")
	}
	s.Stop(ctx)

	// A static schedule no longer declared is deleted at start, when the
	// config asks for it.
	s = start()
	if _, err := st.ScheduleGet(ctx, sch.ID); err != nil {
		t.Errorf("an undeclared static schedule was deleted without PruneStatic: %v", err)
	}
	s.Stop(ctx)
	pruner, err := scheduler.New(st, scheduler.Config{Agents: agents, PruneStatic: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pruner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pruner.Stop(ctx)
	_, err = st.ScheduleGet(ctx, sch.ID)
	wantErr(t, "an undeclared static schedule", err, store.ErrNotFound)

	// A user's schedule of the same owner and name is not taken over.
	api, _ := scheduler.New(st, scheduler.Config{Agents: agents})
	if _, err := api.CreateSchedule(ctx, admin, &store.Schedule{Owner: scheduler.StaticOwner, Name: "clash", Agent: "ok",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "@daily"}}); err != nil {
		t.Fatal(err)
	}
	clash, err := scheduler.New(st, scheduler.Config{Agents: agents, Static: []*store.Schedule{cronSchedule("clash", "ok", "@hourly")}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a static schedule that clashes with a user's", clash.Start(ctx), store.ErrConflict)
}

// TestActiveLimitOnEveryWrite: the cap on active schedules refuses a
// create, a resume and an update that resumes, and none of them writes.
func TestActiveLimitOnEveryWrite(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}),
		Policy: scheduler.Policy{MaxActiveSchedules: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSchedule(ctx, alice, cronSchedule("first", "ok", "@daily")); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateSchedule(ctx, alice, cronSchedule("second", "ok", "@daily"))
	wantErr(t, "a second active schedule", err, store.ErrLimit)
	paused := cronSchedule("paused", "ok", "@daily")
	paused.Paused = true
	p, err := s.CreateSchedule(ctx, alice, paused)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ResumeSchedule(ctx, alice, p.ID)
	wantErr(t, "resume over the limit", err, store.ErrLimit)
	p.Paused = false
	_, err = s.UpdateSchedule(ctx, alice, p)
	wantErr(t, "an update that resumes over the limit", err, store.ErrLimit)
	if n, _ := st.ScheduleCountActive(ctx, "alice"); n != 1 {
		t.Errorf("alice has %d active schedules, want 1", n)
	}
}
