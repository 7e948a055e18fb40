//! Queries on `alerts` (alert rules).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};

use cicd_monitor_crds::AlertRuleSpec;

use crate::domain::owner::{K8sRef, Owner, Ownership};

#[derive(Debug, Clone)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub spec: Json<AlertRuleSpec>,
    pub enabled: bool,
    pub last_triggered: Option<DateTime<Utc>>,
    pub source: Owner,
    pub k8s_uid: Option<String>,
    pub k8s_namespace: Option<String>,
    pub k8s_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incidents of the rule currently firing.
    pub firing: i64,
}

impl RuleRow {
    pub fn k8s(&self) -> Option<K8sRef> {
        K8sRef::from_columns(&self.k8s_uid, &self.k8s_namespace, &self.k8s_name)
    }
}

/// The seed's `threshold_value`: the condition's main number (count, percent or seconds).
fn threshold_value(spec: &AlertRuleSpec) -> Option<f64> {
    use cicd_monitor_crds::Condition::*;
    match &spec.condition {
        RunFailed { .. } => None,
        ConsecutiveFailures { threshold } | QueuedJobs { threshold, .. } => Some(f64::from(*threshold)),
        FailureRate { threshold, .. }
        | JobFailureRate { threshold, .. }
        | TestFailureRate { threshold, .. }
        | ChangeFailureRate { threshold, .. } => Some(*threshold),
        Duration { threshold, .. }
        | QueueTime { threshold, .. }
        | JobQueueTime { threshold, .. }
        | JobDuration { threshold, .. }
        | LeadTime { threshold, .. } => Some(threshold.as_secs() as f64),
        DeploymentFailed { .. } => None,
        DurationRegression { percent, .. } => Some(*percent),
        NoSuccessWithin { window } | FlakyTest { window } => Some(window.as_secs() as f64),
    }
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    spec: &AlertRuleSpec,
    owner: &Ownership,
) -> sqlx::Result<i64> {
    let k8s = owner.k8s.as_ref();
    sqlx::query_scalar!(
        "insert into alerts (name, threshold_type, threshold_value, spec, enabled, source, k8s_uid, \
             k8s_namespace, k8s_name) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        name,
        spec.condition.kind(),
        threshold_value(spec),
        Json(spec) as _,
        !spec.suspend,
        owner.owner.as_str(),
        k8s.map(|k| k.uid.as_str()),
        k8s.map(|k| k.namespace.as_str()),
        k8s.map(|k| k.name.as_str()),
    )
    .fetch_one(db)
    .await
}

pub async fn update(db: impl PgExecutor<'_>, id: i64, name: &str, spec: &AlertRuleSpec) -> sqlx::Result<()> {
    sqlx::query!(
        "update alerts set name = $2, threshold_type = $3, threshold_value = $4, spec = $5, enabled = $6, \
             updated_at = now() where id = $1",
        id,
        name,
        spec.condition.kind(),
        threshold_value(spec),
        Json(spec) as _,
        !spec.suspend,
    )
    .execute(db)
    .await
    .map(drop)
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<RuleRow>> {
    sqlx::query_as!(RuleRow, r#"select a.id, a.name, a.spec as "spec: Json<AlertRuleSpec>", a.enabled, a.last_triggered,
               a.source as "source: Owner", a.k8s_uid, a.k8s_namespace, a.k8s_name, a.created_at, a.updated_at,
               (select count(*) from alert_incidents i where i.rule_id = a.id and i.state = 'firing') as "firing!"
           from alerts a where a.id = $1"#, id)
        .fetch_optional(db)
        .await
}

pub async fn by_uid(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Option<RuleRow>> {
    sqlx::query_as!(RuleRow, r#"select a.id, a.name, a.spec as "spec: Json<AlertRuleSpec>", a.enabled, a.last_triggered,
               a.source as "source: Owner", a.k8s_uid, a.k8s_namespace, a.k8s_name, a.created_at, a.updated_at,
               (select count(*) from alert_incidents i where i.rule_id = a.id and i.state = 'firing') as "firing!"
           from alerts a where a.k8s_uid = $1"#, uid)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as!(RuleRow, r#"select a.id, a.name, a.spec as "spec: Json<AlertRuleSpec>", a.enabled, a.last_triggered,
               a.source as "source: Owner", a.k8s_uid, a.k8s_namespace, a.k8s_name, a.created_at, a.updated_at,
               (select count(*) from alert_incidents i where i.rule_id = a.id and i.state = 'firing') as "firing!"
           from alerts a order by a.name"#)
        .fetch_all(db)
        .await
}

/// Rules that are evaluated (enabled).
pub async fn enabled(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<RuleRow>> {
    sqlx::query_as!(RuleRow, r#"select a.id, a.name, a.spec as "spec: Json<AlertRuleSpec>", a.enabled, a.last_triggered,
               a.source as "source: Owner", a.k8s_uid, a.k8s_namespace, a.k8s_name, a.created_at, a.updated_at,
               (select count(*) from alert_incidents i where i.rule_id = a.id and i.state = 'firing') as "firing!"
           from alerts a where a.enabled order by a.id"#)
        .fetch_all(db)
        .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query!("delete from alerts where id = $1", id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// Whether the rule still exists; while it does, `for key share` keeps a concurrent delete
/// waiting until the transaction ends.
pub async fn exists_key_share(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let found = sqlx::query_scalar!(
        r#"select 1 as "one!" from alerts where id = $1 for key share"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Records that the rule fired at `now`.
pub async fn mark_triggered(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!("update alerts set last_triggered = $2 where id = $1", id, now)
        .execute(conn)
        .await
        .map(drop)
}
