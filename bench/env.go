package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// environment is what the report says about the machine and the software.
type environment struct {
	date     time.Time
	cpu      string
	cores    int
	memory   string
	kernel   string
	goVer    string
	modules  [][2]string // path, version
	postgres [][2]string // setting, value
	redis    [][2]string
	sqlite   [][2]string
	took     time.Duration
}

// describe reads the machine and the servers; it fails when a server a
// selected system needs does not answer.
func describe(ctx context.Context, cfg *config) (*environment, error) {
	env := &environment{date: time.Now(), cores: runtime.NumCPU(), goVer: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				env.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%d", &kb); err == nil {
			env.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			for _, want := range []string{"github.com/riverqueue/river", "github.com/riverqueue/river/riverdriver/riverpgxv5",
				"github.com/riverqueue/river/riverdriver/riversqlite", "github.com/hibiken/asynq", "github.com/jackc/pgx/v5",
				"github.com/uptrace/bun", "modernc.org/sqlite", "github.com/redis/go-redis/v9"} {
				if d.Path == want {
					v := d.Version
					if d.Replace != nil {
						v = d.Replace.Version
					}
					env.modules = append(env.modules, [2]string{d.Path, v})
				}
			}
		}
	}
	if cfg.has(sysHeraldPG) || cfg.has(sysRiverPG) || cfg.runs(wlWebhook) || cfg.runs(wlScale) {
		conn, err := pgx.Connect(ctx, cfg.pgURL)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL at -pg does not answer: %w", err)
		}
		for _, s := range []string{"server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level", "shared_buffers", "max_connections", "autovacuum"} {
			var v string
			if err := conn.QueryRow(ctx, "SHOW "+s).Scan(&v); err != nil {
				conn.Close(ctx)
				return nil, fmt.Errorf("PostgreSQL: SHOW %s: %w", s, err)
			}
			env.postgres = append(env.postgres, [2]string{s, v})
		}
		conn.Close(ctx)
	}
	if cfg.has(sysAsynq) && (cfg.runs(wlBurnDown) || cfg.runs(wlContinuous) || cfg.runs(wlInsert)) {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.redisAddr, DB: cfg.redisDB})
		info, err := rdb.Info(ctx, "server", "persistence").Result()
		rdb.Close()
		if err != nil {
			return nil, fmt.Errorf("Redis at -redis %s does not answer (leave asynq out of -systems to run without it): %w", cfg.redisAddr, err)
		}
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok && (k == "redis_version" || k == "aof_enabled" || k == "rdb_bgsave_in_progress") {
				env.redis = append(env.redis, [2]string{k, v})
			}
		}
		rdb = redis.NewClient(&redis.Options{Addr: cfg.redisAddr, DB: cfg.redisDB})
		if v, err := rdb.ConfigGet(ctx, "appendfsync").Result(); err == nil {
			for k, val := range v {
				env.redis = append(env.redis, [2]string{k, val})
			}
		}
		rdb.Close()
	}
	if cfg.has(sysHeraldSQLite) || cfg.has(sysRiverSQLite) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.sqliteDir, "probe.db")+"?_pragma=journal_mode(WAL)")
		if err != nil {
			return nil, err
		}
		for _, q := range [][2]string{{"version", "SELECT sqlite_version()"}, {"journal_mode", "PRAGMA journal_mode"}, {"synchronous", "PRAGMA synchronous"}} {
			var v string
			if err := db.QueryRowContext(ctx, q[1]).Scan(&v); err != nil {
				db.Close()
				return nil, fmt.Errorf("SQLite: %s: %w", q[1], err)
			}
			if q[0] == "synchronous" {
				v = map[string]string{"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}[v] + " (" + v + ")"
			}
			env.sqlite = append(env.sqlite, [2]string{q[0], v})
		}
		db.Close()
	}
	return env, nil
}
