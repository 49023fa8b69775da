-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- A schedule's last run time is read from its runs (the latest started_at)
-- instead of being written by every claim: a claim then locks no schedule
-- row, and cannot wait for, or deadlock with, a tick's transaction.
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_started_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_started_idx ON herald_runs (schedule_id, started_at) WHERE schedule_id IS NOT NULL;
