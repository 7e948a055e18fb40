//! Queries on `api_tokens`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, PgPool};
use utoipa::ToSchema;

/// A token as listed by the API: never the secret, never its hash.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    #[schema(example = "ingest")]
    pub scope: String,
    /// The first characters of the token, to tell tokens apart.
    #[schema(example = "cicd_3kTq9")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    scope: &str,
    hash: &[u8],
    prefix: &str,
) -> sqlx::Result<TokenInfo> {
    sqlx::query_as!(
        TokenInfo,
        "insert into api_tokens (name, scope, token_hash, prefix) values ($1, $2, $3, $4) \
         returning id, name, scope, prefix, created_at, last_used_at, revoked_at",
        name,
        scope,
        hash,
        prefix,
    )
    .fetch_one(db)
    .await
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<TokenInfo>> {
    sqlx::query_as!(
        TokenInfo,
        "select id, name, scope, prefix, created_at, last_used_at, revoked_at from api_tokens order by id",
    )
    .fetch_all(pool)
    .await
}

/// Revokes a token; its listing, or `None` when no live token has that id.
pub async fn revoke(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<TokenInfo>> {
    sqlx::query_as!(
        TokenInfo,
        "update api_tokens set revoked_at = now() where id = $1 and revoked_at is null \
         returning id, name, scope, prefix, created_at, last_used_at, revoked_at",
        id,
    )
    .fetch_optional(db)
    .await
}

/// The id and scope of the live token with this hash.
pub async fn find_live(pool: &PgPool, hash: &[u8]) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query!(
        "select id, scope from api_tokens where token_hash = $1 and revoked_at is null",
        hash,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.scope)))
}

/// Marks a token used, at most once a minute (a no-op write is skipped by the where clause).
pub async fn touch(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update api_tokens set last_used_at = now() \
         where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        id,
    )
    .execute(pool)
    .await?;
    Ok(())
}
