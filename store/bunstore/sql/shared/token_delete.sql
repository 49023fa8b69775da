-- Deletes the token named $1.
DELETE FROM herald_tokens WHERE name = $1
