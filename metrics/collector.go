package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// statsCollector reads the store's Stats at each scrape.
type statsCollector struct {
	stats   store.StatsReader
	now     func() time.Time
	timeout time.Duration

	queued, oldest, running, schedules *prometheus.Desc
	errors                             prometheus.Counter
}

func newStatsCollector(ns string, stats store.StatsReader, now func() time.Time, timeout time.Duration) *statsCollector {
	return &statsCollector{
		stats: stats, now: now, timeout: timeout,
		queued: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "queue_depth"),
			"Runs in status queued, held ones included, on every node.", nil, nil),
		oldest: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "queue_oldest_age_seconds"),
			"Time since the oldest queued run that is not held became due; 0 when none is due.", nil, nil),
		running: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "runs_running"),
			"Runs in status running, on every node.", nil, nil),
		schedules: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "schedules"),
			"Schedules by state: active or paused.", []string{"state"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "stats_errors_total",
			Help: "Scrapes whose read of the store's stats failed; the queue and schedule gauges were left out of them."}),
	}
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queued
	ch <- c.oldest
	ch <- c.running
	ch <- c.schedules
	ch <- c.errors.Desc()
}

// Collect implements prometheus.Collector. A failed Stats call leaves the
// gauges out and counts the failure, in the same scrape.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.stats.Stats(ctx)
	if err != nil || st == nil {
		c.errors.Inc()
		ch <- c.errors
		return
	}
	ch <- c.errors
	age := 0.0
	if !st.OldestQueuedRunAt.IsZero() {
		age = max(c.now().Sub(st.OldestQueuedRunAt).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(st.Running))
	ch <- prometheus.MustNewConstMetric(c.schedules, prometheus.GaugeValue, float64(st.SchedulesActive), "active")
	ch <- prometheus.MustNewConstMetric(c.schedules, prometheus.GaugeValue, float64(st.SchedulesPaused), "paused")
}

// rejectionCollector exports the webhook handlers' rejection counts at
// each scrape.
type rejectionCollector struct {
	desc *prometheus.Desc

	mu    sync.Mutex // guards funcs
	funcs []func() []webhook.Rejection
}

func (c *rejectionCollector) add(f func() []webhook.Rejection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.funcs = append(c.funcs, f)
}

// Describe implements prometheus.Collector.
func (c *rejectionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. The counts are added up by
// source and reason, across handlers; the source of an unknown_source
// rejection (a name the sender chose) is left empty, so that senders
// cannot grow the series without bound.
func (c *rejectionCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	funcs := append([]func() []webhook.Rejection(nil), c.funcs...)
	c.mu.Unlock()
	type key struct{ source, reason string }
	var order []key
	sums := map[key]int64{}
	for _, f := range funcs {
		for _, r := range f() {
			k := key{r.Source, r.Reason}
			if r.Reason == "unknown_source" {
				k.source = ""
			}
			if _, ok := sums[k]; !ok {
				order = append(order, k)
			}
			sums[k] += r.Count
		}
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(sums[k]), k.source, k.reason)
	}
}
