-- Locks the queued and running runs of schedules $1 without waiting: a run
-- another transaction is writing fails the statement, and the enqueue runs
-- again, so that it never waits for a run while it holds others.
SELECT id FROM herald_runs WHERE schedule_id = ANY($1::uuid[]) AND status IN ('queued', 'running') FOR UPDATE NOWAIT
