-- Takes back the runs whose lease expired, oldest expiry first: ?1 now,
-- ?2 the deliver_after of a run that ends here with targets (NULL:
-- unchanged), ?3 the limit. A run that has attempts left is queued
-- again, due now; a run whose cancellation was requested ends cancelled,
-- one without attempts left failed.
UPDATE herald_runs SET
	status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END,
	attempt = CASE WHEN cancel_requested OR attempt >= max_attempts THEN attempt ELSE attempt + 1 END,
	error = CASE WHEN cancel_requested
		THEN COALESCE(cancel_reason, 'cancelled') || '; lease expired on node ' || lease_owner
		ELSE 'lease expired on node ' || lease_owner END,
	finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN ?1 END,
	run_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN run_at ELSE ?1 END,
	deliver_after = CASE WHEN ?2 IS NOT NULL AND (cancel_requested OR attempt >= max_attempts) AND targets IS NOT NULL
		THEN ?2 ELSE deliver_after END,
	lease_owner = NULL,
	lease_expires_at = NULL
WHERE id IN (SELECT id FROM herald_runs
	WHERE status = 'running' AND lease_expires_at < ?1
	ORDER BY lease_expires_at, id
	LIMIT ?3)
RETURNING *
