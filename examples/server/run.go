package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store/bunstore"
)

// shutdownGrace is how long requests in flight get to finish once the
// server is asked to stop.
const shutdownGrace = 10 * time.Second

// runGrace is how long runs under way get to finish once the server is
// asked to stop; then they are cancelled and put back in the queue, for
// another node or the next start. stopTimeout bounds the whole stop of
// the scheduler: the runs' grace, their requeue, and the deliveries under
// way (which get as long again).
const (
	runGrace    = 10 * time.Second
	stopTimeout = 2*runGrace + 5*time.Second
)

// run opens the store, serves HTTP until ctx is done, then shuts the server
// down and closes the store. It returns nil after a clean shutdown.
func run(ctx context.Context, cfg config, logger log.Logger) (err error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	st, err := bunstore.Open(ctx, cfg.Database, bunstore.Options{
		Logger: log.With(logger, "component", "store"),
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", dsnSummary(cfg.Database), err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()

	fc := &cfg.Settings
	sources, err := fc.sources()
	if err != nil {
		return fmt.Errorf("config file %s: %w", cfg.File, err)
	}
	router, err := fc.Delivery.router(logger, fc.problems(cfg.File))
	if err != nil {
		return err
	}
	statics, err := fc.statics()
	if err != nil {
		return fmt.Errorf("config file %s: %w", cfg.File, err)
	}

	reg, m, err := newMetrics(st)
	if err != nil {
		return err
	}
	kr, err := fc.Credentials.keyring(cfg.Database, st.Dialect(), logger)
	if err != nil {
		return err
	}
	backfiller, vault, err := fc.Backfill.agent(st, kr, logger)
	if err != nil {
		return err
	}
	agents := builtinAgents(st, fc.Retention)
	if backfiller != nil {
		agents.MustRegister(backfill.AgentName, backfiller)
		// A rotation's re-encrypt step: tokens sealed under an older key
		// move to the first one, so that the older key can then go.
		n, err := vault.Reseal(ctx)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		if n > 0 {
			level.Info(logger).Log("msg", "workspace tokens resealed under the first credentials key", "count", n)
		}
	}
	pm, err := fc.Plugins.start(agents, router, logger, fc.problems(cfg.File), "plugins")
	if err != nil {
		return err
	}
	if pm != nil {
		// Deferred before the scheduler's Stop, so it runs after it: the
		// plugins outlive the runs that use them.
		defer pm.Close()
	}
	sched, err := scheduler.New(st, scheduler.Config{
		Observer:      m,
		Agents:        agents,
		Delivery:      router,
		Static:        statics,
		Logger:        logger,
		Node:          fc.NodeID,
		Workers:       fc.Workers,
		Policy:        fc.Policy.scheduler(),
		ShutdownGrace: runGrace,
	})
	if err != nil {
		return schedulerError(err, fc, cfg.File)
	}
	// The scheduler is stopped by Stop below, with its grace, not by the
	// signal's context: that would stop it at once, without the grace.
	if err := sched.Start(context.WithoutCancel(ctx)); err != nil {
		return startError(err, fc, cfg.File)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if serr := sched.Stop(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop scheduler: %w", serr))
		}
	}()
	adminToken, err := ensureAdminToken(ctx, st, fc.Auth, cfg.ResetAdminToken)
	if err != nil {
		return err
	}
	authn, closeAuth, err := fc.Auth.authenticator(ctx, st, log.With(logger, "component", "auth"))
	if err != nil {
		return err
	}
	defer closeAuth()
	handler, err := newHandler(sched, authn, fc.RateLimit, sources, reg, m, logger, vault, st)
	if err != nil {
		return err
	}
	handler, closeDashboard, err := withDashboard(handler, authn, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	level.Info(logger).Log("msg", "listening", "addr", addr,
		"store", st.Dialect(), "database", dsnSummary(cfg.Database))

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdlibLogger(logger),
	}
	srv.RegisterOnShutdown(closeDashboard)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if adminToken != "" {
		out := cfg.Out
		if out == nil {
			out = os.Stdout
		}
		printAdminToken(out, adminToken, addr)
	}

	if cfg.Ready != nil {
		select {
		case cfg.Ready <- addr:
		case <-ctx.Done():
		}
	}

	select {
	case err := <-served:
		// Serve never returns nil; it stopped without being asked to.
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	level.Info(logger).Log("msg", "shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-served
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	level.Info(logger).Log("msg", "stopped")
	return nil
}
