package bunstore

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// TestRunColumnsMatchRunRow: the inserts of runs name every column of
// runRow, in its order, and give a value for each.
func TestRunColumnsMatchRunRow(t *testing.T) {
	db := bun.NewDB(nil, sqlitedialect.New())
	table := db.Table(reflect.TypeFor[runRow]())
	var want []string
	for _, f := range table.Fields {
		want = append(want, f.Name)
	}
	if n := len((&runRow{}).insertArgs()); n != len(want) {
		t.Errorf("insertArgs gives %d values for %d columns", n, len(want))
	}
	if n := len(runArrays([]runRow{{}})); n != len(want) {
		t.Errorf("runArrays gives %d arrays for %d columns", n, len(want))
	}
	columns := regexp.MustCompile(`INSERT INTO herald_runs \(([^)]*)\)`)
	for _, dialect := range []string{DialectPostgres, DialectSQLite} {
		st, err := loadStatements(sqlFiles, dialect)
		if err != nil {
			t.Fatal(err)
		}
		for name, q := range map[string]string{"run_insert": st.RunInsert, "run_insert_many": st.RunInsertMany,
			"run_insert_many_unkeyed": st.RunInsertManyUnkeyed} {
			if q == "" {
				continue
			}
			m := columns.FindStringSubmatch(q)
			if m == nil {
				t.Fatalf("%s/%s: no column list", dialect, name)
			}
			if got := strings.Fields(strings.ReplaceAll(m[1], ",", " ")); !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s: columns %v\nrunRow has %v", dialect, name, got, want)
			}
			// PostgreSQL's take two more: the lease of a run claimed as it
			// is written and the node's clock (insertPG).
			extra := 0
			if dialect == DialectPostgres {
				extra = 2
			}
			if n := placeholders(q); n != len(want)+extra {
				t.Errorf("%s/%s has %d placeholders for %d columns", dialect, name, n, len(want))
			}
		}
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

// placeholders counts the distinct placeholders of q: each ? and each
// distinct $n or ?n.
func placeholders(q string) int {
	seen := map[string]bool{}
	n := 0
	for _, m := range regexp.MustCompile(`[?$][0-9]*`).FindAllString(q, -1) {
		if m == "?" {
			n++
		} else if !seen[m[1:]] {
			seen[m[1:]] = true
			n++
		}
	}
	return n
}

// TestEmptyColumnsAreNull: a column of a batch that no row gives a value
// is sent as NULL, which unnest pads; one that any row gives a value is
// sent whole.
func TestEmptyColumnsAreNull(t *testing.T) {
	cols := columns([][]any{{"a", nil, nil}, {"b", "x", nil}})
	if got := cols[0].([]any); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("column 0 = %v", got)
	}
	if got := cols[1].([]any); !reflect.DeepEqual(got, []any{nil, "x"}) {
		t.Errorf("column 1 = %v", got)
	}
	if cols[2] != nil {
		t.Errorf("column 2, empty, = %v; want nil", cols[2])
	}
	at := time.Now()
	arrays := runArrays([]runRow{{ID: "1", Payload: "{}"}, {ID: "2", RunAt: at}})
	if got, ok := arrays[7].([]*string); !ok || len(got) != 2 || *got[0] != "{}" || got[1] != nil {
		t.Errorf("payloads = %#v", arrays[7])
	}
	if got, ok := arrays[15].([]*time.Time); !ok || len(got) != 2 || got[0] != nil || !got[1].Equal(at) {
		t.Errorf("run_at = %#v", arrays[15])
	}
	for c, name := range map[int]string{2: "schedule_id", 8: "targets", 16: "lease_owner", 28: "trace_context"} {
		if arrays[c] != nil {
			t.Errorf("%s, empty, = %#v; want nil", name, arrays[c])
		}
	}
}

// TestOnlyUnkeyedBatchesSkipConflicts: a batch goes to PostgreSQL without
// ON CONFLICT only when none of its runs takes a unique key: one tick or
// one idempotency key sends the whole batch through run_insert_many, which
// skips the runs whose keys are taken.
func TestOnlyUnkeyedBatchesSkipConflicts(t *testing.T) {
	st, err := loadStatements(sqlFiles, DialectPostgres)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.RunInsertMany, "ON CONFLICT DO NOTHING") || strings.Contains(st.RunInsertManyUnkeyed, "ON CONFLICT DO") {
		t.Fatal("run_insert_many must skip conflicts and run_insert_many_unkeyed must not")
	}
	s := &Store{sql: st}
	plain := runRow{ID: "a", Owner: "o", Agent: "x"}
	tick := runRow{ID: "b", Owner: "o", Agent: "x", ScheduleID: "s", ScheduledFor: time.Now()}
	keyed := runRow{ID: "c", Owner: "o", Agent: "x", IdempotencyKey: "k"}
	for _, c := range []struct {
		name string
		rows []runRow
		want string
	}{
		{"plain runs", []runRow{plain, plain}, st.RunInsertManyUnkeyed},
		{"a tick among them", []runRow{plain, tick}, st.RunInsertMany},
		{"an idempotency key among them", []runRow{keyed, plain}, st.RunInsertMany},
		{"one run", []runRow{plain}, st.RunInsert},
	} {
		if q, _ := s.insertPG(c.rows, time.Minute); q != c.want {
			t.Errorf("%s: the statement is not the one expected:\n%.120s", c.name, q)
		}
	}
}
