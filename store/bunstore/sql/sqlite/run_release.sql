-- Lets the oldest held run of a schedule go, when nothing of the schedule
-- is busy: ?1 the schedule's id.
UPDATE herald_runs SET held = 0
WHERE id = (SELECT id FROM herald_runs INDEXED BY herald_runs_active_idx
		WHERE schedule_id = ?1 AND status IN ('queued', 'running') AND status = 'queued' AND held = 1
		ORDER BY id LIMIT 1)
	AND NOT EXISTS (SELECT 1 FROM herald_runs AS b INDEXED BY herald_runs_active_idx
		WHERE b.schedule_id = ?1 AND b.status IN ('queued', 'running') AND (b.status = 'running' OR NOT b.held))
