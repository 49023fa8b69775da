-- Those of the schedules (a JSON array of ids) that have a held run. Like
-- every query for a schedule's queued or running runs, it states the
-- condition of herald_runs_active_idx, and names the index: without
-- statistics SQLite's planner takes the schedule's index of all its runs.
SELECT DISTINCT schedule_id FROM herald_runs INDEXED BY herald_runs_active_idx
WHERE schedule_id IN (SELECT value FROM json_each(?)) AND status IN ('queued', 'running') AND status = 'queued' AND held = 1
