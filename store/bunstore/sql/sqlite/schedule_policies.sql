-- The overlap policies of schedules (a JSON array of ids). SQLite's writer
-- lock covers the database: nothing more is locked.
SELECT id, overlap FROM herald_schedules WHERE id IN (SELECT value FROM json_each(?))
