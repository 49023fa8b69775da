-- Ad hoc runs (no schedule) leave the index of active runs: only a
-- schedule's overlap policy reads it, and every query on it names the schedule.
DROP INDEX IF EXISTS herald_runs_active_idx;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_active_idx ON herald_runs (schedule_id, id) WHERE status IN ('queued', 'running') AND schedule_id IS NOT NULL;
