-- Creates a workspace or replaces it, keeping its creation time, and
-- returns the stored row: $1 id, $2 source, $3 name, $4 owner, $5 secret,
-- $6 creation time, $7 update time.
INSERT INTO herald_workspaces (id, source, name, owner, secret, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET source = excluded.source, name = excluded.name, owner = excluded.owner,
	secret = excluded.secret, updated_at = excluded.updated_at
RETURNING *
