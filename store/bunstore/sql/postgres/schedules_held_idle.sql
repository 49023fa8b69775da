-- The schedules with a held run and nothing busy (a release lost to a
-- crash): the held runs are found through their own index, the runs that
-- keep them held through the active runs' index.
SELECT DISTINCT h.schedule_id FROM herald_runs AS h
WHERE h.status = 'queued' AND h.held
	AND NOT EXISTS (SELECT 1 FROM herald_runs AS b
		WHERE b.schedule_id = h.schedule_id AND b.status IN ('queued', 'running')
			AND (b.status = 'running' OR NOT b.held))
