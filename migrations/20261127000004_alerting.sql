-- Alerting: integrations (where notifications go), rules (the seed's `alerts` table, extended),
-- incidents (one firing episode per rule and group) and the notification outbox.

-- The operator's tokens may manage the rules and integrations declared as Kubernetes resources.
alter table api_tokens drop constraint api_tokens_scope_check;
alter table api_tokens add constraint api_tokens_scope_check
    check (scope in ('ingest', 'read', 'admin', 'operator'));

-- Slack and generic webhooks. `spec` is the IntegrationSpec without secret values; the secrets (the
-- webhook URL, the HMAC key) are sealed in `secrets_sealed` (ChaCha20-Poly1305 under CICD_SECRET_KEY)
-- and only a masked hint is shown. Source `env` is the integration SLACK_WEBHOOK_URL declares: its
-- URL stays in the environment and is never stored. `next_send_at` is the integration's send slot: one message at a
-- time per integration across every replica, about one a second, later after a 429 or a 5xx.
create table integrations (
    id              bigint generated always as identity primary key,
    name            text        not null unique check (length(name) between 1 and 253),
    type            text        not null check (type in ('slack', 'webhook')),
    spec            jsonb       not null,
    secrets_sealed  bytea       not null,
    url_hint        text        not null,
    source          text        not null default 'api' check (source in ('api', 'kubernetes', 'env')),
    k8s_uid         text unique,
    k8s_namespace   text,
    k8s_name        text,
    next_send_at    timestamptz not null default now(),
    last_error      text,
    last_error_at   timestamptz,
    last_success_at timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- Rules. The seed's columns (name, threshold_type, threshold_value, last_triggered, enabled) are kept
-- and derived from `spec`, the AlertRuleSpec shared with the AlertRule custom resource.
create table alerts (
    id              bigint generated always as identity primary key,
    name            text        not null unique check (length(name) between 1 and 253),
    threshold_type  text        not null,
    threshold_value double precision,
    spec            jsonb       not null,
    enabled         boolean     not null default true,
    last_triggered  timestamptz,
    source          text        not null default 'api' check (source in ('api', 'kubernetes')),
    k8s_uid         text unique,
    k8s_namespace   text,
    k8s_name        text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- One firing episode per rule and group: pending (bad, inside groupWait) → firing → resolved.
-- A pending incident that recovers inside groupWait is deleted: flapping sends nothing.
create table alert_incidents (
    id              bigint generated always as identity primary key,
    rule_id         bigint      not null references alerts (id) on delete cascade,
    group_key       text        not null,
    labels          jsonb       not null,
    state           text        not null check (state in ('pending', 'firing', 'resolved')),
    value           double precision,
    threshold       double precision,
    started_at      timestamptz not null,
    firing_at       timestamptz,
    resolved_at     timestamptz,
    last_notified_at timestamptz,
    repeats         integer     not null default 0,
    acknowledged_at timestamptz,
    muted_until     timestamptz,
    run_ids         text[]      not null default '{}',
    updated_at      timestamptz not null default now()
);
create unique index idx_incidents_open on alert_incidents (rule_id, group_key) where state <> 'resolved';
create index idx_incidents_recent on alert_incidents (coalesce(resolved_at, 'infinity') desc, id desc);

-- The outbox. Each (incident, integration, kind) is enqueued once; `kind` is `firing`, `repeat:N`,
-- `resolved`, or `run:<id>` (RunFailed notifies per failed run). Delivered in id order per
-- integration, at least once.
create table notifications (
    id              bigint generated always as identity primary key,
    incident_id     bigint      not null references alert_incidents (id) on delete cascade,
    integration_id  bigint      not null references integrations (id) on delete cascade,
    kind            text        not null,
    notice          jsonb       not null,
    status          text        not null default 'pending' check (status in ('pending', 'sent', 'failed')),
    attempts        integer     not null default 0,
    last_error      text,
    created_at      timestamptz not null default now(),
    sent_at         timestamptz,
    unique (incident_id, integration_id, kind)
);
create index idx_notifications_pending on notifications (integration_id, id) where status = 'pending';
