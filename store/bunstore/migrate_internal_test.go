package bunstore

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestPostgresMigrationsIndexConcurrently checks every PostgreSQL
// migration that indexes a table an earlier migration made (which may be
// large by then): the migration runs outside a transaction (no .tx. in its
// name), and drops each index CONCURRENTLY IF EXISTS before it builds it
// CONCURRENTLY, so that a build that failed and left an invalid index is
// done again on the next try.
func TestPostgresMigrationsIndexConcurrently(t *testing.T) {
	createIndex := regexp.MustCompile(`(?i)CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(IF NOT EXISTS\s+)?(\w+)\s+ON\s+(\w+)`)
	createTable := regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(IF NOT EXISTS\s+)?(\w+)`)
	files, err := fs.Glob(migrationFiles, "migrations/"+DialectPostgres+"/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		made := map[string]bool{}
		for _, m := range createTable.FindAllStringSubmatch(text, -1) {
			made[m[2]] = true
		}
		for _, m := range createIndex.FindAllStringSubmatch(text, -1) {
			index, table := m[4], m[5]
			if made[table] {
				continue
			}
			if strings.Contains(name, ".tx.") {
				t.Errorf("%s indexes %s, which may be large, in a transaction", name, table)
			}
			if m[2] == "" {
				t.Errorf("%s builds %s without CONCURRENTLY", name, index)
			}
			if !strings.Contains(text, "DROP INDEX CONCURRENTLY IF EXISTS "+index+";") {
				t.Errorf("%s does not drop a failed build of %s before it builds it", name, index)
			}
		}
	}
}
