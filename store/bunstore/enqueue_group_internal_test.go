package bunstore

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
)

// TestPlainEnqueuesGroup: plain enqueues that wait for an insert under way
// go in the next insert together; each caller gets its own runs, and one
// whose caller gave up while it waited fails alone, writing nothing.
func TestPlainEnqueuesGroup(t *testing.T) {
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dsn := "sqlite://" + filepath.Join(t.TempDir(), "group.db")
			if dialect == DialectPostgres {
				dsn = testpg.DSN(t)
			}
			s, err := Open(ctx, dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sem := s.plainSem
			if !s.pg() {
				sem = s.writeSem
			}
			sem <- struct{}{} // an insert under way: the callers below queue
			const n = 16
			gaveUp, cancel := context.WithCancel(ctx)
			res := make([][]*store.EnqueueResult, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				c := ctx
				if i == n-1 {
					c = gaveUp
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i], errs[i] = s.RunEnqueue(c, &store.RunEnqueueParams{Owner: "o", Agent: "a", Payload: []byte(`{"i":1}`)},
						&store.RunEnqueueParams{Owner: "o", Agent: "b"})
				}()
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				s.plainMu.Lock()
				queued := len(s.plainPending)
				s.plainMu.Unlock()
				if queued == n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d enqueues queued, want %d", queued, n)
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			<-sem
			wg.Wait()
			ids := map[string]bool{}
			for i := range n - 1 {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if len(res[i]) != 2 || res[i][0].Run.Agent != "a" || res[i][1].Run.Agent != "b" {
					t.Fatalf("caller %d got %+v", i, res[i])
				}
				for _, r := range res[i] {
					ids[r.Run.ID] = true
					got, err := s.RunGet(ctx, r.Run.ID)
					if err != nil || got.Status != store.RunQueued || got.RunAt.IsZero() {
						t.Fatalf("run %s: %+v, %v", r.Run.ID, got, err)
					}
				}
			}
			if len(ids) != 2*(n-1) {
				t.Errorf("%d distinct runs, want %d", len(ids), 2*(n-1))
			}
			if errs[n-1] == nil {
				t.Error("the caller that gave up got no error")
			}
			page, err := s.RunList(ctx, &store.RunListParams{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Runs) != 2*(n-1) {
				t.Errorf("%d runs stored, want %d: the caller that gave up wrote something", len(page.Runs), 2*(n-1))
			}
		})
	}
}
