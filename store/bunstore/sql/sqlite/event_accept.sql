-- Records a webhook event, unless it was delivered before (then no row
-- comes back): id, source, delivery id, headers, body, run id, owner,
-- time received.
INSERT INTO herald_events (id, source, delivery_id, headers, body, run_id, owner, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
RETURNING id
