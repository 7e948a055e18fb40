//! `POST /api/events` and `POST /api/events/batch`: the generic ingest API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{body_limit, RawBody};
use super::{AppState, IngestAuth, MAX_BATCH_BODY};
use crate::domain::limits::MAX_JSON_DEPTH;
use crate::domain::{Outcome, Run};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ingest::{self, generic};
use crate::writer::Written;

/// Most events in one batch.
pub const MAX_BATCH: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(ingest_batch))
        .layer(body_limit(MAX_BATCH_BODY));
    OpenApiRouter::new().routes(routes!(ingest)).merge(batch)
}

/// The stored run, and what the event did to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    #[serde(flatten)]
    pub run: Run,
    pub outcome: Outcome,
    /// Why an event was ignored (only for `ignored_stale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<Written> for IngestResponse {
    fn from(w: Written) -> Self {
        let note = (w.outcome == Outcome::IgnoredStale).then(|| {
            format!(
                "the run is already {}; a status never moves backwards, so this event was ignored",
                w.run.status
            )
        });
        IngestResponse {
            run: w.run,
            outcome: w.outcome,
            note,
        }
    }
}

fn status_of(outcome: Outcome) -> StatusCode {
    if outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Record one run event.
#[utoipa::path(post, path = "/events", tag = "ingest",
    request_body(content = generic::GenericEvent, description = "A run event in the generic format"),
    responses(
        (status = 201, description = "A new run was recorded", body = IngestResponse),
        (status = 200, description = "An existing run was updated, or the event was a replay or stale", body = IngestResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = ErrorBody),
        (status = 503, description = "Database unavailable; retry", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn ingest(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let event = generic::parse(&body?)?;
    let written = state.writer.write(event).await?;
    Ok((status_of(written.outcome), Json(IngestResponse::from(written))).into_response())
}

/// The result of one event of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position of the event in the request.
    pub index: usize,
    /// The status code the event would have had on its own.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<IngestResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<BatchItem>,
}

/// Record up to 1,000 run events; each succeeds or fails on its own.
#[utoipa::path(post, path = "/events/batch", tag = "ingest",
    request_body(content = Vec<serde_json::Value>, description = "A JSON array of 1 to 1,000 events, each a `GenericEvent` validated on its own (its result says how it fared)"),
    responses(
        (status = 200, description = "One result per event, in request order", body = BatchResponse),
        (status = 400, description = "Malformed JSON, not an array, or empty", body = ErrorBody),
        (status = 413, description = "More than 1,000 events, or body over 10 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable; nothing was written", body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn ingest_batch(
    State(state): State<AppState>,
    _auth: IngestAuth,
    RawBody(body): RawBody,
) -> ApiResult<Json<BatchResponse>> {
    let body = body?;
    // Each event may nest as deeply as a single one; the array adds a level.
    ingest::check_depth(&body, MAX_JSON_DEPTH + 1)?;
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let serde_json::Value::Array(items) = value else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON array of events".into(),
        ));
    };
    if items.is_empty() {
        return Err(ApiError::BadRequest("the batch is empty".into()));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {MAX_BATCH} events per batch, got {}",
            items.len()
        )));
    }

    let mut results: Vec<Option<BatchItem>> = Vec::with_capacity(items.len());
    let mut valid = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match generic::from_value(item, &format!("[{index}].")) {
            Ok(event) => {
                valid.push((index, event));
                results.push(None);
            }
            Err(e) => results.push(Some(failed(index, &e.into()))),
        }
    }
    let (indices, events): (Vec<usize>, Vec<_>) = valid.into_iter().unzip();
    let written: Vec<_> = (state.writer.write_all(events).await.into_iter())
        .map(|w| w.map_err(ApiError::from))
        .collect();
    if written.iter().all(|w| matches!(w, Err(ApiError::Unavailable))) && !written.is_empty() {
        return Err(ApiError::Unavailable);
    }
    for (index, w) in indices.into_iter().zip(written) {
        results[index] = Some(match w {
            Ok(w) => BatchItem {
                index,
                status: status_of(w.outcome).as_u16(),
                result: Some(w.into()),
                error: None,
            },
            Err(e) => failed(index, &e),
        });
    }
    let results: Vec<BatchItem> = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| r.unwrap_or_else(|| failed(index, &ApiError::Unavailable)))
        .collect();
    let accepted = results.iter().filter(|r| r.result.is_some()).count();
    Ok(Json(BatchResponse {
        accepted,
        rejected: results.len() - accepted,
        results,
    }))
}

fn failed(index: usize, e: &ApiError) -> BatchItem {
    BatchItem {
        index,
        status: e.status().as_u16(),
        result: None,
        error: Some(e.body().error),
    }
}
