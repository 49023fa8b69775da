package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/schema"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// migrationCount is how many migrations each dialect has.
var migrationCount = map[string]int{bunstore.DialectPostgres: 12, bunstore.DialectSQLite: 12}

// eachBackend runs fn on a fresh database of each dialect.
func eachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t)) })
}

func open(t *testing.T, dsn string) *bunstore.Store {
	t.Helper()
	st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMigrationsRunConcurrentlyAndTwice(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
				if err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent open: %v", err)
			}
		}
		st := open(t, dsn) // and once more, on a migrated database
		var applied int
		if err := st.DB().NewRaw("SELECT count(*) FROM herald_migrations").Scan(context.Background(), &applied); err != nil {
			t.Fatal(err)
		}
		if want := migrationCount[st.Dialect()]; applied != want {
			t.Fatalf("herald_migrations has %d rows, want %d (each migration applied once)", applied, want)
		}
	})
}

func TestRunEnqueueTxCommitsWithTheCallersTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := open(t, dsn)
		db := st.DB()
		if _, err := db.ExecContext(ctx, "CREATE TABLE app_orders (id integer PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		sub, err := st.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		enqueue := func(orderID int, commit bool) string {
			var runID string
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO app_orders VALUES (?)", orderID); err != nil {
					return err
				}
				res, err := st.RunEnqueueTx(ctx, tx, &store.RunEnqueueParams{Owner: "shop", Agent: "invoice"})
				if err != nil {
					return err
				}
				runID = res[0].Run.ID
				if !commit {
					return errors.New("roll back")
				}
				return nil
			})
			if commit && err != nil {
				t.Fatalf("enqueue in tx: %v", err)
			}
			return runID
		}

		rolledBack := enqueue(1, false)
		if _, err := st.RunGet(ctx, rolledBack); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("run of a rolled-back transaction: %v, want ErrNotFound", err)
		}
		committed := enqueue(2, true)
		if r, err := st.RunGet(ctx, committed); err != nil || r.Status != store.RunQueued {
			t.Fatalf("run of a committed transaction: %+v, %v", r, err)
		}
		// Workers are woken once the caller commits.
		deadline := time.After(time.Second)
		for {
			select {
			case n := <-sub:
				if n.Topic == store.TopicRunDue {
					return
				}
			case <-deadline:
				t.Fatal("no run_due notification within 1s of the commit")
			}
		}
	})
}

func TestOpenRefusesBadDSN(t *testing.T) {
	for _, dsn := range []string{"", "mysql://localhost/x", "redis://127.0.0.1"} {
		if _, err := bunstore.Open(context.Background(), dsn, bunstore.Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	testpg.ServerDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := bunstore.Open(ctx, "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", bunstore.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open of an unreachable server: %v, want ErrUnavailable", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

// Payloads with question marks must not be taken for placeholders, on any
// path (plain batches go through one formatted statement on PostgreSQL).
func TestPayloadWithPlaceholderCharacters(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := open(t, dsn)
		payload := `{"q":"what? $1 ?? :x","n":1}`
		res, err := st.RunEnqueue(ctx,
			&store.RunEnqueueParams{Owner: "o", Agent: "a", Payload: []byte(payload)},
			&store.RunEnqueueParams{Owner: "o", Agent: "a?", Payload: []byte(payload), IdempotencyKey: "k?"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			got, err := st.RunGet(ctx, r.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Payload) != payload {
				t.Fatalf("payload read back as %s, want %s", got.Payload, payload)
			}
		}
	})
}

// TestCloseWhileAccepting closes a store while webhooks are being
// accepted: every accept returns (recorded, or refused with ErrClosed),
// and each one reported recorded is there when the database is opened
// again.
func TestCloseWhileAccepting(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var recorded []string
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := 0; ; i++ {
					res, err := st.EventAccept(context.Background(), &store.EventAcceptParams{Source: "github",
						DeliveryID: fmt.Sprintf("g%d-%d", g, i), Body: []byte(`{}`),
						Run: store.RunEnqueueParams{Owner: "ops", Agent: "echo"}})
					if errors.Is(err, store.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("EventAccept: %v", err)
						return
					}
					mu.Lock()
					recorded = append(recorded, res.Event.ID)
					mu.Unlock()
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("accepts still running 10s after Close")
		}
		again := open(t, dsn)
		for _, id := range recorded {
			if _, err := again.EventGet(context.Background(), id); err != nil {
				t.Fatalf("event %s reported recorded: %v", id, err)
			}
		}
		if len(recorded) == 0 {
			t.Error("no accept succeeded before Close")
		}
	})
}

// TestOneConnection accepts webhooks, and makes the other writes, on a
// store whose pool holds one connection: nothing may wait for a second.
func TestOneConnection(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{MaxOpenConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 3 {
			res, err := st.EventAccept(ctx, &store.EventAcceptParams{Source: "github", DeliveryID: fmt.Sprintf("d%d", i%2),
				Body: []byte(`{}`), Run: store.RunEnqueueParams{Owner: "ops", Agent: "echo"}})
			if err != nil {
				t.Fatalf("EventAccept %d: %v", i, err)
			}
			if res.Duplicate != (i == 2) {
				t.Errorf("EventAccept %d: Duplicate = %t", i, res.Duplicate)
			}
		}
		runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 10, Lease: time.Minute})
		if err != nil || len(runs) != 2 {
			t.Fatalf("RunClaim = %d runs, %v; want 2", len(runs), err)
		}
		if _, err := st.RunFinish(ctx, &store.RunFinishParams{ID: runs[0].ID, Node: "n", Status: store.RunSucceeded,
			DeliverAfter: time.Now().Add(time.Minute)}); err != nil {
			t.Fatalf("RunFinish: %v", err)
		}
		if err := st.RunDelivered(ctx, runs[0].ID); err != nil {
			t.Fatalf("RunDelivered: %v", err)
		}
	})
}

