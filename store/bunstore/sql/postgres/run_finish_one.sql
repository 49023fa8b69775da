-- Ends one running run, as run_finish does a batch, with its values as
-- plain parameters: $1 the id, $2 the node that must hold it, $3 the
-- status, $4 the output, $5 the summary, $6 the progress, $7 whether it
-- ends cancelled, $8 the error, $9 the targets, $10 deliver_after; $11 now
-- (NULL: the database's now()). See transition, which runs it for a
-- batch of one.
UPDATE herald_runs AS r SET
	status = $3,
	output = $4::json,
	summary = $5,
	progress = COALESCE($6::json, r.progress),
	error = COALESCE(CASE WHEN $7::boolean THEN r.cancel_reason END, $8),
	targets = COALESCE($9::json, r.targets),
	deliver_after = $10::timestamptz,
	finished_at = COALESCE($11::timestamptz, now()),
	lease_owner = NULL,
	lease_expires_at = NULL
WHERE r.id = $1::uuid AND r.status = 'running' AND r.lease_owner = $2
RETURNING r.*
