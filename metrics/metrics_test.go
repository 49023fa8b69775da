package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/metrics"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// stats is a store.StatsReader that returns what it holds, or fails.
type stats struct {
	st    store.Stats
	err   error
	block bool // wait for the context to end
	calls atomic.Int64
}

func (s *stats) Stats(ctx context.Context) (*store.Stats, error) {
	s.calls.Add(1)
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	st := s.st
	return &st, nil
}

// fresh returns a new registry and Metrics on it.
func fresh(t *testing.T, cfg metrics.Config) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	m, err := metrics.New(cfg)
	if err != nil {
		t.Fatalf("new metrics: %v", err)
	}
	return reg, m
}

// compare fails t unless the named series gathered from reg are want.
func compare(t *testing.T, reg prometheus.Gatherer, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// histogram returns the sample count and sum of the histogram name whose
// labels include labels.
func histogram(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no histogram %s%v", name, labels)
	return 0, 0
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
			n++
		}
	}
	return n == len(labels)
}

func run(agentName string, attempt int) *store.Run {
	return &store.Run{ID: "r1", Agent: agentName, Kind: store.RunKindEnqueue, Owner: "ops", Attempt: attempt}
}

// observeAll feeds m one observation of every kind.
func observeAll(m *metrics.Metrics) {
	m.Observe(&scheduler.RunClaimObserved{Run: run("report", 1), Lateness: 250 * time.Millisecond})
	m.Observe(&scheduler.AttemptObserved{Run: run("report", 1), Attempt: 1, Outcome: scheduler.AttemptRetry, Duration: time.Second})
	m.Observe(&scheduler.AttemptObserved{Run: run("report", 2), Attempt: 2, Outcome: scheduler.AttemptSucceeded, Duration: 2 * time.Second})
	m.Observe(&scheduler.RunEndObserved{Run: run("report", 2), Status: store.RunSucceeded, Attempts: 2, Duration: 2 * time.Second})
	m.Observe(&scheduler.TicksObserved{ScheduledFor: t0, Count: 3, CommittedAt: t0.Add(time.Second), Lateness: 500 * time.Millisecond})
	m.Observe(&scheduler.DeliveryObserved{Run: run("report", 2), Channel: "slack", Attempt: 1, Status: store.DeliverySucceeded, Duration: 300 * time.Millisecond})
	m.Observe(&scheduler.DeliveryObserved{Run: run("report", 2), Channel: "email", Attempt: 1, Status: store.DeliveryFailed, Duration: 100 * time.Millisecond})
	m.ObserveHTTP("GET /v1/runs/{id}", 200, 20*time.Millisecond)
	m.ObserveHTTP("GET /v1/runs/{id}", 404, 10*time.Millisecond)
	m.ObserveWebhookAccepted("github", false)
	m.CollectWebhookRejections(func() []webhook.Rejection {
		return []webhook.Rejection{{Source: "github", Reason: "bad_signature", Count: 2}}
	})
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	reg := prometheus.NewRegistry()
	cases := []struct {
		name string
		cfg  metrics.Config
		want string
	}{
		{"nil registerer", metrics.Config{}, "Registerer"},
		{"bad namespace", metrics.Config{Registerer: reg, Namespace: "my-app"}, "Namespace"},
		{"namespace starting with a digit", metrics.Config{Registerer: reg, Namespace: "1herald"}, "Namespace"},
		{"negative stats timeout", metrics.Config{Registerer: reg, StatsTimeout: -time.Second}, "StatsTimeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := metrics.New(c.cfg)
			if err == nil || m != nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, %v; want an error naming %s", m, err, c.want)
			}
		})
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("refused configs registered %d series (%v)", n, err)
	}
}

