ALTER TABLE herald_runs ADD COLUMN deliver_after timestamp;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_deliver_idx ON herald_runs (deliver_after, id) WHERE deliver_after IS NOT NULL;
