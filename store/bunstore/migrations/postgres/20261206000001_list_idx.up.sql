-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- RunList walks an index in id order, newest first, for each filter of
-- Herald's REST API: alone (an admin's listing) and beside an owner (a
-- user's listing always names its owner). The owner's and the schedule's
-- indexes exist already; these add the status, the agent and the kind.
-- Bounds on the creation time need none: a run's id carries its creation
-- time, so they become bounds on the id (bunstore's idSpan).
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_status_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_status_idx ON herald_runs (status, id);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_agent_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_agent_idx ON herald_runs (agent, id);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_kind_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_kind_idx ON herald_runs (kind, id);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_status_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_owner_status_idx ON herald_runs (owner, status, id);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_agent_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_owner_agent_idx ON herald_runs (owner, agent, id);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_kind_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_owner_kind_idx ON herald_runs (owner, kind, id);
