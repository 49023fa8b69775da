-- A page of workspaces by id, from after the cursor ?2 ('' for the first
-- page), of owner ?1 or ('') of all, up to ?3.
SELECT * FROM herald_workspaces
WHERE (?1 = '' OR owner = ?1) AND id > ?2
ORDER BY id
LIMIT ?3
