package bunstore

import (
	"io/fs"
	"path"
	"reflect"
	"strings"
	"testing"
)

// TestStatementsAllUsed: every file under sql/ is a statement of the
// statements struct, each dialect has each of its statements, and no
// statement is assembled in Go: what a file holds is what runs.
func TestStatementsAllUsed(t *testing.T) {
	names := map[string]string{} // file name → its field's dialect restriction
	typ := reflect.TypeFor[statements]()
	for i := range typ.NumField() {
		name, only, _ := strings.Cut(typ.Field(i).Tag.Get("sql"), ",")
		only, _, _ = strings.Cut(only, ",")
		if _, dup := names[name]; dup {
			t.Errorf("statement %s named twice", name)
		}
		names[name] = only
	}
	err := fs.WalkDir(sqlFiles, "sql", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		dir, name := path.Base(path.Dir(p)), strings.TrimSuffix(path.Base(p), ".sql")
		only, ok := names[name]
		switch {
		case !ok || path.Ext(p) != ".sql":
			t.Errorf("%s: no statement reads it", p)
		case dir == "shared" && only != "":
			t.Errorf("%s: shared, but only %s has it", p, only)
		case dir != "shared" && only != "" && only != dir:
			t.Errorf("%s: only %s has it", p, only)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dialect := range []string{DialectPostgres, DialectSQLite} {
		st, err := loadStatements(sqlFiles, dialect)
		if err != nil {
			t.Fatal(err)
		}
		v := reflect.ValueOf(st).Elem()
		for i := range v.NumField() {
			if q := v.Field(i).String(); strings.Contains(q, "?") && strings.Contains(q, "$1") {
				t.Errorf("%s: a statement mixes ? and $n placeholders:\n%s", dialect, q)
			}
		}
	}
}
