package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStore(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, c clock.Clock) func() store.Store {
			s := memstore.New(memstore.Options{Clock: c})
			t.Cleanup(func() { _ = s.Close() })
			return func() store.Store { return s }
		})
	})
}
