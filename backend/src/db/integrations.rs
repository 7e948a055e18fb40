//! Queries on `integrations`.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use cicd_monitor_crds::IntegrationSpec;

use crate::domain::owner::{K8sRef, Owner, Ownership};

#[derive(Debug, Clone)]
pub struct IntegrationRow {
    pub id: i64,
    pub name: String,
    /// The `type` column: `slack` or `webhook`.
    pub kind: String,
    pub spec: Json<IntegrationSpec>,
    pub secrets_sealed: Vec<u8>,
    pub url_hint: String,
    pub source: Owner,
    pub k8s_uid: Option<String>,
    pub k8s_namespace: Option<String>,
    pub k8s_name: Option<String>,
    pub next_send_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IntegrationRow {
    pub fn k8s(&self) -> Option<K8sRef> {
        K8sRef::from_columns(&self.k8s_uid, &self.k8s_namespace, &self.k8s_name)
    }
}

/// What is written: the spec without secret values, the sealed secrets and a masked hint.
pub struct NewIntegration<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub spec: &'a IntegrationSpec,
    pub sealed: &'a [u8],
    pub url_hint: &'a str,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewIntegration<'_>,
    owner: &Ownership,
) -> sqlx::Result<IntegrationRow> {
    let k8s = owner.k8s.as_ref();
    sqlx::query_as!(
        IntegrationRow,
        r#"insert into integrations (name, type, spec, secrets_sealed, url_hint, source, k8s_uid,
               k8s_namespace, k8s_name) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           returning id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at"#,
        new.name,
        new.kind,
        Json(new.spec) as _,
        new.sealed,
        new.url_hint,
        owner.owner.as_str(),
        k8s.map(|k| k.uid.as_str()),
        k8s.map(|k| k.namespace.as_str()),
        k8s.map(|k| k.name.as_str()),
    )
    .fetch_one(db)
    .await
}

pub async fn update(
    db: impl PgExecutor<'_>,
    id: i64,
    new: &NewIntegration<'_>,
) -> sqlx::Result<IntegrationRow> {
    sqlx::query_as!(
        IntegrationRow,
        r#"update integrations set name = $2, type = $3, spec = $4, secrets_sealed = $5, url_hint = $6,
               last_error = null, last_error_at = null, updated_at = now() where id = $1
           returning id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at"#,
        id,
        new.name,
        new.kind,
        Json(new.spec) as _,
        new.sealed,
        new.url_hint,
    )
    .fetch_one(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<IntegrationRow>> {
    sqlx::query_as!(
        IntegrationRow,
        r#"select id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at from integrations where id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await
}

pub async fn by_uid(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Option<IntegrationRow>> {
    sqlx::query_as!(
        IntegrationRow,
        r#"select id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at from integrations where k8s_uid = $1"#,
        uid,
    )
    .fetch_optional(db)
    .await
}

pub async fn by_names(db: impl PgExecutor<'_>, names: &[String]) -> sqlx::Result<Vec<IntegrationRow>> {
    sqlx::query_as!(
        IntegrationRow,
        r#"select id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at from integrations where name = any($1) order by id"#,
        names,
    )
    .fetch_all(db)
    .await
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<IntegrationRow>> {
    sqlx::query_as!(
        IntegrationRow,
        r#"select id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at from integrations order by name"#,
    )
    .fetch_all(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query!("delete from integrations where id = $1", id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// The integration whose send slot is due first and that has pending notifications, locked for
/// update (skipping those another worker holds); suspended integrations wait.
pub async fn next_due(conn: &mut PgConnection) -> sqlx::Result<Option<IntegrationRow>> {
    sqlx::query_as!(
        IntegrationRow,
        r#"select id, name, type as kind, spec as "spec: Json<IntegrationSpec>", secrets_sealed, url_hint,
               source as "source: Owner", k8s_uid, k8s_namespace, k8s_name, next_send_at, last_error,
               last_error_at, last_success_at, created_at, updated_at from integrations i where i.next_send_at <= now()
               and not coalesce((i.spec ->> 'suspend')::boolean, false)
               and exists (select 1 from notifications n where n.integration_id = i.id and n.status = 'pending')
           order by i.next_send_at, i.id limit 1 for update skip locked"#,
    )
    .fetch_optional(conn)
    .await
}

/// Records a delivery attempt: the next send slot, and the success or the error.
pub async fn record_delivery(
    conn: &mut PgConnection,
    id: i64,
    next_send_at: DateTime<Utc>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update integrations set next_send_at = $2, \
             last_success_at = case when $3 then now() else last_success_at end, \
             last_error = case when $3 then last_error else $4 end, \
             last_error_at = case when $3 then last_error_at else now() end where id = $1",
        id,
        next_send_at,
        error.is_none(),
        error,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Makes the integration `slack` stand for `SLACK_WEBHOOK_URL` (or removes it when unset). A
/// stored integration already named `slack` is left alone.
pub async fn sync_env_slack(db: &sqlx::PgPool, url_hint: Option<&str>) -> sqlx::Result<()> {
    match url_hint {
        None => {
            sqlx::query!("delete from integrations where source = $1", Owner::Env.as_str())
                .execute(db)
                .await?;
        }
        Some(hint) => {
            let spec = serde_json::json!({"type": "Slack", "slack": {"webhookUrl": {}}});
            sqlx::query!(
                "insert into integrations (name, type, spec, secrets_sealed, url_hint, source) \
                 values ('slack', 'slack', $1, '', $2, $3) \
                 on conflict (name) do update set url_hint = excluded.url_hint, updated_at = now() \
                 where integrations.source = $3",
                spec,
                hint,
                Owner::Env.as_str(),
            )
            .execute(db)
            .await?;
        }
    }
    Ok(())
}
