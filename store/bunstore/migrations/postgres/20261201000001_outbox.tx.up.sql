ALTER TABLE herald_runs ADD COLUMN IF NOT EXISTS deliver_after timestamptz;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_deliver_idx ON herald_runs (deliver_after, id) WHERE deliver_after IS NOT NULL;
