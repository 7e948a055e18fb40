-- The DORA keys and branch health.
--
-- The keys read production deployments by the time they finished, each with the lead times of
-- the commits it shipped (kept sorted on the deployment by the writer), so that a year of them is
-- read from one index range without visiting deployment_commits.
alter table deployments add column lead_seconds float8[];
create index deployments_finished on deployments (finished_at) where finished_at is not null;
create index deployments_service_finished on deployments (service, finished_at) where finished_at is not null;

-- Each repository's default branch, as its forge last reported it (pushes carry it).
create table repositories (
    repo text primary key,
    default_branch text not null,
    updated_at timestamptz not null default now()
);

-- A deployment cancelled before it reached its environment (GitLab `canceled`, `skipped`): it
-- ended, neither as a success nor as a failed change.
alter table deployments drop constraint deployments_status_check,
    add constraint deployments_status_check check (status in
        ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive', 'cancelled'));
alter table deployment_statuses drop constraint deployment_statuses_status_check,
    add constraint deployment_statuses_status_check check (status in
        ('queued', 'in_progress', 'success', 'failure', 'error', 'inactive', 'cancelled'));
