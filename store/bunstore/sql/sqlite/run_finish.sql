-- Ends one running run: its status, output, summary, progress, whether it
-- ends cancelled, its error, targets, deliver_after, now; then its id and
-- the node that must hold it. A run that ends cancelled takes the reason
-- of its cancellation request as its error, when it has one.
UPDATE herald_runs SET
	status = ?,
	output = ?,
	summary = ?,
	progress = COALESCE(?, progress),
	error = COALESCE(CASE WHEN ? THEN cancel_reason END, ?),
	targets = COALESCE(?, targets),
	deliver_after = ?,
	finished_at = ?,
	lease_owner = NULL,
	lease_expires_at = NULL
WHERE id = ? AND status = 'running' AND lease_owner = ?
