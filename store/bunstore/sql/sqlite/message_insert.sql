-- Inserts one message unless its key is taken (messageInsertArgs).
INSERT INTO herald_messages (source, workspace, channel, ts, thread_ts, user_id, user_name, text, raw, collected_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (source, workspace, channel, ts) DO NOTHING
