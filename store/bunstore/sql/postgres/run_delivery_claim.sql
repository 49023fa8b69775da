-- Claims the runs whose deliveries are due, until $1: $2 now (NULL: the
-- database's now()), $3 the limit (hidden from the planner, as in
-- run_claim). Runs another claimer holds are skipped.
UPDATE herald_runs SET deliver_after = $1::timestamptz
WHERE id = ANY(ARRAY(
	SELECT id FROM herald_runs
	WHERE deliver_after IS NOT NULL AND deliver_after <= COALESCE($2::timestamptz, now())
	ORDER BY deliver_after, id
	LIMIT (SELECT $3::integer)
	FOR UPDATE SKIP LOCKED))
RETURNING herald_runs.*
