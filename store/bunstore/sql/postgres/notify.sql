-- Sends each payload of $2 on channel $1 when the transaction commits.
SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload
