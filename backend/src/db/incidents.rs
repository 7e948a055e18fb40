//! Queries on `alert_incidents`: the incident state machine's steps (see `alerting::incidents`),
//! the incident list of `GET /api/alerts`, acknowledgements and mutes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;

use crate::db::notify;

/// An incident as `GET /api/alerts` shows it.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Incident {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    #[schema(value_type = String)]
    pub severity: String,
    /// `pending`, `firing` or `resolved`.
    pub state: String,
    /// The group: repo / workflow / branch.
    #[schema(value_type = Object)]
    pub labels: Json<BTreeMap<String, String>>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub firing_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub muted_until: Option<DateTime<Utc>>,
    /// The runs that caused it, newest first.
    pub run_ids: Vec<String>,
}

/// The open (pending or firing) incident of a (rule, group), as the state machine reads it.
#[derive(Debug, FromRow)]
pub struct OpenIncident {
    pub id: i64,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub last_notified_at: Option<DateTime<Utc>>,
    pub repeats: i32,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub muted_until: Option<DateTime<Utc>>,
    pub run_ids: Vec<String>,
}

/// What a new incident starts with.
pub struct NewIncident<'a> {
    pub rule_id: i64,
    pub group_key: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub run_ids: &'a [String],
}

/// Takes the (rule, group) advisory lock for the rest of the transaction.
pub async fn lock_group(conn: &mut PgConnection, rule_id: i64, group_key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock($1::int4, hashtext($2))",
        rule_id as i32,
        group_key,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The open incident of a (rule, group), locked for update.
pub async fn open_for_update(
    conn: &mut PgConnection,
    rule_id: i64,
    group_key: &str,
) -> sqlx::Result<Option<OpenIncident>> {
    sqlx::query_as!(
        OpenIncident,
        "select id, state, started_at, last_notified_at, repeats, acknowledged_at, muted_until, run_ids \
         from alert_incidents where rule_id = $1 and group_key = $2 and state <> 'resolved' for update",
        rule_id,
        group_key,
    )
    .fetch_optional(conn)
    .await
}

/// Opens a pending incident; returns its id.
pub async fn insert_pending(conn: &mut PgConnection, new: &NewIncident<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into alert_incidents (rule_id, group_key, labels, state, value, threshold, started_at, run_ids) \
         values ($1, $2, $3, 'pending', $4, $5, $6, $7) returning id",
        new.rule_id,
        new.group_key,
        Json(new.labels) as _,
        new.value,
        new.threshold,
        new.started_at,
        new.run_ids,
    )
    .fetch_one(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from alert_incidents where id = $1", id,)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn resolve(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    value: Option<f64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update alert_incidents set state = 'resolved', resolved_at = $2, value = $3, updated_at = $2 \
         where id = $1",
        id,
        now,
        value,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Moves a pending incident to firing.
pub async fn fire(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    run_ids: &[String],
) -> sqlx::Result<()> {
    sqlx::query!(
        "update alert_incidents set state = 'firing', firing_at = $2, last_notified_at = $2, run_ids = $3, \
             updated_at = $2 where id = $1",
        id,
        now,
        run_ids,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Records the latest measurement.
pub async fn update_value(
    conn: &mut PgConnection,
    id: i64,
    value: Option<f64>,
    threshold: Option<f64>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update alert_incidents set value = $2, threshold = $3, updated_at = $4 where id = $1",
        id,
        value,
        threshold,
        now,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Adds a further failed run to a firing incident, notified now.
pub async fn add_run(conn: &mut PgConnection, id: i64, run: &str, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "update alert_incidents set run_ids = array_append(run_ids, $2), last_notified_at = $3 where id = $1",
        id,
        run,
        now,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Counts a repeated notification, sent now.
pub async fn repeated(
    conn: &mut PgConnection,
    id: i64,
    repeats: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update alert_incidents set repeats = $2, last_notified_at = $3 where id = $1",
        id,
        repeats,
        now,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Incidents firing now, across rules.
pub async fn count_firing(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from alert_incidents where state = 'firing'"#)
        .fetch_one(db)
        .await
}

/// The groups of a rule's open incidents: `(group_key, labels)`.
pub async fn open_groups(
    db: impl PgExecutor<'_>,
    rule_id: i64,
) -> sqlx::Result<Vec<(String, Json<BTreeMap<String, String>>)>> {
    let rows = sqlx::query!(
        r#"select group_key, labels as "labels: Json<BTreeMap<String, String>>"
           from alert_incidents where rule_id = $1 and state <> 'resolved'"#,
        rule_id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.group_key, r.labels)).collect())
}

/// Incidents in one of `states` (of one rule, when given): active first, then newest.
pub async fn list(
    db: impl PgExecutor<'_>,
    states: &[&str],
    rule_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as!(
        Incident,
        r#"select i.id, i.rule_id, a.name as rule_name,
               coalesce(a.spec ->> 'severity', 'warning') as "severity!", i.state,
               i.labels as "labels: Json<BTreeMap<String, String>>", i.value, i.threshold,
               i.started_at, i.firing_at, i.resolved_at, i.acknowledged_at, i.muted_until, i.run_ids
           from alert_incidents i join alerts a on a.id = i.rule_id
           where i.state = any($1) and ($2::int8 is null or i.rule_id = $2)
           order by (i.state = 'resolved'), coalesce(i.resolved_at, i.started_at) desc, i.id desc limit $3"#,
        states as _,
        rule_id,
        limit,
    )
    .fetch_all(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as!(
        Incident,
        r#"select i.id, i.rule_id, a.name as rule_name,
               coalesce(a.spec ->> 'severity', 'warning') as "severity!", i.state,
               i.labels as "labels: Json<BTreeMap<String, String>>", i.value, i.threshold,
               i.started_at, i.firing_at, i.resolved_at, i.acknowledged_at, i.muted_until, i.run_ids
           from alert_incidents i join alerts a on a.id = i.rule_id where i.id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await
}

/// Acknowledges an incident not acknowledged yet, announcing it on [`notify::INCIDENTS`] (at commit);
/// whether it did.
pub async fn acknowledge(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "with acked as (update alert_incidents set acknowledged_at = now() \
             where id = $1 and acknowledged_at is null returning id, rule_id, state) \
         select pg_notify($2, json_build_object('id', id, 'rule_id', rule_id, 'state', state, \
             'change', 'acknowledged')::text) from acked",
        id,
        notify::INCIDENTS,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Mutes an incident until `until`, announcing it on [`notify::INCIDENTS`] (at commit); whether it exists.
pub async fn mute(conn: &mut PgConnection, id: i64, until: DateTime<Utc>) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "with muted as (update alert_incidents set muted_until = $2 where id = $1 returning id, rule_id, state) \
         select pg_notify($3, json_build_object('id', id, 'rule_id', rule_id, 'state', state, \
             'change', 'muted')::text) from muted",
        id,
        until,
        notify::INCIDENTS,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes incidents resolved before 30 days ago that no pending notification refers to.
pub async fn prune_resolved(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from alert_incidents where state = 'resolved' and resolved_at < now() - interval '30 days' \
         and not exists (select 1 from notifications n where n.incident_id = alert_incidents.id \
             and n.status = 'pending')",
    )
    .execute(db)
    .await?
    .rows_affected())
}
