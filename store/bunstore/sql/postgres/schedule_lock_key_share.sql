-- Locks schedules $1 in id order against their deletion only: a pause or
-- an edit need not wait (schedules that allow every overlap).
SELECT id, overlap FROM herald_schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE
