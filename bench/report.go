package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// workloadDoc is how the report presents a workload.
type workloadDoc struct {
	key     string
	title   string
	about   string
	metrics []metric
	primary string // the metric ratios are taken of; empty for none
}

var workloadDocs = []workloadDoc{
	{wlAnchor, "Physical anchor (plain SQL)",
		"What each database does on this machine with plain SQL from the harness itself: single-row `INSERT` commits from one connection and from several (8 on PostgreSQL, 1 on SQLite, whose writers are serial), and claims of 100 rows at a time from one connection (`FOR UPDATE SKIP LOCKED` CTE + `UPDATE` on PostgreSQL; `UPDATE … WHERE id IN (SELECT … LIMIT 100)` on SQLite) over -n rows.",
		[]metric{{"commit_1", "commits/s, 1 conn", true, 0}, {"commit_n", "commits/s, n conns", true, 0}, {"conns", "n", true, 0}, {"claim_rows", "claimed rows/s (batches of 100)", true, 0}}, ""},
	{wlBurnDown, "Burn-down",
		"-n no-op jobs (-sqlite-n on SQLite) inserted through each system's batch API (timed apart), then worked off; the work time runs from the workers' start until the database records the last job completed.",
		[]metric{{"work_rate", "jobs/s worked", true, 0}, {"work_s", "work s", false, 2}, {"insert_rate", "jobs/s inserted", true, 0}, {"insert_s", "insert s", false, 2}}, "work_rate"},
	{wlContinuous, "Continuous",
		"A producer inserts batches of -batch jobs whenever fewer than 5 batches wait, while the workers consume; jobs/s worked over a -duration window after a warm-up. The producer then stops, the workers drain, and every inserted job is checked completed.",
		[]metric{{"rate", "jobs/s worked", true, 0}, {"jobs", "jobs in the round", true, 0}}, "rate"},
	{wlInsert, "Single insert",
		"One job per call through each system's single-insert API (Herald: `Scheduler.Enqueue`; River: `Client.Insert`; asynq: `Client.Enqueue`), closed loop from N concurrent callers for -duration, no workers running.",
		[]metric{{"rate", "inserts/s", true, 0}, {"p50", "p50 ms", false, 3}, {"p99", "p99 ms", false, 3}}, "rate"},
	{wlWebhook, "Webhook ingest",
		"Herald's `webhook.Handler` (GitHub HMAC-SHA256 verification, then the event row and its run in one transaction) beside a minimal `net/http` handler that reads the body and commits one `INSERT` (the physical anchor of an HTTP ingest), both on PostgreSQL over loopback HTTP. Closed loop: 32 clients for -duration, requests/s. Open loop: requests sent at a fixed rate whatever the answers, latency counted from the moment each request was due (no coordinated omission).",
		[]metric{{"rate", "req/s", true, 0}, {"p50", "p50 ms", false, 2}, {"p99", "p99 ms", false, 2}, {"max", "max ms", false, 1}}, "rate"},
	{wlLateness, "Fire lateness",
		"N schedules all due in the same second. Herald: N one-off schedules (`once`, all at the same instant) created through the API, then the scheduler started; \"to the row\" is the `TicksObserved.CommittedAt` its Observer reports (after the commit of the run rows) minus the tick. River: N periodic jobs whose schedule returns the same instant, on a started client; \"to the row\" is the row's `created_at` (set by `now()`, the start of River's insert transaction, so River's figure excludes its commit) minus the tick. \"To the agent\" is when the worker function was called, minus the tick. 1,000 workers.",
		[]metric{{"row_p50", "row p50 ms", false, 1}, {"row_p99", "row p99 ms", false, 1}, {"start_p50", "agent p50 ms", false, 1}, {"start_p99", "agent p99 ms", false, 1}}, "row_p99"},
	{wlScale, "Scale",
		"N active cron schedules in PostgreSQL; a child process of the harness (the harness binary re-executed with a hidden subcommand) opens the store and starts a scheduler on them. Start-up is the time `Scheduler.Start` takes; memory is the child's RSS after a GC, before and after the start.",
		[]metric{{"start_s", "start s", false, 2}, {"rss_mib", "RSS after start MiB", false, 1}, {"rss_per", "RSS B/schedule", false, 0}, {"heap_per", "heap B/schedule", false, 0}}, ""},
}