func TestDuplicateRegistrationIsAnError(t *testing.T) {
	reg, m := fresh(t, metrics.Config{Stats: &stats{}})
	m2, err := metrics.New(metrics.Config{Registerer: reg, Stats: &stats{}})
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || m2 != nil {
		t.Fatalf("second New on one registry: %v, %v; want an AlreadyRegisteredError", m2, err)
	}
	// The first still works.
	m.ObserveWebhookAccepted("github", true)
	compare(t, reg, `
# HELP herald_webhook_accepted_total Webhook requests accepted, by source and whether they were duplicates.
# TYPE herald_webhook_accepted_total counter
herald_webhook_accepted_total{duplicate="true",source="github"} 1
`, "herald_webhook_accepted_total")

	// Another namespace on the same registry is no conflict.
	if _, err := metrics.New(metrics.Config{Registerer: reg, Namespace: "other"}); err != nil {
		t.Errorf("another namespace: %v", err)
	}
}

func TestFailedNewRegistersNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Another collector takes one of the series, late in New's list.
	var taken prometheus.Collector = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "herald_http_requests_total",
		Help: "REST API requests, by route pattern and status code."}, []string{"route", "code"})
	reg.MustRegister(taken)
	if m, err := metrics.New(metrics.Config{Registerer: reg, Stats: &stats{}}); err == nil || m != nil {
		t.Fatalf("New registered over a taken name: %v, %v", m, err)
	}
	// What New had registered before the conflict was taken back: with the
	// name free, New succeeds on the same registry.
	reg.Unregister(taken)
	if _, err := metrics.New(metrics.Config{Registerer: reg, Stats: &stats{}}); err != nil {
		t.Errorf("New after a failed one: %v", err)
	}
}

func TestObservations(t *testing.T) {
	reg, m := fresh(t, metrics.Config{})
	observeAll(m)
	compare(t, reg, `
# HELP herald_attempts_total Attempts that ended on this node, by agent and outcome.
# TYPE herald_attempts_total counter
herald_attempts_total{agent="report",outcome="retry"} 1
herald_attempts_total{agent="report",outcome="succeeded"} 1
# HELP herald_runs_ended_total Runs that ended for good on this node, by agent and final status.
# TYPE herald_runs_ended_total counter
herald_runs_ended_total{agent="report",status="succeeded"} 1
# HELP herald_deliveries_total Delivery attempts made by this node, by channel and outcome.
# TYPE herald_deliveries_total counter
herald_deliveries_total{channel="email",outcome="failed"} 1
herald_deliveries_total{channel="slack",outcome="succeeded"} 1
`, "herald_attempts_total", "herald_runs_ended_total", "herald_deliveries_total")

	hists := []struct {
		name   string
		labels map[string]string
		count  uint64
		sum    float64
	}{
		{"herald_run_duration_seconds", map[string]string{"agent": "report"}, 1, 2},
		{"herald_claim_lateness_seconds", nil, 1, 0.25},
		{"herald_fire_lateness_seconds", nil, 3, 1.5}, // one per tick
		{"herald_delivery_duration_seconds", map[string]string{"channel": "slack"}, 1, 0.3},
		{"herald_delivery_duration_seconds", map[string]string{"channel": "email"}, 1, 0.1},
		{"herald_http_request_duration_seconds", map[string]string{"route": "GET /v1/runs/{id}"}, 2, 0.03},
	}
	for _, h := range hists {
		count, sum := histogram(t, reg, h.name, h.labels)
		if count != h.count || !near(sum, h.sum) {
			t.Errorf("%s%v: count %d sum %g, want %d and %g", h.name, h.labels, count, sum, h.count, h.sum)
		}
	}
	// The fire lateness of 0.5 s falls in the bucket le=0.5, not below.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fireLatenessText), "herald_fire_lateness_seconds"); err != nil {
		t.Error(err)
	}
}

const fireLatenessText = `
# HELP herald_fire_lateness_seconds Time from a schedule's tick to its run being committed by this node, one observation per tick.
# TYPE herald_fire_lateness_seconds histogram
herald_fire_lateness_seconds_bucket{le="0.001"} 0
herald_fire_lateness_seconds_bucket{le="0.005"} 0
herald_fire_lateness_seconds_bucket{le="0.01"} 0
herald_fire_lateness_seconds_bucket{le="0.025"} 0
herald_fire_lateness_seconds_bucket{le="0.05"} 0
herald_fire_lateness_seconds_bucket{le="0.1"} 0
herald_fire_lateness_seconds_bucket{le="0.25"} 0
herald_fire_lateness_seconds_bucket{le="0.5"} 3
herald_fire_lateness_seconds_bucket{le="1"} 3
herald_fire_lateness_seconds_bucket{le="2.5"} 3
herald_fire_lateness_seconds_bucket{le="5"} 3
herald_fire_lateness_seconds_bucket{le="10"} 3
herald_fire_lateness_seconds_bucket{le="30"} 3
herald_fire_lateness_seconds_bucket{le="60"} 3
herald_fire_lateness_seconds_bucket{le="300"} 3
herald_fire_lateness_seconds_bucket{le="+Inf"} 3
herald_fire_lateness_seconds_sum 1.5
herald_fire_lateness_seconds_count 3
`

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestHTTPAndWebhooks(t *testing.T) {
	reg, m := fresh(t, metrics.Config{Namespace: "app"})
	m.ObserveHTTP("GET /v1/runs/{id}", 200, 20*time.Millisecond)
	m.ObserveHTTP("GET /v1/runs/{id}", 200, 30*time.Millisecond)
	m.ObserveHTTP("POST /v1/schedules", 422, time.Millisecond)
	m.ObserveHTTP("", 404, time.Millisecond)
	m.ObserveWebhookAccepted("github", false)
	m.ObserveWebhookAccepted("github", true)
	m.ObserveWebhookAccepted("stripe", false)
	var scrapes atomic.Int64
	m.CollectWebhookRejections(func() []webhook.Rejection {
		scrapes.Add(1)
		return []webhook.Rejection{
			{Source: "", Reason: "bad_source", Count: 1},
			{Source: "github", Reason: "bad_signature", Count: 4},
			{Source: "probe-1", Reason: "unknown_source", Count: 2},
			{Source: "probe-2", Reason: "unknown_source", Count: 3},
		}
	})
	m.CollectWebhookRejections(func() []webhook.Rejection { // a second handler
		return []webhook.Rejection{{Source: "github", Reason: "bad_signature", Count: 1}}
	})
	m.CollectWebhookRejections(nil) // ignored
	compare(t, reg, `
# HELP app_http_requests_total REST API requests, by route pattern and status code.
# TYPE app_http_requests_total counter
app_http_requests_total{code="200",route="GET /v1/runs/{id}"} 2
app_http_requests_total{code="404",route=""} 1
app_http_requests_total{code="422",route="POST /v1/schedules"} 1
# HELP app_webhook_accepted_total Webhook requests accepted, by source and whether they were duplicates.
# TYPE app_webhook_accepted_total counter
app_webhook_accepted_total{duplicate="false",source="github"} 1
app_webhook_accepted_total{duplicate="false",source="stripe"} 1
app_webhook_accepted_total{duplicate="true",source="github"} 1
# HELP app_webhook_rejected_total Webhook requests rejected, by source and reason.
# TYPE app_webhook_rejected_total counter
app_webhook_rejected_total{reason="bad_signature",source="github"} 5
app_webhook_rejected_total{reason="bad_source",source=""} 1
app_webhook_rejected_total{reason="unknown_source",source=""} 5
`, "app_http_requests_total", "app_webhook_accepted_total", "app_webhook_rejected_total")
	if scrapes.Load() == 0 {
		t.Error("the rejection counts were not read at the scrape")
	}
	count, sum := histogram(t, reg, "app_http_request_duration_seconds", map[string]string{"route": "GET /v1/runs/{id}"})
	if count != 2 || !near(sum, 0.05) {
		t.Errorf("duration of GET /v1/runs/{id}: count %d sum %g, want 2 and 0.05", count, sum)
	}
}

