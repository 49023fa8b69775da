package bunstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/store/bunstore"
)

// TestMigrateAndStatus runs Migrate on a fresh database, checks what
// MigrationStatus reports before and after, runs Migrate again (nothing to
// do), and opens a store on the result (nothing to do either).
func TestMigrateAndStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dialect := bunstore.DialectSQLite
		if strings.HasPrefix(dsn, "postgres") {
			dialect = bunstore.DialectPostgres
		}
		want := migrationCount[dialect]

		before, err := bunstore.MigrationStatus(ctx, dsn)
		if err != nil {
			t.Fatalf("MigrationStatus before: %v", err)
		}
		if len(before) != want {
			t.Fatalf("MigrationStatus before: %d migrations, want %d", len(before), want)
		}
		for _, m := range before {
			if m.Applied() {
				t.Errorf("migration %s applied before Migrate", m)
			}
		}

		applied, err := bunstore.Migrate(ctx, dsn)
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if len(applied) != want {
			t.Fatalf("Migrate applied %d migrations, want %d", len(applied), want)
		}
		for i, m := range applied {
			if !m.Applied() || m.Name != before[i].Name {
				t.Errorf("applied[%d] = %+v, want %s applied", i, m, before[i].Name)
			}
		}

		again, err := bunstore.Migrate(ctx, dsn)
		if err != nil || len(again) != 0 {
			t.Fatalf("second Migrate: applied %v, %v; want none", again, err)
		}
		after, err := bunstore.MigrationStatus(ctx, dsn)
		if err != nil || len(after) != want {
			t.Fatalf("MigrationStatus after: %d migrations, %v; want %d", len(after), err, want)
		}
		for _, m := range after {
			if !m.Applied() {
				t.Errorf("migration %s pending after Migrate", m)
			}
		}
		open(t, dsn) // a migrated database opens
	})
}

func TestMigrateRefusesABadDSN(t *testing.T) {
	if _, err := bunstore.Migrate(context.Background(), "mysql://x"); err == nil {
		t.Error("Migrate of a mysql DSN: no error")
	}
	if _, err := bunstore.MigrationStatus(context.Background(), ""); err == nil {
		t.Error("MigrationStatus of an empty DSN: no error")
	}
}
