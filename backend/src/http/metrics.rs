//! `GET /api/metrics`: the dashboard's numbers.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Query, ReadAfter};
use super::{AppState, ReadAuth};
use crate::dashboard::{self, MetricsParams, MetricsQuery, MetricsResponse};
use crate::error::{ApiResult, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Summary, previous-period summary, time series and recent runs for a window and filters.
#[utoipa::path(get, path = "/metrics", tag = "dashboard", params(MetricsParams),
    responses(
        (status = 200, body = MetricsResponse),
        (status = 400, description = "Unreadable parameter", body = ErrorBody),
        (status = 422, description = "Window or limit out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn metrics(
    State(state): State<AppState>,
    _auth: ReadAuth,
    ReadAfter(after): ReadAfter,
    Query(params): Query<MetricsParams>,
) -> ApiResult<Json<MetricsResponse>> {
    let now = chrono::Utc::now();
    let query = MetricsQuery::parse(&params, now)?;
    Ok(Json(dashboard::metrics(&state.reads, after, &query, now).await?))
}
