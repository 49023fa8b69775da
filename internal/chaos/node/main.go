// Command node is one Herald node for the cluster tests of package chaos:
// it runs a scheduler on a PostgreSQL store with one agent ("chaos") and one
// delivery channel ("record"), both of which write down what they do in
// tables of their own, so that the test can check from the database what
// every process did, even one killed with SIGKILL.
//
// It prints "ready" on stdout once the scheduler has started. SIGTERM (or
// SIGINT) stops it gracefully; the end of its standard input (the test that
// started it has gone) makes it exit at once.
//
// The tables, created by the test before any node starts:
//
//	herald_chaos_execs(id, run_id, attempt, node, pid, started_at, ended_at, outcome)
//	herald_chaos_deliveries(id, run_id, node, pid, target, at)
//
// Usage:
//
//	node -dsn postgres://… -node n1.0 [-lease 3s] [-workers 16] [-skew 0] [-agent-ms 200] …
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of database/sql

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store/bunstore"
)

// The names the test's runs and schedules use.
const (
	agentName   = "chaos"  // the node's only agent
	channelName = "record" // the node's only delivery channel
)

// Exit codes other than 0 (a clean stop).
const (
	exitFailed   = 1 // start or stop failed
	exitUsage    = 2 // bad flags
	exitOrphaned = 3 // standard input ended: the test is gone
)

// recordTimeout bounds the writing of one record.
const recordTimeout = 10 * time.Second

// options are the node's flags.
type options struct {
	dsn         string
	node        string
	lease       time.Duration
	workers     int
	skew        time.Duration
	work        time.Duration
	retryBase   time.Duration
	takeover    time.Duration
	grace       time.Duration
	maxConns    int
	agentConns  int
	logDebug    bool
	maxAttempts int
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.StringVar(&o.dsn, "dsn", "", "PostgreSQL DSN (required)")
	fs.StringVar(&o.node, "node", "", "node name, unique per process (required)")
	fs.DurationVar(&o.lease, "lease", 3*time.Second, "lease of a claimed run")
	fs.IntVar(&o.workers, "workers", 16, "runs executed at once")
	fs.DurationVar(&o.skew, "skew", 0, "added to the scheduler's clock")
	agentMS := fs.Int("agent-ms", 200, "mean work time of an attempt in milliseconds (±50%)")
	fs.DurationVar(&o.retryBase, "retry-base", 0, "scheduler Retry.Base; 0 means the default")
	fs.DurationVar(&o.takeover, "takeover", 0, "scheduler DeliveryTakeover; 0 means the default")
	fs.DurationVar(&o.grace, "grace", 5*time.Second, "scheduler ShutdownGrace")
	fs.IntVar(&o.maxConns, "max-conns", 10, "the store's connection pool")
	fs.IntVar(&o.agentConns, "agent-conns", 4, "the connection pool of the agent's and deliverer's records")
	fs.IntVar(&o.maxAttempts, "max-attempts", 0, "scheduler Retry.MaxAttempts; 0 means the default")
	fs.BoolVar(&o.logDebug, "debug", false, "log at debug level")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return exitUsage
	}
	if o.dsn == "" || o.node == "" || *agentMS < 0 {
		fmt.Fprintln(os.Stderr, "node: -dsn and -node are required, -agent-ms must not be negative")
		return exitUsage
	}
	o.work = time.Duration(*agentMS) * time.Millisecond

	logger := log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	logger = log.With(logger, "ts", log.DefaultTimestampUTC, "node", o.node, "pid", os.Getpid())
	if o.logDebug {
		logger = level.NewFilter(logger, level.AllowDebug())
	} else {
		logger = level.NewFilter(logger, level.AllowInfo())
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go orphanWatch(logger)

	if err := serve(ctx, o, logger); err != nil {
		level.Error(logger).Log("msg", "node failed", "err", err)
		return exitFailed
	}
	return 0
}

// orphanWatch exits the process once standard input ends: the test that
// started it holds the other end, so the node never outlives it.
func orphanWatch(logger log.Logger) {
	_, _ = io.Copy(io.Discard, os.Stdin)
	level.Warn(logger).Log("msg", "standard input ended; exiting")
	os.Exit(exitOrphaned)
}

