package bunstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/internal/notify"
	"github.com/heraldhq/herald/store/internal/uuid7"
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Clock is the store's clock. nil means the database's clock on
	// PostgreSQL for the times of a run's life that nodes compare (due
	// times, leases, rescues, claims: see store.RunStore) and clock.System
	// for the rest; on SQLite, whose nodes share one machine, clock.System
	// throughout. When set, every time the store writes comes from it,
	// never from the database (tests move it). The scheduler reads it
	// (Store.Clock).
	Clock clock.Clock
	// Limits bound the input; zero fields mean the store package defaults.
	Limits store.Limits
	// Logger receives the store's own events (listener reconnects,
	// migrations); nil means silence.
	Logger log.Logger
	// MaxOpenConns caps the connection pool; zero means MaxOpenConnsDefault.
	MaxOpenConns int
}

// MaxOpenConnsDefault is the default size of the connection pool.
const MaxOpenConnsDefault = 16

// Store is a store.Store on a bun database.
type Store struct {
	db      *bun.DB
	dialect string
	ownsDB  bool
	clk     clock.Clock
	dbClock bool // PostgreSQL without Options.Clock: runs' times are now()
	limits  store.Limits
	ids     uuid7.Generator // the ids of runs and events, from their creation times
	logger  log.Logger
	hub     *notify.Hub
	origin  string // this handle's id in notifications it sends
	channel string // PostgreSQL NOTIFY channel

	// writeSem serializes this process's SQLite write transactions, so
	// that they queue in Go instead of spinning on SQLITE_BUSY; pending
	// holds the statements queued for the next group commit (group.go).
	writeSem chan struct{}
	groupMu  sync.Mutex
	pending  []*groupWrite
	// plainSem bounds the grouped plain inserts under way on PostgreSQL
	// (on SQLite they take writeSem); plainPending queues the plain
	// enqueues waiting for one (enqueue_group.go).
	plainSem     chan struct{}
	plainMu      sync.Mutex
	plainPending []*plainWrite

	listener stopper // LISTEN on PostgreSQL, polling on SQLite
	// sql holds the dialect's statements (statements.go); prepared, on
	// SQLite, each one prepared at Open, and only read after.
	sql       *statements
	prepared  map[string]*sql.Stmt
	bg        sync.WaitGroup // background work, waited for by Close
	afterMu   sync.Mutex     // orders after's Go before Close's closing
	closeOnce sync.Once
	closed    chan struct{}
	dueCh     chan struct{} // PostgreSQL: kicks the run-due notifier
	// dueFrom is the oldest RunAt the kicks pending in dueCh made due
	// (zero: one did not know it); duePending says whether one is.
	dueMu      sync.Mutex
	dueFrom    time.Time
	duePending bool
	floor      claimFloor // PostgreSQL: where claims start (claimfloor.go)

	// The batch writer of event accepts (accept.go).
	acceptCh      chan *acceptReq
	acceptStopped chan struct{}

	// checkedDBs holds the other SQLite handles whose transactions
	// RunEnqueueTx found to handle times as the store does.
	checkedDBs sync.Map // *bun.DB → true
}

var _ store.Store = (*Store)(nil)

// Open opens a store from a DSN and applies the migrations. A DSN is
// "postgres://…" or "postgresql://…" (PostgreSQL through pgx; search_path
// and other run-time parameters may be given as query parameters), or
// "sqlite://path", "sqlite:path", "file:path" or a path ending in .db
// (SQLite, with WAL and a 10 s busy timeout unless the DSN says otherwise).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	db, _, err := openDB(dsn)
	if err != nil {
		return nil, err
	}
	s, err := newStore(ctx, db, dsn, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// openDB opens a handle on the database of dsn, as Open reads it, and
// returns it with its dialect; it does not connect.
func openDB(dsn string) (*bun.DB, string, error) {
	dialect, driverDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, "", err
	}
	if dialect == DialectPostgres {
		cfg, err := pgx.ParseConfig(driverDSN)
		if err != nil {
			return nil, "", fmt.Errorf("bunstore: parse DSN %s: %w", redactDSN(dsn), err)
		}
		// bun formats every argument into the query text, so prepared
		// statements would only fill the cache.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		return bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New()), dialect, nil
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, driverDSN)
	if err != nil {
		return nil, "", fmt.Errorf("bunstore: open %s: %w", dsn, err)
	}
	return bun.NewDB(sqldb, SQLiteDialect()), dialect, nil
}

