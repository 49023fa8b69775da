-- Inserts one run, unless it would take a unique key already taken: the
-- values of runColumns (runRow.insertArgs). A batch is one run of this
-- prepared statement per run: parsing one statement of a thousand rows
-- costs SQLite more than running a thousand prepared ones.
INSERT INTO herald_runs (id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, status, held, attempt, max_attempts, timeout, run_at, lease_owner, lease_expires_at,
	cancel_requested, output, summary, progress, error, created_at, started_at, finished_at, deliver_after,
	cancel_reason, trace_context)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
