-- Queues the run of a webhook event: id, event id, owner, agent, payload,
-- targets, max attempts, timeout, due time, creation time, trace context.
INSERT INTO herald_runs (id, kind, event_id, owner, agent, payload, targets, status, held, attempt, max_attempts,
	timeout, run_at, cancel_requested, created_at, trace_context)
VALUES (?, 'webhook', ?, ?, ?, ?, ?, 'queued', false, 1, ?, ?, ?, false, ?, ?)
