//! `POST /api/webhooks/{github,gitlab,jenkins,cdevents}`: native CI formats.
//!
//! Each receiver authenticates the delivery (GitHub: HMAC signature; GitLab: shared token;
//! Jenkins and CDEvents: an ingest token), parses it with the pure parser of its provider and
//! writes through the same group-commit writer as the generic API. A well-formed delivery with
//! nothing to record is answered `200` with `status: ignored`.
//!
//! A delivery id (GitHub's `X-GitHub-Delivery`, GitLab's `Idempotency-Key`) is recorded in the
//! commit that writes the delivery's jobs, and a delivery whose id is already recorded writes no
//! jobs and is answered `status: duplicate`. Its runs are merged again first, which changes
//! nothing (merging is idempotent) and keeps a retry after a failed write from losing them.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bearer::{authorize, authorize_token};
use super::extract::{Query, RawBody};
use super::{AppState, IngestAuth};
use crate::auth::Scope;
use crate::db;
use crate::domain::Provider;
use crate::domain::{Outcome, RunStatus};
use crate::error::{ApiResult, ErrorBody};
use crate::ingest::{cdevents, github, gitlab, jenkins, Malformed, Parsed};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(github_hook))
        .routes(routes!(gitlab_hook))
        .routes(routes!(jenkins_hook))
        .routes(routes!(cdevents_hook))
}

/// What a delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// `recorded`, `ignored` (nothing to record; see `reason`) or `duplicate` (already recorded).
    #[schema(example = "recorded")]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The runs the delivery touched.
    pub runs: Vec<RunOutcome>,
    /// How many jobs it wrote.
    pub jobs: usize,
    /// How many test results it carried (CDEvents test case runs).
    pub tests: usize,
    /// How many deployment statuses, pushes, incidents, artifacts and environments it recorded.
    pub deployments: usize,
    pub pushes: usize,
    pub incidents: usize,
    pub artifacts: usize,
    pub environments: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunOutcome {
    pub id: String,
    pub status: RunStatus,
    pub outcome: Outcome,
}

