package bunstore

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
)

// current is the floor as it stands, whether or not it has had its time.
func (f *claimFloor) current() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at
}

func TestClaimFloorBookkeeping(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var f claimFloor
	floor, gen := f.begin(t0)
	if floor != nil {
		t.Fatalf("a new floor = %v, want none", floor)
	}
	f.end(gen, t0.Add(-time.Minute))
	if got := f.current(); !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("after a claim = %v, want the oldest RunAt it took", got)
	}

	// A claim within claimFloorFor of the last scan from the start starts
	// at the floor. One that took nothing keeps it; one that took runs
	// moves it to the oldest of them.
	floor, gen = f.begin(t0.Add(time.Millisecond))
	if floor == nil || !floor.(time.Time).Equal(t0.Add(-time.Minute)) {
		t.Errorf("a claim right after = %v, want the floor %v", floor, t0.Add(-time.Minute))
	}
	f.end(gen, time.Time{})
	if got := f.current(); !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("after a claim that took nothing = %v, want it unchanged", got)
	}
	_, gen = f.begin(t0.Add(time.Millisecond))
	f.end(gen, t0.Add(-time.Second))
	if got := f.current(); !got.Equal(t0.Add(-time.Second)) {
		t.Errorf("after a claim from the floor = %v, want the oldest RunAt it took", got)
	}
	// Claims from the floor do not put off the next scan from the start.
	if floor, _ := f.begin(t0.Add(claimFloorFor)); floor != nil {
		t.Errorf("claimFloorFor after the last scan from the start = %v, want none", floor)
	}

	f.lower(t0)
	if got := f.current(); !got.Equal(t0.Add(-time.Second)) {
		t.Errorf("lowered to a later time = %v, want it unchanged", got)
	}
	f.lower(t0.Add(-time.Hour))
	if got := f.current(); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("lowered = %v, want %v", got, t0.Add(-time.Hour))
	}
	f.lower(time.Time{})
	if got := f.current(); !got.IsZero() {
		t.Errorf("lowered to none = %v, want none", got)
	}
	if floor, _ := f.begin(t0.Add(claimFloorFor)); floor != nil {
		t.Errorf("a claim after the floor was lowered to none = %v, want none", floor)
	}

	// A claim under way when runs became due saw maybe none of them: it
	// sets no floor, even when they became due after its floor.
	_, gen = f.begin(t0.Add(claimFloorFor))
	f.end(gen, t0.Add(-time.Minute))
	_, gen = f.begin(t0.Add(claimFloorFor))
	f.lower(t0.Add(-time.Second))
	f.end(gen, t0)
	if got := f.current(); !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("after a claim under way when runs became due = %v, want %v", got, t0.Add(-time.Minute))
	}
}

