-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- The run listings' indexes of 20261206000001, trimmed to what they cost:
-- each index a run is in takes a write on every insert and, on
-- PostgreSQL, on every change of status (a claim, a finish: no such
-- update is HOT), and the six of them halved the engine's claim and
-- finish throughput. Three remain, each carrying the owner, so that a
-- user's listing (which always names its owner) checks it in the index:
--
--   status: the runs not succeeded, which are few (a succeeded run
--           leaves it); a listing of succeeded runs walks the owner's or
--           the primary key's index, where they are most of the runs.
--           Its condition also names kind IS NOT NULL, which every run
--           meets, so that only statements that say so use it: the claim
--           does not, and walks herald_runs_due_idx in its order whatever
--           the statistics say (taken before a burst of enqueues, they
--           made the claim read every queued run here and sort them);
--   agent:  every run;
--   kind:   the runs not fired by a schedule, which are few in a
--           deployment of schedules; kind=schedule walks as succeeded.
--
-- A listing by the owner and another filter walks the other filter's
-- index and checks the owner there: its cost is bounded by the page when
-- the owner's runs are a fair share of that filter's, not when the owner
-- never has a value that others' runs often have.
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_status_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_agent_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_kind_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_status_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_agent_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_kind_idx;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_status_idx ON herald_runs (status, id) INCLUDE (owner) WHERE status <> 'succeeded' AND kind IS NOT NULL;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_agent_idx ON herald_runs (agent, id) INCLUDE (owner);
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_kind_idx ON herald_runs (kind, id) INCLUDE (owner) WHERE kind <> 'schedule';
