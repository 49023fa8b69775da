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

// benchBackends runs bench on a fresh store of each backend, per batch size.
func benchBackends(b *testing.B, bench func(*testing.B, store.Store, int)) {
	backends := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "bench.db") }},
		{"postgres", func(b *testing.B) string { return testpg.DSN(b) }},
	}
	for _, be := range backends {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, batch), func(b *testing.B) {
				st, err := bunstore.Open(context.Background(), be.dsn(b), bunstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				bench(b, st, batch)
			})
		}
	}
}

func BenchmarkEnqueue(b *testing.B) { benchBackends(b, storetest.BenchmarkEnqueue) }

func BenchmarkClaimFinish(b *testing.B) { benchBackends(b, storetest.BenchmarkClaimFinish) }
