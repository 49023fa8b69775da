-- Deletes the runs whose ids are in a JSON array.
DELETE FROM herald_runs WHERE id IN (SELECT value FROM json_each(?))