// New returns a store on db, a PostgreSQL or SQLite database the caller
// opened (and closes after the store), and applies the migrations. On
// PostgreSQL, notifications from other processes need a DSN to listen on:
// pass it as listenDSN, or "" to hear only this process. PostgreSQL must be
// reached through pgx (github.com/jackc/pgx/v5/stdlib). SQLite keeps
// times as integer microseconds: its *bun.DB must use SQLiteDialect, and
// the pure-Go driver's DSN must have SQLiteDSNParams (Open does both); New
// refuses a handle that writes, binds or reads times otherwise.
func New(ctx context.Context, db *bun.DB, listenDSN string, opts Options) (*Store, error) {
	return newStore(ctx, db, listenDSN, opts)
}

func newStore(ctx context.Context, db *bun.DB, dsn string, opts Options) (*Store, error) {
	s := &Store{
		db:     db,
		clk:    opts.Clock,
		limits: opts.Limits.WithDefaults(),
		logger: opts.Logger,
		hub:    notify.New(0),
		closed: make(chan struct{}),

		writeSem: make(chan struct{}, 1),
		plainSem: make(chan struct{}, plainInFlight),
	}
	switch db.Dialect().Name().String() {
	case "pg":
		s.dialect = DialectPostgres
	case "sqlite":
		s.dialect = DialectSQLite
	default:
		return nil, fmt.Errorf("bunstore: unsupported dialect %s: want PostgreSQL or SQLite", db.Dialect().Name())
	}
	var err error
	if s.sql, err = loadStatements(sqlFiles, s.dialect); err != nil {
		return nil, err
	}
	if s.clk == nil {
		s.clk = clock.System{}
		s.dbClock = s.dialect == DialectPostgres
	}
	if s.logger == nil {
		s.logger = log.NewNopLogger()
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.origin = hex.EncodeToString(b[:])

	n := opts.MaxOpenConns
	if n <= 0 {
		n = MaxOpenConnsDefault
	}
	// Migrating on PostgreSQL holds one connection for its lock while it
	// works on another: the pool gets its size once that is done.
	db.SetMaxOpenConns(max(n, 2))
	db.SetMaxIdleConns(n)

	if err := s.connect(ctx); err != nil {
		return nil, fmt.Errorf("bunstore: connect %s: %w", redactDSN(dsn), err)
	}
	if !s.pg() {
		if err := checkSQLiteHandle(ctx, db); err != nil {
			return nil, err
		}
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.prepareAll(ctx); err != nil {
		return nil, fmt.Errorf("bunstore: prepare statements: %w", translate(err))
	}
	db.SetMaxOpenConns(n)
	if s.dialect == DialectPostgres {
		var schema string
		if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return nil, fmt.Errorf("bunstore: read schema: %w", translate(err))
		}
		s.channel = channelName(schema)
		if dsn != "" {
			l, err := startListener(ctx, s, dsn)
			if err != nil {
				return nil, err
			}
			s.listener = l
		}
		s.dueCh = make(chan struct{}, 1)
		s.bg.Add(1)
		go s.dueLoop()
	} else {
		p, err := startPoller(ctx, s)
		if err != nil {
			return nil, err
		}
		s.listener = p
	}
	s.acceptCh, s.acceptStopped = make(chan *acceptReq), make(chan struct{})
	s.bg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// connect pings the database. A new SQLite file being switched to WAL by
// another process at the same moment answers SQLITE_BUSY at once (the busy
// handler does not cover that lock), so SQLite retries a busy ping for up
// to its busy timeout.
func (s *Store) connect(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(ctx)
		code, ok := sqliteCode(err)
		if err == nil || s.pg() || !ok || code&0xff != 5 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// DB returns the store's database, for the application's own queries and
// transactions (see RunEnqueueTx).
func (s *Store) DB() *bun.DB { return s.db }

// Dialect returns DialectPostgres or DialectSQLite.
func (s *Store) Dialect() string { return s.dialect }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", errors.Join(store.ErrUnavailable, err))
	}
	return nil
}

// Close stops the listener and subscriptions and, when Open opened the
// database, closes it. It is safe to call twice.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.afterMu.Lock()
		close(s.closed)
		s.afterMu.Unlock()
		if s.listener != nil {
			s.listener.stop()
		}
		s.hub.Close()
		s.bg.Wait()
		s.closePrepared()
		if s.ownsDB {
			err = s.db.Close()
		}
	})
	return err
}

