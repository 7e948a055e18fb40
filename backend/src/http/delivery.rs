//! Deployments and incidents in production: `POST /api/deployments`, `POST /api/incidents` (and
//! their `/batch` forms), `GET /api/deployments`, `GET /api/incidents` and the DORA keys,
//! `GET /api/dora`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{body_limit, Query, RawBody, ReadDb};
use super::{AppState, IngestAuth, ReadAuth, MAX_BATCH_BODY};
use crate::dashboard::{Grain, TimeWindow};
use crate::db::deployments::{self as store, Filter, Scope};
use crate::delivery::dora;
use crate::delivery::generic::{self, GenericDeployment, GenericIncident};
use crate::delivery::{Batch, DeploymentKind, DeploymentStatus, Production};
use crate::domain::limits::{filter_errors, MAX_JSON_DEPTH, MAX_PAGE};
use crate::domain::settings::ChangeFailureCause;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail, FieldError};

/// Most deployments or incidents in one batch.
pub const MAX_BATCH: usize = 1000;
/// Most commits a listed deployment shows (`commit_count` has them all).
const COMMITS_SHOWN: i64 = 100;

/// The ingest routes (rate-limited as the other receivers are).
pub fn ingest_router() -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(post_deployments))
        .routes(routes!(post_incidents))
        .layer(body_limit(MAX_BATCH_BODY));
    OpenApiRouter::new()
        .routes(routes!(post_deployment))
        .routes(routes!(post_incident))
        .merge(batch)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deployments))
        .routes(routes!(list_incidents))
        .routes(routes!(dora))
}

/// What recording one deployment status or incident did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recorded {
    /// The deployment's (or incident's) id here.
    pub id: i64,
    /// Whether it was new.
    pub created: bool,
}

/// The result of one item of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBatchItem {
    /// Position of the item in the request.
    pub index: usize,
    /// The status code the item would have had on its own.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Recorded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBatchResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<DeliveryBatchItem>,
}

impl From<store::Recorded> for Recorded {
    fn from(r: store::Recorded) -> Self {
        Recorded {
            id: r.id,
            created: r.created,
        }
    }
}

fn answer(r: Recorded) -> Response {
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(r)).into_response()
}

/// Record one status of a deployment. Statuses with the same `id` describe one deployment, in
/// any order: its status is the latest. Repeating a status changes nothing.
#[utoipa::path(post, path = "/deployments", tag = "delivery",
    request_body(content = GenericDeployment, description = "A deployment status in the generic format"),
    responses(
        (status = 201, description = "A new deployment was recorded", body = Recorded),
        (status = 200, description = "A known deployment was updated (or the status was a repeat)", body = Recorded),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = ErrorBody),
        (status = 503, description = "Database unavailable; retry", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn post_deployment(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let event = generic::deployment(generic::one(&body?)?, "", Utc::now())?;
    let batch = Batch {
        deployments: vec![event],
        ..Batch::default()
    };
    let outcome = store::record_batch(&state.pool, &batch).await?;
    Ok(answer(outcome.deployments[0].into()))
}

/// Record one incident in production, or update it (posted again with the same `id`, e.g. with
/// `resolved_at`).
#[utoipa::path(post, path = "/incidents", tag = "delivery",
    request_body(content = GenericIncident, description = "An incident in the generic format"),
    responses(
        (status = 201, description = "A new incident was recorded", body = Recorded),
        (status = 200, description = "A known incident was updated", body = Recorded),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = ErrorBody),
        (status = 503, description = "Database unavailable; retry", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn post_incident(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let event = generic::incident(generic::one(&body?)?, "")?;
    let batch = Batch {
        incidents: vec![event],
        ..Batch::default()
    };
    let outcome = store::record_batch(&state.pool, &batch).await?;
    Ok(answer(outcome.incidents[0].into()))
}

/// The items of a batch body: an array of 1 to [`MAX_BATCH`] values.
fn batch_items(body: &[u8]) -> ApiResult<Vec<serde_json::Value>> {
    // Each item may nest as deeply as a single one; the array adds a level.
    let serde_json::Value::Array(items) = generic::value(body, MAX_JSON_DEPTH + 1)? else {
        return Err(ApiError::BadRequest("the body must be a JSON array".into()));
    };
    if items.is_empty() {
        return Err(ApiError::BadRequest("the batch is empty".into()));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {MAX_BATCH} items per batch, got {}",
            items.len()
        )));
    }
    Ok(items)
}

