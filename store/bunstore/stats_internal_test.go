package bunstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatsPlanSQLite checks that each count of the stats on SQLite seeks
// an index of its own runs: the queued and running runs in
// herald_runs_status_idx, the oldest claimable run at the head of
// herald_runs_due_idx; no count reads the whole runs table.
func TestStatsPlanSQLite(t *testing.T) {
	st, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "plans.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan, err := st.explain(context.Background(), st.sql.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "SCAN herald_runs") {
		t.Errorf("a count reads the whole runs table:\n%s", plan)
	}
	for _, want := range []string{"SEARCH herald_runs USING COVERING INDEX herald_runs_due_idx", "SEARCH herald_runs USING COVERING INDEX herald_runs_status_idx (status=?)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan has no %q:\n%s", want, plan)
		}
	}
}