// TestClaimKeepsCommitsDurable: a claim commits without waiting for the
// disk, by a setting local to its own transaction; the connection's later
// transactions (finishes, enqueues) must still wait for it.
func TestClaimKeepsCommitsDurable(t *testing.T) {
	ctx := context.Background()
	st, err := bunstore.Open(ctx, postgresDSN(t), bunstore.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "ops", Agent: "echo"}, &store.RunEnqueueParams{Owner: "ops", Agent: "echo"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 1, Lease: time.Minute})
		if err != nil {
			t.Fatalf("RunClaim %d: %v", i, err)
		}
		if want := i < 2; (len(runs) == 1) != want {
			t.Fatalf("RunClaim %d = %d runs", i, len(runs))
		}
		var sc string
		if err := st.DB().QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
			t.Fatal(err)
		}
		if sc != "on" {
			t.Fatalf("after claim %d, synchronous_commit = %q on the store's only connection; want on", i, sc)
		}
	}
}

// TestNewOnTheCallersDatabase: New takes a database the application opened,
// runs the store on it, and leaves it open. An SQLite handle that would
// write, bind or read times otherwise than as integer microseconds is
// refused with the fix named, before anything is written.
func TestNewOnTheCallersDatabase(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "app.db")
		for _, tc := range []struct {
			query   string
			dialect schema.Dialect
			refusal string // "" when accepted
		}{
			{"?" + bunstore.SQLiteDSNParams, sqlitedialect.New(), "bunstore.SQLiteDialect()"},
			{"", bunstore.SQLiteDialect(), bunstore.SQLiteDSNParams},
			{"?_time_format=sqlite", bunstore.SQLiteDialect(), bunstore.SQLiteDSNParams},
			{"?_time_integer_format=unix_micro", bunstore.SQLiteDialect(), bunstore.SQLiteDSNParams},
			{"?_time_integer_format=unix_milli&_inttotime=1", bunstore.SQLiteDialect(), bunstore.SQLiteDSNParams},
			// Accepted. A busy timeout, as any caller whose handle more than
			// one goroutine uses needs: without one, a write that meets the
			// store's notification poller reading fails at once with
			// SQLITE_BUSY (seen on a loaded machine).
			{"?" + bunstore.SQLiteDSNParams + "&_pragma=busy_timeout(10000)", bunstore.SQLiteDialect(), ""},
		} {
			sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+path+tc.query)
			if err != nil {
				t.Fatal(err)
			}
			db := bun.NewDB(sqldb, tc.dialect)
			st, err := bunstore.New(ctx, db, "", bunstore.Options{})
			if tc.refusal == "" {
				useStore(t, st, err, db)
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.refusal) {
					t.Errorf("New with DSN %q = %v; want an error naming %s", tc.query, err, tc.refusal)
				}
				var tables int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil || tables != 0 {
					t.Errorf("New with DSN %q left %d schema objects (%v); want none", tc.query, tables, err)
				}
			}
			db.Close()
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresDSN(t)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		db := bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
		defer db.Close()
		st, err := bunstore.New(ctx, db, dsn, bunstore.Options{})
		useStore(t, st, err, db)
	})
}

