package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

var t0 = schedulertest.Start

func TestCronTicksAreEnqueuedOnceEach(t *testing.T) {
	c := newCounter()
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"count": c})})
	minutely := cronSchedule("minutely", "count", "* * * * *")
	minutely.Overlap = store.OverlapAllowAll
	sch := h.CreateSchedule(minutely)
	sch2 := h.CreateSchedule(&store.Schedule{Name: "tz", Agent: "count",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 9 * * *", Timezone: "America/New_York"}})
	for range 3 {
		h.Advance(time.Minute)
	}
	h.Tick() // a second look at the same moment adds nothing
	h.AssertTicks(sch.ID, t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	got, err := h.Store.ScheduleGet(ctx, sch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.NextRunAt.Equal(t0.Add(4*time.Minute)) || !got.LastFiredAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("NextRunAt %v LastFiredAt %v, want %v and %v", got.NextRunAt, got.LastFiredAt, t0.Add(4*time.Minute), t0.Add(3*time.Minute))
	}
	for _, r := range h.Runs(store.RunListParams{ScheduleID: sch.ID}) {
		h.WaitFinished(r.ID, store.RunSucceeded)
	}
	got, _ = h.Store.ScheduleGet(ctx, sch.ID)
	if got.LastRunAt.IsZero() {
		t.Error("LastRunAt is zero after runs")
	}
	// 09:00 in New York is 14:00 UTC in January.
	h.AdvanceTo(time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC))
	h.AssertTicks(sch2.ID, time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC))
	for id, n := range c.snapshot() {
		if n != 1 {
			t.Errorf("run %s executed %d times", id, n)
		}
	}
}

func TestMisfirePolicies(t *testing.T) {
	cases := []struct {
		policy store.MisfirePolicy
		cap    int
		want   []time.Time // ticks run after five missed hourly ticks, then one on time
	}{
		{store.MisfireSkip, 0, []time.Time{t0.Add(6 * time.Hour)}},
		{store.MisfireRunOnce, 0, []time.Time{t0.Add(6 * time.Hour)}},
		{store.MisfireRunAll, 3, []time.Time{t0.Add(3 * time.Hour), t0.Add(4 * time.Hour), t0.Add(5 * time.Hour), t0.Add(6 * time.Hour)}},
	}
	for _, c := range cases {
		t.Run(string(c.policy), func(t *testing.T) {
			clock := clocktest.New(t0)
			st := memstore.New(memstore.Options{Clock: clock})
			defer st.Close()
			cfg := scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})}
			s, err := scheduler.New(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sch := cronSchedule("hourly", "ok", "0 * * * *")
			sch.Misfire, sch.MisfireCap, sch.Overlap = c.policy, c.cap, store.OverlapAllowAll
			sch, err = s.CreateSchedule(ctx, admin, sch)
			if err != nil {
				t.Fatal(err)
			}
			// Downtime: no node runs from t0 to t0+6h.
			clock.Advance(6 * time.Hour)
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer s.Stop(ctx)
			h := &schedulertest.Harness{T: t, Clock: clock, Store: st, Scheduler: s}
			h.AssertTicks(sch.ID, c.want...)

			// Missed ticks with no tick on time: run_once coalesces them.
			s.Stop(ctx)
			clock.Advance(3*time.Hour + 30*time.Minute)
			s2, err := scheduler.New(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer s2.Stop(ctx)
			want := c.want
			switch c.policy {
			case store.MisfireRunOnce:
				want = append(want, t0.Add(9*time.Hour))
			case store.MisfireRunAll:
				want = append(want, t0.Add(7*time.Hour), t0.Add(8*time.Hour), t0.Add(9*time.Hour))
			}
			h.AssertTicks(sch.ID, want...)
			got, _ := st.ScheduleGet(ctx, sch.ID)
			if !got.NextRunAt.Equal(t0.Add(10*time.Hour)) || !got.LastFiredAt.Equal(t0.Add(9*time.Hour)) {
				t.Errorf("NextRunAt %v LastFiredAt %v, want %v and %v", got.NextRunAt, got.LastFiredAt, t0.Add(10*time.Hour), t0.Add(9*time.Hour))
			}
		})
	}
}

