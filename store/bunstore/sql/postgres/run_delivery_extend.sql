-- Keeps the deliveries of runs $2 claimed until $1.
UPDATE herald_runs SET deliver_after = $1::timestamptz
WHERE id = ANY($2::uuid[]) AND deliver_after IS NOT NULL
