package memstore_test

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/store/storetest"
)

// The in-memory store's figures, in the shapes of store/bunstore's.
func benchMemory(b *testing.B, bench func(b *testing.B, st store.Store, batch, workers int)) {
	for _, sh := range [][2]int{{1, 1}, {1, 8}, {100, 1}} {
		b.Run(fmt.Sprintf("memory/batch=%d/workers=%d", sh[0], sh[1]), func(b *testing.B) {
			st := memstore.New(memstore.Options{})
			defer st.Close()
			bench(b, st, sh[0], sh[1])
		})
	}
}

func BenchmarkEnqueue(b *testing.B) { benchMemory(b, storetest.BenchmarkEnqueue) }

func BenchmarkClaimFinish(b *testing.B) { benchMemory(b, storetest.BenchmarkClaimFinish) }
