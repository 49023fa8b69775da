-- Moves the last_run_at of schedule $2 up to $1, the latest start of runs
-- about to be deleted.
UPDATE herald_schedules SET last_run_at = $1 WHERE id = $2 AND (last_run_at IS NULL OR last_run_at < $1)
