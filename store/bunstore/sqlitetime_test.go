package bunstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// integerTimesMigration is the SQLite migration that turns text times into
// integer microseconds.
const integerTimesMigration = "20261205000001"

// TestTextTimesBecomeIntegers: a database whose times an earlier version
// wrote as text, in any of the spellings bun and the driver used, reads the
// same instants once the migration has run, with every time an integer. A
// text that is no time fails the migration, which then changes nothing.
func TestTextTimesBecomeIntegers(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "old.db")
	st := open(t, dsn)
	fillEveryTable(t, st)
	db := st.DB()

	cols := timeColumns(t, db.DB)
	if len(cols) != 20 {
		t.Fatalf("found %d time columns, want the 20 the migration converts: %v", len(cols), cols)
	}
	before := readTimes(t, db.DB, cols)
	spellings := []func(time.Time) string{
		func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999999-07:00") },
		func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999999999-07:00") },
		func(t time.Time) string {
			return t.In(time.FixedZone("", -7*3600)).Format("2006-01-02T15:04:05.999999-07:00")
		},
		func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999999Z07:00") },
	}
	i := 0
	for key, at := range before {
		text := spellings[i%len(spellings)](at)
		i++
		if _, err := db.ExecContext(ctx, "UPDATE "+key.table+" SET "+key.col+" = ? WHERE rowid = ?", text, key.rowid); err != nil {
			t.Fatal(err)
		}
	}
	rerun := func() {
		if _, err := db.ExecContext(ctx, "DELETE FROM herald_migrations WHERE name = ?", integerTimesMigration); err != nil {
			t.Fatal(err)
		}
	}
	if n := countText(t, db.DB, cols); n != len(before) {
		t.Fatalf("%d text times before the migration, want %d", n, len(before))
	}

	// A text that is no time: the migration fails and changes nothing.
	var bad timeKey
	for key := range before {
		bad = key
		break
	}
	if _, err := db.ExecContext(ctx, "UPDATE "+bad.table+" SET "+bad.col+" = 'yesterday' WHERE rowid = ?", bad.rowid); err != nil {
		t.Fatal(err)
	}
	rerun()
	st.Close()
	if st, err := bunstore.Open(ctx, dsn, bunstore.Options{}); err == nil {
		st.Close()
		t.Fatal("Open converted a database holding the time 'yesterday'")
	}
	raw, err := sql.Open(sqliteshim.ShimName, "file:"+strings.TrimPrefix(dsn, "sqlite://")+"?"+bunstore.SQLiteDSNParams)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if n := countText(t, raw, cols); n != len(before) {
		t.Fatalf("after a failed migration %d text times are left, want all %d", n, len(before))
	}
	text := spellings[0](before[bad])
	if _, err := raw.ExecContext(ctx, "UPDATE "+bad.table+" SET "+bad.col+" = ? WHERE rowid = ?", text, bad.rowid); err != nil {
		t.Fatal(err)
	}

	st = open(t, dsn)
	if n := countText(t, st.DB().DB, cols); n != 0 {
		t.Fatalf("after the migration %d text times are left", n)
	}
	after := readTimes(t, st.DB().DB, cols)
	for key, want := range before {
		if got, ok := after[key]; !ok || !got.Equal(want) {
			t.Errorf("%s.%s of row %d = %v after the migration, want %v", key.table, key.col, key.rowid, got, want)
		}
	}
	if _, err := st.RunList(ctx, &store.RunListParams{}); err != nil {
		t.Fatalf("RunList after the migration: %v", err)
	}
}

type timeKey struct {
	table, col string
	rowid      int64
}

// timeColumns lists "table.column" of every timestamp column of Herald's
// own tables but herald_tokens and herald_workspaces, which came after the integer times'
// migration and never held text times.
func timeColumns(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT m.name || '.' || p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name LIKE 'herald_%' AND m.name NOT LIKE 'herald_migration%' AND m.name NOT IN ('herald_tokens', 'herald_workspaces')
		AND lower(p.type) = 'timestamp'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

// readTimes reads every time that is set in cols, by table, column and row.
func readTimes(t *testing.T, db *sql.DB, cols []string) map[timeKey]time.Time {
	t.Helper()
	out := map[timeKey]time.Time{}
	for _, c := range cols {
		table, col, _ := strings.Cut(c, ".")
		rows, err := db.Query("SELECT rowid, " + col + " FROM " + table + " WHERE " + col + " IS NOT NULL")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var key timeKey
			var at time.Time
			if err := rows.Scan(&key.rowid, &at); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			key.table, key.col = table, col
			out[key] = at
		}
		rows.Close()
	}
	return out
}

func countText(t *testing.T, db *sql.DB, cols []string) int {
	t.Helper()
	total := 0
	for _, c := range cols {
		table, col, _ := strings.Cut(c, ".")
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table + " WHERE typeof(" + col + ") = 'text'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// fillEveryTable writes a row to each of Herald's tables through the store,
// then sets each time column those rows left NULL, so that every time
// column holds a value: whole seconds, milliseconds and microseconds.
func fillEveryTable(t *testing.T, st *bunstore.Store) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	sch, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "o", Name: "s", Agent: "a",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 3 * * *", StartAt: base, EndAt: base.AddDate(1, 0, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{ScheduleID: sch.ID, ScheduledFor: base.Add(123456 * time.Microsecond), Owner: "o", Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 1, Lease: time.Minute})
	if err != nil || len(runs) != 1 {
		t.Fatalf("RunClaim = %v, %v", runs, err)
	}
	if _, err := st.RunFinish(ctx, &store.RunFinishParams{ID: runs[0].ID, Node: "n", Status: store.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EventAccept(ctx, &store.EventAcceptParams{Source: "github", DeliveryID: "d1", Body: []byte("{}"),
		Run: store.RunEnqueueParams{Owner: "o", Agent: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeliveryRecord(ctx, &store.Delivery{RunID: runs[0].ID, Channel: "log", Attempt: 1, Status: store.DeliverySucceeded}); err != nil {
		t.Fatal(err)
	}
	key := store.CursorKey{Source: "slack", Workspace: "w", Channel: "c"}
	if _, err := st.CursorSet(ctx, &store.Cursor{CursorKey: key, Latest: "1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MessageUpsert(ctx, &store.Message{Source: "slack", Workspace: "w", Channel: "c", TS: "1.0", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range timeColumns(t, st.DB().DB) {
		table, col, _ := strings.Cut(c, ".")
		at := base.Add(time.Duration(i) * time.Hour).Add(time.Duration(i%3) * 120 * time.Millisecond).Add(time.Duration(i%2) * 7 * time.Microsecond)
		if _, err := st.DB().ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE "+col+" IS NULL", at); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"herald_schedules", "herald_runs", "herald_events", "herald_deliveries", "herald_cursors", "herald_messages"} {
		var n int
		if err := st.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%s has %d rows (%v); want some", table, n, err)
		}
	}
}
