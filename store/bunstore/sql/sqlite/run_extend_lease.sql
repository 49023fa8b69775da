-- Extends the leases a node holds: now, the lease in microseconds (times
-- are integer microseconds), the run ids (a JSON array), the node.
UPDATE herald_runs SET lease_expires_at = ? + ?
WHERE id IN (SELECT value FROM json_each(?)) AND status = 'running' AND lease_owner = ?
RETURNING id, lease_expires_at, cancel_requested
