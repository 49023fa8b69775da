-- Keeps the deliveries of runs (a JSON array of ids) claimed until a time.
-- Arguments: the time, the ids.
UPDATE herald_runs SET deliver_after = ?
WHERE id IN (SELECT value FROM json_each(?)) AND deliver_after IS NOT NULL
