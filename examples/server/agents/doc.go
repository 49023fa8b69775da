// Package agents holds the built-in agents of Herald's example server:
//
//   - Echo ("echo") returns its payload as its output; the server's tests and
//     demos use it.
//   - HealthCheck ("health_check") runs a set of named checks (the store's
//     Ping, and later each plugin's) concurrently, each under its own
//     timeout, and fails the run when any of them fails.
//   - KPIReport ("kpi_report") reads Herald's own run history and reports,
//     per schedule and in total, how many runs there were, how many
//     succeeded, how long they took and why they failed.
//   - Retention ("retention") deletes the finished runs older than a
//     configured age (30 days by default), batch by batch, through
//     store.RunStore's RunDeleteFinished; only the runs of a system owner
//     (the server's static schedules) may run it, since the history is
//     every owner's.
//
// The example server registers them in its builtinAgents; import this package
// to register them with a scheduler of your own, or to read how an agent is
// written. Each one passes the conformance suite of agent/agenttest.
//
// # The KPI report
//
// The report covers the runs created in the window [now-window, now), read
// page by page through store.RunStore's RunList. A run is counted in exactly
// one group:
//
//   - a run that names a schedule (schedule ticks and "run now") belongs to
//     that schedule, keyed by its ID and shown with the schedule's current
//     name ("(deleted schedule)" when it no longer exists);
//   - any other run (webhook and ad hoc runs) belongs to the group of its
//     owner and agent, named "(no schedule)".
//
// Groups are listed by name, then schedule ID, with the "(no schedule)"
// groups last (by owner, then agent). Every run in the window is counted, in
// whatever status it is; the run of the report itself is left out.
//
// The figures of a group (and of the total):
//
//   - finished: the runs that ended with an outcome, i.e. succeeded, failed
//     or timed out. Queued and running runs have no outcome yet; cancelled
//     and skipped runs ended by someone's decision (a user, an overlap
//     policy), not by how the work went. They are counted in runs and by
//     status, but not in finished.
//   - success rate: succeeded / finished, null when nothing finished.
//   - p50 and p95: percentiles of the duration of the finished runs, from
//     the start of their last attempt to their end (FinishedAt - StartedAt),
//     by the nearest-rank method: the p-th percentile of n sorted durations
//     is the ⌈p·n/100⌉-th of them (so it is always a duration that occurred).
//   - failures: the failed and timed-out runs, grouped by their error's first
//     line (trimmed, at most 120 characters); the five most frequent reasons
//     are listed, most frequent first, ties in text order.
//
// # Owners
//
// A report run on behalf of an owner in KPIReportConfig.SystemOwners covers
// every owner's runs, or those of the owner its payload names. A report run
// by any other owner covers that owner's runs only, so that a user's
// schedule cannot read another owner's history.
package agents
