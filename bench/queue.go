package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// queue is one job system under test, opened for one round on emptied
// tables. Its jobs are no-ops.
type queue interface {
	// insertMany inserts n jobs through the system's batch API, in batches.
	insertMany(ctx context.Context, n, batch int) error
	// insertOne inserts one job through the system's single-insert API.
	insertOne(ctx context.Context) error
	// start starts workers that call worked once per job they run.
	start(ctx context.Context, workers int, worked func()) error
	// stop stops the workers; safe to call when not started.
	stop(ctx context.Context) error
	// counts reads, in the database, the jobs there are and those recorded
	// as completed.
	counts(ctx context.Context) (total, completed int64, err error)
	// close releases the connections.
	close()
}

// queueKind opens a queue of one system.
type queueKind struct {
	key  string // as -systems takes it
	name string // display name
	ref  string // display name of the Herald system it is compared with
	open func(ctx context.Context, cfg *config, round int) (queue, error)
}

var queueKinds = map[string]queueKind{
	sysHeraldPG:     {sysHeraldPG, "Herald (PostgreSQL)", "", openHeraldPG},
	sysRiverPG:      {sysRiverPG, "River (PostgreSQL)", "Herald (PostgreSQL)", openRiverPG},
	sysAsynq:        {sysAsynq, "asynq (Redis)", "Herald (PostgreSQL)", openAsynq},
	sysHeraldSQLite: {sysHeraldSQLite, "Herald (SQLite)", "", openHeraldSQLite},
	sysRiverSQLite:  {sysRiverSQLite, "River (SQLite)", "Herald (SQLite)", openRiverSQLite},
}

// selected returns the queue kinds of cfg.systems among keys, in
// cfg.systems' order.
func selected(cfg *config, keys ...string) []queueKind {
	var out []queueKind
	for _, k := range cfg.systems {
		for _, want := range keys {
			if k == want {
				out = append(out, queueKinds[k])
			}
		}
	}
	return out
}

// waitCompleted waits until the database records want jobs completed, and
// returns when it did; it fails after timeout.
func waitCompleted(ctx context.Context, q queue, want int64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		_, done, err := q.counts(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("count completed jobs: %w", err)
		}
		if done >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d jobs completed in the database after %v", done, want, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// verify checks in the database that there are exactly total jobs and that
// completed of them are recorded as completed; it is the harness's proof
// that a round did what it claims.
func verify(ctx context.Context, name string, q queue, total, completed int64) error {
	t, c, err := q.counts(ctx)
	if err != nil {
		return fmt.Errorf("%s: verify: %w", name, err)
	}
	if t != total || c != completed {
		return fmt.Errorf("%s: verify: the database holds %d jobs, %d completed; want %d jobs, %d completed", name, t, c, total, completed)
	}
	return nil
}

// ensureDatabase creates database name on the server of serverURL when it
// does not exist, and returns a URL for it.
func ensureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL (-pg): %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("-pg: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// withPool returns dsn with pgx's pool_max_conns set.
func withPool(dsn string, pool int) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(pool))
	u.RawQuery = q.Encode()
	return u.String()
}
