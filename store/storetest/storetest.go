// Package storetest is the conformance suite of Herald's persistence
// contract: every implementation of store.Store runs it, and passes it, so
// that the engine can rely on one behaviour whatever the database.
//
// Import it from the tests of a store:
//
//	func TestStore(t *testing.T) {
//		t.Run("memory", func(t *testing.T) {
//			storetest.Run(t, func(t *testing.T, c clock.Clock) func() store.Store {
//				s := memstore.New(memstore.Options{Clock: c})
//				t.Cleanup(func() { s.Close() })
//				return func() store.Store { return s }
//			})
//		})
//	}
//
// The suite drives the store's clock (a clocktest.Clock), so it never
// waits for time to pass, except for the one-second bound on
// notifications, which is real time. It expects the store's default
// Limits, and checks that the store reads back its clock and its limits
// (store.SettingsReader).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/store"
)

// Factory makes a fresh, empty data set for one test and returns a function
// that opens a handle on it. Each call of open returns a new handle on the
// same data, as a second process would have (an in-memory store may return
// the same instance). Handles use c as their clock, and the store's default
// Limits; the factory closes them at t.Cleanup.
//
// Run calls the factory from parallel subtests, once per test.
type Factory func(t *testing.T, c clock.Clock) (open func() store.Store)

// Run runs the conformance suite against the stores f makes, as subtests
// grouped by entity (Schedule/..., Run/..., Lease/..., Overlap/..., Event/...,
// Delivery/..., Outbox/..., Staged/..., Capped/..., Stats/..., Summary/...,
// Token/..., Workspace/..., Backfill/..., Notify/..., Time/..., Store/...).
// Every case runs against every store.
func Run(t *testing.T, f Factory) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Schedule", scheduleTests()},
		{"Run", runTests()},
		{"Lease", leaseTests()},
		{"Overlap", overlapTests()},
		{"Event", eventTests()},
		{"Delivery", deliveryTests()},
		{"Outbox", outboxTests()},
		{"Staged", stagedTests()},
		{"Capped", cappedTests()},
		{"Stats", statsTests()},
		{"Summary", summaryTests()},
		{"Token", tokenTests()},
		{"Workspace", workspaceTests()},
		{"Backfill", backfillTests()},
		{"Notify", notifyTests()},
		{"Time", timeTests()},
		{"Store", storeTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newFixture(t, f))
				})
			}
		})
	}
}

// test is one case of the suite.
type test struct {
	name string
	run  func(t *testing.T, fx *fixture)
}

// suiteStart is where every test's clock starts: a fixed instant with a
// microsecond part, so that precision bugs show.
func suiteStart() time.Time { return time.Date(2030, 3, 4, 5, 6, 7, 123456000, time.UTC) }

// Names used across the suite.
const (
	alice = "alice"
	bob   = "bob"
	agent = "echo"
	nodeA = "node-a"
	nodeB = "node-b"
	lease = 30 * time.Second
	// missingID is a well-formed UUIDv7 that no store assigns.
	missingID = "01900000-0000-7000-8000-000000000000"
)

// fixture is one test's data set, clock and first handle.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *clocktest.Clock
	open  func() store.Store
	st    store.Store
}

func newFixture(t *testing.T, f Factory) *fixture {
	clock := clocktest.New(suiteStart())
	open := f(t, clock)
	return &fixture{t: t, ctx: t.Context(), clock: clock, open: open, st: open()}
}

// now is the clock's time as a store records it.
func (fx *fixture) now() time.Time { return store.Timestamp(fx.clock.Now()) }

// schedule creates a schedule of alice's with an interval trigger; edit
// adjusts it before it is created.
func (fx *fixture) schedule(name string, edit ...func(*store.Schedule)) *store.Schedule {
	fx.t.Helper()
	s := &store.Schedule{
		Owner:   alice,
		Name:    name,
		Agent:   agent,
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Hour},
	}
	for _, e := range edit {
		e(s)
	}
	got, err := fx.st.ScheduleCreate(fx.ctx, s)
	if err != nil {
		fx.t.Fatalf("ScheduleCreate(%q): %v", name, err)
	}
	return got
}

// withOverlap sets a schedule's overlap policy.
func withOverlap(p store.OverlapPolicy) func(*store.Schedule) {
	return func(s *store.Schedule) { s.Overlap = p }
}

// adhoc asks for a run of alice's with no schedule.
func adhoc() *store.RunEnqueueParams {
	return &store.RunEnqueueParams{Owner: alice, Agent: agent}
}

// tick asks for the run of a schedule's tick.
func tick(s *store.Schedule, at time.Time) *store.RunEnqueueParams {
	return &store.RunEnqueueParams{ScheduleID: s.ID, ScheduledFor: at, Owner: s.Owner, Agent: s.Agent}
}

// manual asks for a "run now" of a schedule.
func manual(s *store.Schedule) *store.RunEnqueueParams {
	return &store.RunEnqueueParams{ScheduleID: s.ID, Owner: s.Owner, Agent: s.Agent}
}

