-- The tokens by name as bytes (SQLite's own order), as Go orders strings.
SELECT * FROM herald_tokens ORDER BY name
