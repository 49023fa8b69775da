package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // database/sql driver "sqlite": the one bunstore's sqliteshim picks on Linux
)

// River's fetch settings: its defaults, and the tuned values of its own
// benchmark (cmd/river/riverbench).
const (
	riverTunedFetchCooldown     = 2 * time.Millisecond
	riverTunedFetchPollInterval = 20 * time.Millisecond
)

// noopArgs is the River job: no arguments, no work.
type noopArgs struct{}

// Kind implements river.JobArgs.
func (noopArgs) Kind() string { return "noop" }

// noopWorker reports each job to worked.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	worked *atomic.Pointer[func()]
}

// Work implements river.Worker.
func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	if f := w.worked.Load(); f != nil {
		(*f)()
	}
	return nil
}

// riverQueue is a River client on one driver.
type riverQueue[TTx any] struct {
	driver   riverdriver.Driver[TTx]
	cfg      *config
	client   *river.Client[TTx] // insert-only until start
	worker   *river.Client[TTx] // the workers, once started
	worked   atomic.Pointer[func()]
	count    func(ctx context.Context) (int64, int64, error)
	times    func(ctx context.Context, query string) ([]time.Time, error) // PostgreSQL only
	closeDB  func()
	periodic []*river.PeriodicJob // set by the lateness workload before start
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openRiverPG(ctx context.Context, cfg *config, _ int) (queue, error) {
	dsn, err := ensureDatabase(ctx, cfg.pgURL, "river_bench")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, withPool(dsn, cfg.pool))
	if err != nil {
		return nil, fmt.Errorf("river: open pool: %w", err)
	}
	q := &riverQueue[pgx.Tx]{driver: riverpgxv5.New(pool), cfg: cfg, closeDB: pool.Close}
	q.count = func(ctx context.Context) (t, c int64, err error) {
		err = pool.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM river_job").Scan(&t, &c)
		return t, c, err
	}
	q.times = func(ctx context.Context, query string) ([]time.Time, error) {
		rows, err := pool.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[time.Time])
	}
	if err := q.migrate(ctx); err != nil {
		q.close()
		return nil, err
	}
	if _, err := pool.Exec(ctx, "TRUNCATE river_job, river_leader"); err != nil {
		q.close()
		return nil, fmt.Errorf("river: empty tables: %w", err)
	}
	if err := q.newClient(); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

func openRiverSQLite(ctx context.Context, cfg *config, round int) (queue, error) {
	path := filepath.Join(cfg.sqliteDir, fmt.Sprintf("river-%d-%d.db", round, nextFile()))
	// River's advice for SQLite: one connection. WAL and a busy timeout,
	// as bunstore sets them for Herald.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("river: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	q := &riverQueue[*sql.Tx]{driver: riversqlite.New(db), cfg: cfg, closeDB: func() { _ = db.Close() }}
	q.count = func(ctx context.Context) (t, c int64, err error) {
		err = db.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(CASE WHEN state = 'completed' THEN 1 ELSE 0 END), 0) FROM river_job").Scan(&t, &c)
		return t, c, err
	}
	if err := q.migrate(ctx); err != nil {
		q.close()
		return nil, err
	}
	if err := q.newClient(); err != nil {
		q.close()
		return nil, err
	}
	return q, nil
}

func (q *riverQueue[TTx]) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(q.driver, &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("river: migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river: migrate: %w", err)
	}
	return nil
}

// config is River's client configuration for workers (0: insert only).
func (q *riverQueue[TTx]) config(workers int) *river.Config {
	c := &river.Config{Logger: quietLogger()}
	if q.cfg.riverFetch == "tuned" {
		c.FetchCooldown = riverTunedFetchCooldown
		c.FetchPollInterval = riverTunedFetchPollInterval
	}
	if workers > 0 {
		ws := river.NewWorkers()
		river.AddWorker(ws, &noopWorker{worked: &q.worked})
		c.Workers = ws
		c.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}
		c.PeriodicJobs = q.periodic
	}
	return c
}

func (q *riverQueue[TTx]) newClient() error {
	c, err := river.NewClient(q.driver, q.config(0))
	if err != nil {
		return fmt.Errorf("river: client: %w", err)
	}
	q.client = c
	return nil
}

func (q *riverQueue[TTx]) insertMany(ctx context.Context, n, batch int) error {
	for left := n; left > 0; {
		k := min(left, batch)
		ps := make([]river.InsertManyParams, k)
		for i := range ps {
			ps[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := q.client.InsertMany(ctx, ps); err != nil {
			return fmt.Errorf("river: insert many: %w", err)
		}
		left -= k
	}
	return nil
}

func (q *riverQueue[TTx]) insertOne(ctx context.Context) error {
	_, err := q.client.Insert(ctx, noopArgs{}, nil)
	return err
}

func (q *riverQueue[TTx]) start(ctx context.Context, workers int, worked func()) error {
	q.worked.Store(&worked)
	c, err := river.NewClient(q.driver, q.config(workers))
	if err != nil {
		return fmt.Errorf("river: client: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("river: start: %w", err)
	}
	q.worker = c
	return nil
}

func (q *riverQueue[TTx]) stop(ctx context.Context) error {
	if q.worker == nil {
		return nil
	}
	err := q.worker.Stop(ctx)
	q.worker = nil
	return err
}

func (q *riverQueue[TTx]) counts(ctx context.Context) (int64, int64, error) { return q.count(ctx) }

// rows reads one time column of query's rows.
func (q *riverQueue[TTx]) rows(ctx context.Context, query string) ([]time.Time, error) {
	if q.times == nil {
		return nil, fmt.Errorf("river: rows: PostgreSQL only")
	}
	return q.times(ctx, query)
}

func (q *riverQueue[TTx]) close() {
	_ = q.stop(context.Background())
	q.closeDB()
}