// values returns the values of metric m of system in a case, by round.
func (r *results) values(workload, variant, system, m string) map[int]float64 {
	out := map[int]float64{}
	for _, s := range r.samples {
		if s.workload == workload && s.variant == variant && s.system == system {
			if v, ok := s.values[m]; ok {
				out[s.round] = v
			}
		}
	}
	return out
}

func (r *results) medianOf(workload, variant, system, m string) float64 {
	var vs []float64
	for _, v := range r.values(workload, variant, system, m) {
		vs = append(vs, v)
	}
	return median(vs)
}

// ratio is the median over rounds of Herald's figure against system's,
// oriented so that > 1 means Herald did better.
func (r *results) ratio(workload, variant, system, ref, m string, higher bool) float64 {
	mine := r.values(workload, variant, system, m)
	herald := r.values(workload, variant, ref, m)
	var rs []float64
	for round, v := range mine {
		h, ok := herald[round]
		if !ok {
			continue
		}
		if higher {
			rs = append(rs, h/v)
		} else {
			rs = append(rs, v/h)
		}
	}
	return median(rs)
}

// variants of a workload, in the order they ran; systems of a variant too.
func (r *results) variants(workload string) []string {
	var out []string
	for _, s := range r.samples {
		if s.workload == workload && !slices.Contains(out, s.variant) {
			out = append(out, s.variant)
		}
	}
	return out
}

func (r *results) systems(workload, variant string) []*sample {
	var out []*sample
	for _, s := range r.samples {
		if s.workload == workload && s.variant == variant && !slices.ContainsFunc(out, func(o *sample) bool { return o.system == s.system }) {
			out = append(out, s)
		}
	}
	return out
}

