-- The commits of a GitHub deployment that no push covered, asked of GitHub's compare API by the
-- poller (backend/src/github_sync/compare.rs): what each deployment's attempt came to, so that it
-- is asked once, or again later only after a failure.
create table github_compares (
    deployment_id bigint primary key,
    -- The shas compared: the previous successful deployment's and this one's.
    base text not null,
    head text not null,
    -- filled: its commits were recorded (as a push from base to head); unknown: GitHub knows
    -- neither sha or no path between them (404), given up; failed: an error, asked again after
    -- not_before, a few times at most.
    outcome text not null check (outcome in ('filled', 'unknown', 'failed')),
    commits integer not null default 0,
    attempts integer not null default 1,
    not_before timestamptz,
    error text,
    updated_at timestamptz not null default now()
);
