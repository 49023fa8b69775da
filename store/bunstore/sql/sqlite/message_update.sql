-- Replaces what an update of a message replaces, and keeps its
-- collected_at (messageUpdateArgs).
UPDATE herald_messages SET thread_ts = ?, user_id = ?, user_name = ?, text = ?, raw = ?
WHERE source = ? AND workspace = ? AND channel = ? AND ts = ?
