-- Cancels the queued runs of schedules. Arguments: now, the error, the
-- schedules' ids (a JSON array).
UPDATE herald_runs INDEXED BY herald_runs_active_idx SET status = 'cancelled', held = 0, finished_at = ?, error = ?
WHERE schedule_id IN (SELECT value FROM json_each(?)) AND status IN ('queued', 'running') AND status = 'queued'
