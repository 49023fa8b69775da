-- Puts one running run back in the queue: the time its delay counts from,
-- the delay in microseconds, its error, 1 when it starts its next attempt
-- (else 0), deliver_after, now; then its id and the node that must hold
-- it. A run whose cancellation was requested ends cancelled instead, now.
UPDATE herald_runs SET
	status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
	run_at = CASE WHEN cancel_requested THEN run_at ELSE ? + ? END,
	error = CASE WHEN cancel_requested THEN COALESCE(cancel_reason, 'cancelled') ELSE COALESCE(?, error) END,
	attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt + ? END,
	deliver_after = CASE WHEN cancel_requested AND targets IS NOT NULL THEN ? ELSE deliver_after END,
	finished_at = CASE WHEN cancel_requested THEN ? END,
	lease_owner = NULL,
	lease_expires_at = NULL
WHERE id = ? AND status = 'running' AND lease_owner = ?
