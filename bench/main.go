// Command bench runs Herald beside its peers (River on PostgreSQL and
// SQLite, asynq on Redis) and against the physical limits of the same
// databases, and writes REPORT.md with its tables and SVG charts.
//
// It is a separate Go module so that the library's go.mod never depends on
// a peer. One command runs everything:
//
//	cd bench && go run . -out REPORT.md
//
// Every workload runs each system that can do it, round by round (A B A B
// …), on emptied tables, and checks in the database after every round that
// every job really completed; a round that finds a job missing fails the
// run. The report gives the median of each figure over the rounds and the
// median of the per-round ratios. -smoke runs every workload at a tiny size
// in seconds, as CI does, so that the harness cannot rot.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workload names, as -workloads takes them.
const (
	wlAnchor     = "anchor"
	wlBurnDown   = "burndown"
	wlContinuous = "continuous"
	wlInsert     = "insert"
	wlWebhook    = "webhook"
	wlLateness   = "lateness"
	wlScale      = "scale"
)

var allWorkloads = []string{wlAnchor, wlBurnDown, wlContinuous, wlInsert, wlWebhook, wlLateness, wlScale}

// System keys, as -systems takes them.
const (
	sysHeraldPG     = "herald-pg"
	sysRiverPG      = "river-pg"
	sysHeraldSQLite = "herald-sqlite"
	sysRiverSQLite  = "river-sqlite"
	sysAsynq        = "asynq"
)

var allSystems = []string{sysHeraldPG, sysRiverPG, sysAsynq, sysHeraldSQLite, sysRiverSQLite}

// config is what the flags ask for.
type config struct {
	out        string
	systems    []string
	workloads  []string
	n          int
	sqliteN    int
	workers    []int
	rounds     int
	duration   time.Duration
	callers    []int
	rates      []int
	schedules  []int
	scaleN     int
	batch      int
	pool       int
	pgURL      string
	redisAddr  string
	redisDB    int
	riverFetch string
	smoke      bool
	sqliteDir  string
	cpuProfile string
	memProfile string
}

func (c *config) has(system string) bool    { return slices.Contains(c.systems, system) }
func (c *config) runs(workload string) bool { return slices.Contains(c.workloads, workload) }

