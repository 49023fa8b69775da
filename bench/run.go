package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// run runs the workloads cfg asks for and writes the report.
func run(ctx context.Context, cfg *config) error {
	started := time.Now()
	if cfg.sqliteDir == "" {
		dir, err := os.MkdirTemp("", "herald-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.sqliteDir = dir
	} else if err := os.MkdirAll(cfg.sqliteDir, 0o755); err != nil {
		return fmt.Errorf("-sqlite-dir: %w", err)
	}
	env, err := describe(ctx, cfg)
	if err != nil {
		return err
	}
	res := &results{}
	steps := []struct {
		workload string
		run      func(context.Context, *config, *results) error
	}{
		{wlAnchor, runAnchor},
		{wlBurnDown, runBurnDown},
		{wlContinuous, runContinuous},
		{wlInsert, runInsert},
		{wlWebhook, runWebhook},
		{wlLateness, runLateness},
		{wlScale, runScale},
	}
	for _, st := range steps {
		if !cfg.runs(st.workload) {
			continue
		}
		t := time.Now()
		progress("== %s", st.workload)
		if err := st.run(ctx, cfg, res); err != nil {
			return err
		}
		progress("== %s took %v", st.workload, time.Since(t).Round(time.Second))
	}
	env.took = time.Since(started)
	dir := filepath.Dir(cfg.out)
	charts, err := writeCharts(dir, res)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, []byte(report(cfg, env, res, charts)), 0o644); err != nil {
		return err
	}
	progress("wrote %s in %v", cfg.out, env.took.Round(time.Second))
	return nil
}

func runBurnDown(ctx context.Context, cfg *config, res *results) error {
	for _, db := range []struct {
		name string
		n    int
		keys []string
	}{
		{"PostgreSQL/Redis", cfg.n, []string{sysHeraldPG, sysRiverPG, sysAsynq}},
		{"SQLite", cfg.sqliteN, []string{sysHeraldSQLite, sysRiverSQLite}},
	} {
		kinds := selected(cfg, db.keys...)
		if len(kinds) == 0 {
			continue
		}
		for _, w := range cfg.workers {
			variant := fmt.Sprintf("%s, %d workers", db.name, w)
			err := runQueues(ctx, cfg, res, wlBurnDown, variant, kinds, func(ctx context.Context, q queue, _ int) (map[string]float64, error) {
				return burnDown(ctx, cfg, q, db.n, w)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// runContinuous runs the servers' systems only: the SQLite systems drain
// their backlog too slowly (River's) for a run of minutes.
func runContinuous(ctx context.Context, cfg *config, res *results) error {
	kinds := selected(cfg, sysHeraldPG, sysRiverPG, sysAsynq)
	if len(kinds) == 0 {
		return nil
	}
	w := cfg.workers[0]
	return runQueues(ctx, cfg, res, wlContinuous, fmt.Sprintf("%d workers", w), kinds, func(ctx context.Context, q queue, _ int) (map[string]float64, error) {
		return continuous(ctx, cfg, q, w)
	})
}

func runInsert(ctx context.Context, cfg *config, res *results) error {
	kinds := selected(cfg, sysHeraldPG, sysRiverPG, sysAsynq, sysHeraldSQLite, sysRiverSQLite)
	if len(kinds) == 0 {
		return nil
	}
	for _, c := range cfg.callers {
		err := runQueues(ctx, cfg, res, wlInsert, fmt.Sprintf("%d callers", c), kinds, func(ctx context.Context, q queue, _ int) (map[string]float64, error) {
			v, _, err := singleInsert(ctx, cfg, q, c)
			return v, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// progress reports on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// show formats values for progress lines.
func show(values map[string]float64) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%.4g", k, values[k])
	}
	return b.String()
}
