package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
)

// The store's SQL lives in sql/: one file per statement, named for what it
// does, under sql/postgres/ and sql/sqlite/, or once under sql/shared/ when
// both dialects spell it alike. PostgreSQL's files number their
// placeholders ($1, $2, …). SQLite's take plain ? in order, which its
// driver binds fastest, and number them (?1) only where a value appears
// twice; the shared files' $n bind by position on SQLite too. Open reads
// the dialect's files into a statements value, and every statement runs
// through one helper (stmt), with arguments bound by the driver, never
// formatted into the text: PostgreSQL parses and plans a statement once
// per connection (pgx's statement cache); SQLite prepares its hot ones
// once per store, at Open (prepareAll).
//
// A list of ids or times is one argument: an array on PostgreSQL
// (= ANY($1::uuid[])), a JSON array on SQLite (IN (SELECT value FROM
// json_each(?))), both made by listArg and timesArg; a batch of rows is
// one array per column on PostgreSQL (columns), read with unnest. So no
// statement's text depends on its input.

//go:embed sql
var sqlFiles embed.FS

// statements are the SQL of one dialect. A field's tag names its file;
// ",postgres" or ",sqlite" marks a statement that only that dialect has
// (its field is empty on the other); ",,prepared" (or ",sqlite,prepared")
// one that SQLite prepares at Open (prepareAll).
type statements struct {
	// Runs: claims, leases, transitions (run.go).
	RunClaim          string `sql:"run_claim,postgres"`
	RunClaimPick      string `sql:"run_claim_pick,sqlite,prepared"`
	RunClaimOne       string `sql:"run_claim_one,sqlite,prepared"`
	RunExtendLease    string `sql:"run_extend_lease"`
	RunLeaseHeld      string `sql:"run_lease_held,postgres"`
	RunProgress       string `sql:"run_progress"`
	RunFinish         string `sql:"run_finish,,prepared"`
	RunFinishOne      string `sql:"run_finish_one,postgres"`
	RunRequeue        string `sql:"run_requeue,,prepared"`
	RunByID           string `sql:"run_by_id,,prepared"`
	RunsByID          string `sql:"runs_by_id,sqlite,prepared"`
	RunRescue         string `sql:"run_rescue"`
	RunNextDue        string `sql:"run_next_due"`
	RunDelivered      string `sql:"run_delivered,,prepared"`
	RunDeliveryClaim  string `sql:"run_delivery_claim,,prepared"`
	RunDeliveryExtend string `sql:"run_delivery_extend"`
	RunPrunePick      string `sql:"run_prune_pick"`
	RunPruneKeepLast  string `sql:"run_prune_keep_last"`
	RunPruneDelete    string `sql:"run_prune_delete"`

	// Held runs of schedules (run.go).
	ScheduleShareLock    string `sql:"schedule_share_lock,postgres"`
	ScheduleRunShareLock string `sql:"schedule_run_share_lock,postgres"`
	SchedulesWithHeld    string `sql:"schedules_with_held"`
	SchedulesHeldIdle    string `sql:"schedules_held_idle"`
	RunRelease           string `sql:"run_release"`

	// Enqueues (enqueue.go, enqueue_group.go).
	RunInsert            string `sql:"run_insert,,prepared"`
	RunInsertMany        string `sql:"run_insert_many,postgres"`
	RunInsertManyUnkeyed string `sql:"run_insert_many_unkeyed,postgres"`
	RunsExisting         string `sql:"runs_existing"`
	SchedulePolicies     string `sql:"schedule_policies"`
	ScheduleLockUpdate   string `sql:"schedule_lock_update,postgres"`
	ScheduleLockKeyShare string `sql:"schedule_lock_key_share,postgres"`
	ScheduleActiveCounts string `sql:"schedule_active_counts"`
	RunsCancelLock       string `sql:"runs_cancel_lock,postgres"`
	RunsCancelQueued     string `sql:"runs_cancel_queued"`
	RunsCancelRunning    string `sql:"runs_cancel_running"`
	ScheduleAdvanceFired string `sql:"schedule_advance_fired,,prepared"`

	// Webhook events (event.go, accept.go).
	EventAccept      string `sql:"event_accept,sqlite,prepared"`
	EventAcceptRun   string `sql:"event_accept_run,sqlite,prepared"`
	EventAcceptBatch string `sql:"event_accept_batch,postgres"`

	// Notifications (notify.go).
	Notify     string `sql:"notify"`
	NotifyLast string `sql:"notify_last,sqlite"`
	NotifyRead string `sql:"notify_read,sqlite"`
	NotifyTrim string `sql:"notify_trim,sqlite"`

	// Schedules (schedule.go).
	ScheduleOwnerLock string `sql:"schedule_owner_lock,postgres"`

	// Figures, tokens, workspaces (stats.go, token.go, workspace.go).
	Stats           string `sql:"stats"`
	TokenCreate     string `sql:"token_create"`
	TokenList       string `sql:"token_list"`
	TokenDelete     string `sql:"token_delete"`
	WorkspacePut    string `sql:"workspace_put"`
	WorkspaceGet    string `sql:"workspace_get"`
	WorkspaceList   string `sql:"workspace_list"`
	WorkspaceDelete string `sql:"workspace_delete"`

	// Messages of backfills (backfill.go).
	MessageUpsertMany string `sql:"message_upsert_many,postgres"`
	MessageInsert     string `sql:"message_insert,sqlite,prepared"`
	MessageUpdate     string `sql:"message_update,sqlite,prepared"`
}

