-- Inserts a token ($1 name, $2 subject, $3 admin, $4 hash, $5 creation
-- time) unless its name is taken; it returns the name when it did.
INSERT INTO herald_tokens (name, subject, admin, hash, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO NOTHING
RETURNING name
