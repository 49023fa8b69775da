package bunstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Dialect names.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// parseDSN tells the dialect of a DSN and returns the driver's own DSN.
func parseDSN(dsn string) (dialect, driverDSN string, err error) {
	switch {
	case dsn == "":
		return "", "", errors.New("bunstore: empty DSN: want postgres://…, sqlite://path or file:path")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return DialectPostgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		return DialectSQLite, sqliteDSN(strings.TrimPrefix(dsn, "sqlite://")), nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return DialectSQLite, sqliteDSN(strings.TrimPrefix(dsn, "sqlite:")), nil
	case strings.HasPrefix(dsn, "file:"):
		return DialectSQLite, sqliteDSN(strings.TrimPrefix(dsn, "file:")), nil
	case strings.HasSuffix(dsn, ".db"), strings.HasSuffix(dsn, ".sqlite"), strings.HasSuffix(dsn, ".sqlite3"):
		return DialectSQLite, sqliteDSN(dsn), nil
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	return "", "", fmt.Errorf("bunstore: unsupported DSN scheme %q: want postgres://…, sqlite://path or file:path", scheme)
}

// sqliteDSN builds the pure-Go driver's DSN for a path with optional query
// parameters: WAL, a busy timeout, foreign keys, temporary files in
// memory (a statement's journal and temporary tables: on disk each costs
// a temporary file), immediate transactions (a writer takes the lock at
// BEGIN, so two writers never deadlock on an upgrade), and times as
// integer microseconds. A _pragma of the caller's own replaces the
// default of that name.
func sqliteDSN(pathAndQuery string) string {
	path, query, _ := strings.Cut(pathAndQuery, "?")
	q, _ := url.ParseQuery(query)
	pragmas := map[string]string{
		"busy_timeout": "busy_timeout(10000)",
		"journal_mode": "journal_mode(WAL)",
		"foreign_keys": "foreign_keys(1)",
		"temp_store":   "temp_store(MEMORY)",
	}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		delete(pragmas, strings.TrimSpace(name))
	}
	for _, name := range []string{"busy_timeout", "journal_mode", "foreign_keys", "temp_store"} {
		if p, ok := pragmas[name]; ok {
			q.Add("_pragma", p)
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	// Times are integer microseconds, bound and read by the driver as
	// SQLiteDialect writes them (sqlitetime.go).
	params, _ := url.ParseQuery(SQLiteDSNParams)
	for k, v := range params {
		q[k] = v
	}
	return "file:" + path + "?" + q.Encode()
}

// redactDSN returns dsn without its password, for logs and errors.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
