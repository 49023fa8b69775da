-- Reads workspace $1.
SELECT * FROM herald_workspaces WHERE id = $1