// loadStatements reads the statements of dialect from files.
func loadStatements(files fs.FS, dialect string) (*statements, error) {
	dir := "postgres"
	if dialect == DialectSQLite {
		dir = "sqlite"
	}
	st := &statements{}
	v := reflect.ValueOf(st).Elem()
	for i := range v.NumField() {
		name, only, _ := strings.Cut(v.Type().Field(i).Tag.Get("sql"), ",")
		only, _, _ = strings.Cut(only, ",")
		if only != "" && only != dir {
			continue
		}
		b, err := fs.ReadFile(files, "sql/"+dir+"/"+name+".sql")
		if errors.Is(err, fs.ErrNotExist) && only == "" {
			b, err = fs.ReadFile(files, "sql/shared/"+name+".sql")
		}
		if err != nil {
			return nil, fmt.Errorf("bunstore: read statement %s: %w", name, err)
		}
		v.Field(i).SetString(strings.TrimSpace(string(b)))
	}
	return st, nil
}

// hot returns the statements of st whose tag says prepared.
func (st *statements) hot() []string {
	v := reflect.ValueOf(st).Elem()
	var out []string
	for i := range v.NumField() {
		tag := v.Type().Field(i).Tag.Get("sql")
		if q := v.Field(i).String(); q != "" && strings.HasSuffix(tag, ",prepared") {
			out = append(out, q)
		}
	}
	return out
}

// prepareAll prepares SQLite's hot statements, those of claims,
// finishes, requeues and inserts (PostgreSQL's are prepared by pgx, per
// connection, on first use). The others run as text, which the driver
// parses each time: with every statement prepared, and a savepoint per
// grouped write (see group.go), concurrent claims and finishes ran at half
// the speed or less (BenchmarkClaimFinish). The map is written here only
// and read afterwards without a lock.
func (s *Store) prepareAll(ctx context.Context) error {
	if s.pg() {
		return nil
	}
	s.prepared = map[string]*sql.Stmt{}
	for _, q := range s.sql.hot() {
		stmt, err := s.db.DB.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
		s.prepared[q] = stmt
	}
	return nil
}

func (s *Store) closePrepared() {
	for _, stmt := range s.prepared {
		_ = stmt.Close()
	}
}

// conn is the pool (*sql.DB) or a transaction (*sql.Tx).
type conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

// boundStmt is a statement ready to run with the caller's arguments: a
// prepared statement, or its text on a conn.
type boundStmt struct {
	stmt  *sql.Stmt // SQLite: the statement prepared at Open
	owned bool      // stmt was bound to a transaction: close it after use
	conn  conn
	text  string
	lead  []any // arguments put before the caller's
}

// stmt returns how the statement q (a field of s.sql) runs on db, the
// store's *bun.DB or a transaction: on PostgreSQL through the connection's
// statement cache; on SQLite through the statement prepared at Open (bound
// to the transaction when db is one of the store's), else, in a
// transaction of another handle (RunEnqueueTx), as text. It never prepares:
// preparing takes a connection of the pool, which may have none left but
// the transaction's (a pool of one). Close the result after use.
func (s *Store) stmt(ctx context.Context, db bun.IDB, q string) *boundStmt {
	var c conn
	switch db := db.(type) {
	case bun.Tx:
		c = db.Tx
		if own := s.prepared[q]; own != nil && db.NewSelect().DB() == s.db {
			return &boundStmt{stmt: db.Tx.StmtContext(ctx, own), owned: true}
		}
	case *bun.DB:
		c = db.DB
		if own := s.prepared[q]; own != nil && db == s.db {
			return &boundStmt{stmt: own}
		}
	default:
		panic(fmt.Sprintf("bunstore: a statement runs on a *bun.DB or a bun.Tx, not on a %T", db))
	}
	b := &boundStmt{conn: c, text: q}
	if s.pg() {
		b.lead = []any{pgx.QueryExecModeCacheStatement}
	}
	return b
}

func (b *boundStmt) query(ctx context.Context, args ...any) (*sql.Rows, error) {
	if b.stmt != nil {
		return b.stmt.QueryContext(ctx, args...)
	}
	return b.conn.QueryContext(ctx, b.text, append(b.lead, args...)...)
}

func (b *boundStmt) exec(ctx context.Context, args ...any) (sql.Result, error) {
	if b.stmt != nil {
		return b.stmt.ExecContext(ctx, args...)
	}
	return b.conn.ExecContext(ctx, b.text, append(b.lead, args...)...)
}

func (b *boundStmt) close() {
	if b.owned {
		_ = b.stmt.Close()
	}
}

// query runs q on db (see stmt) and returns its rows.
func (s *Store) query(ctx context.Context, db bun.IDB, q string, args ...any) (*sql.Rows, error) {
	st := s.stmt(ctx, db, q)
	defer st.close()
	return st.query(ctx, args...)
}

// scan runs q on db (see stmt) and scans its rows into dest: runs by
// hand (scanRunRows), anything else through bun.
func (s *Store) scan(ctx context.Context, db bun.IDB, dest any, q string, args ...any) error {
	rows, err := s.query(ctx, db, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if runs, ok := dest.(*[]runRow); ok {
		return scanRunRows(rows, runs)
	}
	return s.db.ScanRows(ctx, rows, dest)
}

// exec runs q, which returns no rows, on db (see stmt), and returns how
// many rows it changed.
func (s *Store) exec(ctx context.Context, db bun.IDB, q string, args ...any) (int64, error) {
	st := s.stmt(ctx, db, q)
	defer st.close()
	res, err := st.exec(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execEach runs q, which returns no rows, once per argument list on db
// (see stmt), and returns how many rows each run changed.
func (s *Store) execEach(ctx context.Context, db bun.IDB, q string, argLists [][]any) ([]int64, error) {
	st := s.stmt(ctx, db, q)
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

// listArg is a list of strings as one argument: an array on PostgreSQL, a
// JSON array on SQLite, which its statements read with json_each.
func (s *Store) listArg(v []string) any {
	if s.pg() {
		return v
	}
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// timesArg is listArg for times, which SQLite keeps as integer
// microseconds.
func (s *Store) timesArg(v []time.Time) any {
	if s.pg() {
		return v
	}
	micros := make([]int64, len(v))
	for i, t := range v {
		micros[i] = t.UnixMicro()
	}
	b, _ := json.Marshal(micros)
	return string(b)
}
