-- Lets the oldest held run of schedule $1 go, when nothing of the schedule
-- is busy.
UPDATE herald_runs SET held = false
WHERE id = (SELECT id FROM herald_runs
		WHERE schedule_id = $1 AND status IN ('queued', 'running') AND status = 'queued' AND held
		ORDER BY id LIMIT 1)
	AND NOT EXISTS (SELECT 1 FROM herald_runs AS b
		WHERE b.schedule_id = $1 AND b.status IN ('queued', 'running') AND (b.status = 'running' OR NOT b.held))