impl WebhookResponse {
    fn nothing(status: &'static str, reason: String) -> Json<Self> {
        Json(WebhookResponse {
            status,
            reason: Some(reason),
            runs: Vec::new(),
            jobs: 0,
            tests: 0,
            deployments: 0,
            pushes: 0,
            artifacts: 0,
            environments: 0,
            incidents: 0,
        })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Writes what a delivery carries and remembers its delivery id (a repeat writes no jobs).
async fn record(
    state: &AppState,
    provider: Provider,
    delivery: Option<&str>,
    source: Option<String>,
    parsed: Result<Parsed, Malformed>,
) -> ApiResult<Json<WebhookResponse>> {
    let (mut runs, jobs, tests, batch) = match parsed? {
        Parsed::Ignored(reason) => {
            tracing::debug!(provider = provider.as_str(), %reason, "webhook delivery ignored");
            return Ok(WebhookResponse::nothing("ignored", reason));
        }
        Parsed::Records {
            runs,
            jobs,
            tests,
            delivery: batch,
        } => (runs, jobs, tests, batch),
    };
    if let Some(source) = source {
        for run in &mut runs {
            if let serde_json::Value::Object(m) = &mut run.metadata {
                m.insert("webhook_source".into(), source.clone().into());
            }
        }
    }
    let written = state.writer.write_all(runs).await;
    let mut outcomes = Vec::with_capacity(written.len());
    for w in written {
        let w = w?;
        outcomes.push(RunOutcome {
            id: w.run.id,
            status: w.run.status,
            outcome: w.outcome,
        });
    }
    let job_count = jobs.len();
    let fresh = state
        .writer
        .record(jobs, delivery.map(|d| (provider.as_str(), d.to_owned())))
        .await?;
    if !fresh {
        return Ok(WebhookResponse::nothing(
            "duplicate",
            "this delivery was already recorded".into(),
        ));
    }
    if job_count > 0 {
        state.folder.wake();
    }
    let test_count = tests.len();
    if !tests.is_empty() {
        let mut tx = state.pool.begin().await?;
        for t in &tests {
            db::test_results::store(
                &mut tx,
                db::test_results::Report {
                    run_id: &t.run_id,
                    job: "",
                    digest: Sha256::digest(t.event_key.as_bytes()).into(),
                    source: db::test_results::Source::CdEvents,
                    cases: std::slice::from_ref(&t.case),
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    if !batch.is_empty() {
        // Each is idempotent: a repeated delivery changes nothing.
        crate::db::deployments::record_batch(&state.pool, &batch).await?;
    }
    Ok(Json(WebhookResponse {
        status: "recorded",
        reason: None,
        runs: outcomes,
        jobs: job_count,
        tests: test_count,
        deployments: batch.deployments.len(),
        pushes: batch.pushes.len(),
        incidents: batch.incidents.len(),
        artifacts: batch.artifacts.len(),
        environments: batch.environments.len(),
    }))
}

/// GitHub Actions webhook (`workflow_run`, `workflow_job`, `ping`).
#[utoipa::path(post, path = "/webhooks/github", tag = "webhooks",
    request_body(content = serde_json::Value, description = "A GitHub webhook delivery (JSON or form-encoded `payload=`)"),
    params(
        ("X-GitHub-Event" = String, Header, description = "workflow_run, workflow_job, ping, …"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "Delivery GUID; repeated deliveries are dropped"),
        ("X-Hub-Signature-256" = String, Header, description = "sha256= HMAC of the body under the webhook secret"),
    ),
    responses(
        (status = 200, description = "Recorded, ignored (with the reason) or a duplicate", body = WebhookResponse),
        (status = 400, description = "The body is not JSON / has no payload field", body = ErrorBody),
        (status = 401, description = "Missing or wrong signature, or no secret configured", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
async fn github_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookResponse>> {
    let body = body?;
    let source = state
        .verifier
        .github(&body, header(&headers, "x-hub-signature-256"))
        .await?;
    let delivery = header(&headers, "x-github-delivery");
    let event = header(&headers, "x-github-event").unwrap_or_default();
    let parsed = github::parse(
        event,
        header(&headers, header::CONTENT_TYPE.as_str()),
        &body,
        Utc::now(),
    );
    record(&state, Provider::Github, delivery, Some(source), parsed).await
}

/// GitLab pipeline webhook (`Pipeline Hook`, with its `builds[]` as jobs).
#[utoipa::path(post, path = "/webhooks/gitlab", tag = "webhooks",
    request_body(content = serde_json::Value, description = "A GitLab pipeline hook"),
    params(
        ("X-Gitlab-Token" = String, Header, description = "The webhook's secret token"),
        ("X-Gitlab-Event" = Option<String>, Header, description = "Pipeline Hook; other hooks are ignored"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeated deliveries are dropped"),
    ),
    responses(
        (status = 200, description = "Recorded, ignored (with the reason) or a duplicate", body = WebhookResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong token, or no token configured", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
async fn gitlab_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookResponse>> {
    let body = body?;
    let source = state.verifier.gitlab(header(&headers, "x-gitlab-token")).await?;
    let delivery = header(&headers, "idempotency-key");
    let parsed = gitlab::parse(header(&headers, "x-gitlab-event"), &body, Utc::now());
    record(&state, Provider::Gitlab, delivery, Some(source), parsed).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// An ingest token, for senders that cannot set an Authorization header (the Jenkins
    /// Notification plugin). Prefer the header where possible: URLs end up in proxies' logs.
    pub token: Option<String>,
}

/// Jenkins Notification plugin.
#[utoipa::path(post, path = "/webhooks/jenkins", tag = "webhooks", params(TokenParam),
    request_body(content = serde_json::Value, description = "A Notification plugin message (JSON)"),
    responses(
        (status = 200, description = "Recorded or ignored (with the reason)", body = WebhookResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["ingest"])))]
async fn jenkins_hook(
    State(state): State<AppState>,
    Query(q): Query<TokenParam>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookResponse>> {
    match q.token.as_deref() {
        Some(token) if !headers.contains_key(header::AUTHORIZATION) => {
            authorize_token(&state, token, Scope::Ingest).await?;
        }
        _ => {
            authorize(&headers, &state, Scope::Ingest).await?;
        }
    }
    record(
        &state,
        Provider::Jenkins,
        None,
        None,
        jenkins::parse(&body?, Utc::now()),
    )
    .await
}

/// CDEvents over CloudEvents (binary, structured or batch mode).
#[utoipa::path(post, path = "/webhooks/cdevents", tag = "webhooks",
    request_body(content = serde_json::Value, description = "CDEvents pipelinerun/taskrun events as CloudEvents"),
    responses(
        (status = 200, description = "Recorded or ignored (with the reason)", body = WebhookResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn cdevents_hook(
    State(state): State<AppState>,
    _auth: IngestAuth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookResponse>> {
    let parsed = cdevents::parse(&headers, &body?, Utc::now());
    record(&state, Provider::Cdevents, None, None, parsed).await
}
