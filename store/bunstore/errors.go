package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/store"
)

// translate maps a native database error to the store's sentinels: the one
// place where driver errors are interpreted. Errors that are already the
// store's own, and context errors, pass through unchanged.
func translate(err error) error {
	if err == nil || isStoreError(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		// A connection the server closed in the middle of an answer (a
		// crash, an immediate shutdown).
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.Join(store.ErrUnavailable, err)
	case strings.Contains(err.Error(), "sql: database is closed"):
		return store.ErrClosed
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
		case pgErr.Code == "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.ConstraintName)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"), // insufficient resources
			strings.HasPrefix(pgErr.Code, "57"): // operator intervention (shutdown)
			return errors.Join(store.ErrUnavailable, err)
		}
		return err
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) {
		return errors.Join(store.ErrUnavailable, err)
	}
	if code, ok := sqliteCode(err); ok {
		switch code & 0xff {
		case 19: // SQLITE_CONSTRAINT
			if code == 787 { // SQLITE_CONSTRAINT_FOREIGNKEY
				return errors.Join(store.ErrNotFound, err)
			}
			return errors.Join(store.ErrConflict, err)
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return errors.Join(store.ErrUnavailable, err)
		}
	}
	return err
}

// retryable reports whether a transaction failed on a conflict with another
// one (or errLockAgain) and may simply be run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, errLockAgain) ||
		errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01" || pgErr.Code == "55P03") // 55P03: lock not available (NOWAIT)
}

// sqliteCode returns the extended result code of a SQLite driver error.
func sqliteCode(err error) (int, bool) {
	var coder interface{ Code() int }
	if errors.As(err, &coder) {
		return coder.Code(), true
	}
	return 0, false
}

func isStoreError(err error) bool {
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, store.ErrLimit,
		store.ErrLeaseLost, store.ErrUnavailable, store.ErrClosed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
