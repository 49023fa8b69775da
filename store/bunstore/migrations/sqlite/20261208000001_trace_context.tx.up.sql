-- The trace context of the enqueue that asked for a run (a JSON object of
-- propagation fields, W3C traceparent and tracestate), so that the run's
-- execution joins that trace.
ALTER TABLE herald_runs ADD COLUMN trace_context text;
