-- Times become integers: microseconds since the Unix epoch, UTC (see
-- sqlitetime.go). Earlier versions wrote them as text,
-- 'YYYY-MM-DD HH:MM:SS[.ffffff]+00:00'. Each distinct text is converted
-- once, through SQLite's own date parsing for the seconds and the offset;
-- a text that does not parse leaves its micros NULL, which the NOT NULL
-- refuses, so the migration fails and changes nothing.
CREATE TEMP TABLE herald_text_times (v text PRIMARY KEY, micros integer NOT NULL);
--bun:split
WITH t(v) AS (
    SELECT trigger_at FROM herald_schedules
    UNION SELECT trigger_start_at FROM herald_schedules
    UNION SELECT trigger_end_at FROM herald_schedules
    UNION SELECT next_run_at FROM herald_schedules
    UNION SELECT last_run_at FROM herald_schedules
    UNION SELECT last_fired_at FROM herald_schedules
    UNION SELECT created_at FROM herald_schedules
    UNION SELECT updated_at FROM herald_schedules
    UNION SELECT scheduled_for FROM herald_runs
    UNION SELECT run_at FROM herald_runs
    UNION SELECT lease_expires_at FROM herald_runs
    UNION SELECT created_at FROM herald_runs
    UNION SELECT started_at FROM herald_runs
    UNION SELECT finished_at FROM herald_runs
    UNION SELECT deliver_after FROM herald_runs
    UNION SELECT received_at FROM herald_events
    UNION SELECT started_at FROM herald_deliveries
    UNION SELECT finished_at FROM herald_deliveries
    UNION SELECT updated_at FROM herald_cursors
    UNION SELECT collected_at FROM herald_messages
), p(v, tz) AS (
    SELECT v, CASE WHEN substr(v, 20, 1) = '.' THEN ltrim(substr(v, 21), '0123456789') ELSE substr(v, 20) END
    FROM t WHERE typeof(v) = 'text'
)
INSERT INTO herald_text_times (v, micros)
SELECT v, unixepoch(substr(v, 1, 19) || tz) * 1000000 + CASE WHEN substr(v, 20, 1) = '.'
    THEN CAST(substr(substr(v, 21, length(v) - 20 - length(tz)) || '000000', 1, 6) AS INTEGER) ELSE 0 END
FROM p;
--bun:split
UPDATE herald_schedules SET trigger_at = (SELECT micros FROM herald_text_times WHERE v = trigger_at) WHERE typeof(trigger_at) = 'text';
--bun:split
UPDATE herald_schedules SET trigger_start_at = (SELECT micros FROM herald_text_times WHERE v = trigger_start_at) WHERE typeof(trigger_start_at) = 'text';
--bun:split
UPDATE herald_schedules SET trigger_end_at = (SELECT micros FROM herald_text_times WHERE v = trigger_end_at) WHERE typeof(trigger_end_at) = 'text';
--bun:split
UPDATE herald_schedules SET next_run_at = (SELECT micros FROM herald_text_times WHERE v = next_run_at) WHERE typeof(next_run_at) = 'text';
--bun:split
UPDATE herald_schedules SET last_run_at = (SELECT micros FROM herald_text_times WHERE v = last_run_at) WHERE typeof(last_run_at) = 'text';
--bun:split
UPDATE herald_schedules SET last_fired_at = (SELECT micros FROM herald_text_times WHERE v = last_fired_at) WHERE typeof(last_fired_at) = 'text';
--bun:split
UPDATE herald_schedules SET created_at = (SELECT micros FROM herald_text_times WHERE v = created_at) WHERE typeof(created_at) = 'text';
--bun:split
UPDATE herald_schedules SET updated_at = (SELECT micros FROM herald_text_times WHERE v = updated_at) WHERE typeof(updated_at) = 'text';
--bun:split
UPDATE herald_runs SET scheduled_for = (SELECT micros FROM herald_text_times WHERE v = scheduled_for) WHERE typeof(scheduled_for) = 'text';
--bun:split
UPDATE herald_runs SET run_at = (SELECT micros FROM herald_text_times WHERE v = run_at) WHERE typeof(run_at) = 'text';
--bun:split
UPDATE herald_runs SET lease_expires_at = (SELECT micros FROM herald_text_times WHERE v = lease_expires_at) WHERE typeof(lease_expires_at) = 'text';
--bun:split
UPDATE herald_runs SET created_at = (SELECT micros FROM herald_text_times WHERE v = created_at) WHERE typeof(created_at) = 'text';
--bun:split
UPDATE herald_runs SET started_at = (SELECT micros FROM herald_text_times WHERE v = started_at) WHERE typeof(started_at) = 'text';
--bun:split
UPDATE herald_runs SET finished_at = (SELECT micros FROM herald_text_times WHERE v = finished_at) WHERE typeof(finished_at) = 'text';
--bun:split
UPDATE herald_runs SET deliver_after = (SELECT micros FROM herald_text_times WHERE v = deliver_after) WHERE typeof(deliver_after) = 'text';
--bun:split
UPDATE herald_events SET received_at = (SELECT micros FROM herald_text_times WHERE v = received_at) WHERE typeof(received_at) = 'text';
--bun:split
UPDATE herald_deliveries SET started_at = (SELECT micros FROM herald_text_times WHERE v = started_at) WHERE typeof(started_at) = 'text';
--bun:split
UPDATE herald_deliveries SET finished_at = (SELECT micros FROM herald_text_times WHERE v = finished_at) WHERE typeof(finished_at) = 'text';
--bun:split
UPDATE herald_cursors SET updated_at = (SELECT micros FROM herald_text_times WHERE v = updated_at) WHERE typeof(updated_at) = 'text';
--bun:split
UPDATE herald_messages SET collected_at = (SELECT micros FROM herald_text_times WHERE v = collected_at) WHERE typeof(collected_at) = 'text';
--bun:split
DROP TABLE temp.herald_text_times;
