CREATE TABLE IF NOT EXISTS herald_schedules (
    id               text PRIMARY KEY,
    owner            text NOT NULL,
    name             text NOT NULL,
    agent            text NOT NULL,
    payload          text,
    trigger_kind     text NOT NULL,
    trigger_cron     text,
    trigger_interval bigint NOT NULL DEFAULT 0,
    trigger_at       timestamp,
    trigger_timezone text NOT NULL DEFAULT 'UTC',
    trigger_start_at timestamp,
    trigger_end_at   timestamp,
    trigger_jitter   bigint NOT NULL DEFAULT 0,
    overlap          text NOT NULL,
    misfire          text NOT NULL,
    misfire_cap      integer NOT NULL DEFAULT 0,
    timeout          bigint NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 0,
    targets          text,
    static           boolean NOT NULL DEFAULT 0,
    paused           boolean NOT NULL DEFAULT 0,
    next_run_at      timestamp,
    last_run_at      timestamp,
    last_fired_at    timestamp,
    version          bigint NOT NULL,
    created_at       timestamp NOT NULL,
    updated_at       timestamp NOT NULL,
    CONSTRAINT herald_schedules_owner_name_key UNIQUE (owner, name)
);
--bun:split
CREATE TABLE IF NOT EXISTS herald_runs (
    id               text PRIMARY KEY,
    kind             text NOT NULL,
    schedule_id      text,
    scheduled_for    timestamp,
    event_id         text,
    owner            text NOT NULL,
    agent            text NOT NULL,
    payload          text,
    targets          text,
    idempotency_key  text,
    status           text NOT NULL,
    held             boolean NOT NULL DEFAULT 0,
    attempt          integer NOT NULL,
    max_attempts     integer NOT NULL,
    timeout          bigint NOT NULL DEFAULT 0,
    run_at           timestamp NOT NULL,
    lease_owner      text,
    lease_expires_at timestamp,
    cancel_requested boolean NOT NULL DEFAULT 0,
    output           text,
    summary          text,
    progress         text,
    error            text,
    created_at       timestamp NOT NULL,
    started_at       timestamp,
    finished_at      timestamp
);
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS herald_runs_tick_key ON herald_runs (schedule_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
--bun:split
CREATE UNIQUE INDEX IF NOT EXISTS herald_runs_idempotency_key ON herald_runs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_due_idx ON herald_runs (run_at, id) WHERE status = 'queued' AND held = 0;
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
    id          text PRIMARY KEY,
    source      text NOT NULL,
    delivery_id text NOT NULL,
    headers     text,
    body        blob,
    run_id      text NOT NULL,
    received_at timestamp NOT NULL,
    CONSTRAINT herald_events_delivery_key UNIQUE (source, delivery_id)
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_events_source_idx ON herald_events (source, id);
--bun:split
CREATE TABLE IF NOT EXISTS herald_deliveries (
    id          text PRIMARY KEY,
    run_id      text NOT NULL REFERENCES herald_runs (id) ON DELETE CASCADE,
    channel     text NOT NULL,
    address     text,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    error       text,
    started_at  timestamp NOT NULL,
    finished_at timestamp NOT NULL
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
    updated_at  timestamp NOT NULL,
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
    raw          text,
    collected_at timestamp NOT NULL,
    PRIMARY KEY (source, workspace, channel, ts)
);
--bun:split
CREATE INDEX IF NOT EXISTS herald_runs_held_idx ON herald_runs (schedule_id) WHERE held = 1;
--bun:split
-- SQLite has no LISTEN/NOTIFY: a transaction's notifications are rows here,
-- read by every handle on the database (other processes included).
CREATE TABLE IF NOT EXISTS herald_notifications (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL
);
