-- Claims the runs whose deliveries are due, oldest first. Arguments: the
-- time they stay claimed until, now, the limit (in an expression, as in
-- run_claim_pick).
UPDATE herald_runs SET deliver_after = ?
WHERE id IN (SELECT id FROM herald_runs
	WHERE deliver_after IS NOT NULL AND deliver_after <= ?
	ORDER BY deliver_after, id
	LIMIT (? + 0))
RETURNING *
