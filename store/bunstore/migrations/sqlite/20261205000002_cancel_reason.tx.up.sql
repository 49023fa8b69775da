-- The reason of a running run's cancellation request, kept until the run
-- ends cancelled (it then becomes the run's error).
ALTER TABLE herald_runs ADD COLUMN cancel_reason text;
