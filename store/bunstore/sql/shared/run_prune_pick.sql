-- The runs to delete: ended before $1, their deliveries done, oldest
-- first, up to $2.
SELECT id, schedule_id, started_at FROM herald_runs
WHERE finished_at IS NOT NULL AND finished_at < $1 AND deliver_after IS NULL
ORDER BY finished_at
LIMIT $2
