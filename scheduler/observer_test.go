package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
)

// observations is an Observer that keeps copies of what it is told, in
// order: an observation is valid only during Observe.
type observations struct {
	mu  sync.Mutex
	all []scheduler.Observation
}

func (o *observations) Observe(x scheduler.Observation) {
	switch v := x.(type) {
	case *scheduler.RunClaimObserved:
		x = keep(v)
	case *scheduler.AttemptObserved:
		x = keep(v)
	case *scheduler.RunEndObserved:
		x = keep(v)
	case *scheduler.TicksObserved:
		x = keep(v)
	case *scheduler.DeliveryObserved:
		x = keep(v)
	case *scheduler.EnqueueObserved:
		x = keep(v)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, x)
}

// keep is a copy of *v.
func keep[T any](v *T) *T {
	c := *v
	return &c
}

// observed returns the observations of type T so far, in order, with
// their indexes among all observations.
func observed[T scheduler.Observation](o *observations) (out []T, index []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, x := range o.all {
		if v, ok := x.(T); ok {
			out, index = append(out, v), append(index, i)
		}
	}
	return out, index
}

// waitObserved waits (polling, up to schedulertest.WaitTimeout) for an
// observation of type T that match accepts, and returns it and its index.
func waitObserved[T scheduler.Observation](t *testing.T, o *observations, what string, match func(T) bool) (T, int) {
	t.Helper()
	var found T
	at := -1
	eventually(t, schedulertest.WaitTimeout, what, func() bool {
		all, index := observed[T](o)
		for i, v := range all {
			if match(v) {
				found, at = v, index[i]
				return true
			}
		}
		return false
	})
	return found, at
}

