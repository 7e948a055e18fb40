//! `GET /api/alerts` (incidents), `POST /api/alerts/{id}/ack`, `POST /api/alerts/{id}/mute` and
//! `POST /api/alerts/test` (the seed's endpoint).

use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use cicd_monitor_crds::{Severity, Span};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json as JsonBody, Path, Query};
use super::{AdminAuth, AppState, ReadAuth};
use crate::alerting::{deliver, Delivery, Notice, NoticeKind};
use crate::db::audit::{self, Action};
use crate::db::incidents::{self, Incident};
use crate::db::integrations;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(ack))
        .routes(routes!(mute))
        .routes(routes!(test))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `active` (pending and firing, the default), `firing`, `pending`, `resolved` or `all`.
    pub state: Option<String>,
    pub rule_id: Option<i64>,
    /// At most this many, newest first (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Incidents, active first then recent.
#[utoipa::path(get, path = "/alerts", tag = "alerting", params(AlertQuery),
    responses((status = 200, body = Vec<Incident>), (status = 422, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn list(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Vec<Incident>>> {
    let states: &[&str] = match q.state.as_deref().unwrap_or("active") {
        "active" => &["pending", "firing"],
        "firing" => &["firing"],
        "pending" => &["pending"],
        "resolved" => &["resolved"],
        "all" => &["pending", "firing", "resolved"],
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "state",
                "must be active, firing, pending, resolved or all",
            )]))
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "must be between 1 and 500",
        )]));
    }
    Ok(Json(
        incidents::list(&state.pool, states, q.rule_id, limit).await?,
    ))
}

async fn one(db: impl sqlx::PgExecutor<'_>, id: i64) -> ApiResult<Incident> {
    incidents::get(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident with id {id}")))
}

/// Acknowledge an incident: no more repeats while it keeps firing (resolution is still notified).
#[utoipa::path(post, path = "/alerts/{id}/ack", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = Incident),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn ack(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Incident>> {
    let mut tx = state.pool.begin().await?;
    let acked = incidents::acknowledge(&mut tx, id).await?;
    let incident = one(&mut *tx, id).await?;
    if acked {
        audit::record(&mut *tx, who, audited("incident.acknowledged", &incident, None)).await?;
    }
    tx.commit().await?;
    Ok(Json(incident))
}

/// The audit record of an acknowledgement or a mute.
fn audited<'a>(action: &'a str, incident: &'a Incident, until: Option<DateTime<Utc>>) -> Action<'a> {
    let mut detail = serde_json::json!({"rule_id": incident.rule_id, "labels": incident.labels.0});
    if let Some(until) = until {
        detail["muted_until"] = until.to_rfc3339().into();
    }
    Action::new(action, "incident", incident.id, &incident.rule_name).detail(detail)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MuteBody {
    /// Mute until this instant…
    pub until: Option<DateTime<Utc>>,
    /// …or for this long (`30m`, `4h`, `1d`).
    #[serde(rename = "for")]
    #[schema(value_type = Option<String>)]
    pub duration: Option<Span>,
}

/// Mute an incident until a time: nothing is sent for it until then.
#[utoipa::path(post, path = "/alerts/{id}/mute", tag = "alerting", params(("id" = i64, Path)), request_body = MuteBody,
    responses((status = 200, body = Incident),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn mute(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<MuteBody>,
) -> ApiResult<Json<Incident>> {
    let until = match (body.until, body.duration) {
        (Some(t), None) => t,
        (None, Some(d)) => Utc::now() + chrono::TimeDelta::seconds(d.as_secs() as i64),
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "until",
                "give either until or for",
            )]));
        }
    };
    let mut tx = state.pool.begin().await?;
    let muted = incidents::mute(&mut tx, id, until).await?;
    let incident = one(&mut *tx, id).await?;
    if muted {
        audit::record(&mut *tx, who, audited("incident.muted", &incident, Some(until))).await?;
    }
    tx.commit().await?;
    Ok(Json(incident))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestBody {
    /// The integration to test; all of them when absent.
    pub integration: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub integration: String,
    /// `sent`, `retry` (the receiver asked to try later) or `failed`.
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// Send a test message through one or every integration, now, and report each result.
#[utoipa::path(post, path = "/alerts/test", tag = "alerting", request_body = TestBody,
    responses((status = 200, body = Vec<TestResult>),
              (status = 404, body = ErrorBody), (status = 422, description = "A field of the body has the wrong type", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn test(
    State(state): State<AppState>,
    _auth: AdminAuth,
    JsonBody(body): JsonBody<TestBody>,
) -> ApiResult<Json<Vec<TestResult>>> {
    let rows = match &body.integration {
        Some(name) => integrations::by_names(&state.pool, std::slice::from_ref(name)).await?,
        None => integrations::list(&state.pool).await?,
    };
    if rows.is_empty() {
        return Err(ApiError::NotFound(match body.integration {
            Some(name) => format!("no integration named {name:?}"),
            None => "no integration is configured".into(),
        }));
    }
    let notice = Notice {
        kind: NoticeKind::Test,
        rule_id: None,
        rule_name: "test".into(),
        severity: Severity::Info,
        summary: Some("A test message from ci-cd-monitor: this integration works.".into()),
        runbook_url: None,
        condition: "test".into(),
        labels: BTreeMap::new(),
        value: None,
        threshold: None,
        incident_id: None,
        started_at: Utc::now(),
        resolved_at: None,
        run_id: None,
        run_url: None,
        dashboard_url: state.info.public_url.clone(),
        environment: state.info.environment.clone(),
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match state.outbox.target(&row) {
            Some(t) => deliver::send(&state.outbox.client, &t, &notice).await,
            None => Delivery::Permanent {
                reason: "the integration's secrets cannot be opened".into(),
            },
        };
        let (outcome, error) = match result {
            Delivery::Sent => ("sent", None),
            Delivery::Retry { reason, .. } => ("retry", Some(reason)),
            Delivery::Permanent { reason } => ("failed", Some(reason)),
        };
        out.push(TestResult {
            integration: row.name,
            outcome,
            error,
        });
    }
    Ok(Json(out))
}
