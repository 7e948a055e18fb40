-- Jobs, runner pools and usage.
--
-- A job row names what it is counted under: its repository, workflow and branch (from its own
-- event, or from its run when the event does not say) and its runner label set (`labels`: the
-- labels the job asked for, trimmed, lower-cased, without duplicates, sorted).
--
-- Job rollups are folded asynchronously: every write of a job marks it `pending`; the folder (one
-- at a time across replicas, under an advisory lock) takes pending jobs, subtracts what each
-- counted before (`counted`, the contribution it last added, or null) and adds what it counts
-- now, and clears `pending`, all in one transaction. Rollups are exact under replays, re-runs
-- and out-of-order events, and a job write costs one row instead of a dozen.
alter table run_jobs
    add column repo     text,
    add column workflow text,
    add column branch   text,
    add column counted  jsonb,
    add column pending  boolean not null default true;

update run_jobs j set labels = coalesce((
    select array_agg(distinct lower(btrim(l)) order by lower(btrim(l)))
    from unnest(j.labels) l where btrim(l) <> ''), '{}')
where labels <> '{}';

create index idx_run_jobs_pending on run_jobs (run_id, id) where pending;
-- Jobs folded before their run arrived: counted once it does (a small set; the folder looks
-- them up at every fold).
create index idx_run_jobs_orphans on run_jobs (run_id) where repo is null and not pending;
-- Live state: jobs queued or running now, per label set.
create index idx_run_jobs_active on run_jobs (labels, status) where status in ('queued', 'running');
-- A job's recent runs, and filters the rollups have no scope for (branch).
create index idx_run_jobs_job on run_jobs (repo, workflow, name, started_at);
create index idx_run_jobs_branch on run_jobs (branch, started_at);

-- scope: 0 a job (repo, workflow, job, labels), 1 a label set (labels), 2 a repository and label
-- set (repo, labels), 3 a workflow and label set (repo, workflow, labels); other keys hold ''.
-- grain: 0 hour, 1 day, 2 week (UTC; weeks start on Monday). The same contributions are added at
-- every grain, so a window is read from the fewest rows that tile it.
-- Histograms are sparse: [bucket, count, bucket, count, …] over the log-scale buckets of
-- backend/src/domain/histogram.rs, merged by the folder (the only writer of this table).
create table job_rollups (
    grain          smallint    not null check (grain between 0 and 2),
    bucket         timestamptz not null,
    scope          smallint    not null check (scope between 0 and 3),
    repo           text        not null default '',
    workflow       text        not null default '',
    job            text        not null default '',
    -- The label set as one text: the sorted labels joined by commas.
    labels         text        not null default '',
    jobs           int4        not null,
    failures       int4        not null,
    cancelled      int4        not null,
    skipped        int4        not null,
    duration_count int4        not null,
    duration_ms    int8        not null,
    queue_count    int4        not null,
    queue_ms       int8        not null,
    -- GitHub's billable minutes (each job rounded up to a minute, times the hosted runner's OS
    -- multiplier), wall time elsewhere.
    billable_ms    int8        not null,
    -- The minutes a price per label applies to: billable without the multiplier.
    priced_ms      int8        not null,
    duration_hist  int4[]      not null default '{}',
    queue_hist     int4[]      not null default '{}',
    primary key (grain, bucket, scope, repo, workflow, job, labels)
);

-- Busy time per label set and minute (the sum over jobs of the part of the minute each ran):
-- busy_ms / 60000 is the average number of jobs running in that minute. runner_busy_hours keeps
-- each hour's sum and its busiest minute, so that a month is read from hours.
create table runner_busy (
    labels  text        not null,
    minute  timestamptz not null,
    busy_ms int8        not null,
    primary key (labels, minute)
);
create table runner_busy_hours (
    labels  text        not null,
    hour    timestamptz not null,
    busy_ms int8        not null,
    peak_ms int8        not null,
    primary key (labels, hour)
);
create index idx_runner_busy_minute on runner_busy (minute);
create index idx_runner_busy_hours_hour on runner_busy_hours (hour);
