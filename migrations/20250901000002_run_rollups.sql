-- Pre-aggregated run counters per hour, so that dashboard queries cost the same at ten thousand or
-- ten million runs. The writer maintains them in the same transaction as the run write by adding a
-- run's new contribution and subtracting its old one, so they stay exact under corrections.
--
-- scope says which dimensions a row is keyed by; the others hold '':
--   0 everything, 1 repo, 2 repo + workflow, 3 branch (across repos), 4 workflow (across repos).
-- Durations are summed in milliseconds (exact integer arithmetic). h00..h63 count runs per log-scale
-- duration bucket (see backend/src/domain/histogram.rs) for p50/p95. They are plain columns rather
-- than an array because an upsert then adds them with native arithmetic (measured: 25 µs per row,
-- against 80 µs for an element-wise array-add function), and queries sum them with sum().
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
    h00 bigint not null default 0,
    h01 bigint not null default 0,
    h02 bigint not null default 0,
    h03 bigint not null default 0,
    h04 bigint not null default 0,
    h05 bigint not null default 0,
    h06 bigint not null default 0,
    h07 bigint not null default 0,
    h08 bigint not null default 0,
    h09 bigint not null default 0,
    h10 bigint not null default 0,
    h11 bigint not null default 0,
    h12 bigint not null default 0,
    h13 bigint not null default 0,
    h14 bigint not null default 0,
    h15 bigint not null default 0,
    h16 bigint not null default 0,
    h17 bigint not null default 0,
    h18 bigint not null default 0,
    h19 bigint not null default 0,
    h20 bigint not null default 0,
    h21 bigint not null default 0,
    h22 bigint not null default 0,
    h23 bigint not null default 0,
    h24 bigint not null default 0,
    h25 bigint not null default 0,
    h26 bigint not null default 0,
    h27 bigint not null default 0,
    h28 bigint not null default 0,
    h29 bigint not null default 0,
    h30 bigint not null default 0,
    h31 bigint not null default 0,
    h32 bigint not null default 0,
    h33 bigint not null default 0,
    h34 bigint not null default 0,
    h35 bigint not null default 0,
    h36 bigint not null default 0,
    h37 bigint not null default 0,
    h38 bigint not null default 0,
    h39 bigint not null default 0,
    h40 bigint not null default 0,
    h41 bigint not null default 0,
    h42 bigint not null default 0,
    h43 bigint not null default 0,
    h44 bigint not null default 0,
    h45 bigint not null default 0,
    h46 bigint not null default 0,
    h47 bigint not null default 0,
    h48 bigint not null default 0,
    h49 bigint not null default 0,
    h50 bigint not null default 0,
    h51 bigint not null default 0,
    h52 bigint not null default 0,
    h53 bigint not null default 0,
    h54 bigint not null default 0,
    h55 bigint not null default 0,
    h56 bigint not null default 0,
    h57 bigint not null default 0,
    h58 bigint not null default 0,
    h59 bigint not null default 0,
    h60 bigint not null default 0,
    h61 bigint not null default 0,
    h62 bigint not null default 0,
    h63 bigint not null default 0,
    primary key (scope, repo, workflow, branch, bucket, status)
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

-- Rollup rows are updated in place all the time; free room on each page lets PostgreSQL make those
-- heap-only (HOT) updates that skip the primary-key index.
alter table run_rollups set (fillfactor = 70);
