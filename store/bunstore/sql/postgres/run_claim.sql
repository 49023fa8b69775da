-- Claims the due runs of a node, oldest due first: $1 the node, $2 now
-- (NULL: the database's now()), $3 the lease in microseconds, $4 the limit,
-- $5 the floor (NULL: none): the walk of the due runs starts at that run_at
-- rather than at the index's start, which holds the entries of the runs
-- claimed since the last VACUUM (claimfloor.go says why no due run is
-- before it).
-- Runs another claimer holds are skipped. The picked ids reach the UPDATE
-- as an array, so that it finds them through the primary key whatever its
-- plan. The limit is hidden from the planner in a sub-select: a known limit
-- makes it plan every call anew (the same plan, which costs more to make
-- than to run). A claim commits without waiting for the write-ahead log to
-- reach the disk (async): a claim lost to a crash leaves its runs queued,
-- and the finish of a run whose claim was lost is refused.
WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
UPDATE herald_runs SET
	status = 'running',
	lease_owner = $1,
	lease_expires_at = COALESCE($2::timestamptz, now()) + $3::bigint * interval '1 microsecond',
	started_at = COALESCE($2::timestamptz, now())
FROM async
WHERE id = ANY(ARRAY(
	SELECT id FROM herald_runs
	WHERE status = 'queued' AND NOT held
		AND run_at >= COALESCE($5::timestamptz, '-infinity') AND run_at <= COALESCE($2::timestamptz, now())
	ORDER BY run_at, id
	LIMIT (SELECT $4::integer)
	FOR UPDATE SKIP LOCKED))
RETURNING herald_runs.*
