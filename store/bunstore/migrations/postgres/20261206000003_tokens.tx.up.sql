-- The REST API's bearer tokens, kept as the SHA-256 of their secret.
CREATE TABLE IF NOT EXISTS herald_tokens (
    name       text PRIMARY KEY,
    subject    text NOT NULL,
    admin      boolean NOT NULL DEFAULT false,
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL
);
