package bunstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
)

// TestPostgresRunTimesComeFromTheDatabase gives a PostgreSQL store without
// an injected clock a process clock an hour off, as a node whose clock is
// wrong has, and checks that every time of a run's life that nodes compare
// is the database's: due times, claims, leases, rescues, retry delays.
func TestPostgresRunTimesComeFromTheDatabase(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run("process clock "+skew.String(), func(t *testing.T) {
			dsn := testpg.DSN(t)
			ctx := context.Background()
			st, err := Open(ctx, dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if !st.dbClock {
				t.Fatal("a PostgreSQL store without Options.Clock does not use the database's clock")
			}
			st.clk = skewedClock{skew: skew}
			testRunTimesOnTheDatabaseClock(t, st, skew)
		})
	}
}

func testRunTimesOnTheDatabaseClock(t *testing.T, st *Store, skew time.Duration) {
	ctx := context.Background()
	dbNow := func() time.Time {
		var now time.Time
		if err := st.db.NewRaw("SELECT clock_timestamp()").Scan(ctx, &now); err != nil {
			t.Fatal(err)
		}
		return now
	}
	// within checks that got is an instant of the database's between from
	// and to (read around the call), shifted by d.
	within := func(what string, got, from, to time.Time, d time.Duration) {
		t.Helper()
		if got.Before(from.Add(d).Add(-time.Millisecond)) || got.After(to.Add(d).Add(time.Millisecond)) {
			t.Errorf("%s = %v, want between %v and %v (the database's clock)", what, got, from.Add(d), to.Add(d))
		}
	}
	const lease = time.Minute

	// A run due at once is due on the database's clock; a run due in a
	// minute is not claimed, whatever the process's clock says.
	from := dbNow()
	res, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "noop", MaxAttempts: 3})
	to := dbNow()
	if err != nil {
		t.Fatal(err)
	}
	r := res[0].Run
	within("RunAt of a run due at once", r.RunAt, from, to, 0)
	read, err := st.RunGet(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	within("RunAt read back", read.RunAt, from, to, 0)
	later, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "noop", RunAt: to.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}

	from = dbNow()
	claimed, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-a", Limit: 10, Lease: lease})
	to = dbNow()
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].ID != r.ID {
		t.Fatalf("claimed %v, want only the run due at once (not %s, due in a minute)", runIDsOf(claimed), later[0].Run.ID)
	}
	within("StartedAt", claimed[0].StartedAt, from, to, 0)
	within("LeaseExpiresAt of the claim", claimed[0].LeaseExpiresAt, from, to, lease)

	from = dbNow()
	leases, err := st.RunExtendLease(ctx, &store.RunExtendLeaseParams{Node: "node-a", IDs: []string{r.ID}, Lease: lease})
	to = dbNow()
	if err != nil || len(leases) != 1 {
		t.Fatalf("RunExtendLease = %v, %v", leases, err)
	}
	within("LeaseExpiresAt of the extension", leases[0].LeaseExpiresAt, from, to, lease)

	// A live lease is not rescued, however far ahead the process's clock.
	rescued, err := st.RunRescue(ctx, &store.RunRescueParams{})
	if err != nil || len(rescued) != 0 {
		t.Fatalf("RunRescue of a live lease = %v, %v; want nothing", runIDsOf(rescued), err)
	}

	// A retry waits its delay on the database's clock.
	from = dbNow()
	requeued, err := st.RunRequeue(ctx, &store.RunRequeueParams{ID: r.ID, Node: "node-a", Delay: time.Minute, NextAttempt: true})
	to = dbNow()
	if err != nil || len(requeued) != 1 || requeued[0] == nil {
		t.Fatalf("RunRequeue = %v, %v", requeued, err)
	}
	within("RunAt of a retry a minute later", requeued[0].RunAt, from, to, time.Minute)
	if got, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-b", Limit: 10, Lease: lease}); err != nil || len(got) != 0 {
		t.Fatalf("claimed %v, %v before the retry's delay was over", runIDsOf(got), err)
	}

	// A lease is rescued once it expired on the database's clock.
	now, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "noop", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	short, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-b", Limit: 1, Lease: 50 * time.Millisecond})
	if err != nil || len(short) != 1 || short[0].ID != now[0].Run.ID {
		t.Fatalf("claim with a short lease = %v, %v", runIDsOf(short), err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rescued, err = st.RunRescue(ctx, &store.RunRescueParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rescued) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(rescued) != 1 || rescued[0].ID != now[0].Run.ID {
		t.Fatalf("rescued %v, want the run whose lease expired", runIDsOf(rescued))
	}
	if !rescued[0].RunAt.After(short[0].LeaseExpiresAt) {
		t.Errorf("RunAt of the rescued run %v is not after its lapsed lease %v", rescued[0].RunAt, short[0].LeaseExpiresAt)
	}

	// A finish is stamped on the database's clock.
	again, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "node-b", Limit: 1, Lease: lease})
	if err != nil || len(again) != 1 {
		t.Fatalf("claim the rescued run = %v, %v", runIDsOf(again), err)
	}
	from = dbNow()
	fin, err := st.RunFinish(ctx, &store.RunFinishParams{ID: again[0].ID, Node: "node-b", Status: store.RunSucceeded})
	to = dbNow()
	if err != nil {
		t.Fatal(err)
	}
	within("FinishedAt", fin[0].FinishedAt, from, to, 0)

	// A staged tick claimed as it commits is leased on the database's
	// clock, one tick (run_insert) and two (run_insert_many); from a node
	// whose clock is ahead of the database's, it is written queued.
	sch, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "ops", Name: "staged", Agent: "noop",
		Overlap: store.OverlapAllowAll, Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	tick := dbNow().Truncate(time.Second)
	for n := 1; n <= 2; n++ {
		var ps []*store.RunEnqueueParams
		for i := range n {
			ps = append(ps, &store.RunEnqueueParams{ScheduleID: sch.ID, ScheduledFor: tick.Add(time.Duration(n*10+i) * time.Second),
				Owner: "ops", Agent: "noop"})
		}
		from = dbNow()
		res, err := st.RunEnqueueStaged(ctx, func(context.Context) error { return nil },
			&store.RunClaimParams{Node: "node-c", Limit: n, Lease: lease}, ps...)
		to = dbNow()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res {
			read, err := st.RunGet(ctx, e.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []*store.Run{e.Run, read} {
				if skew > 0 {
					// The node's clock is ahead: claimed, the tick would
					// start before its RunAt on the database's clock.
					if r.Status != store.RunQueued || r.LeaseOwner != "" || !r.StartedAt.IsZero() {
						t.Fatalf("staged tick of %d from a node ahead of the database: %s, leased to %q, started %v; want queued",
							n, r.Status, r.LeaseOwner, r.StartedAt)
					}
					continue
				}
				if r.Status != store.RunRunning || r.LeaseOwner != "node-c" {
					t.Fatalf("staged tick of %d: %s, leased to %q; want running, leased to node-c", n, r.Status, r.LeaseOwner)
				}
				within(fmt.Sprintf("LeaseExpiresAt of a staged claim of %d", n), r.LeaseExpiresAt, from, to, lease)
			}
		}
	}

	// A webhook's run is due on the database's clock.
	from = dbNow()
	acc, err := st.EventAccept(ctx, &store.EventAcceptParams{Source: "github", DeliveryID: "d-1",
		Run: store.RunEnqueueParams{Owner: "ops", Agent: "noop"}})
	to = dbNow()
	if err != nil {
		t.Fatal(err)
	}
	within("RunAt of a webhook's run", acc.Run.RunAt, from, to, 0)
}

func runIDsOf(runs []*store.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// skewedClock is the system clock moved by skew, as on a machine whose
// clock is off.
type skewedClock struct {
	clock.System
	skew time.Duration
}

func (c skewedClock) Now() time.Time { return time.Now().Add(c.skew) }
