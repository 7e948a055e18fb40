//! Request spans (with request id and matched route), request metrics, and panics as JSON 500s.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::AppState;
use crate::error::ApiError;

/// The route label: the matched template, never the raw path (bounded cardinality).
fn route_of(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if req.uri().path().starts_with("/api/") => "/api/{unknown}".to_owned(),
        None => "/{spa}".to_owned(),
    }
}

pub async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let m = &state.metrics;
    m.http_duration
        .with_label_values(&[&route, &method])
        .observe(start.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&route, &method, res.status().as_str()])
        .inc();
    res
}

type MakeSpan = fn(&Request<Body>) -> tracing::Span;

pub fn trace() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeSpan> {
    TraceLayer::new_for_http()
        .make_span_with(make_span as MakeSpan)
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

fn make_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %req.method(), route = %route_of(req), request_id = %request_id)
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
