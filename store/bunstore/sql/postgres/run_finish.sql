-- Ends running runs, one element of each array per run: $1 ids, $2 the
-- nodes that must hold them, $3 statuses, $4 outputs, $5 summaries,
-- $6 progress, $7 whether the run ends cancelled, $8 errors, $9 targets,
-- $10 deliver_after; $11 now (NULL: the database's now()). A run that ends
-- cancelled takes the reason of its cancellation request as its error,
-- when it has one. The runs are found through the primary key, one per
-- element (a condition r.id = ANY($1) beside the join cost a fifth of the
-- throughput of 100-run batches), and locked in no set order: no statement that waits for a run's lock holds
-- another run this one waits for.
WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::boolean[], $8::text[], $9::text[], $10::timestamptz[])
		AS v (id, node, status, output, summary, progress, cancelled, error, targets, deliver_after)
)
UPDATE herald_runs AS r SET
	status = v.status,
	output = v.output::json,
	summary = v.summary,
	progress = COALESCE(v.progress::json, r.progress),
	error = COALESCE(CASE WHEN v.cancelled THEN r.cancel_reason END, v.error),
	targets = COALESCE(v.targets::json, r.targets),
	deliver_after = v.deliver_after,
	finished_at = COALESCE($11::timestamptz, now()),
	lease_owner = NULL,
	lease_expires_at = NULL
FROM v
WHERE r.id = v.id AND r.status = 'running' AND r.lease_owner = v.node
RETURNING r.*
