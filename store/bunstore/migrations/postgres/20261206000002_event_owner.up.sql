-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- An event keeps the owner of its run, so that an owner's events are
-- listed (herald_events_owner_idx) without the run, whose history may be
-- pruned. The events whose run is already gone keep an empty owner.
ALTER TABLE herald_events ADD COLUMN IF NOT EXISTS owner text NOT NULL DEFAULT '';
--bun:split
UPDATE herald_events AS e SET owner = r.owner FROM herald_runs AS r WHERE r.id = e.run_id AND e.owner = '';
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_events_owner_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_events_owner_idx ON herald_events (owner, id);
