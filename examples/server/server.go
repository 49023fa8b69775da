package main

import (
	"net/http"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/metrics"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// newMetrics returns the server's Prometheus registry, with the Go
// runtime's and the process's collectors, and Herald's metrics on it (the
// queue and the schedules read from st at each scrape).
func newMetrics(st store.Store) (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(metrics.Config{Registerer: reg, Stats: st})
	if err != nil {
		return nil, nil, err
	}
	return reg, m, nil
}

// newHandler returns the server's HTTP handler: the REST API of package
// api, with the webhook sources, the workspaces of vault (when set) and
// GET /metrics, at the root.
func newHandler(sched *scheduler.Scheduler, authn api.Authenticator, rl rateLimitConfig, sources []webhook.Source,
	reg *prometheus.Registry, m *metrics.Metrics, logger log.Logger, vault *backfill.Vault, messages store.MessageStore) (http.Handler, error) {
	cfg := api.Config{Scheduler: sched, Authenticator: authn, Webhooks: sources, Logger: log.With(logger, "component", "api"),
		RateLimit: api.RateLimit{PerSecond: rl.PerSecond, Burst: rl.Burst}, Backfill: vault, Messages: messages}
	if m != nil {
		cfg.Observer = m
		cfg.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	}
	return api.New(cfg)
}
