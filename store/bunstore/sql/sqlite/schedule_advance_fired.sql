-- Moves the last fired tick of one schedule up, and its next run where
-- given. Arguments: the tick, the next run (NULL: unchanged), the
-- schedule's id, the tick.
UPDATE herald_schedules SET last_fired_at = ?, next_run_at = COALESCE(?, next_run_at)
WHERE id = ? AND (last_fired_at IS NULL OR last_fired_at < ?)
