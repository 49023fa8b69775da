CREATE TABLE IF NOT EXISTS herald_schedules (
    id               uuid PRIMARY KEY,
    owner            text NOT NULL,
    name             text NOT NULL,
    agent            text NOT NULL,
    payload          json,
    trigger_kind     text NOT NULL,
    trigger_cron     text,
    trigger_interval bigint NOT NULL DEFAULT 0,
    trigger_at       timestamptz,
    trigger_timezone text NOT NULL DEFAULT 'UTC',
    trigger_start_at timestamptz,
    trigger_end_at   timestamptz,
    trigger_jitter   bigint NOT NULL DEFAULT 0,
    overlap          text NOT NULL,
    misfire          text NOT NULL,
    misfire_cap      integer NOT NULL DEFAULT 0,
    timeout          bigint NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 0,
    targets          json,
    static           boolean NOT NULL DEFAULT false,
    paused           boolean NOT NULL DEFAULT false,
    next_run_at      timestamptz,
    last_run_at      timestamptz,
    last_fired_at    timestamptz,
    version          bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT herald_schedules_owner_name_key UNIQUE (owner, name)
);
--bun:split
CREATE TABLE IF NOT EXISTS herald_runs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    schedule_id      uuid,
    scheduled_for    timestamptz,
    event_id         uuid,
    owner            text NOT NULL,
    agent            text NOT NULL,
    payload          json,
    targets          json,
    idempotency_key  text,
    status           text NOT NULL,
    held             boolean NOT NULL DEFAULT false,
    attempt          integer NOT NULL,
    max_attempts     integer NOT NULL,
    timeout          bigint NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    output           json,
    summary          text,
    progress         json,
    error            text,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS herald_runs_tick_key ON herald_runs (schedule_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS herald_runs_idempotency_key ON herald_runs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_due_idx ON herald_runs (run_at, id) WHERE status = 'queued' AND NOT held;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_lease_idx ON herald_runs (lease_expires_at) WHERE status = 'running';
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_active_idx ON herald_runs (schedule_id, id) WHERE status IN ('queued', 'running');
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_schedule_idx ON herald_runs (schedule_id, id) WHERE schedule_id IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_owner_idx ON herald_runs (owner, id);
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_finished_idx ON herald_runs (finished_at) WHERE finished_at IS NOT NULL;
--bun:split
CREATE TABLE IF NOT EXISTS herald_events (
    id          uuid PRIMARY KEY,
    source      text NOT NULL,
    delivery_id text NOT NULL,
    headers     json,
    body        bytea,
    run_id      uuid NOT NULL,
    received_at timestamptz NOT NULL,
    CONSTRAINT herald_events_delivery_key UNIQUE (source, delivery_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_events_source_idx ON herald_events (source, id);
--bun:split
CREATE TABLE IF NOT EXISTS herald_deliveries (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES herald_runs (id) ON DELETE CASCADE,
    channel     text NOT NULL,
    address     text,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    error       text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_deliveries_run_idx ON herald_deliveries (run_id, id);
--bun:split
CREATE TABLE IF NOT EXISTS herald_cursors (
    source      text NOT NULL,
    workspace   text NOT NULL,
    channel     text NOT NULL,
    latest      text,
    page_cursor text,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (source, workspace, channel)
);
--bun:split
CREATE TABLE IF NOT EXISTS herald_messages (
    source       text NOT NULL,
    workspace    text NOT NULL,
    channel      text NOT NULL,
    ts           text NOT NULL,
    thread_ts    text,
    user_id      text,
    user_name    text,
    text         text,
    raw          json,
    collected_at timestamptz NOT NULL,
    PRIMARY KEY (source, workspace, channel, ts)
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_held_idx ON herald_runs (schedule_id) WHERE held;
--bun:split
-- A queue table churns: vacuum and analyze it long before the defaults would.
ALTER TABLE herald_runs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
