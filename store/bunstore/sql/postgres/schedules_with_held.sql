-- Those of the schedules $1 that have a held run. Like every query for a
-- schedule's queued or running runs, it states the condition of
-- herald_runs_active_idx, so that the partial index serves it.
SELECT DISTINCT schedule_id FROM herald_runs
WHERE schedule_id = ANY($1::uuid[]) AND status IN ('queued', 'running') AND status = 'queued' AND held