func TestObserverRuns(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		agent   func(h *schedulertest.Harness) agent.Agent
		req     scheduler.EnqueueRequest
		drive   func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run)
		claims  []time.Duration // claim lateness of each attempt
		ends    []scheduler.AttemptOutcome
		took    time.Duration // of every attempt
		status  store.RunStatus
		noEnded bool // the run does not end on this node
	}{
		{
			name: "success",
			agent: func(h *schedulertest.Harness) agent.Agent {
				return agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
					h.Clock.Advance(3 * time.Second) // the attempt takes 3 s on the engine's clock
					return &agent.Result{Summary: "ok"}, nil
				})
			},
			req: scheduler.EnqueueRequest{RunAt: t0.Add(10 * time.Second)},
			drive: func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run) {
				h.AdvanceTo(t0.Add(15 * time.Second)) // due for 5 s when claimed
			},
			claims: []time.Duration{5 * time.Second},
			ends:   []scheduler.AttemptOutcome{scheduler.AttemptSucceeded},
			took:   3 * time.Second,
			status: store.RunSucceeded,
		},
		{
			name: "retry then failure",
			agent: func(*schedulertest.Harness) agent.Agent {
				return agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
					return nil, agent.RetryAfter(boom, 10*time.Second)
				})
			},
			req: scheduler.EnqueueRequest{MaxAttempts: 2},
			drive: func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run) {
				h.Tick()
				waitObserved(t, o, "the first attempt's retry", func(a *scheduler.AttemptObserved) bool {
					return a.Outcome == scheduler.AttemptRetry
				})
				h.Advance(15 * time.Second) // the retry is due at t0+10s
			},
			claims: []time.Duration{0, 5 * time.Second},
			ends:   []scheduler.AttemptOutcome{scheduler.AttemptRetry, scheduler.AttemptFailed},
			status: store.RunFailed,
		},
		{
			name:  "timeout",
			agent: func(*schedulertest.Harness) agent.Agent { return newBlocker() },
			req:   scheduler.EnqueueRequest{Timeout: 50 * time.Millisecond},
			drive: func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run) {
				h.Tick()
			},
			claims: []time.Duration{0},
			ends:   []scheduler.AttemptOutcome{scheduler.AttemptTimedOut},
			status: store.RunTimedOut,
		},
		{
			name:  "cancel",
			agent: func(*schedulertest.Harness) agent.Agent { return newBlocker() },
			drive: func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run) {
				h.Tick()
				waitObserved(t, o, "the claim", func(*scheduler.RunClaimObserved) bool { return true })
				if _, err := h.Scheduler.CancelRun(ctx, admin, run.ID, "no longer wanted"); err != nil {
					t.Fatal(err)
				}
			},
			claims: []time.Duration{0},
			ends:   []scheduler.AttemptOutcome{scheduler.AttemptCancelled},
			status: store.RunCancelled,
		},
		{
			name:  "release on stop",
			agent: func(*schedulertest.Harness) agent.Agent { return newBlocker() },
			drive: func(t *testing.T, h *schedulertest.Harness, o *observations, run *store.Run) {
				h.Tick()
				waitObserved(t, o, "the claim", func(*scheduler.RunClaimObserved) bool { return true })
				if err := h.Scheduler.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			},
			claims:  []time.Duration{0},
			ends:    []scheduler.AttemptOutcome{scheduler.AttemptReleased},
			noEnded: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &observations{}
			var h *schedulertest.Harness
			agents := agent.NewRegistry()
			agents.MustRegister("a", agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
				return c.agent(h).Run(ctx, task)
			}))
			h = schedulertest.New(t, scheduler.Config{Agents: agents, Observer: o, ShutdownGrace: 10 * time.Millisecond})
			req := c.req
			req.Agent = "a"
			run, err := h.Scheduler.Enqueue(ctx, admin, req)
			if err != nil {
				t.Fatal(err)
			}
			c.drive(t, h, o, run)
			ofRun := func(r *store.Run) bool { return r.ID == run.ID }

			// The run's last attempt ends, and (unless it does not end
			// here) the run after it.
			_, lastAt := waitObserved(t, o, "the last attempt", func(a *scheduler.AttemptObserved) bool {
				return ofRun(a.Run) && a.Attempt == len(c.ends)
			})
			if !c.noEnded {
				end, endAt := waitObserved(t, o, "the run's end", func(e *scheduler.RunEndObserved) bool { return ofRun(e.Run) })
				if end.Status != c.status || end.Run.Status != c.status || end.Attempts != len(c.ends) || end.Duration != c.took || end.Run.FinishedAt.IsZero() {
					t.Errorf("run end: status %s (run %s), attempts %d, duration %v, finished %v; want %s, %d, %v, a finish time",
						end.Status, end.Run.Status, end.Attempts, end.Duration, end.Run.FinishedAt, c.status, len(c.ends), c.took)
				}
				if endAt < lastAt {
					t.Errorf("run end observed (#%d) before its last attempt (#%d)", endAt, lastAt)
				}
			}

			claims, claimAt := observed[*scheduler.RunClaimObserved](o)
			attempts, attemptAt := observed[*scheduler.AttemptObserved](o)
			if len(claims) != len(c.claims) || len(attempts) != len(c.ends) {
				t.Fatalf("%d claims and %d attempts observed, want %d and %d", len(claims), len(attempts), len(c.claims), len(c.ends))
			}
			for i, cl := range claims {
				r := cl.Run
				if !ofRun(r) || r.Agent != "a" || r.Kind != store.RunKindEnqueue || r.Owner != admin.Subject || r.Attempt != i+1 {
					t.Errorf("claim %d: run %s agent %q kind %s owner %q attempt %d; want %s, a, enqueue, %s, %d",
						i, r.ID, r.Agent, r.Kind, r.Owner, r.Attempt, run.ID, admin.Subject, i+1)
				}
				if cl.Lateness != c.claims[i] || !cl.ClaimedAt.Equal(r.RunAt.Add(c.claims[i])) {
					t.Errorf("claim %d: lateness %v at %v (due %v), want %v", i, cl.Lateness, cl.ClaimedAt, r.RunAt, c.claims[i])
				}
			}
			for i, a := range attempts {
				if !ofRun(a.Run) || a.Attempt != i+1 || a.Outcome != c.ends[i] || a.Duration != c.took {
					t.Errorf("attempt %d: run %s attempt %d outcome %s duration %v; want %s, %d, %s, %v",
						i, a.Run.ID, a.Attempt, a.Outcome, a.Duration, run.ID, i+1, c.ends[i], c.took)
				}
				if attemptAt[i] < claimAt[i] {
					t.Errorf("attempt %d observed (#%d) before its claim (#%d)", i+1, attemptAt[i], claimAt[i])
				}
			}
			if ends, _ := observed[*scheduler.RunEndObserved](o); c.noEnded && len(ends) > 0 {
				t.Errorf("run end observed for a run given back: %+v", ends[0])
			}
		})
	}
}

func TestObserverTicks(t *testing.T) {
	o := &observations{}
	h := schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Observer: o})
	for i := range 2 {
		h.CreateSchedule(cronSchedule(fmt.Sprintf("minutely-%d", i), "ok", "* * * * *"))
	}
	h.CreateSchedule(cronSchedule("hourly", "ok", "0 * * * *"))
	h.AdvanceTo(t0.Add(time.Minute + 10*time.Second))
	h.Tick() // nothing new: another look writes no tick again

	ticks, _ := observed[*scheduler.TicksObserved](o)
	n := 0
	for _, tk := range ticks {
		if !tk.ScheduledFor.Equal(t0.Add(time.Minute)) || tk.Lateness != 10*time.Second ||
			!tk.CommittedAt.Equal(t0.Add(time.Minute+10*time.Second)) || tk.Count < 1 {
			t.Errorf("ticks observed: %+v; want tick %v, lateness 10s, committed at %v", tk, t0.Add(time.Minute), t0.Add(time.Minute+10*time.Second))
		}
		n += tk.Count
	}
	if n != 2 {
		t.Errorf("%d ticks observed (%+v), want 2", n, ticks)
	}
}

