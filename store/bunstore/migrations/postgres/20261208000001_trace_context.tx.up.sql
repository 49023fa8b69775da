-- The trace context of the enqueue that asked for a run (a JSON object of
-- propagation fields, W3C traceparent and tracestate), so that the run's
-- execution on any node joins that trace. Nullable, without a default:
-- adding it rewrites nothing and takes its lock only for a moment.
ALTER TABLE herald_runs ADD COLUMN IF NOT EXISTS trace_context text;
