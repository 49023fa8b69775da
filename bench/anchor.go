package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The physical anchor: what each database does with plain SQL on this
// machine, measured by the harness itself, so that every other figure can
// be read against it.
const (
	anchorClaimBatch = 100
)

// anchorDB is the few statements the anchor needs, per database.
type anchorDB struct {
	name        string
	exec        func(ctx context.Context, q string, args ...any) (int64, error)
	conns       int // connections the insert test may use
	createTable string
	insert      string
	fill        string // inserts $1 available rows
	claim       string // claims up to 100 rows
	close       func()
}

func runAnchor(ctx context.Context, cfg *config, res *results) error {
	var dbs []func() (*anchorDB, error)
	if cfg.has(sysHeraldPG) || cfg.has(sysRiverPG) {
		dbs = append(dbs, func() (*anchorDB, error) { return openAnchorPG(ctx, cfg) })
	}
	if cfg.has(sysHeraldSQLite) || cfg.has(sysRiverSQLite) {
		dbs = append(dbs, func() (*anchorDB, error) { return openAnchorSQLite(cfg) })
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, open := range dbs {
			db, err := open()
			if err != nil {
				return fmt.Errorf("anchor: %w", err)
			}
			values, err := anchorRound(ctx, cfg, db)
			db.close()
			if err != nil {
				return fmt.Errorf("anchor: %s, round %d: %w", db.name, round, err)
			}
			res.add(&sample{workload: wlAnchor, variant: "plain SQL", system: db.name, round: round, values: values})
			progress("anchor round %d %s: %s", round, db.name, show(values))
		}
	}
	return nil
}

func openAnchorPG(ctx context.Context, cfg *config) (*anchorDB, error) {
	dsn, err := ensureDatabase(ctx, cfg.pgURL, "anchor_bench")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, withPool(dsn, cfg.pool))
	if err != nil {
		return nil, err
	}
	return &anchorDB{
		name: "PostgreSQL",
		exec: func(ctx context.Context, q string, args ...any) (int64, error) {
			tag, err := pool.Exec(ctx, q, args...)
			return tag.RowsAffected(), err
		},
		conns: 8,
		createTable: `DROP TABLE IF EXISTS anchor_insert, anchor_jobs;
			CREATE TABLE anchor_insert (id bigserial PRIMARY KEY, kind text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
			CREATE TABLE anchor_jobs (id bigserial PRIMARY KEY, state text NOT NULL, locked_by text)`,
		insert: `INSERT INTO anchor_insert (kind) VALUES ('noop')`,
		fill:   `INSERT INTO anchor_jobs (state) SELECT 'available' FROM generate_series(1, $1)`,
		claim: `WITH c AS (SELECT id FROM anchor_jobs WHERE state = 'available' ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
			UPDATE anchor_jobs j SET state = 'running', locked_by = 'anchor' FROM c WHERE j.id = c.id`,
		close: pool.Close,
	}, nil
}

func openAnchorSQLite(cfg *config) (*anchorDB, error) {
	path := filepath.Join(cfg.sqliteDir, fmt.Sprintf("anchor-%d.db", nextFile()))
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer
	return &anchorDB{
		name: "SQLite",
		exec: func(ctx context.Context, q string, args ...any) (int64, error) {
			r, err := db.ExecContext(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			return r.RowsAffected()
		},
		conns: 1,
		createTable: `DROP TABLE IF EXISTS anchor_insert; DROP TABLE IF EXISTS anchor_jobs;
			CREATE TABLE anchor_insert (id integer PRIMARY KEY, kind text NOT NULL, created_at integer NOT NULL DEFAULT (unixepoch()));
			CREATE TABLE anchor_jobs (id integer PRIMARY KEY, state text NOT NULL, locked_by text)`,
		insert: `INSERT INTO anchor_insert (kind) VALUES ('noop')`,
		fill: `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
			INSERT INTO anchor_jobs (state) SELECT 'available' FROM s`,
		claim: `UPDATE anchor_jobs SET state = 'running', locked_by = 'anchor'
			WHERE id IN (SELECT id FROM anchor_jobs WHERE state = 'available' ORDER BY id LIMIT 100)`,
		close: func() { _ = db.Close() },
	}, nil
}

// anchorRound measures single-row commits from one connection and from
// db.conns, and batched claims of 100 rows from one connection over cfg.n
// rows.
func anchorRound(ctx context.Context, cfg *config, db *anchorDB) (map[string]float64, error) {
	if _, err := db.exec(ctx, db.createTable); err != nil {
		return nil, fmt.Errorf("create tables: %w", err)
	}
	window := min(cfg.duration, 3*time.Second)
	commits := func(conns int) (float64, error) {
		var wg sync.WaitGroup
		counts := make([]int, conns)
		errs := make([]error, conns)
		start := time.Now()
		end := start.Add(window)
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					if _, err := db.exec(ctx, db.insert); err != nil {
						errs[c] = err
						return
					}
					counts[c]++
				}
			}()
		}
		wg.Wait()
		total := 0
		for c := range conns {
			if errs[c] != nil {
				return 0, errs[c]
			}
			total += counts[c]
		}
		return float64(total) / time.Since(start).Seconds(), nil
	}
	one, err := commits(1)
	if err != nil {
		return nil, fmt.Errorf("single-row commits: %w", err)
	}
	many, err := commits(db.conns)
	if err != nil {
		return nil, fmt.Errorf("single-row commits: %w", err)
	}
	if _, err := db.exec(ctx, db.fill, cfg.n); err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	start := time.Now()
	claimed := int64(0)
	for {
		n, err := db.exec(ctx, db.claim)
		if err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		if n == 0 {
			break
		}
		claimed += n
	}
	took := time.Since(start)
	if claimed != int64(cfg.n) {
		return nil, fmt.Errorf("claimed %d rows of %d", claimed, cfg.n)
	}
	return map[string]float64{
		"commit_1": one, "commit_n": many, "conns": float64(db.conns),
		"claim_rows": float64(claimed) / took.Seconds(),
	}, nil
}
