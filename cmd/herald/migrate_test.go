package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/testpg"
)

// TestMigrate migrates a fresh database twice: the second time is a
// no-op. On SQLite always, on PostgreSQL when HERALD_TEST_POSTGRES_DSN is
// set (a schema of the test's own).
func TestMigrate(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testMigrate(t, "sqlite://"+filepath.Join(t.TempDir(), "herald.db"))
	})
	t.Run("postgres", func(t *testing.T) { testMigrate(t, testpg.DSN(t)) })
}

func testMigrate(t *testing.T, dsn string) {
	env := map[string]string{envDB: dsn}

	var status struct {
		Migrations []migrationOut `json:"migrations"`
	}
	heraldEnv(t, env, "migrate", "status", "-o", "json").decode(t, &status)
	if len(status.Migrations) == 0 {
		t.Fatal("migrate status: no migrations")
	}
	for _, m := range status.Migrations {
		if m.Applied {
			t.Errorf("migration %s applied before migrate up", m.Name)
		}
	}
	out := heraldEnv(t, env, "migrate", "status").ok(t)
	if !strings.Contains(out, "pending") || !strings.Contains(out, "run 'herald migrate up'") {
		t.Errorf("migrate status before:\n%s", out)
	}

	out = heraldEnv(t, nil, "migrate", "up", "-db", dsn).ok(t)
	if !strings.HasPrefix(out, "Applied ") || !strings.Contains(out, status.Migrations[0].Name) {
		t.Errorf("first migrate up:\n%s", out)
	}

	var up struct {
		Applied []migrationOut `json:"applied"`
	}
	heraldEnv(t, env, "migrate", "up", "-o", "json").decode(t, &up)
	if up.Applied == nil || len(up.Applied) != 0 {
		t.Errorf("second migrate up applied %v, want none ([])", up.Applied)
	}
	out = heraldEnv(t, env, "migrate", "up").ok(t)
	if !strings.Contains(out, "up to date") {
		t.Errorf("third migrate up: %q", out)
	}

	heraldEnv(t, env, "migrate", "status", "-o", "json").decode(t, &status)
	for _, m := range status.Migrations {
		if !m.Applied || m.Group != 1 {
			t.Errorf("migration %s after migrate up: applied %v in group %d, want group 1", m.Name, m.Applied, m.Group)
		}
	}
	if out := heraldEnv(t, env, "migrate", "status").ok(t); strings.Contains(out, "pending") {
		t.Errorf("migrate status after:\n%s", out)
	}
}

func TestMigrateRefusesABadDSN(t *testing.T) {
	heraldEnv(t, nil, "migrate", "up", "-db", "mysql://localhost/x").fails(t, exitFailure, "unsupported DSN scheme")
}
