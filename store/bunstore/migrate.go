package bunstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/go-kit/log/level"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey is the PostgreSQL advisory lock that serializes Herald's
// migrations across processes ("herald" in ASCII).
const migrationLockKey = 0x68657261_6c64

// migrationWait bounds how long a SQLite process waits for another's
// migration.
const migrationWait = time.Minute

// migrate applies the embedded migrations of the store's dialect. Several
// processes may call it at once: on PostgreSQL they queue on an advisory
// lock held on a dedicated connection (lockMigrations), on SQLite on bun's
// migration lock.
func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+s.dialect)
	if err != nil {
		return fmt.Errorf("bunstore: migrations: %w", err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return fmt.Errorf("bunstore: migrations: %w", err)
	}
	m := migrate.NewMigrator(s.db, ms,
		migrate.WithTableName("herald_migrations"),
		migrate.WithLocksTableName("herald_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true))

	if s.pg() {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("bunstore: migrate: %w", translate(err))
		}
		defer conn.Close()
		if err := lockMigrations(ctx, conn); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey) //nolint:errcheck // the session ends with the connection anyway
		return s.runMigrations(ctx, m)
	}

	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: init: %w", translate(err))
	}
	deadline := time.Now().Add(migrationWait)
	for m.Lock(ctx) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("bunstore: migrate: another process has held the migration lock for %s; if none is running, delete the row of table herald_migration_locks", migrationWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // a failed unlock is reported by the next migration
	return s.runMigrations(ctx, m)
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
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", migrationLockKey).Scan(&got); err != nil {
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

func (s *Store) runMigrations(ctx context.Context, m *migrate.Migrator) error {
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: init: %w", translate(err))
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("bunstore: migrate: %w", translate(err))
	}
	if !group.IsZero() {
		level.Info(s.logger).Log("msg", "migrations applied", "dialect", s.dialect, "group", group.ID, "migrations", group.Migrations.String())
	}
	return nil
}
