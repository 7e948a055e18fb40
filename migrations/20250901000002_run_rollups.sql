-- Pre-aggregated run counters per hour, so that dashboard queries cost the same at ten thousand or
-- ten million runs. The writer maintains them in the same transaction as the run write by adding a
-- run's new contribution and subtracting its old one, so they stay exact under corrections.
--
-- scope says which dimensions a row is keyed by; the others hold '':
--   0 everything, 1 repo, 2 repo + workflow, 3 branch (across repos), 4 workflow (across repos).
-- Durations are summed in milliseconds (exact integer arithmetic); duration_hist counts runs per
-- log-scale bucket (see backend/src/domain/histogram.rs) for p50/p95.
create table run_rollups (
    scope          smallint    not null check (scope between 0 and 4),
    repo           text        not null default '',
    workflow       text        not null default '',
    branch         text        not null default '',
    bucket         timestamptz not null,
    status         text        not null check (status in ('success', 'failure', 'cancelled', 'skipped')),
    runs           bigint      not null,
    duration_count bigint      not null,
    duration_ms    bigint      not null,
    duration_hist  bigint[]    not null,
    primary key (scope, repo, workflow, branch, bucket, status)
);

-- Element-wise sum of two histograms, for applying deltas in an upsert.
create function hist_add(a bigint[], b bigint[]) returns bigint[]
language sql immutable parallel safe
return (
    select array_agg(coalesce(x, 0) + coalesce(y, 0) order by i)
    from unnest(a, b) with ordinality as t(x, y, i)
);

-- Every repo / workflow / branch seen, for the dashboard's selectors (read without scanning runs).
create table run_dimensions (
    provider     text        not null,
    repo         text        not null,
    workflow     text        not null,
    branch       text        not null default '',
    last_seen_at timestamptz not null,
    primary key (repo, workflow, branch, provider)
);
