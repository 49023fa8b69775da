-- Share-locks the schedule of run $1, before the run itself is locked (a
-- schedule's lock comes before its runs', as in a tick's transaction).
SELECT id FROM herald_schedules WHERE id = (SELECT schedule_id FROM herald_runs WHERE id = $1) FOR SHARE