func TestStats(t *testing.T) {
	now := t0.Add(time.Hour)
	clock := clocktest.New(now)
	gauges := []string{"herald_queue_depth", "herald_queue_oldest_age_seconds", "herald_runs_running", "herald_schedules", "herald_stats_errors_total"}
	const help = `
# HELP herald_queue_depth Runs in status queued, held ones included, on every node.
# TYPE herald_queue_depth gauge
# HELP herald_queue_oldest_age_seconds Time since the oldest queued run that is not held became due; 0 when none is due.
# TYPE herald_queue_oldest_age_seconds gauge
# HELP herald_runs_running Runs in status running, on every node.
# TYPE herald_runs_running gauge
# HELP herald_schedules Schedules by state: active or paused.
# TYPE herald_schedules gauge
# HELP herald_stats_errors_total Scrapes whose read of the store's stats failed; the queue and schedule gauges were left out of them.
# TYPE herald_stats_errors_total counter
`
	t.Run("read at each scrape", func(t *testing.T) {
		st := &stats{st: store.Stats{Queued: 7, OldestQueuedRunAt: now.Add(-90 * time.Second), Running: 3, SchedulesActive: 12, SchedulesPaused: 2}}
		reg, _ := fresh(t, metrics.Config{Stats: st, Clock: clock})
		compare(t, reg, help+`
herald_queue_depth 7
herald_queue_oldest_age_seconds 90
herald_runs_running 3
herald_schedules{state="active"} 12
herald_schedules{state="paused"} 2
herald_stats_errors_total 0
`, gauges...)
		st.st = store.Stats{} // empty queue: age 0
		compare(t, reg, help+`
herald_queue_depth 0
herald_queue_oldest_age_seconds 0
herald_runs_running 0
herald_schedules{state="active"} 0
herald_schedules{state="paused"} 0
herald_stats_errors_total 0
`, gauges...)
		st.st = store.Stats{Queued: 1, OldestQueuedRunAt: now.Add(time.Minute)} // not yet due: age 0
		if v := gaugeValue(t, reg, "herald_queue_oldest_age_seconds"); v != 0 {
			t.Errorf("age of a run not yet due: %g, want 0", v)
		}
		if st.calls.Load() != 3 {
			t.Errorf("Stats called %d times for 3 scrapes", st.calls.Load())
		}
	})
	t.Run("a failed read does not fail the scrape", func(t *testing.T) {
		st := &stats{err: store.ErrUnavailable}
		reg, m := fresh(t, metrics.Config{Stats: st, Clock: clock})
		m.ObserveWebhookAccepted("github", false)
		for range 2 {
			if _, err := reg.Gather(); err != nil {
				t.Fatalf("scrape failed with the store: %v", err)
			}
		}
		compare(t, reg, `
# HELP herald_stats_errors_total Scrapes whose read of the store's stats failed; the queue and schedule gauges were left out of them.
# TYPE herald_stats_errors_total counter
herald_stats_errors_total 3
# HELP herald_webhook_accepted_total Webhook requests accepted, by source and whether they were duplicates.
# TYPE herald_webhook_accepted_total counter
herald_webhook_accepted_total{duplicate="false",source="github"} 1
`, append(gauges, "herald_webhook_accepted_total")...)
	})
	t.Run("a slow read is cut short", func(t *testing.T) {
		st := &stats{block: true}
		reg, _ := fresh(t, metrics.Config{Stats: st, StatsTimeout: 20 * time.Millisecond})
		start := time.Now()
		compare(t, reg, `
# HELP herald_stats_errors_total Scrapes whose read of the store's stats failed; the queue and schedule gauges were left out of them.
# TYPE herald_stats_errors_total counter
herald_stats_errors_total 1
`, gauges...)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("scrape took %v with a 20ms stats timeout", took)
		}
	})
	t.Run("no stats, no gauges", func(t *testing.T) {
		reg, _ := fresh(t, metrics.Config{})
		if n, err := testutil.GatherAndCount(reg, gauges...); err != nil || n != 0 {
			t.Errorf("%d stats series without Stats (%v)", n, err)
		}
	})
}

func gaugeValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

func TestLint(t *testing.T) {
	st := &stats{st: store.Stats{Queued: 1, OldestQueuedRunAt: t0, SchedulesActive: 1}}
	reg, m := fresh(t, metrics.Config{Stats: st})
	observeAll(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Every series of the package is there to be linted.
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n == 0 {
		t.Fatalf("gathered %d series (%v)", n, err)
	}
	mfs, _ := reg.Gather()
	if len(mfs) != 16 {
		names := make([]string, len(mfs))
		for i, mf := range mfs {
			names[i] = mf.GetName()
		}
		t.Errorf("%d metric families, want 16: %v", len(mfs), names)
	}
}

func TestTwoRegistriesDoNotInterfere(t *testing.T) {
	regA, a := fresh(t, metrics.Config{})
	regB, b := fresh(t, metrics.Config{})
	a.ObserveHTTP("GET /healthz", 200, time.Millisecond)
	a.ObserveHTTP("GET /healthz", 200, time.Millisecond)
	b.ObserveHTTP("GET /healthz", 503, time.Millisecond)
	compare(t, regA, `
# HELP herald_http_requests_total REST API requests, by route pattern and status code.
# TYPE herald_http_requests_total counter
herald_http_requests_total{code="200",route="GET /healthz"} 2
`, "herald_http_requests_total")
	compare(t, regB, `
# HELP herald_http_requests_total REST API requests, by route pattern and status code.
# TYPE herald_http_requests_total counter
herald_http_requests_total{code="503",route="GET /healthz"} 1
`, "herald_http_requests_total")
	// Nothing reached the default registry.
	if n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, "herald_http_requests_total"); err != nil || n != 0 {
		t.Errorf("default registry holds %d herald series (%v)", n, err)
	}
}

// TestWithScheduler wires Metrics as a scheduler's Observer: the runs, attempts,
// claims and ticks of a real scheduler become series.
func TestWithScheduler(t *testing.T) {
	reg, m := fresh(t, metrics.Config{})
	agents := agent.NewRegistry()
	agents.MustRegister("ok", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return &agent.Result{Summary: "ok"}, nil
	}))
	h := schedulertest.New(t, scheduler.Config{Agents: agents, Observer: m})
	h.CreateSchedule(&store.Schedule{Name: "minutely", Agent: "ok", Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "* * * * *"}})
	h.AdvanceTo(schedulertest.Start.Add(time.Minute + 2*time.Second))
	ended := runsEnded(reg)
	deadline := time.Now().Add(schedulertest.WaitTimeout)
	for ended() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no run ended within the wait")
		}
		time.Sleep(5 * time.Millisecond)
	}
	compare(t, reg, `
# HELP herald_attempts_total Attempts that ended on this node, by agent and outcome.
# TYPE herald_attempts_total counter
herald_attempts_total{agent="ok",outcome="succeeded"} 1
# HELP herald_runs_ended_total Runs that ended for good on this node, by agent and final status.
# TYPE herald_runs_ended_total counter
herald_runs_ended_total{agent="ok",status="succeeded"} 1
`, "herald_attempts_total", "herald_runs_ended_total")
	if count, sum := histogram(t, reg, "herald_fire_lateness_seconds", nil); count != 1 || !near(sum, 2) {
		t.Errorf("fire lateness: count %d sum %g, want one tick 2 s late", count, sum)
	}
	if count, sum := histogram(t, reg, "herald_claim_lateness_seconds", nil); count != 1 || !near(sum, 2) {
		t.Errorf("claim lateness: count %d sum %g, want one claim 2 s late", count, sum)
	}
}

// runsEnded returns a reader of herald_runs_ended_total, summed over its
// series.
func runsEnded(reg prometheus.Gatherer) func() float64 {
	return func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			return 0
		}
		total := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "herald_runs_ended_total" {
				for _, m := range mf.GetMetric() {
					total += m.GetCounter().GetValue()
				}
			}
		}
		return total
	}
}
