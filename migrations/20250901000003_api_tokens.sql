-- API tokens. Only a SHA-256 hash of each token is stored; `prefix` keeps the first characters so
-- that people can tell tokens apart in the UI. last_used_at is updated at most once a minute per
-- token, to keep authentication off the write path.
create table api_tokens (
    id           bigint generated always as identity primary key,
    name         text        not null check (length(name) between 1 and 100),
    scope        text        not null check (scope in ('ingest', 'read', 'admin')),
    token_hash   bytea       not null unique,
    prefix       text        not null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