/// A batch body read item by item: the valid items (with their positions) and, for each
/// position, the error of an invalid one.
struct Validated<T> {
    errors: Vec<Option<DeliveryBatchItem>>,
    indices: Vec<usize>,
    items: Vec<T>,
}

fn validate<T>(
    body: &[u8],
    parse: impl Fn(serde_json::Value, &str) -> Result<T, crate::ingest::generic::Error>,
) -> ApiResult<Validated<T>> {
    let mut v = Validated {
        errors: Vec::new(),
        indices: Vec::new(),
        items: Vec::new(),
    };
    for (index, item) in batch_items(body)?.into_iter().enumerate() {
        v.errors.push(match parse(item, &format!("[{index}].")) {
            Ok(item) => {
                v.indices.push(index);
                v.items.push(item);
                None
            }
            Err(e) => failed(index, e.into()),
        });
    }
    Ok(v)
}

/// The answer to a batch: the valid items are recorded together (in one transaction), the
/// others answered with their errors.
fn batch_response(
    mut results: Vec<Option<DeliveryBatchItem>>,
    recorded: impl IntoIterator<Item = (usize, Recorded)>,
) -> DeliveryBatchResponse {
    for (index, r) in recorded {
        let status = if r.created { 201 } else { 200 };
        results[index] = Some(DeliveryBatchItem {
            index,
            status,
            result: Some(r),
            error: None,
        });
    }
    let results: Vec<DeliveryBatchItem> = results.into_iter().flatten().collect();
    let accepted = results.iter().filter(|r| r.result.is_some()).count();
    DeliveryBatchResponse {
        accepted,
        rejected: results.len() - accepted,
        results,
    }
}

fn failed(index: usize, e: ApiError) -> Option<DeliveryBatchItem> {
    Some(DeliveryBatchItem {
        index,
        status: e.status().as_u16(),
        result: None,
        error: Some(e.body().error),
    })
}

