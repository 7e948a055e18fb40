-- Delivery: deployments, the commits they ship and the incidents in production that follow them,
-- from which the four DORA keys are computed (backend/src/delivery/).

-- A deployment's id says when it was first received, as a test report's does (seconds since the
-- epoch shifted left by 20 bits, plus a sequence). The backend partitions deployments by it, by
-- week, as it does runs and test results (backend/src/db/partitions.rs).
create sequence deployment_seq;
create function deployment_id() returns bigint language sql volatile as $$
    select (floor(extract(epoch from clock_timestamp()))::bigint << 20) | (nextval('deployment_seq') & 1048575)
$$;

-- A deployment's latest state, folded from its status history (deployment_statuses).
create table deployments (
    id bigint primary key default deployment_id(),
    -- Where it came from (github, gitlab, cdevents, generic) and its id there.
    source text not null,
    external_id text not null,
    repo text,
    -- The service deployed (the repository unless named) and where to.
    service text not null,
    environment text not null,
    sha text,
    ref text,
    creator text,
    -- The pipeline run that made it, and the artifact it deployed, when an event names them.
    run_id text,
    artifact text,
    kind text not null default 'deploy' check (kind in ('deploy', 'rollback', 'remove')),
    status text not null check (status in ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive')),
    -- When it was asked for, and when it reached its final status.
    created_at timestamptz not null,
    finished_at timestamptz,
    url text,
    description text,
    updated_at timestamptz not null default now()
) with (fillfactor = 90);
create index on deployments (service, environment, created_at desc);
create index on deployments (environment, created_at desc);
create index on deployments (run_id) where run_id is not null;
create index on deployments (artifact) where artifact is not null;

-- A deployment's key at its source, unique whatever the partition.
create table deployment_keys (
    source text not null,
    external_id text not null,
    deployment_id bigint not null,
    primary key (source, external_id)
);

-- Every status a deployment reported, received in any order; the latest is its status.
create table deployment_statuses (
    deployment_id bigint not null,
    status text not null check (status in ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive')),
    at timestamptz not null,
    description text,
    primary key (deployment_id, at, status)
);

-- Pushes (GitHub and GitLab push hooks) and merges (CDEvents change.merged): which commits
-- reached a ref and when. A deployment's commits are found by walking its pushes back from its sha
-- to the sha deployed before it.
create table pushes (
    repo text not null,
    ref text not null,
    before text,
    after text not null,
    pushed_at timestamptz not null,
    primary key (repo, after, ref)
);
create table commits (
    repo text not null,
    sha text not null,
    -- When it was written, and when it reached a branch (pushed or merged).
    committed_at timestamptz,
    merged_at timestamptz,
    -- The push that brought it (that push's `after`).
    pushed_in text,
    primary key (repo, sha)
);
create index on commits (repo, pushed_in) where pushed_in is not null;

-- The commits a successful deployment shipped to its environment first, with their lead time
-- (from commit, or merge, to the deployment's success).
create table deployment_commits (
    deployment_id bigint not null,
    repo text not null,
    sha text not null,
    lead_seconds float8,
    -- Listed by the deployment itself (then only those are its commits).
    listed boolean not null default false,
    primary key (deployment_id, repo, sha)
);

-- Incidents in production (CDEvents incident.*, POST /api/incidents); not this product's own
-- alert incidents (alert_incidents).
create table incidents (
    id bigint generated always as identity primary key,
    source text not null,
    external_id text not null,
    service text not null,
    environment text,
    -- The deployment it names (its id at the incident's source; linked when that deployment is
    -- recorded, before or after), or the artifact it names. When it names neither, it is linked
    -- to the last successful deployment of its service before it started, and `link` says so.
    named_deployment text,
    artifact text,
    deployment_id bigint,
    link text check (link in ('named', 'inferred')),
    title text,
    url text,
    started_at timestamptz not null,
    resolved_at timestamptz,
    updated_at timestamptz not null default now(),
    unique (source, external_id)
);
create index on incidents (service, started_at desc);
create index on incidents (deployment_id) where deployment_id is not null;
create index on incidents (source, named_deployment) where named_deployment is not null;