// serve runs the node until ctx ends, then stops it gracefully.
func serve(ctx context.Context, o options, logger log.Logger) (err error) {
	st, err := bunstore.Open(ctx, o.dsn, bunstore.Options{
		Logger:       log.With(logger, "component", "store"),
		MaxOpenConns: o.maxConns,
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	db, err := sql.Open("pgx", o.dsn)
	if err != nil {
		return fmt.Errorf("open records: %w", err)
	}
	db.SetMaxOpenConns(o.agentConns)
	defer db.Close()

	rec := &recorder{db: db, node: o.node, pid: os.Getpid(), work: o.work}
	agents := agent.NewRegistry()
	agents.MustRegister(agentName, agent.Func(rec.execute))
	router := delivery.NewRouter()
	router.MustRegister(channelName, delivery.Func(rec.deliver))

	sched, err := scheduler.New(skewedStore{Store: st, skew: o.skew}, scheduler.Config{
		Agents:           agents,
		Delivery:         router,
		Logger:           logger,
		Node:             o.node,
		Workers:          o.workers,
		Lease:            o.lease,
		Retry:            scheduler.RetryPolicy{Base: o.retryBase, MaxAttempts: o.maxAttempts},
		ShutdownGrace:    o.grace,
		DeliveryTakeover: o.takeover,
	})
	if err != nil {
		return err
	}
	// Start's context is not ctx: its end would stop the node without
	// grace, and a SIGTERM asks for a graceful stop.
	if err := sched.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	level.Info(logger).Log("msg", "node ready", "lease", o.lease, "workers", o.workers, "skew", o.skew)
	fmt.Println("ready")

	<-ctx.Done()
	level.Info(logger).Log("msg", "stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 3*o.grace+recordTimeout)
	defer cancel()
	if err := sched.Stop(sctx); err != nil {
		return fmt.Errorf("stop scheduler: %w", err)
	}
	level.Info(logger).Log("msg", "stopped")
	return nil
}

// skewedStore is the store as the engine of a machine whose clock is off
// by skew sees it: the engine reads its clock from the store, and this
// one's is skewed. The store itself keeps the database's clock for the
// times of a run's life (and the system clock for its other stamps), as on
// any node.
type skewedStore struct {
	*bunstore.Store
	skew time.Duration
}

// Clock returns the system clock moved by skew.
func (s skewedStore) Clock() clock.Clock { return skewedClock{skew: s.skew} }

// skewedClock is the system clock moved by skew.
type skewedClock struct {
	clock.System
	skew time.Duration
}

// Now returns the system's time plus the skew.
func (c skewedClock) Now() time.Time { return time.Now().Add(c.skew) }

// recorder is the node's agent and deliverer: each writes down what it does.
type recorder struct {
	db   *sql.DB
	node string
	pid  int
	work time.Duration
}

// payload is what a run may ask of the agent.
type payload struct {
	// FailFirst makes the first attempt fail.
	FailFirst bool `json:"fail_first"`
}

// execute is the agent: it records the attempt's start, works a while
// (until ctx ends), records the end, and fails the first attempt when the
// payload asks for it.
func (r *recorder) execute(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	// The records are written even when ctx has ended (the node is
	// stopping): the test needs every execution's start and end.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var id int64
	err := r.db.QueryRowContext(rctx,
		"INSERT INTO herald_chaos_execs (run_id, attempt, node, pid) VALUES ($1, $2, $3, $4) RETURNING id",
		task.RunID, task.Attempt, r.node, r.pid).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("record the execution's start: %w", err)
	}
	var p payload
	if len(task.Payload) > 0 {
		if err := json.Unmarshal(task.Payload, &p); err != nil {
			return nil, agent.Permanent(fmt.Errorf("payload: %w", err))
		}
	}
	var workErr error
	if r.work > 0 {
		d := r.work/2 + rand.N(r.work)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			workErr = ctx.Err()
		}
	}
	outcome := "succeeded"
	switch {
	case workErr != nil:
		outcome = "interrupted"
	case p.FailFirst && task.Attempt == 1:
		outcome = "failed"
		workErr = errors.New("chaos: the first attempt fails on purpose")
	}
	if _, err := r.db.ExecContext(rctx,
		"UPDATE herald_chaos_execs SET ended_at = clock_timestamp(), outcome = $2 WHERE id = $1", id, outcome); err != nil {
		return nil, errors.Join(workErr, fmt.Errorf("record the execution's end: %w", err))
	}
	if workErr != nil {
		return nil, workErr
	}
	return &agent.Result{Summary: "done by " + r.node}, nil
}

// deliver is the deliverer: it records the delivery.
func (r *recorder) deliver(ctx context.Context, m *delivery.Message) error {
	_, err := r.db.ExecContext(ctx,
		"INSERT INTO herald_chaos_deliveries (run_id, node, pid, target) VALUES ($1, $2, $3, $4)",
		m.RunID, r.node, r.pid, m.Target.To)
	if err != nil {
		return fmt.Errorf("record the delivery: %w", err)
	}
	return nil
}