func TestOverlapPolicies(t *testing.T) {
	cases := []struct {
		policy store.OverlapPolicy
		// statuses of the runs of ticks 1, 2 and 3 while the first runs
		want []store.RunStatus
	}{
		{store.OverlapSkip, []store.RunStatus{store.RunRunning, store.RunSkipped, store.RunSkipped}},
		{store.OverlapBufferOne, []store.RunStatus{store.RunRunning, store.RunQueued, store.RunSkipped}},
		{store.OverlapBufferAll, []store.RunStatus{store.RunRunning, store.RunQueued, store.RunQueued}},
		{store.OverlapCancelOther, []store.RunStatus{store.RunCancelled, store.RunCancelled, store.RunRunning}},
		{store.OverlapAllowAll, []store.RunStatus{store.RunRunning, store.RunRunning, store.RunRunning}},
	}
	for _, c := range cases {
		t.Run(string(c.policy), func(t *testing.T) {
			b := newBlocker()
			defer b.free()
			h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"block": b})})
			sch := cronSchedule("minutely", "block", "* * * * *")
			sch.Overlap = c.policy
			sch = h.CreateSchedule(sch)
			h.Advance(time.Minute)
			b.waitStarted(t)
			h.Advance(time.Minute)
			h.Advance(time.Minute)
			runs := h.Runs(store.RunListParams{ScheduleID: sch.ID}) // newest first
			if len(runs) != 3 {
				t.Fatalf("%d runs, want 3", len(runs))
			}
			for i, want := range c.want {
				r := runs[2-i]
				if want == store.RunRunning || want == store.RunCancelled {
					r = h.WaitRun(r.ID, want)
				}
				if r.Status != want {
					t.Errorf("tick %d: %s (held %v, error %q), want %s", i+1, r.Status, r.Held, r.Error, want)
				}
			}
			b.free()
			for _, r := range runs {
				h.WaitRun(r.ID)
			}
			if c.policy == store.OverlapBufferAll {
				for _, r := range runs {
					h.WaitFinished(r.ID, store.RunSucceeded)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	b := newBlocker()
	defer b.free()
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"block": b})})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "block", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	r := h.WaitFinished(run.ID, store.RunTimedOut)
	if r.Error == "" || r.Attempt != 1 {
		t.Errorf("timed out run: error %q attempt %d", r.Error, r.Attempt)
	}
}

func TestCancelRunningRun(t *testing.T) {
	b := newBlocker()
	defer b.free()
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"block": b})})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "block"})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	b.waitStarted(t)
	start := time.Now()
	if _, err := h.Scheduler.CancelRun(ctx, admin, run.ID, "no longer wanted"); err != nil {
		t.Fatal(err)
	}
	r := h.WaitFinished(run.ID, store.RunCancelled)
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancelled after %v, want within 1s", took)
	}
	if r.Error != "no longer wanted" || r.FinishedAt.IsZero() {
		t.Errorf("cancelled run: error %q finished %v, want the request's reason and a finish time", r.Error, r.FinishedAt)
	}
	_, err = h.Scheduler.CancelRun(ctx, admin, run.ID, "")
	wantErr(t, "cancel an ended run", err, store.ErrConflict)
}

func TestCancelReachesAnotherNode(t *testing.T) {
	// The run executes on node b; the cancellation goes through node a,
	// which is not even started: the store's notification carries it.
	blk := newBlocker()
	defer blk.free()
	st := memstore.New(memstore.Options{})
	defer st.Close()
	agents := registry(map[string]agent.Agent{"block": blk})
	a, _ := scheduler.New(st, scheduler.Config{Agents: agents})
	b, _ := scheduler.New(st, scheduler.Config{Agents: agents})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	run, err := a.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "block"})
	if err != nil {
		t.Fatal(err)
	}
	blk.waitStarted(t)
	start := time.Now()
	if _, err := a.CancelRun(ctx, admin, run.ID, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "cancelled on the other node", func() bool {
		r, _ := st.RunGet(ctx, run.ID)
		return r.Status == store.RunCancelled
	})
	t.Logf("cancelled in %v", time.Since(start))
}

