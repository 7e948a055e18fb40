//! Queries on `notifications`: the outbox of alert notifications, one row per incident,
//! integration and kind, delivered by `alerting::outbox`.

use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use crate::domain::notice::Notice;
use crate::domain::owner::Owner;

/// A notification waiting to be sent.
#[derive(Debug)]
pub struct Pending {
    pub id: i64,
    pub notice: Json<Notice>,
    pub attempts: i32,
}

/// Enqueues `notice` for each integration named in `integrations` — or, when it names none, the
/// environment's one — once per incident, integration and kind; a resolution only for the
/// integrations that send them. Returns how many rows it added.
pub async fn enqueue(
    conn: &mut PgConnection,
    incident: i64,
    kind: &str,
    notice: &Notice,
    integrations: &[String],
    resolved: bool,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "insert into notifications (incident_id, integration_id, kind, notice) \
         select $1, i.id, $2, $3 from integrations i \
         where (i.name = any($4) or (cardinality($4) = 0 and i.source = $6)) \
             and (not $5 or coalesce((i.spec ->> 'sendResolved')::boolean, true)) \
         order by i.id on conflict do nothing",
        incident,
        kind,
        Json(notice) as _,
        integrations,
        resolved,
        Owner::Env.as_str(),
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// The oldest pending notification of an integration, locked for update.
pub async fn oldest_pending(conn: &mut PgConnection, integration_id: i64) -> sqlx::Result<Pending> {
    sqlx::query_as!(
        Pending,
        r#"select id, notice as "notice: Json<Notice>", attempts from notifications
           where integration_id = $1 and status = 'pending' order by id limit 1 for update"#,
        integration_id,
    )
    .fetch_one(conn)
    .await
}

/// Records an attempt: `status` is `pending` (to retry), `sent` or `failed`.
pub async fn record_attempt(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    attempts: i32,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update notifications set status = $2, attempts = $3, last_error = $4, \
             sent_at = case when $2 = 'sent' then now() end where id = $1",
        id,
        status,
        attempts,
        error,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Pending notifications of one integration.
pub async fn pending_count(db: impl PgExecutor<'_>, integration_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from notifications where integration_id = $1 and status = 'pending'"#,
        integration_id,
    )
    .fetch_one(db)
    .await
}

/// Pending notifications per integration: `(integration_id, count)`.
pub async fn pending_counts(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"select integration_id, count(*) as "count!" from notifications where status = 'pending' group by 1"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.integration_id, r.count)).collect())
}

/// Deletes delivered or failed notifications created before 30 days ago.
pub async fn prune(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from notifications where status <> 'pending' and created_at < now() - interval '30 days'",
    )
    .execute(db)
    .await?
    .rows_affected())
}
