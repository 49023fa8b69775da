-- Cancels the queued runs of schedules $3 at $1, with error $2.
UPDATE herald_runs SET status = 'cancelled', held = false, finished_at = $1::timestamptz, error = $2
WHERE schedule_id = ANY($3::uuid[]) AND status IN ('queued', 'running') AND status = 'queued'
