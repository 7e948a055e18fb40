//! `/api/integrations`: Slack and generic webhook destinations (admin), and
//! `/api/integrations/by-uid/{uid}` for the operator. Secrets are write-only: sealed at rest, never
//! returned, shown as a masked hint.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cicd_monitor_crds::{IntegrationSpec, IntegrationType, SecretValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState, OperatorAuth};
use crate::auth::Principal;
use crate::db::audit::{self, Action};
use crate::db::integrations::{self as db, IntegrationRow, K8sRef, NewIntegration, Owner};
use crate::db::notifications;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integrations", get(list).post(create))
        .route("/integrations/{id}", get(get_one).put(replace).delete(remove))
        .route("/integrations/by-uid/{uid}", put(upsert_k8s).delete(remove_k8s))
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
    pub source: String,
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

pub fn info(row: IntegrationRow, pending: i64) -> IntegrationInfo {
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

/// The secrets an integration keeps sealed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Secrets {
    pub url: String,
    pub hmac_secret: Option<String>,
}

/// `https://hooks.slack.com/services/T0/B0/XXXX` → `https://hooks.slack.com/…/XXXX`.
pub fn mask(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split('/').next().unwrap_or_default();
    let tail: String = rest
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{scheme}://{host}/…/{tail}")
}

