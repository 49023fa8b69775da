-- Marks the deliveries of a run done.
UPDATE herald_runs SET deliver_after = NULL WHERE id = ? RETURNING id
