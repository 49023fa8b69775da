-- The store's figures. Each count reads an index of its own rows only: the
-- queued runs in herald_runs_status_idx (whose condition names kind IS NOT
-- NULL: the count states it), the running runs in herald_runs_lease_idx,
-- the oldest claimable run at the head of herald_runs_due_idx; the
-- schedules are few.
SELECT
	(SELECT count(*) FROM herald_runs WHERE status = 'queued' AND kind IS NOT NULL) AS queued,
	(SELECT min(run_at) FROM herald_runs WHERE status = 'queued' AND NOT held) AS oldest_queued_run_at,
	(SELECT count(*) FROM herald_runs WHERE status = 'running') AS running,
	(SELECT count(*) FROM herald_schedules WHERE NOT paused) AS schedules_active,
	(SELECT count(*) FROM herald_schedules WHERE paused) AS schedules_paused
