// Package metrics exports the Prometheus metrics of a Herald node: runs,
// attempts and their durations, claim and fire lateness, the queue and the
// schedules, webhooks, deliveries and the REST API's requests.
//
// Import it in the service that embeds Herald, with the service's own
// registry; the package never touches Prometheus's global default registry:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(metrics.Config{Registerer: reg, Stats: st})
//	if err != nil { … }
//	s, err := scheduler.New(st, scheduler.Config{Observer: m, …})
//	http.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Series
//
// With the default namespace "herald":
//
//	herald_runs_ended_total{agent,status}           counter: runs ended for good on this node
//	herald_run_duration_seconds{agent}               histogram: the last attempt's duration of those runs
//	herald_attempts_total{agent,outcome}             counter: attempts ended on this node
//	herald_claim_lateness_seconds                    histogram: claim time minus the run's due time
//	herald_fire_lateness_seconds                     histogram: commit time minus the tick, one per tick written
//	herald_deliveries_total{channel,outcome}         counter: delivery attempts
//	herald_delivery_duration_seconds{channel}        histogram: delivery attempt durations
//	herald_webhook_accepted_total{source,duplicate}  counter: webhook requests accepted
//	herald_webhook_rejected_total{source,reason}     counter: webhook requests rejected (read at scrape time)
//	herald_http_requests_total{route,code}           counter: REST API requests
//	herald_http_request_duration_seconds{route}      histogram: REST API request durations
//	herald_queue_depth                               gauge: queued runs (from Stats, at scrape time)
//	herald_queue_oldest_age_seconds                  gauge: age of the oldest due queued run, 0 when none
//	herald_runs_running                              gauge: runs in status running, on every node
//	herald_schedules{state}                          gauge: schedules, state "active" or "paused"
//	herald_stats_errors_total                        counter: scrapes whose Stats call failed
//
// Runs, attempts, lateness and deliveries come from the scheduler's
// observations (Metrics is a scheduler.Observer), so they count what this
// node did; the webhook series from ObserveWebhookAccepted and
// CollectWebhookRejections; the HTTP series from ObserveHTTP. The queue
// and schedule gauges come from the store (Config.Stats), read at each
// scrape, so they count the whole cluster. A Stats call that fails or
// times out does not fail the scrape: the gauges are left out of that
// scrape and herald_stats_errors_total grows.
//
// # Label values are bounded
//
// Every label value comes from a finite set the operator controls, never
// from a request: agent names from the agent.Registry (runs name only
// registered agents), channels from the delivery.Router, webhook sources
// from the configured sources, routes from the REST API's ServeMux patterns
// (never a raw path: "GET /v1/runs/{id}", not "/v1/runs/0190…"), status
// codes, outcomes and reasons from fixed lists. Webhook rejections for an
// unknown source, whose name the sender chooses, are counted under the
// empty source.
package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/internal/buckets"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// NamespaceDefault prefixes every metric when Config.Namespace is empty.
const NamespaceDefault = "herald"

// StatsTimeoutDefault bounds a scrape's Stats call when Config.StatsTimeout
// is zero.
const StatsTimeoutDefault = 2 * time.Second

// Config configures New.
type Config struct {
	// Registerer receives the collectors. Required: the package never uses
	// Prometheus's default registry.
	Registerer prometheus.Registerer
	// Stats, when set, is read at each scrape for the queue depth, the age
	// of the oldest queued run, the running runs and the schedules by
	// state: pass the store (every store.Store is a store.StatsReader).
	// Nil leaves those series out.
	Stats store.StatsReader
	// Namespace prefixes every metric; empty means NamespaceDefault. It
	// must be a valid metric name.
	Namespace string
	// Clock is the clock for ages; nil means clock.System.
	Clock clock.Clock
	// StatsTimeout bounds a scrape's Stats call; zero means
	// StatsTimeoutDefault.
	StatsTimeout time.Duration
}

// Metrics holds the collectors of one Herald node, registered on the
// caller's registry. Its methods are safe for concurrent use. It
// implements scheduler.Observer: pass it as scheduler.Config.Observer.
type Metrics struct {
	runsEnded     *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	attempts      *prometheus.CounterVec
	claimLateness prometheus.Histogram
	fireLateness  prometheus.Histogram
	deliveries    *prometheus.CounterVec
	deliveryTime  *prometheus.HistogramVec
	webhooks      *prometheus.CounterVec
	rejections    *rejectionCollector
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
}

var _ scheduler.Observer = (*Metrics)(nil)

