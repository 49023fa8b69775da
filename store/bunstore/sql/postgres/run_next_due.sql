-- The next run to claim.
SELECT * FROM herald_runs WHERE status = 'queued' AND NOT held ORDER BY run_at, id LIMIT 1