func num(v float64, digits int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if digits == 0 && math.Abs(v) >= 1000 {
		s := fmt.Sprintf("%.0f", v)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return fmt.Sprintf("%.*f", digits, v)
}

// report renders REPORT.md.
func report(cfg *config, env *environment, res *results, charts []chartFile) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Herald benchmark report\n\n")
	p("Generated by `cd bench && go run .%s` on %s (UTC), in %v. ", flagsLine(cfg), env.date.UTC().Format("2006-01-02 15:04"), env.took.Round(time.Second))
	if cfg.smoke {
		p("**Smoke run**: tiny sizes that only prove the harness works; these figures mean nothing. ")
	}
	p("Every figure is the median over %d rounds; every ratio is the median of the per-round ratios, oriented so that **> 1 means Herald did better** (throughput: Herald ÷ other; latency and time: other ÷ Herald). Systems alternate round by round (A B A B …) on emptied tables, and after every round the harness counts the jobs in the database and fails the run unless each one is there and recorded completed.\n\n", cfg.rounds)

	p("## Headline\n\n")
	p("| figure | target | measured | met |\n|---|---|---|---|\n")
	for _, t := range targets(cfg, res) {
		met := "no"
		if t.met {
			met = "yes"
		}
		if math.IsNaN(t.value) {
			met = "not run"
		}
		p("| %s | %s | %s | %s |\n", t.figure, t.target, t.shown, met)
	}
	p("\n")

	p("## Machine and software\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s, %d logical cores (shared with other work) |\n", env.cpu, env.cores)
	p("| memory | %s |\n| OS | %s |\n| Go | %s |\n", env.memory, env.kernel, env.goVer)
	p("| Herald | this repository (`replace github.com/heraldhq/herald => ../`) |\n")
	for _, m := range env.modules {
		p("| `%s` | %s |\n", m[0], m[1])
	}
	for _, group := range []struct {
		name string
		kv   [][2]string
	}{{"PostgreSQL", env.postgres}, {"Redis", env.redis}, {"SQLite", env.sqlite}} {
		if len(group.kv) == 0 {
			continue
		}
		var parts []string
		for _, kv := range group.kv {
			parts = append(parts, fmt.Sprintf("%s=%s", kv[0], kv[1]))
		}
		p("| %s | %s |\n", group.name, strings.Join(parts, ", "))
	}
	p("\n")

	p("## Settings and fairness\n\n")
	fetch := fmt.Sprintf("FetchCooldown %v, FetchPollInterval %v (the tuned values of River's own benchmark, `cmd/river/riverbench`; River's defaults are 100ms and 1s)", riverTunedFetchCooldown, riverTunedFetchPollInterval)
	if cfg.riverFetch == "default" {
		fetch = "FetchCooldown 100ms, FetchPollInterval 1s (River's defaults; its own benchmark uses 2ms and 20ms)"
	}
	p("- **Same servers, durable commits.** One PostgreSQL server for Herald, River and the anchors (a database each: `herald_bench`, `river_bench`, `anchor_bench`, `herald_scale`), with `fsync` and `synchronous_commit` as shown above, and its `autovacuum` as shown (when off, a round's dead rows and index entries stay until the tables are emptied for the next round, for every system alike); SQLite files in WAL mode with the driver's default `synchronous` (shown above) for both Herald and River, through the same pure-Go driver (`modernc.org/sqlite`); asynq on the Redis shown above (its durability is Redis's: %s).\n", redisDurability(env))
	p("- **Same workers and pools.** Worker counts as stated per table; connection pools of %d on PostgreSQL for both (Herald: `bunstore.Options.MaxOpenConns`; River: `pool_max_conns` of pgxpool, whose default would be 4 here) and %d Redis connections for asynq. On SQLite, Herald uses its store's own pool (writes serialized in-process and group-committed); River uses one connection, as its SQLite driver's documentation advises.\n", cfg.pool, cfg.pool)
	p("- **Herald:** `scheduler.Config` defaults except `Workers` (claims woken by LISTEN/NOTIFY on PostgreSQL, an in-process signal on SQLite; 1 s poll as the fallback; lease 30 s; outcomes recorded in batches).\n")
	p("- **River %s:** %s; `MaxWorkers` per table; everything else default (completer batching, leader election, maintenance services).\n", moduleVersion(env, "github.com/riverqueue/river"), fetch)
	p("- **asynq %s:** `Concurrency` = workers, `PoolSize` %d, defaults otherwise (`TaskCheckInterval` 1s when queues are empty, 30 s leases with heartbeats). asynq has no batch insert: the burn-down inserts from %d goroutines.\n", moduleVersion(env, "github.com/hibiken/asynq"), cfg.pool, cfg.pool)
	p("- **Emptied between rounds:** PostgreSQL tables are truncated (`herald_runs`, `herald_events`, `herald_deliveries`, `herald_schedules`; `river_job`, `river_leader`); each SQLite round uses a new file; the Redis database is flushed.\n")
	p("- **Checked after every round:** the jobs in the database (Herald: `herald_runs` rows with status `succeeded`; River: `river_job` rows in state `completed`; asynq: queue size and its processed and failed totals), against the number inserted; any difference fails the run.\n")
	p("- **What each does per job that the others do not.** Herald keeps every run as a history row (attempt, times, output, error, node) and never deletes it; it writes through an outbox for deliveries (none here: no targets) and notifies other nodes of due runs. River keeps completed jobs (24 h by default, then deletes them), batches completions (a 50 ms tick, up to 5,000 per `UPDATE`), notifies on insert, and elects a leader for maintenance. asynq keeps nothing after success (no `Retention` set): a task is a Redis hash and list entries, removed when done; Redis is in memory with the persistence shown above, so its commits are not fsynced per job as PostgreSQL's and SQLite's are.\n\n")

	for _, wd := range workloadDocs {
		vars := res.variants(wd.key)
		if len(vars) == 0 {
			continue
		}
		p("## %s\n\n%s\n\n", wd.title, wd.about)
		for _, c := range charts {
			if c.workload == wd.key {
				p("![%s](%s)\n\n", c.title, c.file)
			}
		}
		for _, v := range vars {
			p("**%s**\n\n| system |", v)
			for _, m := range wd.metrics {
				p(" %s |", m.label)
			}
			hasRatio := false
			for _, s := range res.systems(wd.key, v) {
				if s.ref != "" && wd.primary != "" {
					hasRatio = true
				}
			}
			if hasRatio {
				p(" Herald's advantage × |")
			}
			p("\n|---|")
			for range wd.metrics {
				p("---:|")
			}
			if hasRatio {
				p("---:|")
			}
			p("\n")
			var prim metric
			for _, m := range wd.metrics {
				if m.key == wd.primary {
					prim = m
				}
			}
			for _, s := range res.systems(wd.key, v) {
				p("| %s |", s.system)
				for _, m := range wd.metrics {
					p(" %s |", num(res.medianOf(wd.key, v, s.system, m.key), m.digits))
				}
				if hasRatio {
					if s.ref == "" {
						p(" |")
					} else {
						p(" %s |", num(res.ratio(wd.key, v, s.system, s.ref, prim.key, prim.higher), 2))
					}
				}
				p("\n")
			}
			p("\n")
		}
	}
	return b.String()
}

