//! `GET /health`, `GET /ready`, `GET /metrics` and `GET /api/config`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::db;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// The probes and Prometheus metrics, outside `/api`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(prometheus))
}

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(config))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    pub uptime_seconds: u64,
    pub timestamp: DateTime<Utc>,
}

/// Liveness: the process answers. Does not touch the database.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        uptime_seconds: state.info.started.elapsed().as_secs(),
        timestamp: Utc::now(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    pub status: &'static str,
    pub database: bool,
    pub migrations: bool,
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Ready), (status = 503, description = "Not ready", body = ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    match db::migrations_applied(&state.pool).await {
        Ok(true) => Ok(Json(Ready {
            status: "ready",
            database: true,
            migrations: true,
        })),
        Ok(false) => Err(ApiError::Unavailable),
        Err(e) => Err(e.into()),
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "text/plain; version=0.0.4", content_type = "text/plain")))]
async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(&state.pool),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UiConfig {
    #[schema(example = "dev")]
    pub environment: String,
    pub version: &'static str,
    /// `public-read` (reads need no token) or `token` (every route needs one).
    #[schema(example = "public-read")]
    pub auth_mode: &'static str,
}

/// What the UI needs to know about this installation.
#[utoipa::path(get, path = "/config", tag = "health", responses((status = 200, body = UiConfig)))]
async fn config(State(state): State<AppState>) -> Json<UiConfig> {
    Json(UiConfig {
        environment: state.info.environment.clone(),
        version: env!("CARGO_PKG_VERSION"),
        auth_mode: if state.info.public_read {
            "public-read"
        } else {
            "token"
        },
    })
}
