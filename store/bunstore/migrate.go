package bunstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockClass is the first key of the PostgreSQL advisory lock that
// serializes Herald's migrations across processes ("herl" in ASCII); the
// second is a hash of the schema migrated (lockSchema), so that stores in
// different schemas of one database migrate without waiting for each other.
const migrationLockClass = 0x6865726c

// lockSchema is the second key of the migration lock: the schema the
// migrations write to, the first of the search path.
const lockSchema = "hashtext(coalesce(current_schema(), ''))"

// migrationWait bounds how long a SQLite process waits for another's
// migration.
const migrationWait = time.Minute

// Migration is one of the store's migrations and its state in a database.
type Migration struct {
	// Name is the migration's version, its file name's leading timestamp
	// ("20261206000002").
	Name string
	// Comment is the rest of its file name ("event_owner").
	Comment string
	// Group is the number of the run of migrations that applied it; zero
	// when it is not applied.
	Group int64
}

// Applied reports whether the migration is applied.
func (m Migration) Applied() bool { return m.Group != 0 }

// String is the migration's file name stem: "20261206000002_event_owner".
func (m Migration) String() string { return m.Name + "_" + m.Comment }

// Migrate opens the database of dsn (as Open reads it), applies the
// migrations it lacks and closes it, without starting a store. It returns
// the migrations it applied, oldest first: none when the database was up to
// date. Open migrates too; Migrate is for deploy pipelines that migrate
// before the nodes start. Several processes may migrate one database at
// once: they take turns.
func Migrate(ctx context.Context, dsn string) ([]Migration, error) {
	db, dialect, err := openMigrationDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return migrateDB(ctx, db, dialect)
}

// MigrationStatus opens the database of dsn and reports every migration of
// its dialect, oldest first, each with whether it is applied; it changes
// nothing, so a database never migrated reports them all pending.
func MigrationStatus(ctx context.Context, dsn string) ([]Migration, error) {
	db, dialect, err := openMigrationDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	m, ms, err := migrator(db, dialect)
	if err != nil {
		return nil, err
	}
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'herald_migrations'"
	if dialect == DialectPostgres {
		q = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'herald_migrations'"
	}
	var tables int
	if err := db.QueryRowContext(ctx, q).Scan(&tables); err != nil {
		return nil, fmt.Errorf("bunstore: migration status: %w", translate(err))
	}
	if tables == 0 {
		return migrationsOf(ms.Sorted()), nil
	}
	status, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("bunstore: migration status: %w", translate(err))
	}
	return migrationsOf(status), nil
}

// openMigrationDB opens the database of dsn as Open does, and checks that
// it answers.
func openMigrationDB(ctx context.Context, dsn string) (*bun.DB, string, error) {
	db, dialect, err := openDB(dsn)
	if err != nil {
		return nil, "", err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, "", fmt.Errorf("bunstore: connect %s: %w", redactDSN(dsn), translate(err))
	}
	return db, dialect, nil
}

// migrationsOf converts bun's migrations, oldest first.
func migrationsOf(ms migrate.MigrationSlice) []Migration {
	out := make([]Migration, 0, len(ms))
	for _, m := range ms {
		out = append(out, Migration{Name: m.Name, Comment: m.Comment, Group: m.GroupID})
	}
	slices.SortFunc(out, func(a, b Migration) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// migrator returns bun's migrator of the embedded migrations of dialect,
// and the migrations.
func migrator(db *bun.DB, dialect string) (*migrate.Migrator, *migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+dialect)
	if err != nil {
		return nil, nil, fmt.Errorf("bunstore: migrations: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, nil, fmt.Errorf("bunstore: migrations: %w", err)
	}
	return migrate.NewMigrator(db, ms,
		migrate.WithTableName("herald_migrations"),
		migrate.WithLocksTableName("herald_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true)), ms, nil
}

// migrate applies the embedded migrations of the store's dialect.
func (s *Store) migrate(ctx context.Context) error {
	applied, err := migrateDB(ctx, s.db, s.dialect)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		names := make([]string, len(applied))
		for i, m := range applied {
			names[i] = m.String()
		}
		level.Info(s.logger).Log("msg", "migrations applied", "dialect", s.dialect, "group", applied[0].Group, "migrations", strings.Join(names, ", "))
	}
	return nil
}

// migrateDB applies the embedded migrations of dialect to db and returns
// those it applied. Several processes may call it at once: on PostgreSQL
// they queue on an advisory lock held on a dedicated connection
// (lockMigrations), on SQLite on bun's migration lock.
func migrateDB(ctx context.Context, db *bun.DB, dialect string) ([]Migration, error) {
	m, _, err := migrator(db, dialect)
	if err != nil {
		return nil, err
	}
	if dialect == DialectPostgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("bunstore: migrate: %w", translate(err))
		}
		defer conn.Close()
		if err := lockMigrations(ctx, conn); err != nil {
			return nil, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?, "+lockSchema+")", migrationLockClass) //nolint:errcheck // the session ends with the connection anyway
		return runMigrations(ctx, m)
	}

	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("bunstore: migrate: init: %w", translate(err))
	}
	deadline := time.Now().Add(migrationWait)
	for m.Lock(ctx) != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bunstore: migrate: another process has held the migration lock for %s; if none is running, delete the row of table herald_migration_locks", migrationWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // a failed unlock is reported by the next migration
	return runMigrations(ctx, m)
}

// migrationPoll is how often a PostgreSQL process waiting for another's
// migration tries the lock again.
const migrationPoll = 50 * time.Millisecond

// lockMigrations takes the migration lock on conn, a dedicated connection.
// It tries the lock and sleeps between tries rather than waiting in
// pg_advisory_lock: a waiting statement is a transaction, and a
// migration's CREATE INDEX CONCURRENTLY waits for every transaction open
// on the database to end, the waiters' too, which wait for it.
func lockMigrations(ctx context.Context, conn bun.Conn) error {
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?, "+lockSchema+")", migrationLockClass).Scan(&got); err != nil {
			return fmt.Errorf("bunstore: migrate: lock: %w", translate(err))
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migrationPoll):
		}
	}
}

// runMigrations applies m's pending migrations, under the caller's lock.
func runMigrations(ctx context.Context, m *migrate.Migrator) ([]Migration, error) {
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("bunstore: migrate: init: %w", translate(err))
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("bunstore: migrate: %w", translate(err))
	}
	if group.IsZero() {
		return nil, nil
	}
	out := migrationsOf(group.Migrations)
	for i := range out {
		out[i].Group = group.ID
	}
	return out, nil
}
