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
--           (On PostgreSQL its condition also names kind IS NOT NULL, to
--           keep the claim off it; SQLite uses a partial index only for a
--           statement that states its condition, which the claim does not.)
--   agent:  every run;
--   kind:   the runs not fired by a schedule, which are few in a
--           deployment of schedules; kind=schedule walks as succeeded.
--
-- A listing by the owner and another filter walks the other filter's
-- index and checks the owner there: its cost is bounded by the page when
-- the owner's runs are a fair share of that filter's, not when the owner
-- never has a value that others' runs often have.
--
-- SQLite has no INCLUDE: the owner follows the id, which is unique, so
-- the order of each index is that of its filter and the id still.
DROP INDEX IF EXISTS herald_runs_owner_status_idx;
--bun:split
DROP INDEX IF EXISTS herald_runs_owner_agent_idx;
--bun:split
DROP INDEX IF EXISTS herald_runs_owner_kind_idx;
--bun:split
DROP INDEX IF EXISTS herald_runs_status_idx;
--bun:split
DROP INDEX IF EXISTS herald_runs_agent_idx;
--bun:split
DROP INDEX IF EXISTS herald_runs_kind_idx;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_status_idx ON herald_runs (status, id, owner) WHERE status <> 'succeeded';
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_agent_idx ON herald_runs (agent, id, owner);
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_kind_idx ON herald_runs (kind, id, owner) WHERE kind <> 'schedule';