// TestClaimFloorOnPostgres follows the floor through a store's claims on
// PostgreSQL: where it starts them, what lowers it, and that a run made
// due behind it that no notification told of is claimed once the floor
// has had its time.
func TestClaimFloorOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := testpg.DSN(t)
	st, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.floor.span = time.Hour // expire says when it has passed
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	enqueue := func(s *Store, at time.Time) string {
		t.Helper()
		res, err := s.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "a", Agent: "noop", RunAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Run.ID
	}
	var ids []string
	for i := range 20 {
		ids = append(ids, enqueue(st, base.Add(time.Duration(i)*time.Millisecond)))
	}
	claim := func(limit int) []string {
		t.Helper()
		runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: limit, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range runs {
			got = append(got, r.ID)
		}
		return got
	}
	floor := st.floor.current
	expire := func() {
		st.floor.mu.Lock()
		st.floor.fullAt = st.floor.fullAt.Add(-st.floor.span)
		st.floor.mu.Unlock()
	}

	if got := claim(5); !slices.Equal(got, ids[:5]) {
		t.Fatalf("first claim = %v, want %v", got, ids[:5])
	}
	if got := floor(); !got.Equal(base) {
		t.Fatalf("floor after the first claim = %v, want the first run's RunAt %v", got, base)
	}

	// A run made due behind the floor by a write of no notification (here
	// SQL of the test's own) waits for the next scan from the start.
	if _, err := st.db.ExecContext(ctx, "UPDATE herald_runs SET run_at = ? WHERE id = ?", base.Add(-time.Second), ids[19]); err != nil {
		t.Fatal(err)
	}
	if got := claim(5); !slices.Equal(got, ids[5:10]) {
		t.Fatalf("claim from the floor = %v, want %v (the run behind the floor left)", got, ids[5:10])
	}
	expire()
	if got := claim(1); !slices.Equal(got, ids[19:20]) {
		t.Fatalf("claim once the floor had its time = %v, want the run behind it %v", got, ids[19])
	}

	// This store's enqueue behind the floor lowers it to the run.
	claim(1)
	early := enqueue(st, base.Add(-2*time.Second))
	if got := floor(); !got.Equal(base.Add(-2 * time.Second)) {
		t.Errorf("floor after an enqueue behind it = %v, want the run's RunAt", got)
	}
	if got := claim(1); !slices.Equal(got, []string{early}) {
		t.Fatalf("claim after an enqueue behind the floor = %v, want that run %v", got, early)
	}

	// Another process's plain enqueue lowers it to its run when its
	// notification arrives; one that does not know its runs' RunAt (a
	// keyed enqueue) drops it.
	other, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	waitFloor := func(want time.Time, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !floor().Equal(want); {
			if time.Now().After(deadline) {
				t.Fatalf("floor %v 10 s after %s, want %v", floor(), what, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	claim(1)
	if floor().IsZero() {
		t.Fatal("no floor after a claim")
	}
	early = enqueue(other, base.Add(-3*time.Second))
	waitFloor(base.Add(-3*time.Second), "another process enqueued a run behind it")
	if got := claim(1); !slices.Equal(got, []string{early}) {
		t.Fatalf("claim after another process's enqueue = %v, want its run %v", got, early)
	}
	if floor().IsZero() {
		t.Fatal("no floor after a claim")
	}
	res, err := other.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "a", Agent: "noop", RunAt: base.Add(-4 * time.Second), IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	waitFloor(time.Time{}, "another process enqueued a keyed run")
	if got := claim(1); !slices.Equal(got, []string{res[0].Run.ID}) {
		t.Fatalf("claim after another process's keyed enqueue = %v, want its run %v", got, res[0].Run.ID)
	}
}

// TestClaimFloorSkipsTheClaimedRunsEntries checks what the floor is for:
// with the entries of 20,000 claimed runs at the start of the due runs'
// index (no VACUUM since), a claim from the floor reads a few of its
// pages, and one from the start reads them all.
func TestClaimFloorSkipsTheClaimedRunsEntries(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, testpg.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.floor.span = time.Hour
	// Autovacuum, when this server runs it, would remove the entries.
	if _, err := st.db.ExecContext(ctx, "ALTER TABLE herald_runs SET (autovacuum_enabled = off)"); err != nil {
		t.Fatal(err)
	}
	for range 21 {
		batch := make([]*store.RunEnqueueParams, 1000)
		for i := range batch {
			batch[i] = &store.RunEnqueueParams{Owner: "a", Agent: "noop"}
		}
		if _, err := st.RunEnqueue(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		if runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 1000, Lease: time.Minute}); err != nil || len(runs) != 1000 {
			t.Fatalf("claim = %d runs, %v; want 1000", len(runs), err)
		}
	}
	floor := st.floor.current()
	if floor.IsZero() {
		t.Fatal("no floor after the claims")
	}
	reads := func(floor any) int {
		t.Helper()
		plan, err := st.explain(ctx, st.sql.RunClaim, "n", st.nowArg(), micros(time.Minute), 1, floor)
		if err != nil {
			t.Fatal(err)
		}
		return dueIndexReads(t, plan)
	}
	// The first walk of an entry reads its run too, to learn that it is
	// dead, and marks it so: the next one reads the index alone.
	reads(floor)
	fromFloor, fromStart := reads(floor), reads(nil)
	t.Logf("the claim read %d pages of the due runs' index from the floor, %d from the start", fromFloor, fromStart)
	if fromStart < 40 || fromFloor*10 > fromStart {
		t.Errorf("the claim read %d pages from the floor and %d from the start, want a tenth or less from the floor (and at least 40 from the start)", fromFloor, fromStart)
	}
}

var buffersHit = regexp.MustCompile(`shared hit=(\d+)`)

// dueIndexReads is the pages the walk of herald_runs_due_idx read in plan
// (EXPLAIN ANALYZE, BUFFERS).
func dueIndexReads(t *testing.T, plan string) int {
	t.Helper()
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "using herald_runs_due_idx") {
			continue
		}
		for _, m := range lines[i+1:] {
			if strings.Contains(m, "->") {
				break
			}
			if h := buffersHit.FindStringSubmatch(m); h != nil {
				n, _ := strconv.Atoi(h[1])
				return n
			}
		}
	}
	t.Fatalf("no pages read from herald_runs_due_idx in the plan:\n%s", plan)
	return 0
}
