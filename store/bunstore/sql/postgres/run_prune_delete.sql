-- Deletes the runs $1.
DELETE FROM herald_runs WHERE id = ANY($1::uuid[])
