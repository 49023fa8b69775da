// Package store is Herald's persistence contract: the records every other
// package works with (Schedule, Run, Event, Delivery, Cursor, Message), the
// sentinel errors, and the Store interface, split into small interfaces by
// entity.
//
// Import it to use Herald's records or to write a new store. Herald ships
// three implementations: store/memstore (in memory, for tests and examples),
// and store/bunstore (PostgreSQL for production and multi-node, SQLite as the
// embedded single-node default). Every implementation must pass the
// conformance suite in store/storetest, and calls the checks of
// store/storekit, so that it refuses bad input with the same errors as every
// other store.
//
// # One interface, no optional parts
//
// Store embeds every part of the contract, the staged enqueue, the capped
// schedule writes, the delivery outbox, the counts and the summary, tokens
// and workspaces included; none is an optional capability found with a type
// assertion. This is the simpler contract for the author of a store: one
// interface, which the compiler checks whole, and one conformance suite,
// which tests it whole. It also keeps the engine on one path: it has no
// weaker fallback for a store that lacks a part (a cap counted outside the
// write's transaction, deliveries that a node's crash loses), and a store
// wrapped by another type (for tracing, say) keeps every part, where a
// capability found with a type assertion would silently disappear behind
// the wrapper.
//
// # The life of a run
//
// Work arrives as a Run in status queued, inserted idempotently by
// RunStore.RunEnqueue (a schedule tick keyed by schedule and tick time, ad hoc
// work keyed by an optional idempotency key) or by EventStore.EventAccept (a
// webhook event and its run in one transaction, keyed by source and delivery
// id). Workers claim due runs with RunStore.RunClaim, which sets them running
// under a lease owned by the claiming node; they extend the lease while the
// agent runs, and end the run with RunStore.RunFinish or put it back with
// RunStore.RunRequeue. Every transition is conditional on the current status
// and lease owner: a node that lost its lease gets ErrLeaseLost and changes
// nothing. RunStore.RunRescue puts runs whose lease expired back in the queue.
// The ticks of a moment that StagedEnqueuer writes ahead of it may commit
// already claimed by the writing node, as a claim at the commit would have
// set them, so that they start the moment they appear.
//
// # Overlap policies
//
// A run that names a schedule is subject to the schedule's OverlapPolicy, in
// the same transaction as its insert. A run that must wait for an earlier run
// of its schedule is stored queued with Held set, and is released when the
// earlier run ends. A tick that the policy drops is recorded as a run in
// status skipped, so the tick stays taken and the history says why nothing
// ran.
//
// # Time
//
// Stores keep every time in UTC, truncated to the microsecond. Every "now"
// of a run's life comes from one clock that all nodes share (see RunStore):
// the database's on a database that several machines use, the process's on
// one machine. A clock given to the store's constructor wins over both, so
// that a test can drive it.
//
// # Configured once
//
// The engine reads its clock and its input limits from the store
// (SettingsReader): scheduler.New takes the store's Clock for everything it
// schedules (fire times, misfires, retries, deliveries) and the store's
// Limits to fail a run whose output the store would refuse. So a clock or a
// limit is given in one place, the store's options, and a test that drives
// the store's clock drives the engine too. A store returns the clock it was
// given, or clock.System, and its limits with their defaults applied.
//
// # Stability
//
// Store, its component interfaces and the records are a contract: the
// records grow by new fields, and Store grows by embedding a new interface,
// never by a new method on a published component interface. A store that
// lacks the new part then fails to compile, rather than quietly losing a
// feature.
package store
