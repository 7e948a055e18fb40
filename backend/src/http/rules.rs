//! `/api/alert-rules`: alert rules (admin), and `/api/alert-rules/by-uid/{uid}` for the operator.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use cicd_monitor_crds::AlertRuleSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState, OperatorAuth, ReadAuth};
use crate::alerting::rules;
use crate::db::rules::{self as db, RuleRow};
use crate::domain::owner::{K8sRef, Owner};
use crate::error::{ApiResult, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, replace, remove))
        .routes(routes!(upsert_k8s, remove_k8s))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleBody {
    #[schema(example = "main-is-red")]
    pub name: String,
    /// The `AlertRule` custom resource's spec, e.g.
    /// `{"match": {"repo": "org/*", "branches": ["main"]}, "condition": {"type": "ConsecutiveFailures",
    /// "threshold": 3}, "severity": "critical", "notify": {"integrations": [{"name": "slack"}]}}`.
    #[schema(schema_with = super::openapi::alert_rule_spec)]
    pub spec: AlertRuleSpec,
}

/// The operator's upsert; integration names in the spec are those of the backend (`namespace/name`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct K8sRuleBody {
    pub namespace: String,
    pub name: String,
    #[schema(schema_with = super::openapi::alert_rule_spec)]
    pub spec: AlertRuleSpec,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleInfo {
    pub id: i64,
    pub name: String,
    #[schema(schema_with = super::openapi::alert_rule_spec)]
    pub spec: AlertRuleSpec,
    pub enabled: bool,
    /// `api` or `kubernetes` (read-only here).
    #[schema(value_type = String)]
    pub source: Owner,
    pub kubernetes: Option<K8sRef>,
    /// Groups firing now.
    pub firing: i64,
    pub last_triggered: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn info(r: RuleRow) -> RuleInfo {
    RuleInfo {
        kubernetes: r.k8s(),
        id: r.id,
        name: r.name,
        spec: r.spec.0,
        enabled: r.enabled,
        source: r.source,
        firing: r.firing,
        last_triggered: r.last_triggered,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Create an alert rule.
#[utoipa::path(post, path = "/alert-rules", tag = "alerting", request_body = RuleBody,
    responses((status = 201, body = RuleInfo), (status = 400, body = ErrorBody), (status = 409, description = "Name taken", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<(StatusCode, Json<RuleInfo>)> {
    let row = rules::create(&state.pool, who, &body.name, &body.spec).await?;
    Ok((StatusCode::CREATED, Json(info(row))))
}

/// List alert rules, with how many groups each has firing.
#[utoipa::path(get, path = "/alert-rules", tag = "alerting",
    responses((status = 200, body = Vec<RuleInfo>)),
    security((), ("bearer" = ["read"])))]
async fn list(State(state): State<AppState>, _auth: ReadAuth) -> ApiResult<Json<Vec<RuleInfo>>> {
    Ok(Json(db::list(&state.pool).await?.into_iter().map(info).collect()))
}

/// One alert rule.
#[utoipa::path(get, path = "/alert-rules/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = RuleInfo), (status = 404, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn get_one(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Path(id): Path<i64>,
) -> ApiResult<Json<RuleInfo>> {
    Ok(Json(info(rules::get(&state.pool, id).await?)))
}

/// Replace an alert rule.
#[utoipa::path(put, path = "/alert-rules/{id}", tag = "alerting", params(("id" = i64, Path)), request_body = RuleBody,
    responses((status = 200, body = RuleInfo),
              (status = 404, body = ErrorBody), (status = 409, description = "Managed by Kubernetes", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn replace(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<Json<RuleInfo>> {
    let row = rules::replace(&state.pool, who, id, &body.name, &body.spec).await?;
    Ok(Json(info(row)))
}

/// Delete an alert rule (its incidents and pending notifications go with it).
#[utoipa::path(delete, path = "/alert-rules/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = ErrorBody), (status = 409, description = "Managed by Kubernetes", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn remove(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    rules::remove(&state.pool, who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or update the rule of an `AlertRule` resource (the operator).
#[utoipa::path(put, path = "/alert-rules/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    request_body = K8sRuleBody,
    responses((status = 200, body = RuleInfo),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn upsert_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<K8sRuleBody>,
) -> ApiResult<Json<RuleInfo>> {
    let row = rules::upsert_k8s(&state.pool, who, &uid, &body.namespace, &body.name, &body.spec).await?;
    Ok(Json(info(row)))
}

/// Delete the rule of an `AlertRule` resource; `404` when there is none (already gone).
#[utoipa::path(delete, path = "/alert-rules/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn remove_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    rules::remove_k8s(&state.pool, who, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