fn secret(v: Option<&SecretValue>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match v {
        Some(SecretValue { value: Some(v), .. }) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        Some(SecretValue {
            secret_key_ref: Some(_),
            ..
        }) => {
            errors.push(FieldError::new(
                field,
                "secretKeyRef is resolved by the operator; through the API give the value",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

fn http_url(url: &str, field: &str, errors: &mut Vec<FieldError>) {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => errors.push(FieldError::new(field, "must be an http(s) URL")),
    }
}

/// Validates a spec and splits it into what is stored in clear and the sealed secrets.
pub fn prepare(name: &str, spec: &IntegrationSpec) -> Result<(IntegrationSpec, Secrets), ApiError> {
    let mut errors = Vec::new();
    if name.trim().is_empty() || name.chars().count() > 253 {
        errors.push(FieldError::new("name", "must be 1 to 253 characters"));
    }
    let mut clear = spec.clone();
    let secrets = match spec.kind {
        IntegrationType::Slack => {
            let url = secret(
                spec.slack.as_ref().map(|s| &s.webhook_url),
                "spec.slack.webhookUrl",
                &mut errors,
            );
            if let Some(u) = &url {
                http_url(u, "spec.slack.webhookUrl", &mut errors);
            }
            if let Some(s) = &mut clear.slack {
                s.webhook_url.value = None;
            }
            clear.webhook = None;
            url.map(|url| Secrets {
                url,
                hmac_secret: None,
            })
        }
        IntegrationType::Webhook => {
            let w = spec.webhook.as_ref();
            let url = secret(w.map(|w| &w.url), "spec.webhook.url", &mut errors);
            if let Some(u) = &url {
                http_url(u, "spec.webhook.url", &mut errors);
            }
            let hmac_secret = match w.and_then(|w| w.hmac_secret.as_ref()) {
                Some(h) => secret(Some(h), "spec.webhook.hmacSecret", &mut errors),
                None => None,
            };
            if let Some(w) = &mut clear.webhook {
                w.url.value = None;
                if let Some(h) = &mut w.hmac_secret {
                    h.value = None;
                }
            }
            clear.slack = None;
            url.map(|url| Secrets { url, hmac_secret })
        }
    };
    match secrets {
        Some(s) if errors.is_empty() => Ok((clear, s)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Fills the secrets a replacement leaves out from the stored ones (same type only).
fn keep_secrets(state: &AppState, row: &IntegrationRow, spec: &mut IntegrationSpec) {
    if row.kind != kind_of(spec) {
        return;
    }
    let Some(old) = opened(state, row) else {
        return;
    };
    let fill = |v: &mut SecretValue, old: Option<&String>| {
        let missing = v.value.as_deref().is_none_or(|s| s.trim().is_empty());
        if missing && v.secret_key_ref.is_none() {
            v.value = old.cloned();
        }
    };
    if let Some(s) = &mut spec.slack {
        fill(&mut s.webhook_url, Some(&old.url));
    }
    if let Some(w) = &mut spec.webhook {
        fill(&mut w.url, Some(&old.url));
        if let Some(h) = &mut w.hmac_secret {
            fill(h, old.hmac_secret.as_ref());
        }
    }
}

fn kind_of(spec: &IntegrationSpec) -> &'static str {
    match spec.kind {
        IntegrationType::Slack => "slack",
        IntegrationType::Webhook => "webhook",
    }
}

/// Stores an integration and records the change in the audit log, in one transaction. An update
/// that changes nothing (the operator re-applying a resource) is not recorded.
async fn write(
    state: &AppState,
    who: Option<Principal>,
    existing: Option<i64>,
    name: &str,
    spec: &IntegrationSpec,
    owner: &Owner,
) -> ApiResult<IntegrationRow> {
    let (clear, secrets) = prepare(name, spec)?;
    let sealed = state
        .secret_box
        .as_ref()
        .ok_or_else(|| {
            ApiError::Conflict("storing integrations needs CICD_SECRET_KEY to be set on the server".into())
        })?
        .seal(&serde_json::to_vec(&secrets).map_err(|e| ApiError::Internal(e.into()))?);
    let new = NewIntegration {
        name: name.trim(),
        kind: kind_of(spec),
        spec: &clear,
        sealed: &sealed,
        url_hint: &mask(&secrets.url),
    };
    let mut tx = state.pool.begin().await?;
    let (row, action) = match existing {
        Some(id) => {
            let old = db::get(&mut *tx, id).await?;
            let row = db::update(&mut *tx, id, &new).await?;
            let same = old.is_some_and(|o| {
                o.name == row.name
                    && o.spec.0 == clear
                    && opened(state, &o).is_some_and(|old| same(&old, &secrets))
            });
            (row, (!same).then_some("integration.updated"))
        }
        None => (
            db::insert(&mut *tx, &new, owner).await?,
            Some("integration.created"),
        ),
    };
    if let Some(action) = action {
        audit::record(&mut *tx, who, audited(action, &row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The audit record of a change: the type, owner and masked address, never a secret.
fn audited<'a>(action: &'a str, row: &'a IntegrationRow) -> Action<'a> {
    Action::new(action, "integration", row.id, &row.name).detail(serde_json::json!({
        "type": row.kind,
        "source": row.source,
        "url_hint": row.url_hint,
    }))
}

/// Whether two sets of secrets are equal, compared in constant time (by hash, so that not even
/// their length shows): an admin may replace a secret but never learn it, not even from timing.
fn same(a: &Secrets, b: &Secrets) -> bool {
    let digest = |s: &Secrets| Sha256::digest(serde_json::to_vec(s).unwrap_or_default());
    bool::from(digest(a).ct_eq(&digest(b)))
}

/// The stored secrets of an integration, when they can be opened.
fn opened(state: &AppState, row: &IntegrationRow) -> Option<Secrets> {
    let plain = state.secret_box.as_ref()?.open(&row.secrets_sealed)?;
    serde_json::from_slice(&plain).ok()
}

/// Refuses changes through the API to what Kubernetes or the environment owns.
pub fn api_owned(source: &str, k8s: Option<K8sRef>, what: &str) -> ApiResult<()> {
    match (source, k8s) {
        ("api", _) => Ok(()),
        ("kubernetes", Some(k)) => Err(ApiError::Conflict(format!(
            "this {what} is managed by Kubernetes ({}/{}, uid {}); change the resource instead",
            k.namespace, k.name, k.uid
        ))),
        _ => Err(ApiError::Conflict(format!(
            "this {what} is declared by the server's environment (SLACK_WEBHOOK_URL); change it there"
        ))),
    }
}

/// Create an integration.
#[utoipa::path(post, path = "/api/integrations", tag = "alerting", request_body = IntegrationBody,
    responses((status = 201, body = IntegrationInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, description = "Name taken, or no CICD_SECRET_KEY", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<(StatusCode, Json<IntegrationInfo>)> {
    let row = write(&state, who, None, &body.name, &body.spec, &Owner::api()).await?;
    Ok((StatusCode::CREATED, Json(info(row, 0))))
}

/// List integrations, with their delivery status (never their secrets).
#[utoipa::path(get, path = "/api/integrations", tag = "alerting",
    responses((status = 200, body = Vec<IntegrationInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/api/integrations/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<Json<IntegrationInfo>> {
    let row = found(db::get(&state.pool, id).await?, id)?;
    let pending = notifications::pending_count(&state.pool, id).await?;
    Ok(Json(info(row, pending)))
}

fn found(row: Option<IntegrationRow>, id: i64) -> ApiResult<IntegrationRow> {
    row.ok_or_else(|| ApiError::NotFound(format!("no integration with id {id}")))
}

/// Replace an integration. Secrets are never read back; one left out (`{}` or an empty `value`)
/// keeps the stored secret, so renaming or changing a channel needs no URL.
#[utoipa::path(put, path = "/api/integrations/{id}", tag = "alerting", params(("id" = i64, Path)), request_body = IntegrationBody,
    responses((status = 200, body = IntegrationInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Owned by Kubernetes or the environment", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn replace(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Json<IntegrationInfo>> {
    let row = found(db::get(&state.pool, id).await?, id)?;
    api_owned(&row.source, row.k8s(), "integration")?;
    let mut spec = body.spec;
    keep_secrets(&state, &row, &mut spec);
    let row = write(&state, who, Some(id), &body.name, &spec, &Owner::api()).await?;
    let pending = notifications::pending_count(&state.pool, id).await?;
    Ok(Json(info(row, pending)))
}

/// Delete an integration (its undelivered notifications go with it).
#[utoipa::path(delete, path = "/api/integrations/{id}", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Owned by Kubernetes or the environment", body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let row = found(db::get(&state.pool, id).await?, id)?;
    api_owned(&row.source, row.k8s(), "integration")?;
    delete(&state, who, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or update the integration of an `Integration` resource (the operator).
#[utoipa::path(put, path = "/api/integrations/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    request_body = K8sIntegrationBody,
    responses((status = 200, body = IntegrationInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn upsert_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
    JsonBody(body): JsonBody<K8sIntegrationBody>,
) -> ApiResult<Json<IntegrationInfo>> {
    let name = format!("{}/{}", body.namespace, body.name);
    let owner = Owner::kubernetes(uid.clone(), body.namespace, body.name);
    let existing = db::by_uid(&state.pool, &uid).await?.map(|r| r.id);
    let row = write(&state, who, existing, &name, &body.spec, &owner).await?;
    let pending = notifications::pending_count(&state.pool, row.id).await?;
    Ok(Json(info(row, pending)))
}

/// Delete the integration of an `Integration` resource; `404` when there is none (already gone).
#[utoipa::path(delete, path = "/api/integrations/by-uid/{uid}", tag = "alerting", params(("uid" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn remove_k8s(
    State(state): State<AppState>,
    OperatorAuth(who): OperatorAuth,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    let row = db::by_uid(&state.pool, &uid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no integration with uid {uid}")))?;
    delete(&state, who, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(state: &AppState, who: Option<Principal>, row: &IntegrationRow) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    if db::delete(&mut *tx, row.id).await? {
        audit::record(&mut *tx, who, audited("integration.deleted", row)).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_to_host_and_last_characters() {
        assert_eq!(
            mask("https://hooks.slack.com/services/T000/B000/XXXXabcd"),
            "https://hooks.slack.com/…/abcd"
        );
    }

    #[test]
    fn specs_are_split_into_clear_and_sealed_parts() {
        let spec: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Webhook",
            "webhook": {"url": {"value": "https://example.com/hook"}, "hmacSecret": {"value": "k"}}
        }))
        .unwrap();
        let (clear, secrets) = prepare("w", &spec).unwrap();
        assert_eq!(secrets.url, "https://example.com/hook");
        assert_eq!(secrets.hmac_secret.as_deref(), Some("k"));
        let clear = serde_json::to_string(&clear).unwrap();
        assert!(
            !clear.contains("example.com") && !clear.contains("\"k\""),
            "{clear}"
        );

        let by_ref: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Slack", "slack": {"webhookUrl": {"secretKeyRef": {"name": "s", "key": "url"}}}
        }))
        .unwrap();
        assert!(matches!(prepare("s", &by_ref), Err(ApiError::Validation(_))));
        let not_http: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Slack", "slack": {"webhookUrl": {"value": "file:///etc/passwd"}}
        }))
        .unwrap();
        assert!(matches!(prepare("s", &not_http), Err(ApiError::Validation(_))));
    }
}
