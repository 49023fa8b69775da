-- The runs that may hold a key of an enqueue: a tick of schedules $1 at
-- times $2, or an idempotency key of owners $3 among keys $4. Two lists
-- per key kind rather than one condition per run: an OR of a thousand
-- conditions is slow to plan. The lists may match more runs than asked
-- for; the caller picks the ones that matter.
SELECT * FROM herald_runs
WHERE (schedule_id = ANY($1::uuid[]) AND scheduled_for = ANY($2::timestamptz[]))
	OR (owner = ANY($3::text[]) AND idempotency_key = ANY($4::text[]))
