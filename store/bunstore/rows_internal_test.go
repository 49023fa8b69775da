package bunstore

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// TestRunColumnsMatchRunRow: the prepared inserts of runs name every
// column of runRow, in its order, and give a value for each.
func TestRunColumnsMatchRunRow(t *testing.T) {
	db := bun.NewDB(nil, sqlitedialect.New())
	table := db.Table(reflect.TypeFor[runRow]())
	var want []string
	for _, f := range table.Fields {
		want = append(want, f.Name)
	}
	got := strings.Split(runColumns, ", ")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("runColumns = %v\nrunRow has  %v", got, want)
	}
	if n := len((&runRow{}).insertArgs()); n != len(want) {
		t.Errorf("insertArgs gives %d values for %d columns", n, len(want))
	}
	if n := strings.Count(insertRunSQL, "?"); n != len(want) {
		t.Errorf("insertRunSQL has %d placeholders for %d columns", n, len(want))
	}
	if n := strings.Count(insertRunPG, "?"); n != len(want) {
		t.Errorf("insertRunPG has %d placeholders for %d columns", n, len(want))
	}
	if n := len(runArrays([]runRow{{}})); n != len(want) {
		t.Errorf("runArrays gives %d arrays for %d columns", n, len(want))
	}
	if n := strings.Count(insertRunsPG, "?"); n != len(want) {
		t.Errorf("insertRunsPG has %d placeholders for %d columns", n, len(want))
	}

	// Both give each column the same value: a row whose every field
	// differs from the others is read column by column.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := runRow{ID: "id", Kind: "kind", ScheduleID: "sid", ScheduledFor: at, EventID: "eid", Owner: "owner",
		Agent: "agent", Payload: "payload", Targets: "targets", IdempotencyKey: "key", Status: "status", Held: true,
		Attempt: 2, MaxAttempts: 3, Timeout: 4, RunAt: at.Add(1), LeaseOwner: "node", LeaseExpiresAt: at.Add(2),
		CancelRequested: true, Output: "output", Summary: "summary", Progress: "progress", Error: "error",
		CreatedAt: at.Add(3), StartedAt: at.Add(4), FinishedAt: at.Add(5), DeliverAfter: at.Add(6), CancelReason: "reason",
		TraceContext: "trace"}
	args, arrays := r.insertArgs(), runArrays([]runRow{r})
	for c, name := range want {
		v := reflect.ValueOf(arrays[c]).Index(0)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if got, want := fmt.Sprint(v.Interface()), fmt.Sprint(args[c]); got != want {
			t.Errorf("column %s: runArrays gives %s, insertArgs %s", name, got, want)
		}
	}
}