func TestRetryThenSuccess(t *testing.T) {
	var calls atomic.Int32
	flaky := agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("upstream 503")
		}
		return &agent.Result{Summary: "ok on attempt " + string(rune('0'+task.Attempt))}, nil
	})
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"flaky": flaky}),
		Retry: scheduler.RetryPolicy{Base: time.Minute, Max: time.Hour}})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "flaky"})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	r := h.WaitRun(run.ID, store.RunQueued)
	eventually(t, schedulertest.WaitTimeout, "retry queued", func() bool {
		r, _ = h.Store.RunGet(ctx, run.ID)
		return r.Status == store.RunQueued && r.Attempt == 2
	})
	if r.Error != "upstream 503" {
		t.Errorf("retry error %q", r.Error)
	}
	if d := r.RunAt.Sub(t0); d < 30*time.Second || d > time.Minute {
		t.Errorf("retry due after %v, want between 30s and 1m (backoff with jitter)", d)
	}
	h.Advance(time.Minute)
	r = h.WaitFinished(run.ID, store.RunSucceeded)
	if r.Attempt != 2 || r.Summary != "ok on attempt 2" {
		t.Errorf("attempt %d summary %q", r.Attempt, r.Summary)
	}
}

func TestFailures(t *testing.T) {
	var ran atomic.Int32
	agents := registry(map[string]agent.Agent{
		"fail": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			ran.Add(1)
			return nil, errors.New("always broken")
		}),
		"final": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return nil, agent.Permanent(errors.New("bad input"))
		}),
		"panic": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			panic("boom")
		}),
		"ok": okAgent(),
	})
	h := schedulertest.New(t, scheduler.Config{Agents: agents, Workers: 1,
		Retry: scheduler.RetryPolicy{Base: time.Second, Max: time.Second}})
	enqueue := func(name string, attempts int) string {
		r, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: name, MaxAttempts: attempts})
		if err != nil {
			t.Fatal(err)
		}
		h.Tick()
		return r.ID
	}
	t.Run("attempts spent", func(t *testing.T) {
		id := enqueue("fail", 3)
		for attempt := 2; attempt <= 3; attempt++ {
			eventually(t, schedulertest.WaitTimeout, "retry", func() bool {
				r, _ := h.Store.RunGet(ctx, id)
				return r.Status == store.RunQueued && r.Attempt == attempt
			})
			h.Advance(time.Second)
		}
		r := h.WaitFinished(id, store.RunFailed)
		if r.Attempt != 3 || r.Error != "always broken" || ran.Load() != 3 {
			t.Errorf("attempt %d error %q ran %d, want 3, always broken, 3", r.Attempt, r.Error, ran.Load())
		}
	})
	t.Run("no retry", func(t *testing.T) {
		r := h.WaitFinished(enqueue("final", 3), store.RunFailed)
		if r.Attempt != 1 || r.Error != "bad input" {
			t.Errorf("attempt %d error %q", r.Attempt, r.Error)
		}
	})
	t.Run("panic", func(t *testing.T) {
		r := h.WaitFinished(enqueue("panic", 3), store.RunFailed)
		if r.Attempt != 1 || r.Error != "agent panicked: boom" {
			t.Errorf("attempt %d error %q", r.Attempt, r.Error)
		}
		// The one worker survived.
		h.WaitFinished(enqueue("ok", 1), store.RunSucceeded)
	})
}

