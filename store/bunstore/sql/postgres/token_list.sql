-- The tokens by name as bytes (the "C" collation) whatever the database's
-- collation, as SQLite and Go order strings.
SELECT * FROM herald_tokens ORDER BY name COLLATE "C"