// enqueue enqueues params in one call and fails the test on error.
func (fx *fixture) enqueue(params ...*store.RunEnqueueParams) []*store.EnqueueResult {
	fx.t.Helper()
	res, err := fx.st.RunEnqueue(fx.ctx, params...)
	if err != nil {
		fx.t.Fatalf("RunEnqueue: %v", err)
	}
	if len(res) != len(params) {
		fx.t.Fatalf("RunEnqueue: %d results for %d params", len(res), len(params))
	}
	return res
}

// enqueueRun enqueues one run and returns it.
func (fx *fixture) enqueueRun(p *store.RunEnqueueParams) *store.Run {
	fx.t.Helper()
	return fx.enqueue(p)[0].Run
}

// claim claims up to limit runs for node under the standard lease.
func (fx *fixture) claim(node string, limit int) []*store.Run {
	fx.t.Helper()
	runs, err := fx.st.RunClaim(fx.ctx, &store.RunClaimParams{Node: node, Limit: limit, Lease: lease})
	if err != nil {
		fx.t.Fatalf("RunClaim(%s): %v", node, err)
	}
	return runs
}

// claimOne claims exactly the run id for node.
func (fx *fixture) claimOne(node, id string) *store.Run {
	fx.t.Helper()
	runs := fx.claim(node, 1)
	if len(runs) != 1 || runs[0].ID != id {
		fx.t.Fatalf("RunClaim(%s) = %v, want [%s]", node, runIDs(runs), id)
	}
	return runs[0]
}

// finish ends run id held by node with status.
func (fx *fixture) finish(id, node string, status store.RunStatus) *store.Run {
	fx.t.Helper()
	runs, err := fx.st.RunFinish(fx.ctx, &store.RunFinishParams{ID: id, Node: node, Status: status})
	if err != nil {
		fx.t.Fatalf("RunFinish(%s): %v", id, err)
	}
	if len(runs) != 1 || runs[0] == nil {
		fx.t.Fatalf("RunFinish(%s) = %v, want the run", id, runs)
	}
	return runs[0]
}

// run reads a run.
func (fx *fixture) run(id string) *store.Run {
	fx.t.Helper()
	r, err := fx.st.RunGet(fx.ctx, id)
	if err != nil {
		fx.t.Fatalf("RunGet(%s): %v", id, err)
	}
	return r
}

// getSchedule reads a schedule.
func (fx *fixture) getSchedule(id string) *store.Schedule {
	fx.t.Helper()
	s, err := fx.st.ScheduleGet(fx.ctx, id)
	if err != nil {
		fx.t.Fatalf("ScheduleGet(%s): %v", id, err)
	}
	return s
}

// runs lists every run matching params (all pages).
func (fx *fixture) runs(params store.RunListParams) []*store.Run {
	fx.t.Helper()
	var all []*store.Run
	params.Limit = store.ListLimitMax
	for {
		page, err := fx.st.RunList(fx.ctx, &params)
		if err != nil {
			fx.t.Fatalf("RunList: %v", err)
		}
		all = append(all, page.Runs...)
		if page.Next == "" {
			return all
		}
		params.Cursor = page.Next
	}
}

// schedules lists every schedule matching params (all pages).
func (fx *fixture) schedules(params store.ScheduleListParams) []*store.Schedule {
	fx.t.Helper()
	var all []*store.Schedule
	params.Limit = store.ListLimitMax
	for {
		page, err := fx.st.ScheduleList(fx.ctx, &params)
		if err != nil {
			fx.t.Fatalf("ScheduleList: %v", err)
		}
		all = append(all, page.Schedules...)
		if page.Next == "" {
			return all
		}
		params.Cursor = page.Next
	}
}

func runIDs(runs []*store.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		if r != nil {
			ids[i] = r.ID
		}
	}
	return ids
}

func scheduleIDs(ss []*store.Schedule) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

// want reports got != want as an error naming what was compared.
func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// wantTime reports got and want as different instants.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// wantIDs reports two ID lists that differ, order included.
func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// wantJSON reports two JSON documents that differ in value (a database may
// reformat JSON).
func wantJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if len(got) == 0 || len(want) == 0 {
		if len(got) != len(want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s = %q: not JSON: %v", what, got, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want %q: not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// wantErr reports err when it does not match target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantInvalid reports err when it is not a *store.ValidationError for field
// that names a rule.
func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("%s: error %v, want store.ErrInvalid", what, err)
		return
	}
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: error %v is not a *store.ValidationError", what, err)
		return
	}
	if ve.Field != field {
		t.Errorf("%s: invalid field %q, want %q (error %v)", what, ve.Field, field, err)
	}
	if ve.Rule == "" {
		t.Errorf("%s: the error names no rule", what)
	}
}

// wantLeaseLost reports err when it is not a *store.LeaseLostError listing
// exactly ids.
func wantLeaseLost(t *testing.T, what string, err error, ids ...string) {
	t.Helper()
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("%s: error %v, want store.ErrLeaseLost", what, err)
		return
	}
	var lle *store.LeaseLostError
	if !errors.As(err, &lle) {
		t.Errorf("%s: error %v is not a *store.LeaseLostError", what, err)
		return
	}
	wantIDs(t, what+": refused runs", lle.RunIDs, ids)
}

// jsonString returns a JSON string document of exactly n bytes.
func jsonString(n int) json.RawMessage {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	b[0], b[n-1] = '"', '"'
	return b
}
