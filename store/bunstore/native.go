package bunstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// maxStatements bounds the prepared statements a SQLite store keeps.
const maxStatements = 256

// statements holds the hot transitions' prepared statements.
type statements struct {
	mu    sync.Mutex
	bySQL map[string]*sql.Stmt // SQLite: prepared once, reused
	pgSQL map[string]string    // PostgreSQL: ? placeholders rewritten to $n
}

// scanNative runs q (with ? placeholders) with arguments bound by the driver
// instead of formatted into the text by bun, so the statement is parsed and
// planned once: the hot transitions (claim, finish, requeue) spend most of
// their client CPU in SQLite's parser, and much of the server's in
// PostgreSQL's planner, otherwise. The rows are scanned into dest.
func (s *Store) scanNative(ctx context.Context, dest any, q string, args ...any) error {
	rows, err := s.queryNative(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return s.db.ScanRows(ctx, rows, dest)
}

// queryNative runs q as scanNative does and returns its rows, for a caller
// that scans them itself.
func (s *Store) queryNative(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if s.pg() {
		args = append([]any{pgx.QueryExecModeCacheStatement}, args...)
		rows, err = s.db.DB.QueryContext(ctx, s.stmts.pgText(q), args...)
	} else {
		var stmt *sql.Stmt
		if stmt, err = s.stmts.prepared(ctx, s.db.DB, q); err == nil {
			if stmt != nil {
				rows, err = stmt.QueryContext(ctx, args...)
			} else {
				rows, err = s.db.DB.QueryContext(ctx, q, args...)
			}
		}
	}
	return rows, err
}

// txStmt is how a statement with driver-bound arguments runs inside a
// transaction (stmtIn).
type txStmt struct {
	stmt *sql.Stmt // the statement prepared at open, bound to the transaction
	tx   *sql.Tx   // else the transaction, given text and lead
	text string
	lead []any // arguments put before the caller's
}

// stmtIn returns how q runs in tx: on PostgreSQL through the connection's
// statement cache; on SQLite through the statement prepared when the store
// opened (prepareTx) when tx is the store's own, else as text. It never
// prepares: preparing takes a connection of the pool, which may have none
// left but tx's (a pool of one). Close the result after use.
func (s *Store) stmtIn(ctx context.Context, tx bun.Tx, q string) *txStmt {
	if s.pg() {
		return &txStmt{tx: tx.Tx, text: s.stmts.pgText(q), lead: []any{pgx.QueryExecModeCacheStatement}}
	}
	if stmt := s.stmts.cached(q); stmt != nil && tx.NewSelect().DB() == s.db {
		return &txStmt{stmt: tx.Tx.StmtContext(ctx, stmt)}
	}
	return &txStmt{tx: tx.Tx, text: q}
}

func (t *txStmt) query(ctx context.Context, args ...any) (*sql.Rows, error) {
	if t.stmt != nil {
		return t.stmt.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.text, append(t.lead, args...)...)
}

func (t *txStmt) exec(ctx context.Context, args ...any) (sql.Result, error) {
	if t.stmt != nil {
		return t.stmt.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.text, append(t.lead, args...)...)
}

func (t *txStmt) close() {
	if t.stmt != nil {
		_ = t.stmt.Close()
	}
}

// scanTx runs q inside the transaction tx (see stmtIn) and scans the rows
// into dest.
func (s *Store) scanTx(ctx context.Context, tx bun.Tx, dest any, q string, args ...any) error {
	st := s.stmtIn(ctx, tx, q)
	defer st.close()
	rows, err := st.query(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return s.db.ScanRows(ctx, rows, dest)
}

// execTx runs q, which returns no rows, inside the transaction tx (see
// stmtIn).
func (s *Store) execTx(ctx context.Context, tx bun.Tx, q string, args ...any) error {
	st := s.stmtIn(ctx, tx, q)
	defer st.close()
	_, err := st.exec(ctx, args...)
	return err
}

// execEach runs q, which returns no rows, once per argument list inside the
// transaction tx (see stmtIn), and returns how many rows each run changed.
func (s *Store) execEach(ctx context.Context, tx bun.Tx, q string, argLists [][]any) ([]int64, error) {
	st := s.stmtIn(ctx, tx, q)
	defer st.close()
	n := make([]int64, len(argLists))
	for i, args := range argLists {
		res, err := st.exec(ctx, args...)
		if err != nil {
			return nil, err
		}
		if n[i], err = res.RowsAffected(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// prepareTx prepares the SQLite statements that scanTx, execTx and
// execEach run.
func (s *Store) prepareTx(ctx context.Context) error {
	if s.pg() {
		return nil
	}
	for _, q := range []string{acceptEventSQL, acceptRunSQL, insertRunSQL, advanceFiredSQL, s.claimPick(claimPickSQLite), claimOneSQL, runByIDSQL, finishSQL.one, requeueSQL.one} {
		if _, err := s.stmts.prepared(ctx, s.db.DB, q); err != nil {
			return err
		}
	}
	return nil
}

// pgText rewrites ? placeholders to PostgreSQL's $1, $2, …; the statements
// contain no other question marks.
func (st *statements) pgText(q string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if t, ok := st.pgSQL[q]; ok {
		return t
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	if st.pgSQL == nil {
		st.pgSQL = map[string]string{}
	}
	if len(st.pgSQL) < 4*maxStatements {
		st.pgSQL[q] = b.String()
	}
	return b.String()
}

// prepared returns the prepared statement of q, or nil when the cache is
// full (the caller then runs q unprepared).
func (st *statements) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if stmt, ok := st.bySQL[q]; ok {
		return stmt, nil
	}
	if len(st.bySQL) >= maxStatements {
		return nil, nil
	}
	stmt, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if st.bySQL == nil {
		st.bySQL = map[string]*sql.Stmt{}
	}
	st.bySQL[q] = stmt
	return stmt, nil
}

// cached returns the prepared statement of q, or nil when q has none.
func (st *statements) cached(q string) *sql.Stmt {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.bySQL[q]
}

func (st *statements) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, stmt := range st.bySQL {
		_ = stmt.Close()
	}
	st.bySQL = nil
}
