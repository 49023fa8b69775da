package bunstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/storetest"
)

// The store's figures, per backend: go test -run '^$' -bench . ./store/bunstore
// Each backend also runs Baseline, the same database committing a one-row
// UPDATE per operation, so that figures can be read as ratios against what
// the machine's disk and CPU allow in the same run.

var benchBackends = []struct {
	name string
	dsn  func(b *testing.B) string
}{
	{"sqlite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "bench.db") }},
	{"postgres", func(b *testing.B) string { return testpg.DSN(b) }},
}

// benchShapes are (batch, workers): one run at a time, one at a time from
// 8 and 32 workers (a scheduler's worker pool, concurrent webhook or API
// callers), and batches of 100.
var benchShapes = [][2]int{{1, 1}, {1, 8}, {1, 32}, {100, 1}}

func benchStores(b *testing.B, bench func(b *testing.B, st store.Store, batch, workers int)) {
	for _, be := range benchBackends {
		for _, sh := range benchShapes {
			b.Run(fmt.Sprintf("%s/batch=%d/workers=%d", be.name, sh[0], sh[1]), func(b *testing.B) {
				st, err := bunstore.Open(context.Background(), be.dsn(b), bunstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				bench(b, st, sh[0], sh[1])
			})
		}
	}
}

func BenchmarkEnqueue(b *testing.B) { benchStores(b, storetest.BenchmarkEnqueue) }

func BenchmarkClaimFinish(b *testing.B) { benchStores(b, storetest.BenchmarkClaimFinish) }

// BenchmarkBaseline commits one-row UPDATEs, one per operation, from one
// connection: the floor under every single-run transition.
func BenchmarkBaseline(b *testing.B) {
	ctx := context.Background()
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			st, err := bunstore.Open(ctx, be.dsn(b), bunstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			db := st.DB()
			if _, err := db.ExecContext(ctx, "CREATE TABLE herald_bench_baseline (id integer PRIMARY KEY, n integer NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO herald_bench_baseline VALUES (1, 0)"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := db.ExecContext(ctx, "UPDATE herald_bench_baseline SET n = n + 1 WHERE id = 1"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// BenchmarkTicks: one tick of each of 1,000 schedules in one call.
func BenchmarkTicks(b *testing.B) {
	for _, be := range benchBackends {
		for _, pol := range []store.OverlapPolicy{store.OverlapAllowAll, store.OverlapSkip} {
			b.Run(fmt.Sprintf("%s/%s", be.name, pol), func(b *testing.B) {
				if be.name == "postgres" {
					testpg.ServerDSN(b)
				}
				st, err := bunstore.Open(context.Background(), be.dsn(b), bunstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				storetest.BenchmarkTicks(b, st, 1000, pol)
			})
		}
	}
}

// BenchmarkWakeLatency measures, on PostgreSQL, how long an idle process
// waits to hear of a run another process enqueued: from the enqueue's
// call on one store to the TopicRunDue notification on a second store on
// the same database (its LISTEN connection). It reports the median and
// the 99th percentile in milliseconds.
func BenchmarkWakeLatency(b *testing.B) {
	ctx := context.Background()
	dsn := testpg.DSN(b)
	a, err := bunstore.Open(ctx, dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	idle, err := bunstore.Open(ctx, dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer idle.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notes, err := idle.Subscribe(sctx)
	if err != nil {
		b.Fatal(err)
	}
	waits := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		time.Sleep(10 * time.Millisecond) // idle: no notification under way
		for len(notes) > 0 {
			<-notes
		}
		start := time.Now()
		if _, err := a.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "bench", Agent: "noop"}); err != nil {
			b.Fatal(err)
		}
		for n := range notes {
			if n.Topic == store.TopicRunDue {
				break
			}
		}
		waits = append(waits, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(waits)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(waits[len(waits)/2]), "p50-ms")
	b.ReportMetric(ms(waits[(len(waits)*99)/100]), "p99-ms")
}
