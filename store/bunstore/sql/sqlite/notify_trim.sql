-- Deletes all but the newest notifications: the argument is how many to
-- keep.
DELETE FROM herald_notifications WHERE seq <= (SELECT MAX(seq) FROM herald_notifications) - ?
