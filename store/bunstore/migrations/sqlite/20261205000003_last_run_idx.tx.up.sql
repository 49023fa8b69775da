-- A schedule's last run time is read from its runs (the latest started_at)
-- instead of being written by every claim: a claim then locks no schedule
-- row, and cannot wait for, or deadlock with, a tick's transaction.
CREATE INDEX IF NOT EXISTS herald_runs_started_idx ON herald_runs (schedule_id, started_at) WHERE schedule_id IS NOT NULL;
