-- Inserts runs that take no unique key (no tick, no idempotency key) from
-- one array per column of runColumns (runArrays), as run_insert_many does
-- but without its ON CONFLICT: a row that can conflict with nothing
-- spares the database the speculative insertion that ON CONFLICT makes of
-- every row, 8% of the time it took to insert 1,000 enqueued runs. Their
-- ids are the store's own (uuid7), so none is taken: were one taken, the
-- insert would fail rather than skip the run. A run without run_at is due
-- at now(). A running one (a run claimed as it commits) without
-- lease_expires_at is leased from now() for $30 microseconds, unless the
-- database's clock is more than 5 ms behind $31, the writing node's clock
-- as it sent the statement (NULL: not compared): it would start before
-- its run_at on the database's clock, and is written queued instead.
WITH clock AS MATERIALIZED (SELECT clock_timestamp() < $31::timestamptz - interval '5 milliseconds' AS behind)
INSERT INTO herald_runs (id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, status, held, attempt, max_attempts, timeout, run_at, lease_owner, lease_expires_at,
	cancel_requested, output, summary, progress, error, created_at, started_at, finished_at, deliver_after,
	cancel_reason, trace_context)
SELECT id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, CASE WHEN late THEN 'queued' ELSE status END, held, attempt, max_attempts, timeout,
	COALESCE(run_at, now()), CASE WHEN late THEN NULL ELSE lease_owner END,
	CASE WHEN late THEN NULL
		ELSE COALESCE(lease_expires_at, CASE WHEN status = 'running' THEN now() + $30::bigint * interval '1 microsecond' END) END,
	cancel_requested, output, summary, progress, error, created_at, CASE WHEN late THEN NULL ELSE started_at END,
	finished_at, deliver_after, cancel_reason, trace_context
FROM unnest($1::text[]::uuid[], $2::text[], $3::text[]::uuid[], $4::timestamptz[], $5::text[]::uuid[], $6::text[],
	$7::text[], $8::text[]::json[], $9::text[]::json[], $10::text[], $11::text[], $12::boolean[], $13::integer[],
	$14::integer[], $15::bigint[], $16::timestamptz[], $17::text[], $18::timestamptz[], $19::boolean[],
	$20::text[]::json[], $21::text[], $22::text[]::json[], $23::text[], $24::timestamptz[], $25::timestamptz[],
	$26::timestamptz[], $27::timestamptz[], $28::text[], $29::text[])
	AS v (id, kind, schedule_id, scheduled_for, event_id, owner, agent, payload, targets,
	idempotency_key, status, held, attempt, max_attempts, timeout, run_at, lease_owner, lease_expires_at,
	cancel_requested, output, summary, progress, error, created_at, started_at, finished_at, deliver_after,
	cancel_reason, trace_context)
	CROSS JOIN LATERAL (SELECT status = 'running' AND (SELECT behind FROM clock) AS late) AS c
RETURNING id, run_at, lease_expires_at, status
