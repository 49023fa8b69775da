// Package bunstore is Herald's SQL store, built on github.com/uptrace/bun:
// PostgreSQL (pgdialect over pgx) for production and multi-node deployments,
// SQLite (sqlitedialect over the pure-Go driver, WAL, busy timeout) as the
// embedded single-node default.
//
// Open a store from a DSN with Open, or on a *bun.DB the application already
// has with New; either applies the embedded migrations (safe to run from
// several processes at once, and twice). The application can enqueue runs in
// its own transaction with RunEnqueueTx, so that its data and the run commit
// together.
//
// On PostgreSQL, claims use FOR UPDATE SKIP LOCKED, batches are written in
// one statement, and changes reach every process through LISTEN/NOTIFY on a
// channel named after the schema. On SQLite, writes of one process are
// serialized in process and notifications stay in the process; concurrent
// claims, finishes and requeues commit together, in one transaction (group
// commit), and move their runs one by one through the primary key. SQLite
// keeps times as integer microseconds since the Unix epoch (SQLiteDialect,
// SQLiteDSNParams), which compare as instants and cost no text formatting.
//
// Durability: every write commits durably (PostgreSQL's synchronous_commit,
// SQLite's synchronous level, FULL unless the DSN says otherwise) except a
// claim on PostgreSQL, which commits without waiting for the disk. A claim
// lost to a server crash leaves its runs queued, to be claimed again, and
// the finish of a run whose claim was lost is refused: execution is at
// least once either way.
//
// Locks. Transactions lock schedules before runs. A transaction that
// locks several schedules locks them in id order (the ticks'
// SELECT … ORDER BY id, the releases' FOR SHARE, the advance of last fired
// ticks, the pruning's one-by-one updates); ticks of schedules that all
// allow every overlap lock them only FOR KEY SHARE, which a pause or an
// edit does not wait for. A claim locks no schedule: a schedule's LastRunAt
// is read from its runs' latest start (herald_runs_started_idx). Among
// statements that lock several runs, those that wait for a run's lock hold
// no other run that a waiting statement holds: claims, rescues and lease
// extensions skip locked runs, cancel_other takes its runs NOWAIT (and its
// transaction runs again), and a finish or a requeue is alone in its
// transaction. So no two statements of the store can deadlock.
//
// Clocks. On PostgreSQL without Options.Clock, the times of a run's life
// that nodes compare (due times, claims, leases, rescues, a requeue's
// delay, finishes) are the database's now(), so a node whose clock is off
// cannot take another's runs; the other stamps are the process's.
//
// Ids. The id of a run or an event is a UUIDv7 of its creation time on the
// store's clock (an injected clock's included), so that ids order as
// creation times do and a listing bounded in creation time reads one span
// of an index: every listing walks an index in id order and reads about a
// page, whatever the size of the history (list.go).
//
// Notifications. A write that makes runs due wakes this process's workers
// at once; other processes hear of it through a NOTIFY sent after the
// commit, never inside the writing transaction (PostgreSQL serializes the
// commits of notifying transactions on one lock), by a notifier that sends
// at most one every 10 ms, the first after a quiet spell at once.
//
// SQL. Each statement is one file under sql/, named for what it does:
// sql/postgres/ and sql/sqlite/ hold each dialect's spelling, whole;
// sql/shared/ the statements both spell alike. What a file holds is what
// the database runs: Open loads the dialect's files into one struct of
// statements (statements.go), and each runs through one helper, stmt,
// with arguments bound by the driver. PostgreSQL plans a statement once
// per connection (pgx's statement cache); SQLite prepares the hot ones
// (claims, finishes, requeues, inserts) once, at Open. A list is one
// argument (an array on PostgreSQL, a JSON array read by json_each on
// SQLite), so no statement's text depends on its input. Single-row reads
// and writes of schedules, events, deliveries and cursors use bun's query
// builder; the listings (list.go) are whole statements per dialect whose
// named arguments bun writes into the text, as their plans need.
//
// Every native error is translated to the store's sentinels in one place
// (see translate in errors.go).
package bunstore