/// Record up to 1,000 deployment statuses; each is validated on its own, and the valid ones are
/// recorded together.
#[utoipa::path(post, path = "/deployments/batch", tag = "delivery",
    request_body(content = Vec<serde_json::Value>, description = "A JSON array of 1 to 1,000 deployment statuses, each a `GenericDeployment` validated on its own (its result says how it fared)"),
    responses(
        (status = 200, description = "One result per item, in request order", body = DeliveryBatchResponse),
        (status = 400, description = "Malformed JSON, not an array, or empty", body = ErrorBody),
        (status = 413, description = "More than 1,000 items, or body over 10 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable; nothing was written", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn post_deployments(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Json<DeliveryBatchResponse>> {
    let now = Utc::now();
    let v = validate(&body?, |item, path| generic::deployment(item, path, now))?;
    let batch = Batch {
        deployments: v.items,
        ..Batch::default()
    };
    let outcome = store::record_batch(&state.pool, &batch).await?;
    let recorded = v
        .indices
        .into_iter()
        .zip(outcome.deployments.into_iter().map(Recorded::from));
    Ok(Json(batch_response(v.errors, recorded)))
}

/// Record up to 1,000 incidents; each is validated on its own, and the valid ones are recorded
/// together.
#[utoipa::path(post, path = "/incidents/batch", tag = "delivery",
    request_body(content = Vec<serde_json::Value>, description = "A JSON array of 1 to 1,000 incidents, each a `GenericIncident` validated on its own (its result says how it fared)"),
    responses(
        (status = 200, description = "One result per item, in request order", body = DeliveryBatchResponse),
        (status = 400, description = "Malformed JSON, not an array, or empty", body = ErrorBody),
        (status = 413, description = "More than 1,000 items, or body over 10 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable; nothing was written", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn post_incidents(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Json<DeliveryBatchResponse>> {
    let v = validate(&body?, generic::incident)?;
    let batch = Batch {
        incidents: v.items,
        ..Batch::default()
    };
    let outcome = store::record_batch(&state.pool, &batch).await?;
    let recorded = v
        .indices
        .into_iter()
        .zip(outcome.incidents.into_iter().map(Recorded::from));
    Ok(Json(batch_response(v.errors, recorded)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(max_length = 255)]
    pub service: Option<String>,
    #[param(max_length = 255)]
    pub environment: Option<String>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    pub status: Option<DeploymentStatus>,
    /// Only the environments that count as production (the `production_environments` setting).
    pub production: Option<bool>,
    /// Only those created (deployments) or started (incidents) at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only those created (started) before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Incidents only: `true` for those not resolved, `false` for those resolved.
    pub open: Option<bool>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl ListParams {
    /// The filter, page size and position these parameters ask for, or each bad one named.
    async fn read(&self, pool: &sqlx::PgPool) -> ApiResult<(Filter, i64, Option<(DateTime<Utc>, i64)>)> {
        let limit = self.limit.unwrap_or(50);
        let mut errors = filter_errors([
            ("service", &self.service),
            ("environment", &self.environment),
            ("repo", &self.repo),
        ]);
        if !(1..=MAX_PAGE).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f > t {
                errors.push(FieldError::new("from", "must not be after to"));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let after = match &self.cursor {
            Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?),
            None => None,
        };
        let production = match self.production {
            Some(true) => {
                let settings = crate::db::settings::load(pool).await?;
                Some(Production::new(settings.production_environments).like_patterns())
            }
            _ => None,
        };
        let filter = Filter {
            service: self.service.clone(),
            environment: self.environment.clone(),
            repo: self.repo.clone(),
            status: self.status.map(|s| s.as_str().to_owned()),
            production,
            from: self.from,
            to: self.to,
        };
        Ok((filter, limit, after))
    }
}

/// A page boundary: `base64url("<time>|<id>")`. Opaque to clients.
fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    ))
}

fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, i64)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (at, id) = raw.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// A commit a deployment shipped first to its environment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippedCommit {
    pub sha: String,
    pub committed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    /// From the commit (or, when its time is unknown, its merge) to the deployment's success.
    pub lead_seconds: Option<f64>,
}

/// A deployment with the commits it shipped and the incidents linked to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deployment {
    pub id: i64,
    /// Where it came from (`github`, `gitlab`, `cdevents`, `generic`) and its id there.
    pub source: String,
    pub external_id: String,
    pub service: String,
    pub environment: String,
    pub repo: Option<String>,
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub creator: Option<String>,
    /// The run that made it (`GET /api/runs/{id}`).
    pub run_id: Option<String>,
    pub artifact: Option<String>,
    #[schema(value_type = DeploymentKind)]
    pub kind: String,
    #[schema(value_type = DeploymentStatus)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// When it succeeded or failed.
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub description: Option<String>,
    /// How many commits it shipped first to its environment.
    pub commit_count: i64,
    /// Those commits, the longest lead time first (at most 100).
    pub commits: Vec<ShippedCommit>,
    pub incidents: Vec<store::IncidentRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentPage {
    pub deployments: Vec<Deployment>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Deployments, newest first, with their commits, run and incidents.
#[utoipa::path(get, path = "/deployments", tag = "delivery", params(ListParams),
    responses((status = 200, body = DeploymentPage), (status = 400, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn list_deployments(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<DeploymentPage>> {
    let (filter, limit, after) = p.read(&read).await?;
    let rows = store::list(&read, &filter, after, limit).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut commits: HashMap<i64, Vec<ShippedCommit>> = HashMap::new();
    for c in store::commits_of(&read, &ids, COMMITS_SHOWN).await? {
        commits.entry(c.deployment_id).or_default().push(ShippedCommit {
            sha: c.sha,
            committed_at: c.committed_at,
            merged_at: c.merged_at,
            lead_seconds: c.lead_seconds,
        });
    }
    let mut incidents: HashMap<i64, Vec<store::IncidentRow>> = HashMap::new();
    for i in store::incidents_of(&read, &ids).await? {
        if let Some(d) = i.deployment_id {
            incidents.entry(d).or_default().push(i);
        }
    }
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| encode_cursor(r.created_at, r.id)))
        .flatten();
    let deployments = rows
        .into_iter()
        .map(|r| Deployment {
            id: r.id,
            source: r.source,
            external_id: r.external_id,
            service: r.service,
            environment: r.environment,
            repo: r.repo,
            sha: r.sha,
            git_ref: r.git_ref,
            creator: r.creator,
            run_id: r.run_id,
            artifact: r.artifact,
            kind: r.kind,
            status: r.status,
            created_at: r.created_at,
            finished_at: r.finished_at,
            url: r.url,
            description: r.description,
            commit_count: r.commit_count,
            commits: commits.remove(&r.id).unwrap_or_default(),
            incidents: incidents.remove(&r.id).unwrap_or_default(),
        })
        .collect();
    Ok(Json(DeploymentPage {
        deployments,
        next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductionIncidentPage {
    pub incidents: Vec<store::IncidentRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Incidents in production, latest started first.
#[utoipa::path(get, path = "/incidents", tag = "delivery", params(ListParams),
    responses((status = 200, body = ProductionIncidentPage), (status = 400, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn list_incidents(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<ProductionIncidentPage>> {
    let (filter, limit, after) = p.read(&read).await?;
    let rows = store::incidents(&read, &filter, p.open, after, limit).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| encode_cursor(r.started_at, r.id)))
        .flatten();
    Ok(Json(ProductionIncidentPage {
        incidents: rows,
        next_cursor,
    }))
}

/// Query parameters of `GET /api/dora`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DoraParams {
    /// Only this service (default: every service).
    #[param(max_length = 255)]
    pub service: Option<String>,
    /// Only this environment (default: every production environment, as the
    /// `production_environments` setting names them).
    #[param(max_length = 255)]
    pub environment: Option<String>,
    /// Start of the window (RFC 3339). Default: 30 days before `to`. Rounded down to the hour.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now. Rounded up to the hour.
    pub to: Option<DateTime<Utc>>,
    /// The series' periods: `day` (the default up to 90 days) or `week`.
    #[param(inline)]
    pub group_by: Option<DoraGrain>,
    /// IANA time zone whose local midnight starts each day and week (from Monday); default `UTC`.
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
}

/// The periods of the DORA series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DoraGrain {
    Day,
    Week,
}

/// The four DORA keys of a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dora {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tz: String,
    pub group_by: DoraGrain,
    pub service: Option<String>,
    /// The environment asked for; null for the production environments.
    pub environment: Option<String>,
    /// The production environments (names or globs) when `environment` is null.
    pub production_environments: Vec<String>,
    /// The causes that make a change failed (the `change_failure_causes` setting).
    #[schema(value_type = Vec<ChangeFailureCause>)]
    pub change_failure_causes: Vec<ChangeFailureCause>,
    /// The edition of the DORA report whose performance clusters the bands are.
    pub bands_edition: &'static str,
    /// Successful deployments per day (`per_week` as well).
    pub deployment_frequency: dora::Key,
    /// Seconds from commit (or merge) to the successful deployment that shipped it: p50 (`value`)
    /// and `p95`.
    pub lead_time_for_changes: dora::Key,
    /// The share of deployments that were failed changes.
    pub change_failure_rate: dora::Key,
    /// Seconds from a failure to its restoration: p50 (`value`) and `p95`.
    pub time_to_restore: dora::Key,
}

/// The four DORA keys (deployment frequency, lead time for changes, change failure rate and time to
/// restore) of a service or of all, with their bands, the previous period and a series.
#[utoipa::path(get, path = "/dora", tag = "delivery", params(DoraParams),
    responses(
        (status = 200, body = Dora),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window or filter out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn dora(_auth: ReadAuth, ReadDb(read): ReadDb, Query(p): Query<DoraParams>) -> ApiResult<Json<Dora>> {
    let errors = filter_errors([("service", &p.service), ("environment", &p.environment)]);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // An empty filter is no filter, as on the other figures.
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let (service, environment) = (non_empty(p.service), non_empty(p.environment));
    let now = Utc::now();
    let to = p.to.unwrap_or(now);
    let from = p.from.unwrap_or(to - chrono::TimeDelta::days(DORA_DAYS));
    let window = TimeWindow::parse(Some(from), Some(to), p.tz.as_deref(), now)?;
    let group_by = p
        .group_by
        .unwrap_or(if window.to - window.from > chrono::TimeDelta::days(90) {
            DoraGrain::Week
        } else {
            DoraGrain::Day
        });
    let settings = crate::db::settings::load(&read).await?;
    let scope = Scope {
        service: service.clone(),
        environment: environment.clone(),
        production: Production::new(settings.production_environments.clone()).like_patterns(),
    };
    let input = store::dora_input(&read, &scope, window.from, window.to).await?;
    let keys = dora::keys(
        &input,
        &dora::Window {
            from: window.from,
            to: window.to,
            grain: match group_by {
                DoraGrain::Day => Grain::Day,
                DoraGrain::Week => Grain::Week,
            },
            tz: window.tz,
        },
        &settings.change_failure_causes,
    );
    Ok(Json(Dora {
        from: window.from,
        to: window.to,
        tz: window.tz.name().to_owned(),
        group_by,
        service,
        production_environments: if environment.is_none() {
            settings.production_environments
        } else {
            Vec::new()
        },
        environment,
        change_failure_causes: settings.change_failure_causes,
        bands_edition: dora::BANDS_EDITION,
        deployment_frequency: keys.deployment_frequency,
        lead_time_for_changes: keys.lead_time_for_changes,
        change_failure_rate: keys.change_failure_rate,
        time_to_restore: keys.time_to_restore,
    }))
}

/// The default window of `GET /api/dora`, in days.
const DORA_DAYS: i64 = 30;
