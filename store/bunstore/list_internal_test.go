package bunstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// TestRunListWalksSQLite checks the plan of each RunList statement on
// SQLite: the index it seeks by, and that it reads that index in id order
// (no sort) unless it lists several statuses under way. SQLite plans
// without statistics (the store runs no ANALYZE), so the plans of an empty
// database are those of a large one.
func TestRunListWalksSQLite(t *testing.T) {
	st, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "plans.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const sid = "01900000-0000-7000-8000-000000000001"
	from := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	one := func(s store.RunStatus) []store.RunStatus { return []store.RunStatus{s} }
	kind := []store.RunKind{store.RunKindManual}
	cases := []struct {
		name   string
		params store.RunListParams
		index  string // the index the plan seeks by
		sorted bool   // the plan sorts
	}{
		{"no filter", store.RunListParams{}, "sqlite_autoindex_herald_runs_1", false},
		{"created from", store.RunListParams{CreatedFrom: from}, "sqlite_autoindex_herald_runs_1", false},
		{"created range and cursor", store.RunListParams{CreatedFrom: from, CreatedTo: from.Add(time.Hour), Cursor: sid}, "sqlite_autoindex_herald_runs_1", false},
		{"owner", store.RunListParams{Owner: "a"}, "herald_runs_owner_idx", false},
		{"owner, created to", store.RunListParams{Owner: "a", CreatedTo: from}, "herald_runs_owner_idx", false},
		{"schedule", store.RunListParams{ScheduleID: sid}, "herald_runs_schedule_idx", false},
		{"schedule and owner", store.RunListParams{ScheduleID: sid, Owner: "a"}, "herald_runs_schedule_idx", false},
		{"status", store.RunListParams{Statuses: one(store.RunQueued)}, "herald_runs_status_idx", false},
		{"statuses under way", store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}}, "herald_runs_status_idx", true},
		{"ended statuses", store.RunListParams{Statuses: []store.RunStatus{store.RunFailed, store.RunTimedOut}}, "sqlite_autoindex_herald_runs_1", false},
		{"agent", store.RunListParams{Agent: "x"}, "herald_runs_agent_idx", false},
		{"kind", store.RunListParams{Kinds: kind}, "herald_runs_kind_idx", false},
		{"succeeded", store.RunListParams{Statuses: one(store.RunSucceeded)}, "sqlite_autoindex_herald_runs_1", false},
		{"kind schedule", store.RunListParams{Kinds: []store.RunKind{store.RunKindSchedule}}, "sqlite_autoindex_herald_runs_1", false},
		{"owner and status", store.RunListParams{Owner: "a", Statuses: one(store.RunFailed)}, "herald_runs_status_idx", false},
		{"owner and succeeded", store.RunListParams{Owner: "a", Statuses: one(store.RunSucceeded)}, "herald_runs_owner_idx", false},
		{"owner and agent", store.RunListParams{Owner: "a", Agent: "x"}, "herald_runs_agent_idx", false},
		{"owner and kind", store.RunListParams{Owner: "a", Kinds: kind}, "herald_runs_kind_idx", false},
		{"owner and kind schedule", store.RunListParams{Owner: "a", Kinds: []store.RunKind{store.RunKindSchedule}}, "herald_runs_owner_idx", false},
		{"owner, status and agent", store.RunListParams{Owner: "a", Agent: "x", Statuses: one(store.RunFailed)}, "herald_runs_status_idx", false},
	}
	for _, tc := range cases {
		plan, err := st.explainRunList(context.Background(), &tc.params)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(plan, "USING INDEX "+tc.index+" ") && !strings.Contains(plan, "USING COVERING INDEX "+tc.index+" ") {
			t.Errorf("%s: the plan does not seek by %s:\n%s", tc.name, tc.index, plan)
		}
		if sorts := strings.Contains(plan, "TEMP B-TREE"); sorts != tc.sorted {
			t.Errorf("%s: the plan sorts: %v, want %v:\n%s", tc.name, sorts, tc.sorted, plan)
		}
	}
}

