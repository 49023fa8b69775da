-- Records a batch of webhook events and their runs, one element of each
-- array per event: a run is inserted only for an event that was (one
-- delivered before is left out). A run without run_at is due at now().
WITH data AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::uuid[], $7::timestamptz[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::timestamptz[], $15::text[])
		AS d (id, source, delivery_id, headers, body, run_id, received_at, owner, agent, payload, targets, max_attempts,
			timeout, run_at, trace_context)
), ev AS (
	INSERT INTO herald_events (id, source, delivery_id, headers, body, run_id, owner, received_at)
	SELECT id, source, delivery_id, headers::json, body, run_id, owner, received_at FROM data
	ON CONFLICT DO NOTHING
	RETURNING id
)
INSERT INTO herald_runs (id, kind, event_id, owner, agent, payload, targets, status, held, attempt, max_attempts,
	timeout, run_at, cancel_requested, created_at, trace_context)
SELECT d.run_id, 'webhook', d.id, d.owner, d.agent, d.payload::json, d.targets::json, 'queued', false, 1, d.max_attempts,
	d.timeout, COALESCE(d.run_at, now()), false, d.received_at, d.trace_context
FROM data AS d JOIN ev ON ev.id = d.id
RETURNING event_id, run_at
