-- Asks the running runs of schedules $2 to stop, for reason $1.
UPDATE herald_runs SET cancel_requested = true, cancel_reason = $1
WHERE schedule_id = ANY($2::uuid[]) AND status IN ('queued', 'running') AND status = 'running' AND NOT cancel_requested
RETURNING id
