//! Queries on `github_sync_state`: per repository, the GitHub poller's ETag, last sync and backoff.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

/// What the poller remembers of a repository between passes.
#[derive(Debug, Default, FromRow)]
pub struct SyncState {
    pub etag: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
}

/// The state of `repo`; the default (nothing remembered) for a repository never synced.
pub async fn load(db: impl PgExecutor<'_>, repo: &str) -> sqlx::Result<SyncState> {
    Ok(sqlx::query_as!(
        SyncState,
        "select etag, not_before from github_sync_state where repo = $1",
        repo,
    )
    .fetch_optional(db)
    .await?
    .unwrap_or_default())
}

/// The outcome of one pass over `repo`: `synced` says whether it succeeded (then the last sync
/// time moves to now).
pub async fn save(
    db: impl PgExecutor<'_>,
    repo: &str,
    etag: Option<&str>,
    synced: bool,
    error: Option<&str>,
    not_before: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into github_sync_state as s (repo, etag, last_synced_at, last_error, not_before) \
         values ($1, $2, case when $3 then now() end, $4, $5) \
         on conflict (repo) do update set etag = excluded.etag, \
             last_synced_at = coalesce(excluded.last_synced_at, s.last_synced_at), \
             last_error = excluded.last_error, not_before = excluded.not_before, updated_at = now()",
        repo,
        etag,
        synced,
        error,
        not_before,
    )
    .execute(db)
    .await
    .map(drop)
}

/// Holds every request about `repo` until `not_before` (a rate limit met outside a sync pass),
/// keeping the rest of its state.
pub async fn pause(db: impl PgExecutor<'_>, repo: &str, not_before: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into github_sync_state as s (repo, not_before) values ($1, $2) \
         on conflict (repo) do update set not_before = greatest(s.not_before, excluded.not_before), \
             updated_at = now()",
    )
    .bind(repo)
    .bind(not_before)
    .execute(db)
    .await
    .map(drop)
}