func TestDeliveryFanOut(t *testing.T) {
	always, onFail, extra := &recorder{}, &recorder{}, &recorder{}
	flaky := &recorder{fails: []error{errors.New("503"), delivery.RetryAfter(errors.New("429"), time.Millisecond)}}
	broken := &recorder{fails: []error{delivery.Permanent(errors.New("400 bad address"))}}
	router := delivery.NewRouter()
	router.MustRegister("always", always)
	router.MustRegister("onfail", onFail)
	router.MustRegister("extra", extra)
	router.MustRegister("flaky", flaky)
	router.MustRegister("broken", broken)
	agents := registry(map[string]agent.Agent{
		"report": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return &agent.Result{Summary: "all good", Output: []byte(`{"n":1}`), Targets: []delivery.Target{{Channel: "extra", To: "#ops"}}}, nil
		}),
	})
	h := schedulertest.New(t, scheduler.Config{Agents: agents, Delivery: router,
		Retry: scheduler.RetryPolicy{Base: time.Millisecond, Max: time.Millisecond}})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "report", Targets: []store.Target{
		{Channel: "always", To: "a@example.com"},
		{Channel: "onfail", To: "admin@example.com", On: delivery.OnFailure},
		{Channel: "flaky", To: "https://hooks.example/1"},
		{Channel: "broken", To: "nowhere"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	r := h.WaitFinished(run.ID, store.RunSucceeded)
	var attempts []*store.Delivery
	eventually(t, schedulertest.WaitTimeout, "deliveries recorded", func() bool {
		attempts, _ = h.Store.DeliveryList(ctx, &store.DeliveryListParams{RunID: run.ID})
		return len(attempts) == 6 // always 1, extra 1, flaky 3, broken 1
	})
	byChannel := map[string][]store.DeliveryStatus{}
	for _, d := range attempts {
		byChannel[d.Channel] = append(byChannel[d.Channel], d.Status)
	}
	wantStatuses := map[string][]store.DeliveryStatus{
		"always": {store.DeliverySucceeded},
		"extra":  {store.DeliverySucceeded},
		"flaky":  {store.DeliveryRetrying, store.DeliveryRetrying, store.DeliverySucceeded},
		"broken": {store.DeliveryFailed},
	}
	for ch, want := range wantStatuses {
		if got := byChannel[ch]; len(got) != len(want) || !equalStatuses(got, want) {
			t.Errorf("%s attempts %v, want %v", ch, got, want)
		}
	}
	if n := len(onFail.messages()); n != 0 {
		t.Errorf("the on-failure target got %d messages for a success", n)
	}
	m := always.messages()[0]
	if m.RunID != run.ID || m.Text != "all good" || string(m.Output) != `{"n":1}` || m.Status != "succeeded" || m.IdempotencyKey == "" {
		t.Errorf("message %+v", m)
	}
	fm := flaky.messages()
	if fm[0].IdempotencyKey != fm[2].IdempotencyKey || fm[0].IdempotencyKey == m.IdempotencyKey {
		t.Errorf("idempotency keys: flaky %q/%q, always %q: want stable per target and distinct across targets",
			fm[0].IdempotencyKey, fm[2].IdempotencyKey, m.IdempotencyKey)
	}
	if got, _ := h.Store.RunGet(ctx, run.ID); got.Status != r.Status {
		t.Errorf("a failed delivery changed the run to %s", got.Status)
	}
}

func equalStatuses(a, b []store.DeliveryStatus) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestCancellingStartContextStopsTheNode(t *testing.T) {
	b := newBlocker()
	defer b.free()
	st := memstore.New(memstore.Options{})
	defer st.Close()
	s, err := scheduler.New(st, scheduler.Config{Agents: registry(map[string]agent.Agent{"block": b})})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := s.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	run, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "block"})
	if err != nil {
		t.Fatal(err)
	}
	b.waitStarted(t)
	cancel()
	var r *store.Run
	eventually(t, 2*time.Second, "the run released at once (no grace period)", func() bool {
		r, _ = st.RunGet(ctx, run.ID)
		return r.Status == store.RunQueued
	})
	if r.Attempt != 1 || r.LeaseOwner != "" {
		t.Errorf("released run: attempt %d lease %q, want 1 and none", r.Attempt, r.LeaseOwner)
	}
	start := time.Now()
	if err := s.Stop(ctx); err != nil { // waits for the stop the cancellation began
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Stop after the cancellation took %v", took)
	}
	if err := s.Tick(ctx); !errors.Is(err, scheduler.ErrNotStarted) {
		t.Errorf("Tick after stop: %v, want ErrNotStarted", err)
	}
}

func TestRefusedOutputFailsOnlyItsRun(t *testing.T) {
	agents := registry(map[string]agent.Agent{
		"ok": okAgent(),
		"bad": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return &agent.Result{Output: []byte("not json")}, nil
		}),
	})
	h := schedulertest.New(t, scheduler.Config{Agents: agents})
	var ids []string
	for i := range 30 {
		name := "ok"
		if i == 15 {
			name = "bad"
		}
		r, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: name, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	h.Tick()
	for i, id := range ids {
		want := store.RunSucceeded
		if i == 15 {
			want = store.RunFailed
		}
		r := h.WaitFinished(id, want)
		if i == 15 && !strings.Contains(r.Error, "output") {
			t.Errorf("refused output error %q does not name the output", r.Error)
		}
	}
}

