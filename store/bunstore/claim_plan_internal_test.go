package bunstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
)

// TestClaimPlanNeedsNoAnalyze checks the plan of the claim on PostgreSQL
// when the runs table's statistics are as wrong as they get: taken when
// every run had succeeded, then 20,000 runs enqueued that they know
// nothing of (autovacuum analyzes a table a minute or more later; the
// store runs no ANALYZE). The claim must still walk herald_runs_due_idx
// in its order and stop at its limit, not sort the queued runs.
func TestClaimPlanNeedsNoAnalyze(t *testing.T) {
	ctx := context.Background()
	st, enqueue := pgHistory(t, 5000)
	enqueue(20000)
	// The claim picks its runs in an InitPlan of the statement: its plan is
	// the pick's too.
	plan, err := st.explain(ctx, st.sql.RunClaim, "node", st.nowArg(), micros(time.Minute), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "using herald_runs_due_idx") || strings.Contains(plan, "Sort") {
		t.Errorf("the claim's plan does not walk herald_runs_due_idx in order:\n%s", plan)
	}
}

// pgHistory opens a store on a PostgreSQL test schema whose history is n
// succeeded runs of owner "a", analyzed, and returns it with a function
// that enqueues more runs of that owner.
func pgHistory(t *testing.T, n int) (*Store, func(int)) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, testpg.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	enqueue := func(n int) {
		t.Helper()
		for done := 0; done < n; done += 1000 {
			batch := make([]*store.RunEnqueueParams, min(1000, n-done))
			for i := range batch {
				batch[i] = &store.RunEnqueueParams{Owner: "a", Agent: "noop"}
			}
			if _, err := st.RunEnqueue(ctx, batch...); err != nil {
				t.Fatal(err)
			}
		}
	}
	enqueue(n)
	for _, q := range []string{"UPDATE herald_runs SET status = 'succeeded', finished_at = now()", "ANALYZE herald_runs"} {
		if _, err := st.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return st, enqueue
}
