-- Locks schedules $1 in id order, for decisions on their runs taken one
-- transaction at a time.
SELECT id, overlap FROM herald_schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
