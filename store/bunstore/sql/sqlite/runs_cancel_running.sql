-- Asks the running runs of schedules to stop. Arguments: the reason, the
-- schedules' ids (a JSON array).
UPDATE herald_runs INDEXED BY herald_runs_active_idx SET cancel_requested = 1, cancel_reason = ?
WHERE schedule_id IN (SELECT value FROM json_each(?)) AND status IN ('queued', 'running') AND status = 'running'
	AND NOT cancel_requested
RETURNING id
