-- The sequence number of the newest notification.
SELECT COALESCE(MAX(seq), 0) FROM herald_notifications