// useStore checks a store New returned (with newErr) on db: it enqueues a
// tick twice and an ad hoc run, claims and finishes them, reads the tick
// back, and closes the store, which must leave db open.
func useStore(t *testing.T, st *bunstore.Store, newErr error, db *bun.DB) {
	t.Helper()
	if newErr != nil {
		t.Fatalf("New: %v", newErr)
	}
	ctx := context.Background()
	defer func() {
		st.Close()
		if err := db.PingContext(ctx); err != nil {
			t.Errorf("the caller's database is closed by the store: %v", err)
		}
	}()
	sch, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "app", Name: "nightly", Agent: "echo",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 3 * * *"}})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	tickRun := &store.RunEnqueueParams{Kind: store.RunKindSchedule, ScheduleID: sch.ID, ScheduledFor: tick, Owner: "app", Agent: "echo"}
	for i := range 2 {
		res, err := st.RunEnqueue(ctx, tickRun, &store.RunEnqueueParams{Owner: "app", Agent: "echo"})
		if err != nil {
			t.Fatalf("RunEnqueue %d: %v", i, err)
		}
		if res[0].Duplicate != (i == 1) {
			t.Errorf("RunEnqueue %d: tick Duplicate = %t", i, res[0].Duplicate)
		}
	}
	runs, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "n", Limit: 10, Lease: time.Minute})
	if err != nil || len(runs) != 3 {
		t.Fatalf("RunClaim = %d runs, %v; want 3", len(runs), err)
	}
	for _, r := range runs {
		if _, err := st.RunFinish(ctx, &store.RunFinishParams{ID: r.ID, Node: "n", Status: store.RunSucceeded}); err != nil {
			t.Fatalf("RunFinish: %v", err)
		}
	}
	page, err := st.RunList(ctx, &store.RunListParams{ScheduleID: sch.ID, Limit: 10})
	if err != nil || len(page.Runs) != 1 || !page.Runs[0].ScheduledFor.Equal(tick) {
		t.Fatalf("RunList by schedule = %v, %v; want the one tick at %v", page, err, tick)
	}
}

// TestRunEnqueueTxOnAnotherHandle: a caller's transaction on a second
// handle to the store's SQLite file, where the store's prepared statements
// cannot run, still takes a tick once and reports the second as duplicate.
// A handle that would write times otherwise is refused and writes nothing.
func TestRunEnqueueTxOnAnotherHandle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	st := open(t, "sqlite://"+path)
	sch, err := st.ScheduleCreate(ctx, &store.Schedule{Owner: "app", Name: "nightly", Agent: "echo",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 3 * * *"}})
	if err != nil {
		t.Fatal(err)
	}
	tick := &store.RunEnqueueParams{Kind: store.RunKindSchedule, ScheduleID: sch.ID, Owner: "app", Agent: "echo",
		ScheduledFor: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
	handle := func(query string, d schema.Dialect) *bun.DB {
		sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?_pragma=busy_timeout(10000)&"+query)
		if err != nil {
			t.Fatal(err)
		}
		db := bun.NewDB(sqldb, d)
		t.Cleanup(func() { db.Close() })
		return db
	}
	for _, bad := range []*bun.DB{handle(bunstore.SQLiteDSNParams, sqlitedialect.New()), handle("_time_format=sqlite", bunstore.SQLiteDialect())} {
		err := bad.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := st.RunEnqueueTx(ctx, tx, tick)
			return err
		})
		if err == nil {
			t.Fatal("RunEnqueueTx on a handle that writes times as text succeeded")
		}
	}
	if page, err := st.RunList(ctx, &store.RunListParams{}); err != nil || len(page.Runs) != 0 {
		t.Fatalf("refused enqueues left %v (%v); want no runs", page, err)
	}
	other := handle(bunstore.SQLiteDSNParams, bunstore.SQLiteDialect())
	for i := range 2 {
		var res []*store.EnqueueResult
		err := other.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			res, err = st.RunEnqueueTx(ctx, tx, tick)
			return err
		})
		if err != nil {
			t.Fatalf("RunEnqueueTx %d: %v", i, err)
		}
		if res[0].Duplicate != (i == 1) {
			t.Errorf("RunEnqueueTx %d: Duplicate = %t", i, res[0].Duplicate)
		}
	}
	got, err := st.ScheduleGet(ctx, sch.ID)
	if err != nil || !got.LastFiredAt.Equal(tick.ScheduledFor) {
		t.Errorf("LastFiredAt = %v, %v; want %v", got.LastFiredAt, err, tick.ScheduledFor)
	}
}
