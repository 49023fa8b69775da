-- Takes a lock on the key $1 (a schedule owner's, in the store's schema)
-- until the transaction ends, so that the checks of one owner's active
-- schedules, and the writes they allow, take turns.
SELECT pg_advisory_xact_lock(hashtext($1))
