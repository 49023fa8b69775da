-- The queued, held and running runs of schedules (a JSON array of ids),
-- through herald_runs_active_idx (see schedules_with_held).
SELECT schedule_id, status, held, count(*) AS n FROM herald_runs INDEXED BY herald_runs_active_idx
WHERE schedule_id IN (SELECT value FROM json_each(?)) AND status IN ('queued', 'running')
GROUP BY schedule_id, status, held
