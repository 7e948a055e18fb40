//! Queries on `webhook_sources` and `webhook_deliveries`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

/// A webhook source as listed by the API: never its secret.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct SourceInfo {
    pub id: i64,
    #[schema(example = "github")]
    pub provider: String,
    #[schema(example = "acme-org")]
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, FromRow)]
pub struct SealedSource {
    pub id: i64,
    pub provider: String,
    pub name: String,
    pub secret_sealed: Vec<u8>,
}

pub async fn insert(
    db: impl sqlx::PgExecutor<'_>,
    provider: &str,
    name: &str,
    sealed: &[u8],
) -> sqlx::Result<SourceInfo> {
    sqlx::query_as!(
        SourceInfo,
        "insert into webhook_sources (provider, name, secret_sealed) values ($1, $2, $3) \
         returning id, provider, name, created_at, last_used_at",
        provider,
        name,
        sealed,
    )
    .fetch_one(db)
    .await
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<SourceInfo>> {
    sqlx::query_as!(
        SourceInfo,
        "select id, provider, name, created_at, last_used_at from webhook_sources order by provider, name"
    )
    .fetch_all(pool)
    .await
}

/// Deletes a source; its provider and name, or `None` when there is no such source.
pub async fn delete(db: impl sqlx::PgExecutor<'_>, id: i64) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query!(
        "delete from webhook_sources where id = $1 returning provider, name",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.provider, r.name)))
}

pub async fn all_sealed(pool: &PgPool) -> sqlx::Result<Vec<SealedSource>> {
    sqlx::query_as!(
        SealedSource,
        "select id, provider, name, secret_sealed from webhook_sources"
    )
    .fetch_all(pool)
    .await
}

pub async fn touch(pool: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update webhook_sources set last_used_at = now() where id = $1",
        id
    )
    .execute(pool)
    .await
    .map(drop)
}

/// Remembers deliveries, `(provider, delivery id)`; returns those recorded now (the others were
/// recorded before: repeats).
pub async fn record_deliveries(
    db: impl sqlx::PgExecutor<'_>,
    deliveries: &[(&str, &str)],
) -> sqlx::Result<Vec<(String, String)>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let (providers, ids): (Vec<&str>, Vec<&str>) = deliveries.iter().copied().unzip();
    sqlx::query_as(
        "insert into webhook_deliveries (provider, delivery_id) \
         select * from unnest($1::text[], $2::text[]) on conflict do nothing \
         returning provider, delivery_id",
    )
    .bind(providers)
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Forgets deliveries older than a week; returns how many.
pub async fn prune_deliveries(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!("delete from webhook_deliveries where received_at < now() - interval '7 days'")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