func flagsLine(cfg *config) string {
	_ = cfg
	if len(os.Args) < 2 {
		return ""
	}
	return " " + strings.Join(os.Args[1:], " ")
}

func moduleVersion(env *environment, path string) string {
	for _, m := range env.modules {
		if m[0] == path {
			return m[1]
		}
	}
	return ""
}

func redisDurability(env *environment) string {
	var parts []string
	for _, kv := range env.redis {
		if kv[0] == "aof_enabled" || kv[0] == "appendfsync" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "not measured"
	}
	return strings.Join(parts, ", ")
}

// target is one figure the issue asks for, and what was measured.
type target struct {
	figure, target, shown string
	value                 float64
	met                   bool
}

func targets(cfg *config, res *results) []target {
	var out []target
	ratioT := func(figure, workload, variant, system, ref, m string, min float64) {
		v := res.ratio(workload, variant, system, ref, m, true)
		out = append(out, target{figure, fmt.Sprintf("≥ %.1f×", min), num(v, 2) + "×", v, v >= min})
	}
	for _, w := range cfg.workers {
		ratioT(fmt.Sprintf("burn-down, PostgreSQL, %d workers: Herald ÷ River", w), wlBurnDown, fmt.Sprintf("PostgreSQL/Redis, %d workers", w), "River (PostgreSQL)", "Herald (PostgreSQL)", "work_rate", 1.5)
	}
	cont := fmt.Sprintf("%d workers", cfg.workers[0])
	ratioT("continuous, PostgreSQL: Herald ÷ River", wlContinuous, cont, "River (PostgreSQL)", "Herald (PostgreSQL)", "rate", 1.5)
	for _, c := range []int{8, 32} {
		ratioT(fmt.Sprintf("single insert, %d callers: Herald ÷ River", c), wlInsert, fmt.Sprintf("%d callers", c), "River (PostgreSQL)", "Herald (PostgreSQL)", "rate", 1.0)
	}
	for _, w := range cfg.workers {
		ratioT(fmt.Sprintf("burn-down, SQLite, %d workers: Herald ÷ River", w), wlBurnDown, fmt.Sprintf("SQLite, %d workers", w), "River (SQLite)", "Herald (SQLite)", "work_rate", 10)
	}
	for _, w := range cfg.workers {
		ratioT(fmt.Sprintf("burn-down, %d workers: Herald (PostgreSQL) ÷ asynq", w), wlBurnDown, fmt.Sprintf("PostgreSQL/Redis, %d workers", w), "asynq (Redis)", "Herald (PostgreSQL)", "work_rate", 1.0)
	}
	ratioT("continuous: Herald (PostgreSQL) ÷ asynq", wlContinuous, cont, "asynq (Redis)", "Herald (PostgreSQL)", "rate", 1.0)
	ratioT("webhook ingest throughput: Herald ÷ net/http+INSERT", wlWebhook, webhookClosed, webhookBaseline, webhookHerald, "rate", 0.6)
	p99 := res.medianOf(wlWebhook, webhookOpen(1000), webhookHerald, "p99")
	out = append(out, target{"webhook ingest p99 at 1,000 req/s", "≤ 20 ms", num(p99, 2) + " ms", p99, p99 <= 20})
	for _, n := range cfg.schedules {
		if n < 10_000 {
			continue
		}
		v := res.medianOf(wlLateness, latenessVariant(n), latenessHerald, "row_p99")
		out = append(out, target{fmt.Sprintf("fire lateness to the row, p99, %s schedules", num(float64(n), 0)), "≤ 50 ms", num(v, 1) + " ms", v, v <= 50})
	}
	sv := scaleVariant(cfg.scaleN)
	st := res.medianOf(wlScale, sv, scaleSystem, "start_s")
	out = append(out, target{fmt.Sprintf("start with %s schedules", num(float64(cfg.scaleN), 0)), "≤ 5 s", num(st, 2) + " s", st, st <= 5})
	rss := res.medianOf(wlScale, sv, scaleSystem, "rss_per")
	out = append(out, target{"RSS per schedule", "≤ 2,048 B", num(rss, 0) + " B", rss, rss <= 2048})
	return out
}
