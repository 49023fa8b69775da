package bunstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

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
// 8 workers (as a scheduler's worker pool does), and batches of 100.
var benchShapes = [][2]int{{1, 1}, {1, 8}, {100, 1}}

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
