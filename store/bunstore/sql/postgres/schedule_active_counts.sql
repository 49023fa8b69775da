-- The queued, held and running runs of schedules $1.
SELECT schedule_id, status, held, count(*) AS n FROM herald_runs
WHERE schedule_id = ANY($1::uuid[]) AND status IN ('queued', 'running')
GROUP BY schedule_id, status, held
