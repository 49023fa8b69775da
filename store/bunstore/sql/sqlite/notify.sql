-- Queues one notification for the other handles on the database, which
-- poll for it (notify_read).
INSERT INTO herald_notifications (payload) VALUES (?)
