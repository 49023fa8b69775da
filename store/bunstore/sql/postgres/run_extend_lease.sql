-- Extends the leases a node holds: $1 now (NULL: the database's now()),
-- $2 the lease in microseconds, $3 the run ids, $4 the node. Runs another
-- transaction is writing are skipped (run_lease_held reads them).
UPDATE herald_runs SET lease_expires_at = COALESCE($1::timestamptz, now()) + $2::bigint * interval '1 microsecond'
WHERE id = ANY(ARRAY(
	SELECT id FROM herald_runs
	WHERE id = ANY($3::uuid[]) AND status = 'running' AND lease_owner = $4
	FOR UPDATE SKIP LOCKED))
RETURNING id, lease_expires_at, cancel_requested
