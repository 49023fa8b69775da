-- The store's figures. The oldest claimable run is read from
-- herald_runs_due_idx by name (SQLite would rather read every queued run
-- through herald_runs_status_idx). Each count states the condition of the
-- partial index it reads as the index does: SQLite uses a partial index
-- only for a statement that does.
SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND status <> 'succeeded') AS queued,
	(SELECT min(run_at) FROM herald_runs INDEXED BY herald_runs_due_idx WHERE status = 'queued' AND held = 0) AS oldest_queued_run_at,
	(SELECT count(*) FROM herald_runs WHERE status = 'running' AND status <> 'succeeded') AS running,
	(SELECT count(*) FROM herald_schedules WHERE paused = 0) AS schedules_active,
	(SELECT count(*) FROM herald_schedules WHERE paused = 1) AS schedules_paused
