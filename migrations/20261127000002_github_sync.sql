-- State of the GitHub Actions API poller, per repository: the ETag of the last first page (a
-- conditional request answered 304 costs no rate limit), when it last succeeded, its last error,
-- and when the API allows the next request after a rate limit.
create table github_sync_state (
    repo             text primary key,
    etag             text,
    last_synced_at   timestamptz,
    last_error       text,
    not_before       timestamptz,
    updated_at       timestamptz not null default now()
);
