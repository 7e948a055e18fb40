-- Test results: JUnit XML uploads (and CDEvents test runs) per run, flaky tests, quarantine.
--
-- A test's identity (suite path, classname, name, file) is stored once, in test_names; a result
-- is a few fixed-width columns that point at it. An upload belongs to a run by its id, without a
-- foreign key: a CI step may upload before the run's webhook lands. Once the run exists, the
-- upload is attached: it takes the run's repository, workflow, branch, commit and time, its
-- results are added to the daily rollups, and the commit's results are checked for flakiness.

create table test_names (
    id        bigint generated always as identity primary key,
    -- SHA-256 of the four strings, each followed by a NUL: the lookup key.
    digest    bytea not null unique,
    suite     text  not null,
    classname text  not null,
    name      text  not null,
    file      text  not null
);

create table test_uploads (
    id          bigint generated always as identity primary key,
    run_id      text        not null,
    -- The job that produced it ('' when not given).
    job         text        not null default '',
    -- SHA-256 of the report (uncompressed): the same report for the same run and job is stored once.
    digest      bytea       not null,
    -- 'junit' or 'cdevents'.
    source      text        not null default 'junit',
    received_at timestamptz not null default now(),
    tests       int4        not null,
    passed      int4        not null,
    failed      int4        not null,
    skipped     int4        not null,
    flaky       int4        not null,
    errors      int4        not null,
    -- Set when the run is known (attached); null until then.
    repo        text,
    workflow    text,
    branch      text,
    -- The commit the results are about: the run's commit, else its run key (all attempts of a
    -- run are one commit), else the run id.
    commit_ref  text,
    run_at      timestamptz,
    unique (run_id, job, digest)
);
-- Uploads waiting for their run.
create index idx_test_uploads_pending on test_uploads (run_id) where repo is null;
-- The other uploads of a commit, when flakiness is checked.
create index idx_test_uploads_commit on test_uploads (repo, commit_ref) where repo is not null;
-- Retention, and a repository's uploads by time.
create index idx_test_uploads_run_at on test_uploads (run_at) where repo is not null;
create index idx_test_uploads_received on test_uploads (received_at) where repo is null;

-- status: 0 failed, 1 error, 2 flaky, 3 skipped, 4 passed (domain::test_case::TestStatus).
-- No foreign keys: a report writes up to 200,000 rows at once, and checking two keys per row
-- would cost more than writing them (ADR 0020). The one write path inserts a report's names and
-- upload first in the same transaction, and retention deletes results with their upload.
create table test_results (
    upload_id   bigint   not null,
    test_id     bigint   not null,
    status      int2     not null check (status between 0 and 4),
    attempts    int2     not null check (attempts >= 1),
    duration_ms int4,
    primary key (upload_id, test_id)
) with (fillfactor = 100);
-- A test's history.
create index idx_test_results_test on test_results (test_id, upload_id);

-- What failed results said, and when a result's test started: only for results that did not
-- simply pass, so that passing tests cost no text.
create table test_result_details (
    upload_id  bigint not null,
    test_id    bigint not null,
    started_at timestamptz,
    message    text,
    output     text,
    primary key (upload_id, test_id)
);

-- Daily figures per test (UTC days of the runs' time), exact: an upload is added once, when it
-- is attached. Retention removes whole days, as it removes the reports of runs before its cut.
-- Each report rewrites one row per test of its day: room left in each page keeps those updates
-- HOT (no index entry rewritten).
create table test_rollups (
    day            date   not null,
    repo           text   not null,
    test_id        bigint not null,
    runs           int4   not null,
    failures       int4   not null,
    errors         int4   not null,
    flaky          int4   not null,
    skipped        int4   not null,
    duration_count int4   not null,
    duration_ms    int8   not null,
    -- Sparse histogram of durations, as the job rollups keep theirs.
    duration_hist  bytea  not null default '',
    last_failure_at timestamptz,
    primary key (day, repo, test_id)
) with (fillfactor = 70);
create index idx_test_rollups_test on test_rollups (repo, test_id, day);

-- A test flaked on a commit: it passed and failed on it (within a report, or across reports of
-- the commit's runs and attempts). One row per test and commit, refreshed whenever a report of
-- that commit is attached.
create table test_flakes (
    repo        text        not null,
    test_id     bigint      not null,
    commit_ref  text        not null,
    first_seen  timestamptz not null,
    last_seen   timestamptz not null,
    primary key (repo, test_id, commit_ref)
);
create index idx_test_flakes_seen on test_flakes (last_seen);
create index idx_test_flakes_test on test_flakes (repo, test_id, first_seen);

-- Tests to skip or ignore in CI, per repository. Entered by people (API, dashboard) or by the
-- auto-quarantine rule.
create table test_quarantine (
    repo       text        not null,
    test_id    bigint      not null references test_names (id),
    reason     text,
    created_by text        not null,
    created_at timestamptz not null default now(),
    primary key (repo, test_id)
);

-- Re-runs (attempts after the first) are few: flaky runs and jobs (a failed attempt, then a
-- passing one of the same run and commit) are found from them.
create index idx_runs_reruns on pipeline_runs (repo, workflow, run_at) where attempt > 1;
