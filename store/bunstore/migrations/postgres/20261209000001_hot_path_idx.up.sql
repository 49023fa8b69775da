-- Not in a transaction: an index on a table that may be large is built
-- CONCURRENTLY, without blocking its writes. A build that failed leaves
-- an invalid index behind, which the DROP before it removes on the next
-- try.
--
-- The listing indexes (the owner's of the first migration, those of
-- 20261207000001) narrowed so that the claim and the finish write fewer
-- index entries. Neither update is HOT (both change the status, which
-- several indexes' conditions name): each writes an entry into every
-- index whose condition the run's new version meets, whether its columns
-- changed or not. An enqueued run's claim wrote 6 (the primary key, the
-- lease, the owner, the agent, the kind, the status); it now writes the
-- first two. Its finish wrote 5; it now writes 4 (the kind's is gone).
--
--   owner, agent, status: no running run. The running runs are all in
--           herald_runs_lease_idx (status = 'running') and few (a node
--           runs at most its workers): a listing reads them there, and
--           the others from these indexes (RunList's statement has a
--           part for each).
--   kind:   no running run either, and no enqueued run. Like a
--           schedule's runs in a deployment of schedules, the enqueued
--           runs are most of the runs of a deployment that uses Herald as
--           a job queue, which is where the claim and the finish run
--           hottest; a listing of kind=enqueue walks the owner's or the
--           primary key's index, as kind=schedule does.
--
-- Each new definition is built under another name first, so that no
-- listing is without its index for a moment, then takes the old name.
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_idx_new;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_owner_idx_new ON herald_runs (owner, id) WHERE status <> 'running';
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_owner_idx;
--bun:split
ALTER INDEX herald_runs_owner_idx_new RENAME TO herald_runs_owner_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_agent_idx_new;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_agent_idx_new ON herald_runs (agent, id) INCLUDE (owner) WHERE status <> 'running';
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_agent_idx;
--bun:split
ALTER INDEX herald_runs_agent_idx_new RENAME TO herald_runs_agent_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_status_idx_new;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_status_idx_new ON herald_runs (status, id) INCLUDE (owner) WHERE status NOT IN ('succeeded', 'running') AND kind IS NOT NULL;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_status_idx;
--bun:split
ALTER INDEX herald_runs_status_idx_new RENAME TO herald_runs_status_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_kind_idx_new;
--bun:split
CREATE INDEX CONCURRENTLY IF NOT EXISTS herald_runs_kind_idx_new ON herald_runs (kind, id) INCLUDE (owner) WHERE kind NOT IN ('schedule', 'enqueue') AND status <> 'running';
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS herald_runs_kind_idx;
--bun:split
ALTER INDEX herald_runs_kind_idx_new RENAME TO herald_runs_kind_idx;