func TestReapedRunIsDelivered(t *testing.T) {
	rec := &recorder{}
	router := delivery.NewRouter()
	router.MustRegister("alert", rec)
	// A node claims it and dies, before this one starts (else this one
	// may claim it first); after the lease the reaper fails it (its one
	// attempt is spent) and the failure is delivered.
	var id string
	open := func(c clock.Clock) store.Store {
		st := memstore.New(memstore.Options{Clock: c})
		res, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "ok", MaxAttempts: 1,
			Targets: []store.Target{{Channel: "alert", To: "ops@example.com", On: delivery.OnFailure}}})
		if err != nil {
			t.Fatal(err)
		}
		id = res[0].Run.ID
		if claimed, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "dead", Limit: 1, Lease: time.Minute}); err != nil || len(claimed) != 1 {
			t.Fatalf("the dead node claimed %d runs: %v", len(claimed), err)
		}
		return st
	}
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router},
		schedulertest.Options{Store: open})
	h.Advance(2 * time.Minute)
	h.WaitFinished(id, store.RunFailed)
	eventually(t, schedulertest.WaitTimeout, "the failure delivered", func() bool { return len(rec.messages()) == 1 })
	if m := rec.messages()[0]; m.Status != "failed" || m.Target.To != "ops@example.com" {
		t.Errorf("message %+v", m)
	}
}

func TestPausedTicksAreNotCaughtUpAndEditsKeepMissedTicks(t *testing.T) {
	clock := clocktest.New(t0)
	st := memstore.New(memstore.Options{Clock: clock})
	defer st.Close()
	cfg := scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})}
	api, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hourly := func(name string) *store.Schedule {
		s := cronSchedule(name, "ok", "0 * * * *")
		s.Misfire, s.Overlap = store.MisfireRunAll, store.OverlapAllowAll
		s, err := api.CreateSchedule(ctx, admin, s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	paused, edited := hourly("paused"), hourly("edited")
	if _, err := api.PauseSchedule(ctx, admin, paused.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5*time.Hour + 30*time.Minute) // no node runs
	if _, err := api.ResumeSchedule(ctx, admin, paused.ID); err != nil {
		t.Fatal(err)
	}
	upd := *edited
	upd.Payload = []byte(`{"v":2}`)
	if _, err := api.UpdateSchedule(ctx, admin, &upd); err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	h := &schedulertest.Harness{T: t, Clock: clock, Store: st, Scheduler: s}
	h.AssertTicks(paused.ID)
	h.AssertTicks(edited.ID, t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour), t0.Add(4*time.Hour), t0.Add(5*time.Hour))
	h.Advance(30 * time.Minute)
	h.AssertTicks(paused.ID, t0.Add(6*time.Hour))
}

func TestLoneRefusedOutcomeIsRecordedFailed(t *testing.T) {
	big := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return &agent.Result{Output: []byte(`{"text":"far more than the store's 16 bytes"}`)}, nil
	})
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"big": big})}, schedulertest.Options{
		Store: func(c clock.Clock) store.Store {
			return memstore.New(memstore.Options{Clock: c, Limits: store.Limits{MaxPayload: 16}})
		},
	})
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "big"})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	r := h.WaitFinished(run.ID, store.RunFailed)
	if r.Attempt != 1 || !strings.Contains(r.Error, "refused") {
		t.Errorf("attempt %d error %q, want 1 and a refusal", r.Attempt, r.Error)
	}
}

// TestPayloadLimitIsTheStores checks that the scheduler checks payloads
// against its store's limit, not the default one: a store that takes
// larger payloads gets them through the scheduler too.
func TestPayloadLimitIsTheStores(t *testing.T) {
	const limit = 2 << 20
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})}, schedulertest.Options{
		Store: func(c clock.Clock) store.Store {
			return memstore.New(memstore.Options{Clock: c, Limits: store.Limits{MaxPayload: limit}})
		},
	})
	payload := []byte(`{"text":"` + strings.Repeat("x", store.MaxPayloadDefault) + `"}`)
	if _, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok", Payload: payload}); err != nil {
		t.Errorf("Enqueue of %d bytes under the store's limit of %d: %v", len(payload), limit, err)
	}
	sch := cronSchedule("big", "ok", "0 * * * *")
	sch.Payload = payload
	if _, err := h.Scheduler.CreateSchedule(ctx, admin, sch); err != nil {
		t.Errorf("CreateSchedule with %d bytes of payload under the store's limit of %d: %v", len(payload), limit, err)
	}
	over := []byte(`{"text":"` + strings.Repeat("x", limit) + `"}`)
	if _, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok", Payload: over}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Enqueue of %d bytes over the store's limit of %d = %v, want store.ErrInvalid", len(over), limit, err)
	}
}

