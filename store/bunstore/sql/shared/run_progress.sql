-- Records the progress $1 of run $2, which node $3 must hold.
UPDATE herald_runs SET progress = $1 WHERE id = $2 AND status = 'running' AND lease_owner = $3
