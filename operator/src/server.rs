//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

/// What the probes read.
#[derive(Clone, Default)]
pub struct Health {
    /// Set once the CRDs were found and the controllers (or the leader election) started.
    pub ready: Arc<AtomicBool>,
    /// Whether this replica currently runs the controllers.
    pub leading: Arc<AtomicBool>,
    pub metrics: Metrics,
}

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn readyz(State(h): State<Health>) -> impl IntoResponse {
    if !h.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response();
    }
    let role = if h.leading.load(Ordering::Relaxed) {
        "leader"
    } else {
        "standby"
    };
    (StatusCode::OK, role).into_response()
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        h.metrics.render(),
    )
}
