package bunstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// EnvBenchLarge turns on the benchmarks on a large history.
const EnvBenchLarge = "HERALD_BENCH_LARGE"

// EnvBenchExplain makes BenchmarkRunList log the plan of each listing.
const EnvBenchExplain = "HERALD_BENCH_EXPLAIN"

// The history of BenchmarkRunList: historyRuns runs, one every
// historyStep, ending at historyEnd.
const (
	historyRuns = 1_000_000
	historyStep = 2 * time.Second
)

var historyEnd = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkRunList lists one page of 100 runs from a history of 1,000,000
// with each filter of the REST API, alone (an admin's listing) and beside
// an owner (a user's), and reports the latency's median and 99th
// percentile in milliseconds: go test -run '^$' -bench RunList
// ./store/bunstore with HERALD_BENCH_LARGE=1 (building the history takes
// a minute or two per database, once per process) and, to log each
// listing's plan, HERALD_BENCH_EXPLAIN=1.
//
// The history (runHistorySQL) is 23 days of runs, one every 2 s, each
// attribute drawn apart from the others: half of them the owner "big"'s,
// the other half spread over 100 users ("user-0" to "user-99"); 20
// agents, and "rare" with one run in 10,000; 70% schedule runs over 1,000
// schedules (each one owner's), 15% webhook, 15% enqueue, 0.1% manual; 1%
// failed, 0.1% cancelled, 0.05% timed out, 0.2% skipped, the newest 500
// queued (and one old held run), the 20 before them running, the rest
// succeeded. big+schedule lists a user's schedule: no run;
// big+own_schedule one of big's.
func BenchmarkRunList(b *testing.B) {
	if os.Getenv(EnvBenchLarge) == "" {
		b.Skip("the history of 1,000,000 runs takes minutes to build: set " + EnvBenchLarge + "=1 to run this benchmark")
	}
	ctx := context.Background()
	for _, backend := range []string{bunstore.DialectSQLite, bunstore.DialectPostgres} {
		b.Run(backend, func(b *testing.B) {
			st, err := bunstore.Open(ctx, largeHistory(b, backend), bunstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			for _, c := range runListCases() {
				b.Run(c.name, func(b *testing.B) {
					if os.Getenv(EnvBenchExplain) != "" && b.N == 1 {
						plan, err := bunstore.ExplainRunList(ctx, st, &c.params)
						if err != nil {
							b.Fatal(err)
						}
						b.Logf("plan of %s:\n%s", c.name, plan)
					}
					benchRunList(b, st, &c.params)
				})
			}
		})
	}
}

// BenchmarkStats reads the stats of the history of BenchmarkRunList (500
// queued runs, 20 running, 1,000,000 in all) and reports the latency's
// median and 99th percentile in milliseconds. HERALD_BENCH_LARGE=1 enables
// it; HERALD_BENCH_EXPLAIN=1 logs the statement's plan.
func BenchmarkStats(b *testing.B) {
	if os.Getenv(EnvBenchLarge) == "" {
		b.Skip("the history of 1,000,000 runs takes minutes to build: set " + EnvBenchLarge + "=1 to run this benchmark")
	}
	ctx := context.Background()
	for _, backend := range []string{bunstore.DialectSQLite, bunstore.DialectPostgres} {
		b.Run(backend, func(b *testing.B) {
			st, err := bunstore.Open(ctx, largeHistory(b, backend), bunstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if os.Getenv(EnvBenchExplain) != "" && b.N == 1 {
				plan, err := bunstore.ExplainStats(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("plan:\n%s", plan)
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				stats, err := st.Stats(ctx)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if stats.Queued != 501 || stats.Running != 20 {
					b.Fatalf("stats = %+v, want 501 queued and 20 running", stats)
				}
			}
			b.StopTimer()
			reportLatency(b, took)
		})
	}
}

// reportLatency reports the median and the 99th percentile of took, in
// milliseconds.
func reportLatency(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[(len(took)*99)/100]), "p99-ms")
}

// benchRunList lists params' first page b.N times and reports the
// latency's median and 99th percentile, and the page's size.
func benchRunList(b *testing.B, st store.Store, params *store.RunListParams) {
	ctx := context.Background()
	took := make([]time.Duration, 0, b.N)
	size := 0
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		page, err := st.RunList(ctx, params)
		took = append(took, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		size = len(page.Runs)
	}
	b.StopTimer()
	reportLatency(b, took)
	b.ReportMetric(float64(size), "runs/page")
}

// runListCase is one listing of BenchmarkRunList.
type runListCase struct {
	name   string
	params store.RunListParams
}

// runListCases are the listings of the REST API: each filter alone, then
// beside the big owner and beside a user.
func runListCases() []runListCase {
	statuses := func(s store.RunStatus) []store.RunStatus { return []store.RunStatus{s} }
	kinds := func(k store.RunKind) []store.RunKind { return []store.RunKind{k} }
	filters := []runListCase{
		{"schedule", store.RunListParams{ScheduleID: historySchedule(3)}}, // user-1's
		{"status=queued", store.RunListParams{Statuses: statuses(store.RunQueued)}},
		{"status=running", store.RunListParams{Statuses: statuses(store.RunRunning)}},
		{"status=succeeded", store.RunListParams{Statuses: statuses(store.RunSucceeded)}},
		{"status=failed", store.RunListParams{Statuses: statuses(store.RunFailed)}},
		{"status=timed_out", store.RunListParams{Statuses: statuses(store.RunTimedOut)}},
		{"agent=common", store.RunListParams{Agent: "agent-3"}},
		{"agent=rare", store.RunListParams{Agent: "rare"}},
		{"kind=schedule", store.RunListParams{Kinds: kinds(store.RunKindSchedule)}},
		{"kind=manual", store.RunListParams{Kinds: kinds(store.RunKindManual)}},
		{"since=1m", store.RunListParams{CreatedFrom: historyEnd.Add(-time.Minute)}},
		{"since=1h", store.RunListParams{CreatedFrom: historyEnd.Add(-time.Hour)}},
		{"until=10d", store.RunListParams{CreatedTo: historyEnd.Add(-240 * time.Hour)}},
		{"1h,10d_ago", store.RunListParams{CreatedFrom: historyEnd.Add(-241 * time.Hour), CreatedTo: historyEnd.Add(-240 * time.Hour)}},
	}
	cases := []runListCase{
		{"none", store.RunListParams{}},
		{"owner=big", store.RunListParams{Owner: "big"}},
		{"owner=user", store.RunListParams{Owner: "user-1"}},
	}
	cases = append(cases, filters...)
	for _, owner := range []string{"big", "user-1"} {
		for _, f := range filters {
			p := f.params
			p.Owner = owner
			name := "big+" + f.name
			if owner != "big" {
				name = "user+" + f.name
			}
			cases = append(cases, runListCase{name, p})
		}
	}
	// A schedule's listing beside its own owner, whose runs are half
	// of the history.
	cases = append(cases, runListCase{"big+own_schedule", store.RunListParams{Owner: "big", ScheduleID: historySchedule(2)}})
	for i := range cases {
		cases[i].params.Limit = 100
	}
	return cases
}

// historySchedule is the id of schedule i (0 to 999) of the history; its
// owner is "big" when i is even, else "user-" followed by i/2 modulo 100.
func historySchedule(i int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012x", i) }

// runHistoryColumns are the columns runHistorySQL writes.
const runHistoryColumns = `id, kind, schedule_id, scheduled_for, owner, agent, payload, status, held, attempt, max_attempts,
	timeout, run_at, lease_owner, lease_expires_at, cancel_requested, created_at, started_at, finished_at`

// runHistorySQL writes the history on each dialect: run g (1 to n) is
// created at end - (n - g) * 2 s, and its id carries that time, as the
// store's ids do. Its arguments are n, the first run's creation time and
// n again.
var runHistorySQL = map[string]string{
	bunstore.DialectPostgres: `INSERT INTO herald_runs (` + runHistoryColumns + `)
SELECT (lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0') || '-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
	kind,
	CASE WHEN kind IN ('schedule', 'manual') THEN ('00000000-0000-7000-8000-' || lpad(to_hex(sched), 12, '0'))::uuid END,
	CASE WHEN kind = 'schedule' THEN at END,
	CASE WHEN kind IN ('schedule', 'manual') THEN CASE WHEN sched % 2 = 0 THEN 'big' ELSE 'user-' || (sched / 2 % 100) END
		WHEN h % 2 = 0 THEN 'big' ELSE 'user-' || (h / 2 % 100) END,
	CASE WHEN h3 % 10000 = 7 THEN 'rare' ELSE 'agent-' || (h3 % 20) END,
	'{"n":1}', status, g = 10, 1, 1, 0, at,
	CASE WHEN status = 'running' THEN 'bench' END,
	CASE WHEN status = 'running' THEN at + interval '1 day' END,
	false, at,
	CASE WHEN status NOT IN ('queued', 'skipped') THEN at + interval '1 second' END,
	CASE WHEN status NOT IN ('queued', 'running') THEN at + interval '2 second' END
FROM generate_series(1, ?::bigint) AS g,
	LATERAL (SELECT ?::timestamptz + (g - 1) * interval '2 second' AS at,
		g * 2654435761 % 4294967291 AS h, g * 2246822519 % 4294967291 AS h2,
		g * 3266489917 % 4294967291 AS h3, g * 668265263 % 4294967291 AS h4) AS t,
	LATERAL (SELECT (extract(epoch FROM at) * 1000)::bigint AS ms, h2 % 1000 AS sched,
		CASE WHEN h % 1000 = 3 THEN 'manual' WHEN h % 20 < 3 THEN 'webhook' WHEN h % 20 < 6 THEN 'enqueue'
			ELSE 'schedule' END AS kind,
		CASE WHEN g > ? - 500 OR g = 10 THEN 'queued' WHEN g > ? - 520 THEN 'running' WHEN h4 % 100 = 1 THEN 'failed'
			WHEN h4 % 1000 = 2 THEN 'cancelled' WHEN h4 % 2000 = 4 THEN 'timed_out' WHEN h4 % 500 = 9 THEN 'skipped'
			ELSE 'succeeded' END AS status) AS d`,
	bunstore.DialectSQLite: `WITH RECURSIVE gs(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM gs WHERE g < ?),
t AS (SELECT g, ? + (g - 1) * 2000000 AS at,
	g * 2654435761 % 4294967291 AS h, g * 2246822519 % 4294967291 AS h2,
	g * 3266489917 % 4294967291 AS h3, g * 668265263 % 4294967291 AS h4 FROM gs),
d AS (SELECT g, at, h, h3, at / 1000 AS ms, h2 % 1000 AS sched,
	CASE WHEN h % 1000 = 3 THEN 'manual' WHEN h % 20 < 3 THEN 'webhook' WHEN h % 20 < 6 THEN 'enqueue' ELSE 'schedule' END AS kind,
	CASE WHEN g > ? - 500 OR g = 10 THEN 'queued' WHEN g > ? - 520 THEN 'running' WHEN h4 % 100 = 1 THEN 'failed'
		WHEN h4 % 1000 = 2 THEN 'cancelled' WHEN h4 % 2000 = 4 THEN 'timed_out' WHEN h4 % 500 = 9 THEN 'skipped'
		ELSE 'succeeded' END AS status
	FROM t)
INSERT INTO herald_runs (` + runHistoryColumns + `)
SELECT printf('%08x-%04x-7000-8000-%012x', ms >> 16, ms & 65535, g),
	kind,
	CASE WHEN kind IN ('schedule', 'manual') THEN printf('00000000-0000-7000-8000-%012x', sched) END,
	CASE WHEN kind = 'schedule' THEN at END,
	CASE WHEN kind IN ('schedule', 'manual') THEN CASE WHEN sched % 2 = 0 THEN 'big' ELSE 'user-' || (sched / 2 % 100) END
		WHEN h % 2 = 0 THEN 'big' ELSE 'user-' || (h / 2 % 100) END,
	CASE WHEN h3 % 10000 = 7 THEN 'rare' ELSE 'agent-' || (h3 % 20) END,
	'{"n":1}', status, g = 10, 1, 1, 0, at,
	CASE WHEN status = 'running' THEN 'bench' END,
	CASE WHEN status = 'running' THEN at + 86400000000 END,
	0, at,
	CASE WHEN status NOT IN ('queued', 'skipped') THEN at + 1000000 END,
	CASE WHEN status NOT IN ('queued', 'running') THEN at + 2000000 END
FROM d`,
}

// largeHistories holds the databases of the history of BenchmarkRunList
// and BenchmarkStats, built once per process and dropped when its tests end (TestMain calls
// dropLargeHistories).
var largeHistories struct {
	sync.Mutex
	dsn  map[string]string
	drop []func()
}

// largeHistory returns the DSN of a database of backend that holds the
// history, building it on first use.
func largeHistory(b *testing.B, backend string) string {
	largeHistories.Lock()
	defer largeHistories.Unlock()
	if dsn, ok := largeHistories.dsn[backend]; ok {
		return dsn
	}
	ctx := context.Background()
	var dsn string
	switch backend {
	case bunstore.DialectSQLite:
		dir, err := os.MkdirTemp("", "herald-bench-")
		if err != nil {
			b.Fatal(err)
		}
		largeHistories.drop = append(largeHistories.drop, func() { _ = os.RemoveAll(dir) })
		dsn = "sqlite://" + filepath.Join(dir, "history.db")
	case bunstore.DialectPostgres:
		server := testpg.ServerDSN(b)
		var id [6]byte
		_, _ = rand.Read(id[:])
		schema := "herald_bench_" + hex.EncodeToString(id[:])
		if err := execOn(ctx, server, "CREATE SCHEMA "+schema); err != nil {
			b.Fatal(err)
		}
		largeHistories.drop = append(largeHistories.drop, func() { _ = execOn(ctx, server, "DROP SCHEMA "+schema+" CASCADE") })
		u, err := url.Parse(server)
		if err != nil {
			b.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	start := time.Now()
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	first := historyEnd.Add(-historyStep * (historyRuns - 1))
	var firstArg any = first
	if backend == bunstore.DialectSQLite {
		firstArg = first.UnixMicro()
		// One transaction of a million rows: a cache that holds the
		// indexes' hot pages, and no syncing.
		if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, runHistorySQL[backend], historyRuns, firstArg, historyRuns, historyRuns); err != nil {
		b.Fatalf("build the history: %v", err)
	}
	if backend == bunstore.DialectPostgres {
		// As autovacuum would: statistics, and the visibility map that
		// index-only scans read.
		if _, err := conn.ExecContext(ctx, "VACUUM ANALYZE herald_runs"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: a history of %d runs built in %v", backend, historyRuns, time.Since(start).Round(time.Second))
	if largeHistories.dsn == nil {
		largeHistories.dsn = map[string]string{}
	}
	largeHistories.dsn[backend] = dsn
	return dsn
}

// dropLargeHistories drops the databases largeHistory built.
func dropLargeHistories() {
	largeHistories.Lock()
	defer largeHistories.Unlock()
	for _, drop := range largeHistories.drop {
		drop()
	}
	largeHistories.drop, largeHistories.dsn = nil, nil
}

// execOn runs one statement on the database of dsn (PostgreSQL).
func execOn(ctx context.Context, dsn, stmt string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}
