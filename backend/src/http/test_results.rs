//! `POST /api/runs/{run_id}/tests` (JUnit XML reports), `GET /api/runs/{run_id}/tests`, the test
//! views (`GET /api/tests`, `/api/tests/flaky`, `/api/tests/history`) and the quarantine
//! (`/api/tests/quarantine`).

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{body_limit, Json as JsonBody, Path, Query, ReadDb};
use super::{AdminAuth, AppState, IngestAuth, ReadAuth};
use crate::db;
use crate::db::quarantine::Quarantined;
use crate::db::test_results::{Report, Source};
use crate::domain::limits::{MAX_ID, MAX_NAME};
use crate::domain::test_case::{TestCase, TestCounts};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::ingest::junit::{self, MAX_CASES, MAX_REPORT_BYTES};
use crate::insight::{self, FlakyList, FlakyParams, History, HistoryParams, TestList, TestsParams};

/// Largest request body, as sent (compressed or not).
pub const MAX_UPLOAD_BODY: usize = MAX_REPORT_BYTES;

/// Turns to parse and store reports: a report is read whole, so this bounds the memory uploads
/// take (others wait their turn). A small plain body takes one turn, so two run at once; a large
/// or compressed one (or one of unknown size) takes both.
static PARSING: Semaphore = Semaphore::const_new(2);

/// A body larger than this (as sent) is a large upload.
const SMALL_UPLOAD: u64 = 1 << 20;

/// The upload route: an ingest route with its own body limit.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(body_limit(MAX_UPLOAD_BODY))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_tests))
        .routes(routes!(tests))
        .routes(routes!(flaky))
        .routes(routes!(history))
        .routes(routes!(quarantine_list, quarantine_add, quarantine_remove))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The job that produced the report (for example `${{ github.job }}`).
    #[param(max_length = 255)]
    pub job: Option<String>,
    /// The run's attempt: with it, the report belongs to the run `{run_id}:{attempt}`, the way
    /// GitHub Actions runs are stored (`run_id=github:org/repo:123`, `attempt=2` is
    /// `github:org/repo:123:2`).
    #[param(minimum = 1)]
    pub attempt: Option<i32>,
}

/// What an upload stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResult {
    /// The counts of distinct test cases in the upload (every file).
    #[serde(flatten)]
    pub counts: TestCounts,
    /// The run the results belong to.
    pub run_id: String,
    /// The run is known and the results count in the figures; otherwise they are kept and
    /// attached when the run arrives.
    pub attached: bool,
    /// Every file had been uploaded before for this run and job: nothing was counted again.
    pub duplicate: bool,
    /// One entry per file, in request order.
    pub files: Vec<UploadedFile>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedFile {
    /// The multipart part's file name (or field name); `null` for a plain XML body.
    pub name: Option<String>,
    #[serde(flatten)]
    pub counts: TestCounts,
    /// This file had been uploaded before for this run and job.
    pub duplicate: bool,
}

