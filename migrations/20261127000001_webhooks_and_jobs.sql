-- Native CI sources.
--
-- webhook_sources: provider secrets kept in the database (besides GITHUB_WEBHOOK_SECRET and
-- GITLAB_WEBHOOK_TOKEN), so that one installation receives from several GitHub organisations and
-- GitLab instances. A GitHub secret keys an HMAC, so it must be recoverable: it is stored sealed
-- (ChaCha20-Poly1305 under CICD_SECRET_KEY; nonce || ciphertext), never in clear, never returned.
create table webhook_sources (
    id            bigint generated always as identity primary key,
    provider      text        not null check (provider in ('github', 'gitlab')),
    name          text        not null check (length(name) between 1 and 100),
    secret_sealed bytea       not null,
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz,
    unique (provider, name)
);

-- Deliveries already recorded (GitHub's X-GitHub-Delivery, GitLab's Idempotency-Key): a manual
-- redelivery or a retry is answered without writing again. Kept a week (GitHub allows redelivery
-- for three days).
create table webhook_deliveries (
    provider    text        not null,
    delivery_id text        not null,
    received_at timestamptz not null default now(),
    primary key (provider, delivery_id)
);
create index idx_webhook_deliveries_received_at on webhook_deliveries (received_at);

-- 0 queued, 1 running, 2 finished: a status never moves to a lower stage.
create function run_stage(status text) returns integer
    language sql immutable parallel safe
    return case status when 'queued' then 0 when 'running' then 1 else 2 end;

-- Jobs of a run (GitHub jobs, GitLab builds, CDEvents task runs) with their own queue and run
-- times; steps as JSON. Attached by run id without a foreign key: a job's first event may arrive
-- before its run's.
create table run_jobs (
    run_id         text        not null,
    id             text        not null,
    provider       text        not null,
    name           text        not null,
    stage          text,
    status         text        not null
                   check (status in ('queued', 'running', 'success', 'failure', 'cancelled', 'skipped')),
    queued_at      timestamptz,
    started_at     timestamptz,
    finished_at    timestamptz,
    runner_name    text,
    runner_group   text,
    labels         text[]      not null default '{}',
    steps          jsonb       not null default '[]',
    url            text,
    failure_reason text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    primary key (run_id, id)
);
