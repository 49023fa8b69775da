package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// scaleChildCommand is the hidden subcommand the scale workload re-executes
// the harness with, so that the scheduler's memory is read in a process
// that holds nothing else.
const scaleChildCommand = "__scale-child"

const scaleSystem = "Herald (PostgreSQL)"

func scaleVariant(n int) string { return fmt.Sprintf("%s schedules", num(float64(n), 0)) }

// scaleReport is what the child prints, as JSON.
type scaleReport struct {
	Schedules int64   `json:"schedules"`
	StartS    float64 `json:"start_s"`
	RSSBefore int64   `json:"rss_before"`
	RSSAfter  int64   `json:"rss_after"`
	HeapDelta int64   `json:"heap_delta"`
}

func runScale(ctx context.Context, cfg *config, res *results) error {
	if !cfg.has(sysHeraldPG) {
		return nil
	}
	dsn, err := ensureDatabase(ctx, cfg.pgURL, "herald_scale")
	if err != nil {
		return err
	}
	t := time.Now()
	if err := loadSchedules(ctx, cfg, dsn, cfg.scaleN); err != nil {
		return fmt.Errorf("scale: load %d schedules: %w", cfg.scaleN, err)
	}
	progress("scale: %d schedules in place in %v", cfg.scaleN, time.Since(t).Round(time.Millisecond))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	v := scaleVariant(cfg.scaleN)
	for round := 1; round <= cfg.rounds; round++ {
		var out, errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, self, scaleChildCommand, "-dsn", dsn, "-pool", strconv.Itoa(cfg.pool))
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("scale: round %d: child: %w: %s", round, err, strings.TrimSpace(errOut.String()))
		}
		var r scaleReport
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			return fmt.Errorf("scale: round %d: child said %q: %w", round, out.String(), err)
		}
		if r.Schedules != int64(cfg.scaleN) {
			return fmt.Errorf("scale: round %d: the child found %d schedules, want %d", round, r.Schedules, cfg.scaleN)
		}
		n := float64(cfg.scaleN)
		values := map[string]float64{
			"start_s": r.StartS, "rss_mib": float64(r.RSSAfter) / (1 << 20),
			"rss_per": float64(r.RSSAfter-r.RSSBefore) / n, "heap_per": float64(r.HeapDelta) / n,
		}
		res.add(&sample{workload: wlScale, variant: v, system: scaleSystem, round: round, values: values})
		progress("scale round %d: %s", round, show(values))
	}
	return nil
}

// loadSchedules makes the database hold exactly n active cron schedules.
// Four are created through the API (four cron expressions); the rest are
// copies of them made in SQL, with a new id and name, as the API would have
// written them (the copy takes every column the store has, so it follows
// the store's migrations).
func loadSchedules(ctx context.Context, cfg *config, dsn string, n int) error {
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{MaxOpenConns: cfg.pool})
	if err != nil {
		return err
	}
	defer st.Close()
	db := st.DB()
	var have int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM herald_schedules").Scan(&have); err != nil {
		return err
	}
	if have == int64(n) {
		return nil
	}
	if _, err := db.ExecContext(ctx, "TRUNCATE "+heraldTables+" CASCADE"); err != nil {
		return err
	}
	q := &heraldQueue{st: st, cfg: cfg}
	api, err := scheduler.New(st, scheduler.Config{Agents: q.registry()})
	if err != nil {
		return err
	}
	exprs := []string{"0 3 * * *", "*/15 * * * *", "0 9 * * 1-5", "30 8 1 * *"}
	var ids []string
	for i, e := range exprs {
		sch, err := api.CreateSchedule(ctx, benchPrincipal, &store.Schedule{Owner: "bench", Name: fmt.Sprintf("scale-%d", i), Agent: "noop",
			Trigger: store.Trigger{Kind: store.TriggerCron, Cron: e, Timezone: "UTC"}})
		if err != nil {
			return err
		}
		ids = append(ids, sch.ID)
	}
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'herald_schedules' ORDER BY ordinal_position`)
	if err != nil {
		return err
	}
	var cols, sel []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, name)
		switch name {
		case "id":
			if typ == "uuid" {
				sel = append(sel, "gen_random_uuid()")
			} else {
				sel = append(sel, "gen_random_uuid()::text")
			}
		case "name":
			sel = append(sel, "name || '-' || g")
		default:
			sel = append(sel, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	copyStmt := fmt.Sprintf("INSERT INTO herald_schedules (%s) SELECT %s FROM herald_schedules, generate_series(1, ?) AS g WHERE id = ?",
		strings.Join(cols, ", "), strings.Join(sel, ", "))
	left := n - len(ids)
	for i, id := range ids {
		k := left / (len(ids) - i)
		if _, err := db.ExecContext(ctx, copyStmt, k, id); err != nil {
			return fmt.Errorf("copy schedules: %w", err)
		}
		left -= k
	}
	if _, err := db.ExecContext(ctx, "ANALYZE herald_schedules"); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM herald_schedules").Scan(&have); err != nil {
		return err
	}
	if have != int64(n) {
		return fmt.Errorf("%d schedules loaded, want %d", have, n)
	}
	return nil
}

// scaleChild opens the store, starts a scheduler on its schedules and
// prints a scaleReport.
func scaleChild(args []string) error {
	fs := flag.NewFlagSet(scaleChildCommand, flag.ContinueOnError)
	dsn := fs.String("dsn", "", "the store")
	pool := fs.Int("pool", 16, "pool size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		return fmt.Errorf("-dsn is required")
	}
	ctx := context.Background()
	st, err := bunstore.Open(ctx, *dsn, bunstore.Options{MaxOpenConns: *pool})
	if err != nil {
		return err
	}
	defer st.Close()
	var r scaleReport
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM herald_schedules").Scan(&r.Schedules); err != nil {
		return err
	}
	q := &heraldQueue{st: st}
	s, err := scheduler.New(st, scheduler.Config{Agents: q.registry()})
	if err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&m0)
	r.RSSBefore = rss()
	start := time.Now()
	if err := s.Start(ctx); err != nil {
		return err
	}
	r.StartS = time.Since(start).Seconds()
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&m1)
	r.RSSAfter = rss()
	r.HeapDelta = int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	if err := s.Stop(ctx); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// rss is this process's resident memory in bytes.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
