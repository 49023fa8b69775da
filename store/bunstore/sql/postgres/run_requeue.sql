-- Puts running runs back in the queue, one element of each array per run:
-- $1 ids, $2 the nodes that must hold them, $3 the time the delay counts
-- from (NULL: the database's now()), $4 the delay in microseconds,
-- $5 errors, $6 1 when the run starts its next attempt, else 0,
-- $7 deliver_after; $8 now (NULL: the database's now()). A run whose
-- cancellation was requested ends cancelled instead, at $8. Locks as
-- run_finish.
WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::text[], $6::integer[],
		$7::timestamptz[])
		AS v (id, node, run_at, delay, error, inc, deliver_after)
)
UPDATE herald_runs AS r SET
	status = CASE WHEN r.cancel_requested THEN 'cancelled' ELSE 'queued' END,
	run_at = CASE WHEN r.cancel_requested THEN r.run_at
		ELSE COALESCE(v.run_at, now()) + v.delay * interval '1 microsecond' END,
	error = CASE WHEN r.cancel_requested THEN COALESCE(r.cancel_reason, 'cancelled') ELSE COALESCE(v.error, r.error) END,
	attempt = CASE WHEN r.cancel_requested THEN r.attempt ELSE r.attempt + v.inc END,
	deliver_after = CASE WHEN r.cancel_requested AND r.targets IS NOT NULL THEN v.deliver_after ELSE r.deliver_after END,
	finished_at = CASE WHEN r.cancel_requested THEN COALESCE($8::timestamptz, now()) END,
	lease_owner = NULL,
	lease_expires_at = NULL
FROM v
WHERE r.id = v.id AND r.status = 'running' AND r.lease_owner = v.node
RETURNING r.*