func main() {
	if len(os.Args) > 1 && os.Args[1] == scaleChildCommand {
		if err := scaleChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench scale child:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			os.Exit(2)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if cfg.memProfile != "" {
		if err := writeMemProfile(cfg.memProfile); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -memprofile:", err)
			os.Exit(1)
		}
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{}
	var systems, workloads, workers, callers, rates, schedules string
	fs.StringVar(&cfg.out, "out", "REPORT.md", "the report to write; its charts go beside it")
	fs.StringVar(&systems, "systems", strings.Join(allSystems, ","), "systems to run: "+strings.Join(allSystems, ", "))
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "workloads to run: "+strings.Join(allWorkloads, ", "))
	fs.IntVar(&cfg.n, "n", 20_000, "jobs per burn-down round on PostgreSQL and Redis (and rows of the anchor's claim test)")
	fs.IntVar(&cfg.sqliteN, "sqlite-n", 5_000, "jobs per burn-down round on SQLite (River's SQLite driver completes one job per statement)")
	fs.StringVar(&workers, "workers", "100,1000", "worker counts of the burn-down (the first is used by the other workloads)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds per workload (at least 3 unless -smoke)")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "length of each timed window (continuous, single insert, webhook)")
	fs.StringVar(&callers, "callers", "1,8,32", "concurrent callers of the single-insert workload")
	fs.StringVar(&rates, "rates", "500,1000,2000", "open-loop webhook rates, requests/s")
	fs.StringVar(&schedules, "schedules", "1000,10000", "schedules due in the same second (fire lateness)")
	fs.IntVar(&cfg.scaleN, "scale", 100_000, "schedules loaded by the scale workload")
	fs.IntVar(&cfg.batch, "batch", 1000, "jobs per batch insert")
	fs.IntVar(&cfg.pool, "pool", 16, "connection pool size of every system (PostgreSQL, Redis)")
	fs.StringVar(&cfg.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server; the harness creates its own databases on it (herald_bench, river_bench, anchor_bench, herald_scale)")
	fs.StringVar(&cfg.redisAddr, "redis", "127.0.0.1:6379", "Redis address (asynq)")
	fs.IntVar(&cfg.redisDB, "redis-db", 15, "Redis database number; it is flushed between rounds")
	fs.StringVar(&cfg.riverFetch, "river-fetch", "tuned", "River's fetch settings: tuned (FetchCooldown 2ms, FetchPollInterval 20ms, as River's own bench) or default (100ms, 1s)")
	fs.BoolVar(&cfg.smoke, "smoke", false, "run every workload at a tiny size (seconds; for CI)")
	fs.StringVar(&cfg.sqliteDir, "sqlite-dir", "", "directory for SQLite files (default: a temporary directory, removed at the end)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write the harness's CPU profile to this file (go tool pprof), to see where the time goes")
	fs.StringVar(&cfg.memProfile, "memprofile", "", "write the harness's allocation profile to this file at the end (go tool pprof -sample_index=alloc_space), to see what allocates")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if cfg.systems, err = names("-systems", systems, allSystems); err != nil {
		return nil, err
	}
	if cfg.workloads, err = names("-workloads", workloads, allWorkloads); err != nil {
		return nil, err
	}
	if cfg.workers, err = ints("-workers", workers); err != nil {
		return nil, err
	}
	if cfg.callers, err = ints("-callers", callers); err != nil {
		return nil, err
	}
	if cfg.rates, err = ints("-rates", rates); err != nil {
		return nil, err
	}
	if cfg.schedules, err = ints("-schedules", schedules); err != nil {
		return nil, err
	}
	if cfg.smoke {
		// Tiny sizes, unless a flag asks otherwise.
		smoke := map[string]func(){
			"n":         func() { cfg.n = 300 },
			"sqlite-n":  func() { cfg.sqliteN = 300 },
			"workers":   func() { cfg.workers = []int{10, 100} },
			"rounds":    func() { cfg.rounds = 1 },
			"duration":  func() { cfg.duration = 500 * time.Millisecond },
			"callers":   func() { cfg.callers = []int{1, 8} },
			"rates":     func() { cfg.rates = []int{200} },
			"schedules": func() { cfg.schedules = []int{50} },
			"scale":     func() { cfg.scaleN = 1000 },
			"batch":     func() { cfg.batch = 100 },
		}
		for name, f := range smoke {
			if !set[name] {
				f()
			}
		}
	}
	switch {
	case cfg.n < 1:
		return nil, fmt.Errorf("-n must be at least 1, got %d", cfg.n)
	case cfg.sqliteN < 1:
		return nil, fmt.Errorf("-sqlite-n must be at least 1, got %d", cfg.sqliteN)
	case cfg.rounds < 1:
		return nil, fmt.Errorf("-rounds must be at least 1, got %d", cfg.rounds)
	case cfg.rounds < 3 && !cfg.smoke:
		return nil, fmt.Errorf("-rounds must be at least 3 for a report (medians of per-round ratios), got %d; -smoke allows fewer", cfg.rounds)
	case cfg.duration < 100*time.Millisecond:
		return nil, fmt.Errorf("-duration must be at least 100ms, got %v", cfg.duration)
	case cfg.batch < 1:
		return nil, fmt.Errorf("-batch must be at least 1, got %d", cfg.batch)
	case cfg.pool < 2:
		return nil, fmt.Errorf("-pool must be at least 2, got %d", cfg.pool)
	case cfg.scaleN < 4:
		return nil, fmt.Errorf("-scale must be at least 4, got %d", cfg.scaleN)
	case cfg.riverFetch != "tuned" && cfg.riverFetch != "default":
		return nil, fmt.Errorf("-river-fetch must be tuned or default, got %q", cfg.riverFetch)
	case cfg.out == "":
		return nil, errors.New("-out must name a file")
	}
	return cfg, nil
}

// names splits a comma-separated list and checks every name against valid.
func names(flagName, list string, valid []string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(valid, s) {
			return nil, fmt.Errorf("%s: unknown name %q; want some of %s", flagName, s, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty; want some of %s", flagName, strings.Join(valid, ", "))
	}
	return out, nil
}

// ints splits a comma-separated list of positive integers.
func ints(flagName, list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", flagName, s)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty; want positive integers separated by commas", flagName)
	}
	return out, nil
}

// writeMemProfile writes the allocations of the whole run to path.
func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
