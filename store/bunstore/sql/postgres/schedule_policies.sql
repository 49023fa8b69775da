-- The overlap policies of schedules $1, read without a lock.
SELECT id, overlap FROM herald_schedules WHERE id = ANY($1::uuid[])
