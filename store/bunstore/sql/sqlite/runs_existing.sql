-- The runs that may hold a key of an enqueue: a tick of schedules at
-- times, or an idempotency key of owners among keys (four JSON arrays, in
-- that order). Two lists per key kind rather than one condition per run:
-- an OR of a thousand conditions is too deep for SQLite's parser. The
-- lists may match more runs than asked for; the caller picks the ones
-- that matter.
SELECT * FROM herald_runs
WHERE (schedule_id IN (SELECT value FROM json_each(?)) AND scheduled_for IN (SELECT value FROM json_each(?)))
	OR (owner IN (SELECT value FROM json_each(?)) AND idempotency_key IN (SELECT value FROM json_each(?)))
