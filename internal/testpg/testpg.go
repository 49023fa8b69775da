// Package testpg gives tests a PostgreSQL schema of their own. Tests that
// need PostgreSQL call DSN; without HERALD_TEST_POSTGRES_DSN they skip with
// a message saying how to enable them, unless HERALD_REQUIRE_POSTGRES is set
// (as CI does), in which case they fail.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// EnvDSN names the variable holding the PostgreSQL server's DSN.
const EnvDSN = "HERALD_TEST_POSTGRES_DSN"

// EnvRequire names the variable that turns a missing PostgreSQL into a
// failure.
const EnvRequire = "HERALD_REQUIRE_POSTGRES"

// ServerDSN returns the server's DSN, or skips (or fails, when required) the
// test.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		msg := "PostgreSQL tests are off: set " + EnvDSN +
			"='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' to run them"
		if os.Getenv(EnvRequire) != "" {
			t.Fatal(msg + " (" + EnvRequire + " is set: PostgreSQL is required)")
		}
		t.Skip(msg)
	}
	return dsn
}

// DSN creates a fresh schema on the test server and returns a DSN whose
// connections use it; the schema is dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "herald_test_" + hex.EncodeToString(b[:])

	db := open(t, server)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", EnvDSN, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		t.Fatalf("PostgreSQL at %s is unreachable: %v", EnvDSN, err)
	}
	return db
}

// The pgx driver registers itself as "pgx" with database/sql when its stdlib
// package is linked; this reference keeps it linked.
var _ = stdlib.GetDefaultDriver
