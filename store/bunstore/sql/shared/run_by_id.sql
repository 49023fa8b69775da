-- Reads run $1.
SELECT * FROM herald_runs WHERE id = $1
