-- Share-locks the schedules $1 in id order, as every transaction locks
-- schedules before their runs: this waits for any enqueue that is deciding
-- on them, so that a run it holds back is seen after.
SELECT id FROM herald_schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE
