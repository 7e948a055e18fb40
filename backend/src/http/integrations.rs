//! `/api/integrations`: Slack and generic webhook destinations (admin), and
//! `/api/integrations/by-uid/{uid}` for the operator. Secrets are write-only: sealed at rest, never
//! returned, shown as a masked hint.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use cicd_monitor_crds::IntegrationSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState, OperatorAuth};
use crate::alerting::integrations::Integrations;
use crate::alerting::owned;
use crate::db::integrations::{self as db, IntegrationRow};
use crate::db::notifications;
use crate::domain::owner::{K8sRef, Owner};
use crate::error::{ApiResult, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, replace, remove))
        .routes(routes!(upsert_k8s, remove_k8s))
}

/// A new or replaced integration: a name and its spec (secrets given by `value`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntegrationBody {
    #[schema(example = "slack-payments")]
    pub name: String,
    /// The `Integration` custom resource's spec, e.g.
    /// `{"type": "Slack", "slack": {"webhookUrl": {"value": "https://hooks.slack.com/services/…"}}}`.
    #[schema(schema_with = super::openapi::integration_spec)]
    pub spec: IntegrationSpec,
}

/// The operator's upsert: the resource's namespace and name, and its spec with secrets resolved.
#[derive(Debug, Deserialize, ToSchema)]
pub struct K8sIntegrationBody {
    pub namespace: String,
    pub name: String,
    #[schema(schema_with = super::openapi::integration_spec)]
    pub spec: IntegrationSpec,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationInfo {
    pub id: i64,
    pub name: String,
    /// `slack` or `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The spec without secret values.
    #[schema(schema_with = super::openapi::integration_spec)]
    pub spec: IntegrationSpec,
    /// The URL, masked (`https://hooks.slack.com/…/a1b2`).
    pub url_hint: String,
    /// `api`, `kubernetes` (read-only here) or `env` (`SLACK_WEBHOOK_URL`).
    #[schema(value_type = String)]
    pub source: Owner,
    pub kubernetes: Option<K8sRef>,
    pub status: IntegrationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationStatus {
    /// False after a permanent delivery error (e.g. Slack's `no_service`) until a later success.
    pub healthy: bool,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Notifications waiting in the outbox.
    pub pending: i64,
}

fn info(row: IntegrationRow, pending: i64) -> IntegrationInfo {
    let healthy = match (row.last_error_at, row.last_success_at) {
        (Some(e), Some(s)) => s > e,
        (Some(_), None) => false,
        _ => true,
    };
    IntegrationInfo {
        kubernetes: row.k8s(),
        id: row.id,
        name: row.name,
        kind: row.kind,
        spec: row.spec.0,
        url_hint: row.url_hint,
        source: row.source,
        status: IntegrationStatus {
            healthy,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            last_success_at: row.last_success_at,
            pending,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn integrations(state: &AppState) -> Integrations<'_> {
    Integrations {
        pool: &state.pool,
        secret_box: state.secret_box.as_ref(),
        guard: &state.outbox.guard,
    }
}

/// Create an integration.
#[utoipa::path(post, path = "/integrations", tag = "alerting", request_body = IntegrationBody,
    responses((status = 201, body = IntegrationInfo), (status = 400, body = ErrorBody), (status = 409, description = "Name taken, or no CICD_SECRET_KEY", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<(StatusCode, Json<IntegrationInfo>)> {
    let row = integrations(&state).create(who, &body.name, &body.spec).await?;
    Ok((StatusCode::CREATED, Json(info(row, 0))))
}

/// List integrations, with their delivery status (never their secrets).
#[utoipa::path(get, path = "/integrations", tag = "alerting",
    responses((status = 200, body = Vec<IntegrationInfo>)),
    security(("bearer" = ["admin"])))]
async fn list(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Vec<IntegrationInfo>>> {
    let pending = notifications::pending_counts(&state.pool).await?;
    let rows = db::list(&state.pool).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                let n = pending.iter().find(|(i, _)| *i == r.id).map_or(0, |(_, n)| *n);
                info(r, n)
            })
            .collect(),
    ))
}

/// One integration.
#[utoipa::path(get, path = "/integrations/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationInfo),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn get_one(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<Json<IntegrationInfo>> {
    let row = owned::get::<IntegrationRow>(&state.pool, id).await?;
    let pending = notifications::pending_count(&state.pool, id).await?;
    Ok(Json(info(row, pending)))
}

/// Replace an integration. Secrets are never read back; one left out (`{}` or an empty `value`)
/// keeps the stored secret, so renaming or changing a channel needs no URL.
#[utoipa::path(put, path = "/integrations/{id}", tag = "alerting", params(("id" = i64, Path)), request_body = IntegrationBody,
    responses((status = 200, body = IntegrationInfo),
              (status = 404, body = ErrorBody), (status = 409, description = "Owned by Kubernetes or the environment", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn replace(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Json<IntegrationInfo>> {
    let row = integrations(&state)
        .replace(who, id, &body.name, body.spec)
        .await?;
    let pending = notifications::pending_count(&state.pool, id).await?;
    Ok(Json(info(row, pending)))
}

/// Delete an integration (its undelivered notifications go with it).
#[utoipa::path(delete, path = "/integrations/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = ErrorBody), (status = 409, description = "Owned by Kubernetes or the environment", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn remove(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    integrations(&state).remove(who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or update the integration of an `Integration` resource (the operator).
#[utoipa::path(put, path = "/integrations/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    request_body = K8sIntegrationBody,
    responses((status = 200, body = IntegrationInfo),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn upsert_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<K8sIntegrationBody>,
) -> ApiResult<Json<IntegrationInfo>> {
    let row = integrations(&state)
        .upsert_k8s(who, &uid, &body.namespace, &body.name, &body.spec)
        .await?;
    let pending = notifications::pending_count(&state.pool, row.id).await?;
    Ok(Json(info(row, pending)))
}

/// Delete the integration of an `Integration` resource; `404` when there is none (already gone).
#[utoipa::path(delete, path = "/integrations/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn remove_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    integrations(&state).remove_k8s(who, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