// after runs fn in the background, after the caller's call returned; Close
// waits for it. Once the store is closing it runs nothing.
func (s *Store) after(fn func()) {
	s.afterMu.Lock()
	defer s.afterMu.Unlock()
	if !s.isClosed() {
		s.bg.Go(fn)
	}
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Subscribe implements store.Notifier.
func (s *Store) Subscribe(ctx context.Context) (<-chan store.Notification, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	return s.hub.Subscribe(ctx)
}

// Clock implements store.Store: the clock of Options, or clock.System. On
// PostgreSQL without Options.Clock, the times of a run's life are the
// database's, not this clock's (see Options.Clock).
func (s *Store) Clock() clock.Clock { return s.clk }

// Limits implements store.Store: the limits of Options, defaults applied.
func (s *Store) Limits() store.Limits { return s.limits }

// stamp returns the store's time in storage form.
func (s *Store) stamp() time.Time { return store.Timestamp(s.clk.Now()) }

// nowArg is the argument "now" of a statement on a run's life: nil on the
// database's clock, which the statement reads as now(), else the store's
// time. PostgreSQL's now() is the transaction's start, so every "now" of
// one transaction is the same instant.
func (s *Store) nowArg() any {
	if s.dbClock {
		return nil
	}
	return s.stamp()
}

// micros is d in whole microseconds, the unit of the statements' durations.
func micros(d time.Duration) int64 { return d.Microseconds() }

func (s *Store) pg() bool { return s.dialect == DialectPostgres }

// tx runs fn in a write transaction, retrying it when PostgreSQL reports a
// serialization failure or a deadlock, and publishes the notifications fn
// collected once it has committed.
func (s *Store) tx(ctx context.Context, fn func(tx bun.Tx, out *outbox) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if !s.pg() {
		if err := s.lockWrites(ctx); err != nil {
			return err
		}
		defer s.unlockWrites()
	}
	for attempt := 1; ; attempt++ {
		out := &outbox{}
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := fn(tx, out); err != nil {
				return err
			}
			if out.notified {
				return nil
			}
			return s.sendNotifications(ctx, tx, s.inTx(out), s.origin)
		})
		if err == nil {
			s.publish(out)
			s.kickDue(out)
			return nil
		}
		if attempt < txAttempts && retryable(err) {
			// The other transaction is mostly done by then; under load it
			// may take a few turns.
			select {
			case <-time.After(txBackoff(attempt)):
				continue
			case <-ctx.Done():
			}
		}
		return translate(err)
	}
}

// txAttempts bounds the runs of a transaction that keeps meeting another
// one's locks (see retryable): with txBackoff's waits, about two seconds.
const txAttempts = 50

// txBackoff is the wait before the next run of a transaction that failed
// attempt times on a conflict: 2 ms more each time, at most 50 ms, less a
// random part of up to a half, so that transactions that met do not meet
// again in step.
func txBackoff(attempt int) time.Duration {
	d := min(time.Duration(attempt)*2*time.Millisecond, 50*time.Millisecond)
	return d - mathrand.N(d/2+1)
}

// outbox collects the notifications of one transaction.
type outbox struct {
	notes    []store.Notification
	notified bool // sent in the transaction already (notifyNow)
	// dueFrom is the oldest RunAt of the runs the write made due, when it
	// knows it (plain enqueues), for the claims' floor (claimfloor.go) of
	// this process and of the others its TopicRunDue reaches.
	dueFrom time.Time
}

// notifyNow sends out's notifications in tx now rather than at the end of
// the transaction's function: nothing may be added to out afterwards.
func (s *Store) notifyNow(ctx context.Context, tx bun.IDB, out *outbox) error {
	out.notified = true
	return s.sendNotifications(ctx, tx, s.inTx(out), s.origin)
}

func (o *outbox) add(n store.Notification) {
	for _, m := range o.notes {
		if m == n {
			return
		}
	}
	o.notes = append(o.notes, n)
}

func (s *Store) publish(out *outbox) {
	for _, n := range out.notes {
		s.note(n, out.dueFrom)
	}
}

// note publishes n to this process's subscribers. A notification that runs
// became due (none before from; zero: not known), or that some were
// missed, lowers the claims' floor first.
func (s *Store) note(n store.Notification, from time.Time) {
	switch n.Topic {
	case store.TopicRunDue:
		s.floor.lower(from)
	case store.TopicResync:
		s.floor.lower(time.Time{})
	}
	s.hub.Publish(n)
}
