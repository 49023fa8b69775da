-- Marks the deliveries of run $1 done.
UPDATE herald_runs SET deliver_after = NULL WHERE id = $1::uuid RETURNING id
