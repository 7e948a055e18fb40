-- CDEvents artifact and environment events (backend/src/delivery/cdevents.rs).

-- An artifact, by its id (a package URL), and the change it was built from: a deployment that
-- names the artifact but no commit ships that change. `artifact.packaged` names the change;
-- `artifact.published` may come alone, and then only says when.
create table artifacts (
    id text primary key,
    repo text,
    sha text,
    packaged_at timestamptz,
    published_at timestamptz,
    updated_at timestamptz not null default now()
);
create index artifacts_updated on artifacts (updated_at);

-- An environment that a source announced (`environment.created/modified/deleted`), by the id
-- its deployment events name it with: deployments are recorded under its name. The latest event
-- (by when the source sent it) wins.
create table environments (
    source text not null,
    external_id text not null,
    name text not null,
    url text,
    deleted_at timestamptz,
    changed_at timestamptz not null,
    updated_at timestamptz not null default now(),
    primary key (source, external_id)
);
create index environments_deleted on environments (deleted_at) where deleted_at is not null;
