-- Inserts one run, unless it would take a unique key already taken: the
-- values of runColumns (runRow.insertArgs); a run without run_at ($16) is
-- due at now(); a running one (a staged tick claimed as it commits)
-- without lease_expires_at ($18) is leased from now() for $30
-- microseconds, or written queued when the database's clock is more than
-- 5 ms behind $31, the node's clock as it sent the statement (see
-- run_insert_many). A batch of one costs PostgreSQL
-- less this way than as run_insert_many's 29 arrays of one element.
INSERT INTO herald_runs (id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, status, held, attempt, max_attempts, timeout, run_at, lease_owner, lease_expires_at,
	cancel_requested, output, summary, progress, error, created_at, started_at, finished_at, deliver_after,
	cancel_reason, trace_context)
SELECT $1::uuid, $2, $3::uuid, $4::timestamptz, $5::uuid, $6, $7, $8::json, $9::json, $10,
	CASE WHEN late THEN 'queued' ELSE $11 END, $12::boolean, $13::integer, $14::integer, $15::bigint,
	COALESCE($16::timestamptz, now()), CASE WHEN late THEN NULL ELSE $17 END,
	CASE WHEN late THEN NULL
		ELSE COALESCE($18::timestamptz, CASE WHEN $11 = 'running' THEN now() + $30::bigint * interval '1 microsecond' END) END,
	$19::boolean, $20::json, $21, $22::json, $23, $24::timestamptz, CASE WHEN late THEN NULL ELSE $25::timestamptz END,
	$26::timestamptz, $27::timestamptz, $28, $29
FROM (SELECT $11 = 'running' AND clock_timestamp() < $31::timestamptz - interval '5 milliseconds' AS late) AS c
ON CONFLICT DO NOTHING
RETURNING id, run_at, lease_expires_at, status
