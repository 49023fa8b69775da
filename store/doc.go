// Package store is Herald's persistence contract: the records every other
// package works with (Schedule, Run, Event, Delivery, Cursor, Message), the
// sentinel errors, and the Store interface, split into small interfaces by
// entity.
//
// Import it to use Herald's records or to write a new store. Herald ships
// three implementations: store/memstore (in memory, for tests and examples),
// and store/bunstore (PostgreSQL for production and multi-node, SQLite as the
// embedded single-node default). Every implementation must pass the
// conformance suite in store/storetest.
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
// Stores keep every time in UTC, truncated to the microsecond. Stores take
// their clock from their constructor, never from the database, so that a test
// can drive them with a fake clock and every node uses one time source.
//
// # Stability
//
// Store, its component interfaces and the records are a contract: they grow
// by new interfaces and new fields, never by new methods on a published
// interface.
package store
