-- Claims one run: the node, the lease's expiry, now, the run's rowid.
UPDATE herald_runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, started_at = ?
WHERE rowid = ? AND status = 'queued'
