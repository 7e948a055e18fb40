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
use super::integrations::api_owned;
use super::{AdminAuth, AppState, OperatorAuth, ReadAuth};
use crate::alerting::selector::Matcher;
use crate::db::audit::{self, Action};
use crate::db::integrations::{self as integrations, K8sRef, Owner};
use crate::db::rules::{self as db, RuleRow};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

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
    pub source: String,
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

/// Checks what the types cannot: ranges, globs, and that the integrations exist.
async fn validate(state: &AppState, name: &str, spec: &AlertRuleSpec) -> ApiResult<()> {
    let mut errors: Vec<FieldError> = Vec::new();
    if name.trim().is_empty() || name.chars().count() > 253 {
        errors.push(FieldError::new("name", "must be 1 to 253 characters"));
    }
    for (field, message) in spec.condition.problems() {
        errors.push(FieldError::new(format!("spec.{field}"), message));
    }
    if let Err(problems) = Matcher::new(&spec.selector) {
        errors.extend(
            problems
                .into_iter()
                .map(|(f, m)| FieldError::new(format!("spec.{f}"), m)),
        );
    }
    let n = &spec.notify;
    if n.group_wait.as_secs() > 86_400 {
        errors.push(FieldError::new("spec.notify.groupWait", "must be at most 1d"));
    }
    if n.repeat_interval.as_secs() < 60 {
        errors.push(FieldError::new(
            "spec.notify.repeatInterval",
            "must be at least 1m",
        ));
    }
    let names: Vec<String> = n.integrations.iter().map(|i| i.name.clone()).collect();
    let known = integrations::by_names(&state.pool, &names).await?;
    for (i, wanted) in names.iter().enumerate() {
        if !known.iter().any(|k| &k.name == wanted) {
            errors.push(FieldError::new(
                format!("spec.notify.integrations[{i}].name"),
                format!("no integration named {wanted:?}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The audit record of a change to a rule: its condition and severity, not its whole spec.
fn audited<'a>(action: &'a str, id: i64, name: &'a str, spec: &AlertRuleSpec, source: &str) -> Action<'a> {
    Action::new(action, "alert_rule", id, name).detail(serde_json::json!({
        "source": source,
        "condition": spec.condition.kind(),
        "severity": spec.severity,
        "enabled": !spec.suspend,
    }))
}

async fn fetch(state: &AppState, id: i64) -> ApiResult<RuleRow> {
    db::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert rule with id {id}")))
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
    validate(&state, &body.name, &body.spec).await?;
    let name = body.name.trim();
    let mut tx = state.pool.begin().await?;
    let id = db::insert(&mut *tx, name, &body.spec, &Owner::api()).await?;
    audit::record(
        &mut *tx,
        who,
        audited("alert_rule.created", id, name, &body.spec, "api"),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(info(fetch(&state, id).await?))))
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
    Ok(Json(info(fetch(&state, id).await?)))
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
    let row = fetch(&state, id).await?;
    api_owned(&row.source, row.k8s(), "alert rule")?;
    validate(&state, &body.name, &body.spec).await?;
    let name = body.name.trim();
    let mut tx = state.pool.begin().await?;
    db::update(&mut *tx, id, name, &body.spec).await?;
    audit::record(
        &mut *tx,
        who,
        audited("alert_rule.updated", id, name, &body.spec, "api"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(info(fetch(&state, id).await?)))
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
    let row = fetch(&state, id).await?;
    api_owned(&row.source, row.k8s(), "alert rule")?;
    let mut tx = state.pool.begin().await?;
    if db::delete(&mut *tx, id).await? {
        audit::record(
            &mut *tx,
            who,
            audited("alert_rule.deleted", id, &row.name, &row.spec.0, "api"),
        )
        .await?;
    }
    tx.commit().await?;
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
    let name = format!("{}/{}", body.namespace, body.name);
    validate(&state, &name, &body.spec).await?;
    let mut tx = state.pool.begin().await?;
    let (id, action) = match db::by_uid(&mut *tx, &uid).await? {
        Some(row) => {
            db::update(&mut *tx, row.id, &name, &body.spec).await?;
            // The operator re-applies unchanged resources on every resync: only changes are recorded.
            let changed = row.name != name || row.spec.0 != body.spec;
            (row.id, changed.then_some("alert_rule.updated"))
        }
        None => {
            let owner = Owner::kubernetes(uid, body.namespace, body.name);
            let id = db::insert(&mut *tx, &name, &body.spec, &owner).await?;
            (id, Some("alert_rule.created"))
        }
    };
    if let Some(action) = action {
        audit::record(
            &mut *tx,
            who,
            audited(action, id, &name, &body.spec, "kubernetes"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(info(fetch(&state, id).await?)))
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
    let row = db::by_uid(&state.pool, &uid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert rule with uid {uid}")))?;
    let mut tx = state.pool.begin().await?;
    if db::delete(&mut *tx, row.id).await? {
        let what = audited("alert_rule.deleted", row.id, &row.name, &row.spec.0, "kubernetes");
        audit::record(&mut *tx, who, what).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
