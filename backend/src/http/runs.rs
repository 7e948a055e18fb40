//! `GET /api/runs`, `GET /api/runs/{id}` and `GET /api/filters`.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Path, Query};
use super::{AppState, ReadAuth};
use crate::db;
use crate::db::runs::{self, RunFilter};
use crate::domain::{Job, Run, RunStatus};
use crate::error::{ApiError, ApiResult, ErrorBody};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/runs", get(list))
        .route("/runs/{id}", get(get_one))
        .route("/filters", get(filters))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub branch: Option<String>,
    pub status: Option<RunStatus>,
    pub provider: Option<String>,
    /// Only runs charted at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only runs charted before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    ))
}

fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (at, id) = raw.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id.to_owned(),
    ))
}

/// Runs, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(ListParams),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<RunPage>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "limit",
            "must be between 1 and 500",
        )]));
    }
    let after = match &p.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?),
        None => None,
    };
    let filter = RunFilter {
        repo: p.repo,
        workflow: p.workflow,
        branch: p.branch,
        status: p.status,
        provider: p.provider,
        from: p.from,
        to: p.to,
    };
    let rows = runs::list(&state.pool, &filter, after, limit).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|(row, at)| encode_cursor(*at, &row.state.id)))
        .flatten();
    let runs = rows
        .into_iter()
        .map(|(row, _)| Run {
            metadata: None,
            ..row.into_run()
        })
        .collect();
    Ok(Json(RunPage { runs, next_cursor }))
}

/// A run with its raw metadata and its jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    /// Jobs (with steps), in the order they were queued; empty when the provider sends none.
    pub jobs: Vec<Job>,
    /// Every attempt of this run (this one included), first first; empty without a `run_key`.
    /// A failed attempt followed by a successful one is a run fixed by re-running it.
    pub attempts: Vec<runs::Attempt>,
}

/// One run with its raw metadata and jobs. Ids may contain `/` (`github:owner/repo:123:1`):
/// percent-encode it as `%2F`.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = RunDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    let row = runs::get(&state.pool, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run with id {id}")))?;
    let jobs = db::jobs::of_run(&state.pool, &id).await?;
    let attempts = match &row.state.run_key {
        Some(key) => runs::attempts(&state.pool, key).await?,
        None => Vec::new(),
    };
    Ok(Json(RunDetail {
        run: row.into_run(),
        jobs,
        attempts,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowRef {
    pub repo: String,
    pub workflow: String,
}

/// Everything seen, for the dashboard's selectors.
#[derive(Debug, Serialize, ToSchema)]
pub struct Filters {
    pub providers: Vec<String>,
    pub repos: Vec<String>,
    pub workflows: Vec<WorkflowRef>,
    pub branches: Vec<String>,
}

/// Known providers, repos, workflows and branches.
#[utoipa::path(get, path = "/api/filters", tag = "runs",
    responses((status = 200, body = Filters), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn filters(State(state): State<AppState>, _auth: ReadAuth) -> ApiResult<Json<Filters>> {
    let dims = runs::dimensions(&state.pool).await?;
    let mut providers = BTreeSet::new();
    let mut repos = BTreeSet::new();
    let mut workflows = BTreeSet::new();
    let mut branches = BTreeSet::new();
    for d in dims {
        providers.insert(d.provider);
        repos.insert(d.repo.clone());
        workflows.insert((d.repo, d.workflow));
        if !d.branch.is_empty() {
            branches.insert(d.branch);
        }
    }
    Ok(Json(Filters {
        providers: providers.into_iter().collect(),
        repos: repos.into_iter().collect(),
        workflows: workflows
            .into_iter()
            .map(|(repo, workflow)| WorkflowRef { repo, workflow })
            .collect(),
        branches: branches.into_iter().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::parse_from_rfc3339("2025-08-27T06:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = encode_cursor(at, "run|with|bars");
        assert_eq!(decode_cursor(&c), Some((at, "run|with|bars".to_owned())));
        assert_eq!(decode_cursor("not a cursor"), None);
    }
}
