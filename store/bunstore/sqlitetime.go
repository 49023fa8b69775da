package bunstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
)

// On SQLite every time is stored as an integer: microseconds since the Unix
// epoch, UTC. Integers compare and sort as the instants they are, and the
// driver reads and binds them without formatting or parsing text, which
// was about a sixth of the work of a claimed and finished run. Two writers
// must agree: bun, which formats the times it puts in query text through
// its dialect (SQLiteDialect), and the driver, which binds time arguments
// (SQLiteDSNParams). Migration 20261205000001 converts the text times of
// earlier versions.

// SQLiteDSNParams are the query parameters of the pure-Go SQLite driver
// (modernc.org/sqlite, under bun's sqliteshim) that make it bind times as
// integer microseconds and read such integers from timestamp columns as
// times. Open adds them; a database handed to New must have them.
const SQLiteDSNParams = "_time_integer_format=unix_micro&_inttotime=1"

// SQLiteDialect returns bun's SQLite dialect, except that it writes times
// as the store keeps them: integer microseconds since the Unix epoch. A
// *bun.DB handed to New, and one whose transactions are handed to
// RunEnqueueTx, must use it.
func SQLiteDialect() schema.Dialect {
	return sqliteDialect{sqlitedialect.New()}
}

type sqliteDialect struct{ *sqlitedialect.Dialect }

// AppendTime appends tm as microseconds since the Unix epoch.
func (sqliteDialect) AppendTime(b []byte, tm time.Time) []byte {
	return strconv.AppendInt(b, tm.UnixMicro(), 10)
}

// timeProbe is the instant the checks below write and read.
var timeProbe = time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)

// checkSQLiteTimes refuses an SQLite handle that would write, bind or read
// times otherwise than as integer microseconds: a second format would miss
// equal times and misorder others. d is the handle's bun dialect and c one
// of its connections; from names a timestamp column to read through ("run_at
// FROM herald_runs"): the driver reads an integer as a time only from a
// column declared as one.
func checkSQLiteTimes(ctx context.Context, c bun.IConn, d schema.Dialect, from string) error {
	want := timeProbe.UnixMicro()
	if got := string(d.AppendTime(nil, timeProbe)); got != strconv.FormatInt(want, 10) {
		return fmt.Errorf("bunstore: the bun dialect writes times as %s, not as %d: build the *bun.DB with bunstore.SQLiteDialect()", got, want)
	}
	var kind string
	var n int64
	if err := c.QueryRowContext(ctx, "SELECT typeof(?), CAST(? AS INTEGER)", timeProbe, timeProbe).Scan(&kind, &n); err != nil {
		return fmt.Errorf("bunstore: read how the driver binds times: %w", translate(err))
	}
	if kind != "integer" || n != want {
		return fmt.Errorf("bunstore: the SQLite driver binds times as %s, not as integer microseconds: open the database with %s in its DSN", kind, SQLiteDSNParams)
	}
	// A compound SELECT's columns have the declared types of its first.
	var got any
	if err := c.QueryRowContext(ctx, "SELECT "+from+" WHERE 0 UNION ALL SELECT ?", want).Scan(&got); err != nil {
		return fmt.Errorf("bunstore: read how the driver reads times: %w", translate(err))
	}
	if t, ok := got.(time.Time); !ok || !t.Equal(timeProbe) {
		return fmt.Errorf("bunstore: the SQLite driver reads a stored time as %T, not as a time: open the database with %s in its DSN", got, SQLiteDSNParams)
	}
	return nil
}

// checkForeignTx runs checkSQLiteTimes in tx when it belongs to another
// SQLite *bun.DB than the store's, once per such handle: all of a
// handle's connections share its dialect and its DSN.
func (s *Store) checkForeignTx(ctx context.Context, tx bun.Tx) error {
	db := tx.NewSelect().DB()
	if s.pg() || db == s.db {
		return nil
	}
	if _, ok := s.checkedDBs.Load(db); ok {
		return nil
	}
	if err := checkSQLiteTimes(ctx, tx, tx.Dialect(), "run_at FROM herald_runs"); err != nil {
		return err
	}
	s.checkedDBs.Store(db, true)
	return nil
}

// checkSQLiteHandle runs checkSQLiteTimes on a connection of db, through a
// temporary table: the check writes nothing to the database.
func checkSQLiteHandle(ctx context.Context, db *bun.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bunstore: connect: %w", translate(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE IF NOT EXISTS herald_time_probe (t timestamp)"); err != nil {
		return fmt.Errorf("bunstore: check how the driver handles times: %w", translate(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS temp.herald_time_probe") //nolint:errcheck // a temporary table ends with its connection anyway
	return checkSQLiteTimes(ctx, conn, db.Dialect(), "t FROM temp.herald_time_probe")
}
