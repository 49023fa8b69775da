-- Deletes workspace $1.
DELETE FROM herald_workspaces WHERE id = $1
