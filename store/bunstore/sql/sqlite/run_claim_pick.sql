-- The runs a claim takes, oldest due first: whole, with their rowid,
-- through which run_claim_one finds each without a search of the primary
-- key's index. Arguments: now, the limit (in an expression: SQLite
-- prepares a statement again each time the value bound to a bare LIMIT
-- changes). SQLite's single writer needs no lock on them.
SELECT rowid AS row_id, * FROM herald_runs
WHERE status = 'queued' AND held = 0 AND run_at <= ?
ORDER BY run_at, id
LIMIT (? + 0)
