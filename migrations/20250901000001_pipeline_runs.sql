-- Pipeline runs: one row per run attempt, as CI systems report them.
-- The seed's columns and indexes, plus what native providers give us: provider identity
-- (provider, commit_sha, attempt), queue time (queued_at), a link back to the CI system (url) and
-- updated_at. `run_at` is the instant a run is charted at; it is generated so that it cannot drift
-- from the timestamps it is derived from.
create table pipeline_runs (
    id               text primary key,
    provider         text not null default 'generic',
    workflow         text not null,
    repo             text not null,
    branch           text,
    commit_sha       text,
    status           text not null
                     check (status in ('queued', 'running', 'success', 'failure', 'cancelled', 'skipped')),
    attempt          integer not null default 1 check (attempt >= 1),
    duration_seconds double precision check (duration_seconds >= 0),
    queued_at        timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    triggered_by     text,
    url              text,
    metadata         jsonb not null default '{}',
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    run_at           timestamptz not null
                     generated always as (coalesce(started_at, queued_at, finished_at, created_at)) stored
);

-- The seed's indexes. The one on repo also carries run_at, so that a repo's newest runs are read
-- in order rather than sorted.
create index idx_runs_repo on pipeline_runs (repo, run_at desc, id desc);
create index idx_runs_repo_workflow_started on pipeline_runs (repo, workflow, started_at);
-- Global "recently started" queries.
create index idx_runs_started_at on pipeline_runs (started_at desc);
-- Recent-runs lists and cursor pagination (newest first, id breaks ties).
create index idx_runs_run_at on pipeline_runs (run_at desc, id desc);
-- Recent runs of a repo's workflow or branch, newest first; filter combinations that no rollup
-- scope covers (repo + branch, repo + workflow + branch) are narrow and read runs through these.
create index idx_runs_repo_workflow_run_at on pipeline_runs (repo, workflow, run_at desc, id desc);
create index idx_runs_repo_branch_run_at on pipeline_runs (repo, branch, run_at desc, id desc);
-- Runs still in flight are few; "running now" reads only them.
create index idx_runs_active on pipeline_runs (run_at desc) where status in ('queued', 'running');

-- Most runs are updated once or twice (queued → running → finished): leave room for HOT updates.
alter table pipeline_runs set (fillfactor = 90);
