//! `GET /api/runs`, `GET /api/runs/{id}` and `GET /api/filters`.

use std::collections::BTreeSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Path, Query, ReadDb};
use super::{AppState, ReadAuth};
use crate::db;
use crate::db::runs::{self, RunFilter, RunSort, SortKey};
use crate::domain::limits::{filter_errors, MAX_PAGE, MAX_WINDOW_DAYS};
use crate::domain::{Job, Run, RunStatus};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(filters))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    pub status: Option<RunStatus>,
    #[param(max_length = 255)]
    pub provider: Option<String>,
    /// Only runs charted at or after this instant (RFC 3339). With `sort=slowest|fastest` the
    /// window spans at most 400 days, and `from` defaults to 400 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Only runs charted before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `newest` (by `run_at`, the default), `oldest`, `slowest` or `fastest` (by
    /// `duration_seconds`; runs without a duration come last in both). The duration orders read
    /// every run in the window, so it is bounded (see `from`).
    #[param(inline)]
    pub sort: Option<RunSort>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same `sort` (another string, or a cursor of
    /// another sort, is a 400).
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Pass as `cursor` (with the same `sort`) for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page boundary: `base64url("<sort>|<key>|<id>")`, where the key is the last run's `run_at`
/// (RFC 3339, microseconds) or its `duration_seconds` (empty when it has none). Opaque to clients.
fn encode_cursor(sort: RunSort, key: SortKey, id: &str) -> String {
    let key = match key {
        SortKey::At(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        // `Display` of an f64 is its shortest exact representation: it parses back to the same value.
        SortKey::Duration(Some(d)) => d.to_string(),
        SortKey::Duration(None) => String::new(),
    };
    URL_SAFE_NO_PAD.encode(format!("{}|{key}|{id}", sort.as_str()))
}

fn decode_cursor(c: &str) -> Option<(RunSort, SortKey, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (first, rest) = raw.split_once('|')?;
    let Some(sort) = RunSort::parse(first) else {
        // Cursors from before sorting existed: `<run_at>|<id>`, newest first.
        return Some((RunSort::Newest, SortKey::At(parse_at(first)?), rest.to_owned()));
    };
    let (key, id) = rest.split_once('|')?;
    let key = match (sort.by_duration(), key) {
        (false, at) => SortKey::At(parse_at(at)?),
        (true, "") => SortKey::Duration(None),
        (true, d) => SortKey::Duration(Some(d.parse().ok().filter(|d: &f64| !d.is_nan())?)),
    };
    Some((sort, key, id.to_owned()))
}

fn parse_at(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc))
}

/// Runs, newest first (or in another `sort` order), with filters and cursor pagination.
#[utoipa::path(get, path = "/runs", tag = "runs", params(ListParams),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn list(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<RunPage>> {
    let limit = p.limit.unwrap_or(50);
    let mut errors = filter_errors([
        ("repo", &p.repo),
        ("workflow", &p.workflow),
        ("branch", &p.branch),
        ("provider", &p.provider),
    ]);
    if !(1..=MAX_PAGE).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let sort = p.sort.unwrap_or_default();
    let mut from = p.from;
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f > t {
            errors.push(FieldError::new("from", "must not be after to"));
        }
    }
    // The duration orders read every run in the window: it is bounded, and has a default.
    if sort.by_duration() {
        let end = p.to.unwrap_or_else(Utc::now);
        let start = *from.get_or_insert(end - TimeDelta::days(MAX_WINDOW_DAYS));
        if end - start > TimeDelta::days(MAX_WINDOW_DAYS) {
            errors.push(FieldError::new(
                "from",
                format!(
                    "sort={} reads every run in the window, which may span at most {MAX_WINDOW_DAYS} days",
                    sort.as_str()
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let after = match &p.cursor {
        Some(c) => {
            let (of, key, id) =
                decode_cursor(c).ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?;
            if of != sort {
                return Err(ApiError::BadRequest(format!(
                    "this cursor continues sort={}, not sort={}; start again without a cursor",
                    of.as_str(),
                    sort.as_str()
                )));
            }
            Some((key, id))
        }
        None => None,
    };
    let filter = RunFilter {
        repo: p.repo,
        workflow: p.workflow,
        branch: p.branch,
        status: p.status,
        provider: p.provider,
        from,
        to: p.to,
    };
    let rows = runs::list(&read, &filter, sort, after, limit).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|(row, at)| encode_cursor(sort, sort.key_of(row, *at), &row.state.id))
        })
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
#[utoipa::path(get, path = "/runs/{id}", tag = "runs", params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = RunDetail), (status = 404, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn get_one(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    let row = runs::get(&read, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run with id {id}")))?;
    let jobs = db::jobs::of_run(&read, &id).await?;
    let attempts = match &row.state.run_key {
        Some(key) => runs::attempts(&read, key).await?,
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
#[utoipa::path(get, path = "/filters", tag = "runs",
    responses((status = 200, body = Filters)),
    security((), ("bearer" = ["read"])))]
async fn filters(_auth: ReadAuth, ReadDb(read): ReadDb) -> ApiResult<Json<Filters>> {
    let dims = runs::dimensions(&read).await?;
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
        for (sort, key) in [
            (RunSort::Newest, SortKey::At(at)),
            (RunSort::Oldest, SortKey::At(at)),
            (RunSort::Slowest, SortKey::Duration(Some(0.1 + 0.2))),
            (RunSort::Fastest, SortKey::Duration(Some(1e-7))),
            (RunSort::Slowest, SortKey::Duration(None)),
        ] {
            let c = encode_cursor(sort, key, "run|with|bars");
            assert_eq!(decode_cursor(&c), Some((sort, key, "run|with|bars".to_owned())));
        }
        assert_eq!(decode_cursor("not a cursor"), None);
        let nan = URL_SAFE_NO_PAD.encode("slowest|NaN|x");
        assert_eq!(decode_cursor(&nan), None);
        let at_for_duration = URL_SAFE_NO_PAD.encode("fastest|2025-08-27T06:00:00Z|x");
        assert_eq!(decode_cursor(&at_for_duration), None);
    }

    #[test]
    fn cursors_from_before_sorting_continue_newest_first() {
        let legacy = URL_SAFE_NO_PAD.encode("2025-08-27T06:00:00.000000Z|a|b");
        let at = parse_at("2025-08-27T06:00:00Z").unwrap();
        assert_eq!(
            decode_cursor(&legacy),
            Some((RunSort::Newest, SortKey::At(at), "a|b".to_owned()))
        );
    }
}