// New creates the collectors and registers them on cfg.Registerer. It
// returns an error, and registers nothing, when cfg is invalid or a
// collector cannot be registered (the same namespace registered twice on
// one registry, for one).
func New(cfg Config) (*Metrics, error) {
	if cfg.Registerer == nil {
		return nil, errors.New("metrics: invalid config Registerer: must not be nil")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = NamespaceDefault
	}
	if !validName(cfg.Namespace) {
		return nil, fmt.Errorf("metrics: invalid config Namespace: %q is not a valid metric name", cfg.Namespace)
	}
	if cfg.StatsTimeout < 0 {
		return nil, errors.New("metrics: invalid config StatsTimeout: must not be negative")
	}
	if cfg.StatsTimeout == 0 {
		cfg.StatsTimeout = StatsTimeoutDefault
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	ns := cfg.Namespace
	m := &Metrics{
		runsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "runs_ended_total",
			Help: "Runs that ended for good on this node, by agent and final status."}, []string{"agent", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "run_duration_seconds",
			Help:    "Duration of the last attempt of the runs that ended on this node, by agent.",
			Buckets: buckets.Duration()}, []string{"agent"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "attempts_total",
			Help: "Attempts that ended on this node, by agent and outcome."}, []string{"agent", "outcome"}),
		claimLateness: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "claim_lateness_seconds",
			Help:    "Time from a run being due to this node claiming it.",
			Buckets: buckets.Lateness()}),
		fireLateness: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "fire_lateness_seconds",
			Help:    "Time from a schedule's tick to its run being committed by this node, one observation per tick.",
			Buckets: buckets.Lateness()}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "deliveries_total",
			Help: "Delivery attempts made by this node, by channel and outcome."}, []string{"channel", "outcome"}),
		deliveryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "delivery_duration_seconds",
			Help:    "Duration of the delivery attempts made by this node, by channel.",
			Buckets: buckets.Duration()}, []string{"channel"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "webhook_accepted_total",
			Help: "Webhook requests accepted, by source and whether they were duplicates."}, []string{"source", "duplicate"}),
		rejections: &rejectionCollector{desc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "webhook_rejected_total"),
			"Webhook requests rejected, by source and reason.", []string{"source", "reason"}, nil)},
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "REST API requests, by route pattern and status code."}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "REST API request durations, by route pattern.",
			Buckets: buckets.HTTP()}, []string{"route"}),
	}
	cs := []prometheus.Collector{m.runsEnded, m.runDuration, m.attempts, m.claimLateness, m.fireLateness,
		m.deliveries, m.deliveryTime, m.webhooks, m.rejections, m.httpRequests, m.httpDuration}
	if cfg.Stats != nil {
		cs = append(cs, newStatsCollector(ns, cfg.Stats, cfg.Clock.Now, cfg.StatsTimeout))
	}
	for i, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			for _, done := range cs[:i] {
				cfg.Registerer.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// validName reports whether s is a valid metric name.
func validName(s string) bool {
	for i, r := range s {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return s != ""
}

// Observe implements scheduler.Observer: it counts what the scheduler
// tells it, and ignores the observations it does not know.
func (m *Metrics) Observe(o scheduler.Observation) {
	switch o := o.(type) {
	case *scheduler.RunClaimObserved:
		m.claimLateness.Observe(o.Lateness.Seconds())
	case *scheduler.AttemptObserved:
		m.attempts.WithLabelValues(o.Run.Agent, string(o.Outcome)).Inc()
	case *scheduler.RunEndObserved:
		m.runsEnded.WithLabelValues(o.Run.Agent, string(o.Status)).Inc()
		m.runDuration.WithLabelValues(o.Run.Agent).Observe(o.Duration.Seconds())
	case *scheduler.TicksObserved:
		late := o.Lateness.Seconds()
		for range o.Count {
			m.fireLateness.Observe(late)
		}
	case *scheduler.DeliveryObserved:
		m.deliveries.WithLabelValues(o.Channel, string(o.Status)).Inc()
		m.deliveryTime.WithLabelValues(o.Channel).Observe(o.Duration.Seconds())
	}
}

// ObserveHTTP counts a REST API request; the REST API's middleware calls
// it once the response is written. route is the ServeMux pattern that
// matched (http.Request.Pattern, as "GET /v1/runs/{id}", which carries the
// method), or empty when none did; never the request's path, which would
// make the series unbounded.
func (m *Metrics) ObserveHTTP(route string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// ObserveWebhookAccepted counts a webhook request of a configured source
// that was accepted; duplicate says that it was a redelivery of an event
// already recorded.
func (m *Metrics) ObserveWebhookAccepted(source string, duplicate bool) {
	m.webhooks.WithLabelValues(source, strconv.FormatBool(duplicate)).Inc()
}

// CollectWebhookRejections exports the rejection counts f returns (a
// webhook.Handler's Rejections method) as the webhook_rejected_total
// counter, read at each scrape. It may be called once per handler; the
// counts of several handlers are added up.
func (m *Metrics) CollectWebhookRejections(f func() []webhook.Rejection) {
	if f == nil {
		return
	}
	m.rejections.add(f)
}
