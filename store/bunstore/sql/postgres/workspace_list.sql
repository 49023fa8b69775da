-- A page of workspaces by id, from after the cursor $2 ('' for the first
-- page), of owner $1 or ('') of all, up to $3: ids compared as bytes, as
-- SQLite and Go compare them, whatever the database's collation.
SELECT * FROM herald_workspaces
WHERE ($1 = '' OR owner = $1) AND id COLLATE "C" > $2
ORDER BY id COLLATE "C"
LIMIT $3
