-- The notifications after a sequence number, oldest first.
SELECT seq, payload FROM herald_notifications WHERE seq > ? ORDER BY seq LIMIT 1000
