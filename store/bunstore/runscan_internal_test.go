package bunstore

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/heraldhq/herald/internal/testpg"
)

// TestRunFieldsCoverRunRow: scanRunRows reads every column bun maps to a
// field of runRow, and no other but the claim's row_id.
func TestRunFieldsCoverRunRow(t *testing.T) {
	table := bun.NewDB(nil, sqlitedialect.New()).Table(reflect.TypeFor[runRow]())
	want := map[string]bool{}
	for _, f := range table.Fields {
		want[f.Name] = true
	}
	for _, f := range table.Fields {
		if runFields[f.Name] == nil {
			t.Errorf("runFields does not read column %s", f.Name)
		}
	}
	for name := range runFields {
		if !want[name] && name != "row_id" {
			t.Errorf("runFields reads column %s, which runRow does not have", name)
		}
	}
}

// TestScanRunRowsAgreesWithBun: rows of herald_runs, one with every column
// set and one with every nullable column NULL, read by hand as bun reads
// them, on each database; and a column that is not a run's is refused.
func TestScanRunRowsAgreesWithBun(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "scan.db") },
		"postgres": func(t *testing.T) string { return testpg.DSN(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := Open(ctx, dsn(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			full := runRow{ID: newID(), Kind: "enqueue", ScheduleID: newID(), ScheduledFor: at, EventID: newID(),
				Owner: "owner", Agent: "agent", Payload: `{"p":1}`, Targets: `[{"channel":"log"}]`, IdempotencyKey: "key",
				Status: "running", Held: true, Attempt: 2, MaxAttempts: 3, Timeout: 4 * time.Second, RunAt: at.Add(time.Second),
				LeaseOwner: "node", LeaseExpiresAt: at.Add(2 * time.Second), CancelRequested: true, Output: `{"o":2}`,
				Summary: "summary", Progress: `{"n":3}`, Error: "error", CreatedAt: at.Add(3 * time.Second),
				StartedAt: at.Add(4 * time.Second), FinishedAt: at.Add(5 * time.Second), DeliverAfter: at.Add(6 * time.Second),
				CancelReason: "reason", TraceContext: `{"traceparent":"00-1-2-01"}`}
			bare := runRow{ID: newID(), Kind: "enqueue", Owner: "owner", Agent: "agent", Status: "queued", Attempt: 1,
				MaxAttempts: 1, RunAt: at, CreatedAt: at}
			if _, err := st.db.NewInsert().Model(&[]runRow{full, bare}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				"SELECT * FROM herald_runs ORDER BY id",
				"SELECT id, status, held, attempt, timeout, run_at, finished_at FROM herald_runs ORDER BY id",
			} {
				var byBun, byHand []runRow
				if err := st.db.NewRaw(q).Scan(ctx, &byBun); err != nil {
					t.Fatal(err)
				}
				byHand = []runRow{{ID: "left over"}}
				if err := st.scan(ctx, st.db, &byHand, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if len(byBun) != 2 || len(byHand) != 2 {
					t.Fatalf("%s: bun read %d rows, scanRunRows %d; want 2", q, len(byBun), len(byHand))
				}
				for i := range byBun {
					if got, want := byHand[i].run(), byBun[i].run(); !reflect.DeepEqual(got, want) {
						t.Errorf("%s: row %d read by hand:\n%+v\nby bun:\n%+v", q, i, got, want)
					}
				}
			}
			var all []runRow
			if err := st.scan(ctx, st.db, &all, "SELECT * FROM herald_runs ORDER BY id"); err != nil {
				t.Fatal(err)
			}
			for _, r := range all {
				want := bare.run()
				if r.ID == full.ID {
					want = full.run()
				}
				if got := r.run(); !reflect.DeepEqual(got, want) {
					t.Errorf("run read by hand:\n%+v\nwritten:\n%+v", got, want)
				}
			}
			var rows []runRow
			err = st.scan(ctx, st.db, &rows, "SELECT id, 1 AS other FROM herald_runs")
			if err == nil || !strings.Contains(err.Error(), `column "other" is not a run's`) {
				t.Errorf("a column that is not a run's: err = %v", err)
			}
		})
	}
}
