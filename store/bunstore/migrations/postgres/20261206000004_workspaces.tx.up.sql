-- The backfilled chat workspaces, with their credentials sealed by the
-- caller (the store never sees them in the clear).
CREATE TABLE IF NOT EXISTS herald_workspaces (
    id         text PRIMARY KEY,
    source     text NOT NULL,
    name       text NOT NULL DEFAULT '',
    owner      text NOT NULL,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_workspaces_owner_idx ON herald_workspaces (owner, id);
