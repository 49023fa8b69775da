package bunstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// TestRunSummaryWalksSQLite checks the index each summary statement reads
// on SQLite, whose planner has no statistics to choose by.
func TestRunSummaryWalksSQLite(t *testing.T) {
	st, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "plans.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, owner := range []string{"", "alice"} {
		q, args, err := st.runSummaryQuery(&store.RunSummaryParams{Owner: owner, Since: now.Add(-24 * time.Hour),
			RecentSince: now.Add(-time.Hour), FinishedFrom: now.Add(-24 * time.Hour), FinishedWidth: time.Hour,
			FinishedBuckets: 24, NextSchedules: 10})
		if err != nil {
			t.Fatal(err)
		}
		counts := "USING INDEX sqlite_autoindex_herald_runs_1 (id>?)"
		if owner != "" {
			counts = "USING INDEX herald_runs_owner_idx (owner=? AND id>?)"
		}
		for _, tc := range []struct {
			name, text string
			want       []string
		}{
			{"counts", q.counts, []string{counts}},
			{"finished", q.finished, []string{"USING INDEX herald_runs_finished_idx (finished_at>? AND finished_at<?)"}},
			{"queue", q.queue, []string{"USING COVERING INDEX herald_runs_status_idx (status=?)", "USING INDEX herald_runs_due_idx"}},
			{"next", q.next, []string{"SCAN herald_schedules"}},
		} {
			plan, err := st.explain(context.Background(), st.db.NewRaw(tc.text, args).String())
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("owner %q, %s: the plan lacks %q:\n%s", owner, tc.name, w, plan)
				}
			}
		}
	}
}