/// Record a run's test results from JUnit XML reports.
///
/// The body is one JUnit XML document (`application/xml` or `text/xml`, optionally with
/// `Content-Encoding: gzip`) or `multipart/form-data` with one report per part (a part may be
/// gzip-compressed). Every report is read before anything is stored: one bad report refuses the
/// whole upload. A report uploaded again for the same run and job is not counted twice. Results
/// for a run that has not arrived yet are kept and attached when it does. See docs/tests.md for
/// how each JUnit element is read.
#[utoipa::path(post, path = "/runs/{run_id}/tests", tag = "tests", params(
        ("run_id" = String, Path, description = "The run's id, as the run APIs show it", max_length = 512),
        UploadParams),
    request_body(content = String, description = "A JUnit XML report, or multipart/form-data with several",
        content_type = "application/xml"),
    responses(
        (status = 201, description = "Results recorded", body = UploadResult),
        (status = 200, description = "Every report had been recorded before; nothing was counted again", body = UploadResult),
        (status = 400, description = "Unreadable body, parameter or multipart form", body = ErrorBody),
        (status = 413, description = "Body over 64 MiB, a report over 64 MiB uncompressed, or over 200,000 test cases", body = ErrorBody),
        (status = 422, description = "A report that is not XML, not JUnit, or declares a DTD; the reason is given", body = ErrorBody),
        (status = 503, description = "Database unavailable; nothing was written", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn upload(
    State(state): State<AppState>,
    _auth: IngestAuth,
    Path(run_id): Path<String>,
    Query(params): Query<UploadParams>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<(StatusCode, Json<UploadResult>)> {
    let run_id = match params.attempt {
        Some(a) => format!("{run_id}:{a}"),
        None => run_id,
    };
    let job = params.job.unwrap_or_default();
    let mut errors = Vec::new();
    if run_id.is_empty() || run_id.chars().count() > MAX_ID {
        errors.push(FieldError::new(
            "run_id",
            format!("must be 1 to {MAX_ID} characters"),
        ));
    }
    if job.chars().count() > MAX_NAME {
        errors.push(FieldError::new(
            "job",
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if params.attempt.is_some_and(|a| a < 1) {
        errors.push(FieldError::new("attempt", "must be 1 or more"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }

    // Compressed bodies (gzip, or parts of a form) can grow 64 MiB when read: large.
    let small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n <= SMALL_UPLOAD)
        && !headers.contains_key(header::CONTENT_ENCODING)
        && !headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/"));
    let _turn = PARSING
        .acquire_many(if small { 1 } else { 2 })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let files = read_files(&headers, req).await?;
    let parsed = tokio::task::spawn_blocking(move || parse_all(files))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;

    let mut tx = state.pool.begin().await?;
    let mut out = Vec::with_capacity(parsed.len());
    let mut new = Vec::new();
    let mut attached = false;
    for file in parsed {
        let stored = db::test_results::insert(
            &mut tx,
            Report {
                run_id: &run_id,
                job: &job,
                digest: file.digest,
                source: Source::Junit,
                cases: &file.cases,
            },
        )
        .await?;
        if stored.duplicate {
            attached = stored.attached;
        } else {
            new.push(stored.upload_id);
        }
        out.push(UploadedFile {
            name: file.name,
            counts: stored.counts,
            duplicate: stored.duplicate,
        });
    }
    // The cases are gone: attaching reads the stored results back.
    for upload_id in new {
        attached = db::test_results::attach(&mut tx, upload_id).await?;
    }
    tx.commit().await?;

    let duplicate = out.iter().all(|f| f.duplicate);
    let counts = out.iter().fold(TestCounts::default(), |a, f| a.plus(&f.counts));
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(UploadResult {
            counts,
            run_id,
            attached,
            duplicate,
            files: out,
        }),
    ))
}

/// A report as received: its part name, and its bytes once decompressed.
struct RawFile {
    name: Option<String>,
    bytes: Bytes,
}

struct ParsedFile {
    name: Option<String>,
    digest: [u8; 32],
    cases: Vec<TestCase>,
}

/// The reports of a request: its body, or each part of a multipart form.
async fn read_files(headers: &HeaderMap, req: Request) -> ApiResult<Vec<RawFile>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::BadRequest(format!("unreadable multipart form: {}", e.body_text())))?;
        let mut files = Vec::new();
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            let name = field.file_name().or(field.name()).map(str::to_owned);
            let bytes = field.bytes().await.map_err(multipart_error)?;
            files.push(RawFile { name, bytes });
        }
        if files.is_empty() {
            return Err(ApiError::BadRequest("the multipart form has no part".into()));
        }
        return Ok(files);
    }
    let bytes = Bytes::from_request(req, &())
        .await
        .map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            _ => ApiError::BadRequest(format!("unreadable body: {}", e.body_text())),
        })?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    if gzip && !is_gzip(&bytes) {
        return Err(ApiError::BadRequest(
            "Content-Encoding says gzip, but the body is not gzip data".into(),
        ));
    }
    Ok(vec![RawFile { name: None, bytes }])
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::BadRequest(format!("unreadable multipart form: {}", e.body_text()))
    }
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the body is larger than this route accepts ({} MiB); send fewer reports per request",
        MAX_UPLOAD_BODY / (1024 * 1024)
    ))
}

