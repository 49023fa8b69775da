-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- Ad hoc runs (no schedule) leave the index of active runs: only a
-- schedule's overlap policy reads it, and every query on it names the schedule.
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_active_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_active_idx ON herald_runs (schedule_id, id) WHERE status IN ('queued', 'running') AND schedule_id IS NOT NULL;
