-- Upserts messages from one array per column (messageArrays), collected at
-- $1, in one statement whose text does not grow with the batch, and
-- returns how many it inserted: xmax is zero on a row this statement
-- inserted, not on one it updated.
WITH u AS (
	INSERT INTO herald_messages (source, workspace, channel, ts, thread_ts, user_id, user_name, text, raw, collected_at)
	SELECT source, workspace, channel, ts, thread_ts, user_id, user_name, text, raw, $1::timestamptz
	FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
		$10::text[]::json[])
		AS v (source, workspace, channel, ts, thread_ts, user_id, user_name, text, raw)
	ON CONFLICT (source, workspace, channel, ts) DO UPDATE SET thread_ts = EXCLUDED.thread_ts,
		user_id = EXCLUDED.user_id, user_name = EXCLUDED.user_name, text = EXCLUDED.text, raw = EXCLUDED.raw
	RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) FROM u