/// gzip data starts with these two bytes (RFC 1952).
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses (when gzip) and parses every report; the first that fails refuses the upload.
fn parse_all(files: Vec<RawFile>) -> ApiResult<Vec<ParsedFile>> {
    let field = |name: &Option<String>| name.clone().unwrap_or_else(|| "body".into());
    let mut total = 0;
    let mut parsed = Vec::with_capacity(files.len());
    for file in files {
        let xml = if is_gzip(&file.bytes) {
            gunzip(&file.bytes).map_err(|e| match e {
                Gunzip::TooLarge => ApiError::PayloadTooLarge(format!(
                    "{}: larger than {} MiB uncompressed",
                    field(&file.name),
                    MAX_REPORT_BYTES / (1024 * 1024)
                )),
                Gunzip::Corrupt(e) => {
                    ApiError::BadRequest(format!("{}: unreadable gzip data: {e}", field(&file.name)))
                }
            })?
        } else {
            file.bytes.to_vec()
        };
        let cases = junit::parse(&xml).map_err(|e| match e {
            junit::JunitError::TooManyCases(_)
            | junit::JunitError::TooManyNames(_)
            | junit::JunitError::TooLarge(_) => {
                ApiError::PayloadTooLarge(format!("{}: {e}", field(&file.name)))
            }
            e => ApiError::Validation(vec![FieldError::new(field(&file.name), e.to_string())]),
        })?;
        total += cases.len();
        if total > MAX_CASES {
            return Err(ApiError::PayloadTooLarge(format!(
                "more than {MAX_CASES} test cases in one upload; send the reports in several"
            )));
        }
        parsed.push(ParsedFile {
            name: file.name,
            digest: Sha256::digest(&xml).into(),
            cases,
        });
    }
    Ok(parsed)
}

enum Gunzip {
    TooLarge,
    Corrupt(std::io::Error),
}

/// Decompresses gzip data (several members, as `cat a.gz b.gz` makes, included), refusing more
/// than [`MAX_REPORT_BYTES`] of output without producing it.
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, Gunzip> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_REPORT_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(Gunzip::Corrupt)?;
    if out.len() > MAX_REPORT_BYTES {
        return Err(Gunzip::TooLarge);
    }
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunTestsParams {
    /// Only cases of this status.
    #[param(inline)]
    pub status: Option<crate::domain::test_case::TestStatus>,
    /// Most cases returned (default 1,000, at most 10,000); failures come first.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// A run's test results: their counts, and each case, failures first.
#[utoipa::path(get, path = "/runs/{run_id}/tests", tag = "tests", params(
        ("run_id" = String, Path, description = "The run's id", max_length = 512),
        RunTestsParams),
    responses(
        (status = 200, body = db::test_results::RunTests),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 404, description = "No run and no report with this id", body = ErrorBody),
        (status = 422, description = "Limit out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn run_tests(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Path(run_id): Path<String>,
    Query(params): Query<RunTestsParams>,
) -> ApiResult<Json<db::test_results::RunTests>> {
    let limit = params.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "must be 1 to 10000",
        )]));
    }
    db::test_results::run_tests(&read, &run_id, params.status, limit)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no run and no test report with id {run_id:?}")))
}

