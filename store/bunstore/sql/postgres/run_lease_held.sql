-- The runs of $1 that node $2 still holds, read without a lock.
SELECT id, cancel_requested FROM herald_runs
WHERE id = ANY($1::uuid[]) AND status = 'running' AND lease_owner = $2
