package bunstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// TestClaimFloorsClaimEveryRunOnceAcrossNodes runs, on PostgreSQL, three
// nodes' claimers and finishers against two nodes' producers whose runs
// are due up to half a second in the past, so that many arrive behind the
// floor the claimers start from (claimfloor.go); some are enqueued in a
// transaction of the caller's (RunEnqueueTx). Every run must be claimed
// exactly once, and none left queued.
func TestClaimFloorsClaimEveryRunOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	nodes := make([]*bunstore.Store, 3)
	for i := range nodes {
		st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		nodes[i] = st
	}

	var (
		mu       sync.Mutex
		enqueued = map[string]bool{}
		claimed  = map[string]string{} // run id → node
		errs     []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}

	const batches, perBatch = 40, 50
	var producers sync.WaitGroup
	for p := range 2 {
		st := nodes[p]
		producers.Go(func() {
			for b := range batches {
				ps := make([]*store.RunEnqueueParams, perBatch)
				for i := range ps {
					ps[i] = &store.RunEnqueueParams{Owner: "a", Agent: "noop"}
					if i%2 == 0 {
						ps[i].RunAt = time.Now().Add(-time.Duration(rand.N(500)) * time.Millisecond)
					}
				}
				var res []*store.EnqueueResult
				var err error
				if b%5 == 0 {
					err = st.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						res, err = st.RunEnqueueTx(ctx, tx, ps...)
						return err
					})
				} else {
					res, err = st.RunEnqueue(ctx, ps...)
				}
				if err != nil {
					fail(fmt.Errorf("enqueue: %w", err))
					return
				}
				mu.Lock()
				for _, r := range res {
					enqueued[r.Run.ID] = true
				}
				mu.Unlock()
			}
		})
	}

	done := make(chan struct{})
	var claimers sync.WaitGroup
	for n, st := range nodes {
		node := fmt.Sprintf("node-%d", n)
		for range 2 {
			claimers.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: node, Limit: 1 + rand.N(40), Lease: time.Minute})
					if err != nil {
						fail(fmt.Errorf("%s: claim: %w", node, err))
						return
					}
					if len(runs) == 0 {
						time.Sleep(time.Millisecond)
						continue
					}
					fins := make([]*store.RunFinishParams, len(runs))
					mu.Lock()
					for i, r := range runs {
						if by, ok := claimed[r.ID]; ok {
							errs = append(errs, fmt.Errorf("run %s claimed by %s and again by %s", r.ID, by, node))
						}
						claimed[r.ID] = node
						fins[i] = &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunSucceeded}
					}
					mu.Unlock()
					if _, err := st.RunFinish(ctx, fins...); err != nil {
						fail(fmt.Errorf("%s: finish: %w", node, err))
						return
					}
				}
			})
		}
	}

	producers.Wait()
	const total = 2 * batches * perBatch
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		n, failed := len(claimed), len(errs) > 0
		mu.Unlock()
		if n >= total || failed || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(done)
	claimers.Wait()

	for _, err := range errs {
		t.Error(err)
	}
	if len(enqueued) != total {
		t.Fatalf("%d runs enqueued, want %d", len(enqueued), total)
	}
	for id := range enqueued {
		if _, ok := claimed[id]; !ok {
			t.Errorf("run %s was never claimed", id)
		}
	}
	var queued int
	if err := nodes[0].DB().NewRaw("SELECT count(*) FROM herald_runs WHERE status = 'queued'").Scan(ctx, &queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 || len(claimed) != total {
		t.Errorf("%d runs claimed and %d left queued, want %d and 0", len(claimed), queued, total)
	}
}