// TestRunningRunsReadTheLeaseIndexPG checks, on PostgreSQL, that the
// listings and the count of running runs read herald_runs_lease_idx (the
// listing indexes hold no running run there, migration 20261209000001),
// beside the listing index of the other runs, rather than walk the
// history, and that the listings hold the running runs. The history is
// 5,000 succeeded runs, analyzed; 500 more are queued and 100 of them
// claimed.
func TestRunningRunsReadTheLeaseIndexPG(t *testing.T) {
	ctx := context.Background()
	st, enqueue := pgHistory(t, 5000)
	enqueue(500)
	if runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 100, Lease: time.Minute}); err != nil || len(runs) != 100 {
		t.Fatalf("claim: %d runs, %v", len(runs), err)
	}
	running := []store.RunStatus{store.RunRunning}
	underWay := []store.RunStatus{store.RunQueued, store.RunRunning}
	cases := []struct {
		name   string
		params store.RunListParams
		want   int      // runs listed
		reads  []string // indexes the plan reads
	}{
		{"running", store.RunListParams{Statuses: running, Limit: 200}, 100, []string{"herald_runs_lease_idx"}},
		{"owner's running", store.RunListParams{Owner: "a", Statuses: running, Limit: 200}, 100, []string{"herald_runs_lease_idx"}},
		{"under way", store.RunListParams{Statuses: underWay, Limit: 1000}, 500, []string{"herald_runs_lease_idx", "herald_runs_status_idx"}},
		{"owner's under way", store.RunListParams{Owner: "a", Statuses: underWay, Limit: 1000}, 500, []string{"herald_runs_lease_idx", "herald_runs_status_idx"}},
		{"queued", store.RunListParams{Statuses: []store.RunStatus{store.RunQueued}, Limit: 1000}, 400, []string{"herald_runs_status_idx"}},
		{"owner's newest", store.RunListParams{Owner: "a", Limit: 1000}, 1000, []string{"herald_runs_lease_idx"}},
		{"agent's newest", store.RunListParams{Agent: "noop", Limit: 1000}, 1000, []string{"herald_runs_lease_idx"}},
	}
	for _, tc := range cases {
		page, err := st.RunList(ctx, &tc.params)
		if err != nil || len(page.Runs) != tc.want {
			t.Errorf("%s: %d runs listed (%v), want %d", tc.name, len(page.Runs), err, tc.want)
		}
		plan, err := st.explainRunList(ctx, &tc.params)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, index := range tc.reads {
			if !strings.Contains(plan, index) {
				t.Errorf("%s: the plan does not read %s:\n%s", tc.name, index, plan)
			}
		}
	}
	plan, err := st.explain(ctx, st.sql.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "herald_runs_lease_idx") {
		t.Errorf("the count of running runs does not read herald_runs_lease_idx:\n%s", plan)
	}
}

// explainRunList returns the plan of the statement of a RunList call: on
// PostgreSQL run, with its timing and buffers (EXPLAIN ANALYZE), on SQLite
// as planned (EXPLAIN QUERY PLAN).
func (s *Store) explainRunList(ctx context.Context, p *store.RunListParams) (string, error) {
	q, args, err := s.runListQuery(p)
	if err != nil || q == "" {
		return "", err
	}
	return s.explain(ctx, s.db.NewRaw(q, args).String())
}

// explain returns the plan of the statement text with args, as
// explainRunList does.
func (s *Store) explain(ctx context.Context, text string, args ...any) (string, error) {
	if s.pg() {
		var lines []string
		err := s.scan(ctx, s.db, &lines, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+text, args...)
		return strings.Join(lines, "\n"), err
	}
	var rows []struct {
		ID      int    `bun:"id"`
		Parent  int    `bun:"parent"`
		NotUsed int    `bun:"notused"`
		Detail  string `bun:"detail"`
	}
	if err := s.scan(ctx, s.db, &rows, "EXPLAIN QUERY PLAN "+text, args...); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%d %d %s\n", r.ID, r.Parent, r.Detail)
	}
	return b.String(), nil
}
