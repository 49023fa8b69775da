package bunstore

import (
	"reflect"
	"strings"
	"testing"

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
	if n := len(runArrays([]runRow{{}})); n != len(want) {
		t.Errorf("runArrays gives %d arrays for %d columns", n, len(want))
	}
	if n := strings.Count(insertRunsPG, "?"); n != len(want) {
		t.Errorf("insertRunsPG has %d placeholders for %d columns", n, len(want))
	}
}