func TestObserverDeliveries(t *testing.T) {
	o := &observations{}
	var h *schedulertest.Harness
	router := delivery.NewRouter()
	router.MustRegister("ok", delivery.Func(func(context.Context, *delivery.Message) error {
		h.Clock.Advance(2 * time.Second) // the delivery takes 2 s on the engine's clock
		return nil
	}))
	router.MustRegister("bad", &recorder{fails: []error{delivery.Permanent(errors.New("400 bad address"))}})
	router.MustRegister("flaky", &recorder{fails: []error{delivery.RetryAfter(errors.New("503"), time.Millisecond)}})
	h = schedulertest.New(t, scheduler.Config{Agents: registry(map[string]agent.Agent{"ok": okAgent()}), Delivery: router,
		Observer: o, DeliveryWorkers: 1}) // one at a time: the "ok" deliverer's clock moves alone
	run, err := h.Scheduler.Enqueue(ctx, admin, scheduler.EnqueueRequest{Agent: "ok", Targets: []store.Target{
		{Channel: "ok", To: "ops@example.test"}, {Channel: "bad", To: "nobody"}, {Channel: "flaky", To: "https://hooks.example.test"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.Tick()
	for _, ch := range []string{"ok", "bad", "flaky"} {
		waitObserved(t, o, "the end of the delivery to "+ch, func(d *scheduler.DeliveryObserved) bool {
			return d.Channel == ch && d.Status != store.DeliveryRetrying
		})
	}
	type key struct {
		channel string
		attempt int
	}
	want := map[key]struct {
		status store.DeliveryStatus
		took   time.Duration
	}{
		{"ok", 1}:    {store.DeliverySucceeded, 2 * time.Second},
		{"bad", 1}:   {store.DeliveryFailed, 0},
		{"flaky", 1}: {store.DeliveryRetrying, 0},
		{"flaky", 2}: {store.DeliverySucceeded, 0},
	}
	got, _ := observed[*scheduler.DeliveryObserved](o)
	if len(got) != len(want) {
		t.Errorf("%d deliveries observed, want %d: %+v", len(got), len(want), got)
	}
	for _, d := range got {
		w, ok := want[key{d.Channel, d.Attempt}]
		if !ok || d.Run.ID != run.ID || d.Status != w.status || d.Duration != w.took {
			t.Errorf("delivery to %s, attempt %d, of run %s: %s in %v; want %s in %v of run %s",
				d.Channel, d.Attempt, d.Run.ID, d.Status, d.Duration, w.status, w.took, run.ID)
		}
	}
}

func TestObserverFuncAdapts(t *testing.T) {
	var got []scheduler.Observation
	f := scheduler.ObserverFunc(func(o scheduler.Observation) { got = append(got, o) })
	var obs scheduler.Observer = f
	obs.Observe(&scheduler.TicksObserved{Count: 3})
	if len(got) != 1 || got[0].(*scheduler.TicksObserved).Count != 3 {
		t.Errorf("ObserverFunc passed on %+v", got)
	}
}

func TestObserveQueuedRunCancelled(t *testing.T) {
	o := &observations{}
	agents := agent.NewRegistry()
	agents.MustRegister("a", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
	h := schedulertest.New(t, scheduler.Config{Agents: agents, Observer: o})
	run, err := h.Scheduler.Enqueue(context.Background(), schedulertest.Principal,
		scheduler.EnqueueRequest{Agent: "a", RunAt: h.Clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Scheduler.CancelRun(context.Background(), schedulertest.Principal, run.ID, "not now"); err != nil {
		t.Fatal(err)
	}
	ends, _ := observed[*scheduler.RunEndObserved](o)
	if len(ends) != 1 || ends[0].Run.ID != run.ID || ends[0].Status != store.RunCancelled || ends[0].Duration != 0 {
		t.Fatalf("run ends observed: %+v, want the cancelled run's", ends)
	}
	if claims, _ := observed[*scheduler.RunClaimObserved](o); len(claims) != 0 {
		t.Errorf("%d claims observed of a run never claimed", len(claims))
	}
}
