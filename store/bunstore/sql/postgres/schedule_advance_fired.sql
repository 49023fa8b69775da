-- Moves the last fired tick of schedules $1 up to $2, and their next run
-- to $3 where given, from one array per column: the text does not grow
-- with the batch. The schedules are locked in id order first (l), as
-- everywhere.
WITH v (id, t, n) AS (SELECT * FROM unnest($1::text[]::uuid[], $2::timestamptz[], $3::timestamptz[])),
	l AS MATERIALIZED (SELECT id FROM herald_schedules WHERE id IN (SELECT id FROM v) ORDER BY id FOR NO KEY UPDATE)
UPDATE herald_schedules AS s SET last_fired_at = v.t, next_run_at = COALESCE(v.n, s.next_run_at)
FROM v JOIN l USING (id)
WHERE s.id = v.id AND (s.last_fired_at IS NULL OR s.last_fired_at < v.t)