func TestUnpauseByUpdateDoesNotCatchUp(t *testing.T) {
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()})})
	sch := cronSchedule("hourly", "ok", "0 * * * *")
	sch.Misfire, sch.Overlap = store.MisfireRunAll, store.OverlapAllowAll
	sch = h.CreateSchedule(sch)
	paused, err := h.Scheduler.PauseSchedule(ctx, admin, sch.ID)
	if err != nil {
		t.Fatal(err)
	}
	h.Advance(5*time.Hour + 30*time.Minute)
	upd := *paused
	upd.Paused = false
	if _, err := h.Scheduler.UpdateSchedule(ctx, admin, &upd); err != nil {
		t.Fatal(err)
	}
	h.Tick()
	h.AssertTicks(sch.ID)
	h.Advance(30 * time.Minute)
	h.AssertTicks(sch.ID, t0.Add(6*time.Hour))
}

// TestCancelDuringShutdownEndsTheRun: a run whose cancellation is asked
// for while its stopping node gives it back is not run again: it ends
// cancelled, with the request's reason, and its target that wants a failed
// outcome gets it (from the stopping node, or from another once the
// delivery takeover has passed).
func TestCancelDuringShutdownEndsTheRun(t *testing.T) {
	started, stopping, hold := make(chan struct{}), make(chan struct{}), make(chan struct{})
	slow := agent.Func(func(ctx context.Context, _ *agent.Task) (*agent.Result, error) {
		close(started)
		<-ctx.Done()
		close(stopping)
		<-hold // slow to stop
		return nil, ctx.Err()
	})
	agents := registry(map[string]agent.Agent{"slow": slow})
	st := memstore.New(memstore.Options{})
	defer st.Close()
	node := func(name string, mail *recorder, grace time.Duration) *scheduler.Scheduler {
		router := delivery.NewRouter()
		router.MustRegister("mail", mail)
		s, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: router, Node: name,
			DeliveryTakeover: 300 * time.Millisecond, ShutdownGrace: grace, ReapInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	mailA, mailB := &recorder{}, &recorder{}
	a := node("a", mailA, 10*time.Millisecond)
	run, err := a.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "slow",
		Targets: []store.Target{{Channel: "mail", To: "ops@example.test", On: delivery.OnFailure}}})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(ctx) }()
	<-stopping
	if _, err := st.RunCancel(ctx, &store.RunCancelParams{ID: run.ID, Reason: "user gave up"}); err != nil {
		t.Fatal(err)
	}
	close(hold)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	r, err := st.RunGet(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.RunCancelled || r.Error != "user gave up" {
		t.Errorf("run given back after its cancellation was asked for: %s, error %q; want cancelled, %q", r.Status, r.Error, "user gave up")
	}
	b := node("b", mailB, 0)
	defer b.Stop(ctx)
	eventually(t, 10*time.Second, "the cancelled run's delivery, and the run leaving the outbox", func() bool {
		r, err := st.RunGet(ctx, run.ID)
		return len(mailA.messages())+len(mailB.messages()) == 1 && err == nil && r.DeliverAfter.IsZero()
	})
}

// TestStopReportsWhatItLeft: Stop says what it could not do. An agent that
// ignores its cancelled context is left running, and Stop's error says so
// (a second Stop returns the same); the run is recorded without it.
func TestStopReportsWhatItLeft(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	release, started := make(chan struct{}), make(chan struct{})
	agents := registry(map[string]agent.Agent{
		"deaf": agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			close(started)
			<-release // ignores its context
			return nil, nil
		}),
	})
	defer close(release)
	s, err := scheduler.New(st, scheduler.Config{Agents: agents, ShutdownGrace: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.SetAbandonAfter(10 * time.Millisecond)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := s.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "deaf"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	err = s.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 agents ignored their cancelled context") {
		t.Fatalf("Stop with an agent that ignores its context: %v", err)
	}
	if again := s.Stop(ctx); again == nil || again.Error() != err.Error() {
		t.Errorf("second Stop: %v, want %v", again, err)
	}
	if r, _ := st.RunGet(ctx, run.ID); r.Status == store.RunRunning {
		t.Errorf("the run is still running after Stop: %+v", r)
	}
}