/// Tests with their runs, failures, flakes and durations over a window, and where the failing
/// ones started failing.
#[utoipa::path(get, path = "/tests", tag = "tests", params(TestsParams),
    responses(
        (status = 200, body = TestList),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window, filter or page out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn tests(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<TestsParams>,
) -> ApiResult<Json<TestList>> {
    Ok(Json(insight::tests(&read, &params, chrono::Utc::now()).await?))
}

/// Flaky tests (passed and failed on one commit), by what they cost: the runs they made red and
/// those runs' minutes.
#[utoipa::path(get, path = "/tests/flaky", tag = "tests", params(FlakyParams),
    responses(
        (status = 200, body = FlakyList),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window or page out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn flaky(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<FlakyParams>,
) -> ApiResult<Json<FlakyList>> {
    Ok(Json(insight::flaky(&read, &params, chrono::Utc::now()).await?))
}

/// One test's results, newest reports first, with their runs and commits.
#[utoipa::path(get, path = "/tests/history", tag = "tests", params(HistoryParams),
    responses(
        (status = 200, body = History),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 404, description = "No such test", body = ErrorBody),
        (status = 422, description = "Page out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn history(
    _auth: ReadAuth,
    ReadDb(read): ReadDb,
    Query(params): Query<HistoryParams>,
) -> ApiResult<Json<History>> {
    insight::history(&read, &params)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no test with id {}", params.test_id)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    /// The repository (every repository when absent).
    #[param(max_length = 255)]
    pub repo: Option<String>,
    /// `json` (default) or `text`: one test name per line, for a CI step to skip or ignore.
    #[param(inline)]
    pub format: Option<QuarantineFormat>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineFormat {
    Json,
    Text,
}

/// The quarantined tests of a repository: JSON, or plain text with one test name per line.
#[utoipa::path(get, path = "/tests/quarantine", tag = "tests", params(QuarantineParams),
    responses(
        (status = 200, description = "JSON, or text with `format=text`",
         content((Vec<Quarantined> = "application/json"), (String = "text/plain"))),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "A repository name over 255 characters", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn quarantine_list(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Query(params): Query<QuarantineParams>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let too_long = crate::domain::limits::filter_errors([("repo", &params.repo)]);
    if !too_long.is_empty() {
        return Err(ApiError::Validation(too_long));
    }
    let repo = crate::dashboard::non_empty(&params.repo);
    let list = db::quarantine::list(&state.pool, repo.as_deref()).await?;
    Ok(match params.format {
        Some(QuarantineFormat::Text) => {
            let mut names: Vec<&str> = list.iter().map(|q| q.name.as_str()).collect();
            names.dedup();
            let text: String = names
                .iter()
                .map(|n| format!("{}\n", n.replace(['\n', '\r'], " ")))
                .collect();
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        _ => Json(list).into_response(),
    })
}

/// A test to quarantine in a repository.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    #[schema(max_length = 255)]
    pub repo: String,
    /// The test's id (`test_id` of the test views).
    pub test_id: i64,
    /// Why (shown beside it; at most 1,000 characters).
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// Quarantine a test in a repository (recorded in the audit log).
#[utoipa::path(post, path = "/tests/quarantine", tag = "tests", request_body = QuarantineRequest,
    responses(
        (status = 201, description = "Quarantined", body = Vec<Quarantined>),
        (status = 200, description = "It already was; nothing changed", body = Vec<Quarantined>),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "Unknown test, or invalid fields", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn quarantine_add(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(req): JsonBody<QuarantineRequest>,
) -> ApiResult<(StatusCode, Json<Vec<Quarantined>>)> {
    let repo = req.repo.trim();
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let mut errors = Vec::new();
    if repo.is_empty() || repo.chars().count() > MAX_NAME {
        errors.push(FieldError::new(
            "repo",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    if reason.is_some_and(|r| r.chars().count() > 1000) {
        errors.push(FieldError::new("reason", "must be at most 1000 characters"));
    }
    if errors.is_empty() && !db::quarantine::test_exists(&state.pool, req.test_id).await? {
        errors.push(FieldError::new(
            "test_id",
            format!("no test with id {}", req.test_id),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.pool.begin().await?;
    let added = db::quarantine::add(&mut tx, who, repo, req.test_id, reason).await?;
    tx.commit().await?;
    let list = db::quarantine::list(&state.pool, Some(repo)).await?;
    Ok((
        if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(list),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReleaseParams {
    #[param(max_length = 255)]
    pub repo: String,
    pub test_id: i64,
}

/// Take a test out of a repository's quarantine (recorded in the audit log).
#[utoipa::path(delete, path = "/tests/quarantine", tag = "tests", params(ReleaseParams),
    responses(
        (status = 204, description = "Released"),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 404, description = "Not in the quarantine", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn quarantine_remove(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Query(params): Query<ReleaseParams>,
) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let removed = db::quarantine::remove(&mut tx, who, params.repo.trim(), params.test_id).await?;
    tx.commit().await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "test {} is not quarantined in {:?}",
            params.test_id, params.repo
        )))
    }
}
