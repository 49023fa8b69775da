-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
ALTER TABLE herald_runs ADD COLUMN IF NOT EXISTS deliver_after timestamptz;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_deliver_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_deliver_idx ON herald_runs (deliver_after, id) WHERE deliver_after IS NOT NULL;
