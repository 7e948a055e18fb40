//! `GET /api/jobs`, `/api/jobs/timeseries`, `/api/runners`, `/api/runners/timeseries` and
//! `/api/usage`: where CI time and money go; `/api/branches/health`: how long branches stay red
//! (see [`crate::insight`]).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Query, ReadDb};
use super::{AppState, ReadAuth};
use crate::db;
use crate::error::{ApiResult, ErrorBody};
use crate::insight::{
    self, BranchHealthList, BranchHealthParams, JobList, JobSeries, JobsParams, RunnerSeries, Runners,
    RunnersParams, SeriesParams, Usage, UsageParams,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jobs))
        .routes(routes!(job_series))
        .routes(routes!(runners))
        .routes(routes!(runner_series))
        .routes(routes!(usage))
        .routes(routes!(branch_health))
}

/// Branches with how long they took to turn green after a failure (p50, p95), the share of the
/// window they were red and their longest red spell; default branches first.
#[utoipa::path(get, path = "/branches/health", tag = "dashboard", params(BranchHealthParams),
    responses(
        (status = 200, body = BranchHealthList),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window, filter or limit out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn branch_health(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<BranchHealthParams>,
) -> ApiResult<Json<BranchHealthList>> {
    Ok(Json(
        insight::branch_health(&read, &params, chrono::Utc::now()).await?,
    ))
}

/// Jobs (a job name in a repository's workflow) with their runs, failure rate, duration and
/// queue-time percentiles, billable minutes and cost, beside the period before.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobsParams),
    responses(
        (status = 200, body = JobList),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window, filter or page out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn jobs(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<JobsParams>,
) -> ApiResult<Json<JobList>> {
    let settings = db::settings::load(&state.pool).await?;
    Ok(Json(
        insight::jobs(&read, &state.tile_cache, &params, &settings, chrono::Utc::now()).await?,
    ))
}

/// One job over time (by `repo`, `workflow` and `job`), and its slowest executions.
#[utoipa::path(get, path = "/jobs/timeseries", tag = "jobs", params(SeriesParams),
    responses(
        (status = 200, body = JobSeries),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "No job named, or window out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn job_series(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<SeriesParams>,
) -> ApiResult<Json<JobSeries>> {
    let settings = db::settings::load(&state.pool).await?;
    Ok(Json(
        insight::job_series(&read, &params, &settings, chrono::Utc::now()).await?,
    ))
}

/// Runner pools (label sets): jobs queued and running now, queue time and concurrency over the
/// window, and the job waiting longest.
#[utoipa::path(get, path = "/runners", tag = "jobs", params(RunnersParams),
    responses(
        (status = 200, body = Runners),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn runners(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<RunnersParams>,
) -> ApiResult<Json<Runners>> {
    let settings = db::settings::load(&state.pool).await?;
    Ok(Json(
        insight::runners(
            &read,
            &state.tile_cache,
            &params,
            &settings,
            state.stale_after,
            chrono::Utc::now(),
        )
        .await?,
    ))
}

/// One label set's queue time, jobs and concurrency over time.
#[utoipa::path(get, path = "/runners/timeseries", tag = "jobs", params(SeriesParams),
    responses(
        (status = 200, body = RunnerSeries),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "No label set, or window out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn runner_series(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<SeriesParams>,
) -> ApiResult<Json<RunnerSeries>> {
    let settings = db::settings::load(&state.pool).await?;
    Ok(Json(
        insight::runner_series(&read, &params, &settings, chrono::Utc::now()).await?,
    ))
}

/// The answer's format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Format {
    /// `json` (default) or `csv` (one line per group and day).
    #[param(inline)]
    format: Option<UsageFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum UsageFormat {
    Json,
    Csv,
}

/// Billable minutes and cost per repository, workflow or label set, per day and in total,
/// beside the period before.
#[utoipa::path(get, path = "/usage", tag = "jobs", params(UsageParams, Format),
    responses(
        (status = 200, description = "JSON, or CSV with `format=csv`",
         content((Usage = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn usage(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<UsageParams>,
    Query(format): Query<Format>,
) -> ApiResult<Response> {
    let settings = db::settings::load(&state.pool).await?;
    let usage = insight::usage(&read, &state.tile_cache, &params, &settings, chrono::Utc::now()).await?;
    Ok(match format.format {
        Some(UsageFormat::Csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"usage.csv\""),
            ],
            insight::usage_csv(&usage),
        )
            .into_response(),
        _ => Json(usage).into_response(),
    })
}
