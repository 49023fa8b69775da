package bunstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.Cleanup(func(code int) {
			dropLargeHistories() // the databases of BenchmarkRunList
			os.Exit(code)
		}))
}

// factory returns a storetest.Factory that opens stores on dsn(t).
func factory(dsn func(t *testing.T) string) storetest.Factory {
	return func(t *testing.T, c clock.Clock) func() store.Store {
		d := dsn(t)
		var mu sync.Mutex
		var opened []*bunstore.Store
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range opened {
				if err := s.Close(); err != nil {
					t.Errorf("close store: %v", err)
				}
			}
		})
		return func() store.Store {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := bunstore.Open(ctx, d, bunstore.Options{Clock: c})
			if err != nil {
				t.Fatalf("open %s: %v", d, err)
			}
			mu.Lock()
			opened = append(opened, s)
			mu.Unlock()
			return s
		}
	}
}

func sqliteDSN(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
}

func postgresDSN(t *testing.T) string { return testpg.DSN(t) }

func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { storetest.Run(t, factory(sqliteDSN)) })
	t.Run("postgres", func(t *testing.T) {
		testpg.ServerDSN(t)
		storetest.Run(t, factory(postgresDSN))
	})
}
