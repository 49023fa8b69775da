-- Inserts one run, unless it would take a unique key already taken: the
-- values of runColumns (runRow.insertArgs); a run without run_at ($16) is
-- due at now(), and a running one (a staged tick claimed as it commits)
-- without lease_expires_at ($18) is leased from now() for $30
-- microseconds. A batch of one costs PostgreSQL less this way than as
-- run_insert_many's 29 arrays of one element.
INSERT INTO herald_runs (id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, status, held, attempt, max_attempts, timeout, run_at, lease_owner, lease_expires_at,
	cancel_requested, output, summary, progress, error, created_at, started_at, finished_at, deliver_after,
	cancel_reason, trace_context)
VALUES ($1::uuid, $2, $3::uuid, $4::timestamptz, $5::uuid, $6, $7, $8::json, $9::json, $10, $11, $12::boolean,
	$13::integer, $14::integer, $15::bigint, COALESCE($16::timestamptz, now()), $17,
	COALESCE($18::timestamptz, CASE WHEN $11 = 'running' THEN now() + $30::bigint * interval '1 microsecond' END), $19::boolean,
	$20::json, $21, $22::json, $23, $24::timestamptz, $25::timestamptz, $26::timestamptz, $27::timestamptz, $28, $29)
ON CONFLICT DO NOTHING
RETURNING id, run_at, lease_expires_at
