// Package scheduler is Herald's engine: it turns schedules, manual
// triggers, webhook events and enqueued work into runs, executes them on any
// number of nodes that share one store, and records everything.
//
// Import it to embed Herald in a Go service:
//
//	s, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: router})
//	if err != nil { … }
//	if err := s.Start(ctx); err != nil { … }
//	defer s.Stop(context.Background())
//
// The engine has no clock and no input limits of its own: New reads them
// from the store (store.SettingsReader), so they are given once, in the
// store's options. A test drives the engine by driving its store's clock
// (see schedulertest).
//
// # How a schedule fires
//
// Every node keeps the active schedules in memory, each with its trigger
// compiled once (cron with seconds and time zones, intervals, one-offs), in
// one heap ordered by the schedule's next tick not yet written: the one
// structure that holds what is due. Fire times are computed by Herald's
// own trigger code, straight from the parsed cron fields, in the
// schedule's zone and with the daylight-saving rules of the design;
// go-quartz's CronTrigger is not used, as it gets daylight saving, month
// ends and the L, W and # forms wrong.
//
// go-quartz's scheduler is the node's one timer. Its job queue is
// Herald's and holds a single job, the alarm: the moment the node must
// look next (the heap's earliest tick, less the lead of a staged write, or
// a retry). go-quartz sleeps until it, wakes at once when it moves, and
// runs it; running it wakes the node's fire loop, which writes every tick
// due by then and sets the next alarm. go-quartz does the waiting; the
// ticks, their misfires and their retries are the fire loop's, so its
// at-most-once, skip-when-late execution never applies to a tick.
//
// When a schedule is due, the node inserts the run of that tick, keyed by
// (schedule, tick) in the store, so every node that fires the same tick
// yields one run: there is no leader. The ticks due at one moment are
// inserted in one batch, each with the schedule's next fire time, so a
// schedule's next_run_at is always true. On the system clock the batch is
// written shortly before its moment (store.StagedEnqueuer), in a
// transaction that commits when the moment comes: the runs appear on time
// instead of once a thousand inserts are done. The
// lead follows how long the writes take (10–500 ms). Until the commit the
// schedules of the batch are locked, so an edit made meanwhile applies after
// the tick, and on SQLite every other write waits. The node that writes the
// batch sets aside its free workers for it, and the ticks free to start
// (as their overlap policies say) commit claimed by it, as many as it set
// aside: their agents start the moment the runs appear, without a claim
// after the commit. Those past its free workers commit queued, for any
// node's claims. Changes made through any
// node reach every node through the store's notifications, with a periodic
// resync as a safety net.
//
// Ticks missed while no node ran (a tick more than Config.MisfireThreshold
// old) follow the schedule's misfire policy: skip them, run once for all of
// them (the default), or run each of them, up to a cap.
//
// A tick that fell due before a pause, a change of trigger or a delete is
// run, whatever happens to the schedule after its moment, under the
// definition it was due under: the change writes the ticks due by its
// moment that no node had written (DeleteSchedule pauses first, writes
// them, then deletes), and a node that learns of the change late writes
// those it had not, before it forgets the old definition.
//
// # How a run executes
//
// Workers claim due runs in batches sized to the free workers, woken by the
// store's notification (with Config.PollInterval as the fallback), run the
// agent under the run's timeout, extend their leases while it runs, and
// record the outcomes in batches. A claim is the claim alone: the runs are
// the node's, and under its lease keeper, as soon as it returns. Leases
// and due times are on the store's clock (the database's, on PostgreSQL),
// so nodes whose clocks disagree cannot take each other's runs, and a
// retry's backoff is waited out on that clock too. A node that cannot
// extend a run's lease stops the run when five sixths of the lease have
// passed since it last could, counted from when it sent the call, so the
// run is never executing here once another node may be given it. A failed attempt is retried with
// exponential backoff and jitter until the run's attempts are spent; an
// agent can refuse a retry with agent.Permanent or ask for a delay with
// agent.RetryAfter. A panic fails its run, never the worker. A reaper on
// every node puts runs whose lease expired back in the queue, so a run whose
// node died is run again elsewhere: execution is at least once.
//
// After a run ends, its result goes to each of its delivery targets through
// the delivery.Router; each attempt is recorded, transient failures are
// retried, and a delivery failure never changes the run's status. The
// scheduler owns a delivery's retries: each attempt is one call of the
// deliverer (Herald's HTTP deliverers make one request per call), up to
// Config.DeliveryAttempts, spaced by the backoff or by the receiver's
// Retry-After (delivery.RetryAfter). A delivery waiting for its next
// attempt holds no delivery worker: it is parked on a timer, and a fresh
// delivery goes ahead of it. A wait longer than Config.DeliveryWaitMax
// is left to the outbox (below), which makes the attempt when it is due. A
// run whose result is to be delivered is kept in the store's delivery
// outbox (store.DeliveryOutbox), from the write that ends it until each
// delivery has succeeded or failed for good: if its node crashes or
// stops first, another node takes the deliveries that had not ended over
// after Config.DeliveryTakeover, with the same idempotency keys. Delivery
// is at least once, like execution.
//
// # Access
//
// Every method that reads or changes schedules and runs takes the acting
// Principal. A principal that is neither the owner nor an admin is refused
// with an error matching store.ErrNotFound (as if the record did not
// exist) and nothing changes; creating or enqueueing for another owner is
// refused as invalid input. Static schedules (Config.Static) cannot be
// edited or deleted through these methods; only an admin pauses them.
package scheduler
