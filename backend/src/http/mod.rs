//! The HTTP surface: one router assembled from one module per resource.

mod alerts;
mod audit;
mod bearer;
mod delivery;
mod events;
mod extract;
mod headers;
mod health;
mod insight;
pub mod integrations;
mod metrics;
mod middleware;
pub mod openapi;
pub mod rate_limit;
mod rules;
mod runs;
mod settings;
mod sources;
mod spa;
mod stream;
mod test_results;
mod tokens;
mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;

use crate::alerting::engine::Alerts;
use crate::alerting::outbox::Outbox;
use crate::auth::Authenticator;
use crate::crypto::SecretBox;
use crate::live::Live;
use crate::signatures::Verifier;
use crate::telemetry::Metrics;
use crate::writer::Writer;

pub use bearer::{AdminAuth, IngestAuth, OperatorAuth, ReadAuth};

/// Largest body of a single-event request.
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest body of a batch (1,000 events).
pub const MAX_BATCH_BODY: usize = 10 * 1024 * 1024;

/// What every handler can reach: one shared [`Shared`], so that the copies each layer and handler
/// takes of it cost one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    pub pool: PgPool,
    /// Where dashboard and API reads go: a replica that has caught up, else the primary.
    pub reads: Arc<crate::db::reads::Reads>,
    pub writer: Writer,
    pub auth: Arc<Authenticator>,
    pub verifier: Arc<Verifier>,
    pub alerts: Arc<Alerts>,
    pub outbox: Arc<Outbox>,
    /// Seals secrets stored in the database; `None` without `CICD_SECRET_KEY`.
    pub secret_box: Option<SecretBox>,
    pub metrics: Arc<Metrics>,
    pub info: Arc<Info>,
    /// Live updates for `GET /api/stream`.
    pub live: Arc<Live>,
    /// Rate limits and the client-address rules.
    pub limits: Arc<rate_limit::Limits>,
    /// Folds written jobs into the job rollups.
    pub folder: Arc<crate::fold::Folder>,
    /// Folds the runs' queued rollup changes (woken by the writer).
    pub run_folder: Arc<crate::fold::RunFolder>,
    /// Sums of settled job rollup tiles, for the jobs, runners and usage views.
    pub tile_cache: Arc<crate::insight::TileCache>,
    /// Jobs queued or running for longer are stale (`CICD_STALE_JOB_HOURS`).
    pub stale_after: chrono::TimeDelta,
}

/// Facts about this process that the API reports.
pub struct Info {
    pub environment: String,
    pub public_read: bool,
    /// `CICD_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `CICD_CORS_ORIGINS`: origins whose pages may call the API (empty: none).
    pub cors_origins: Vec<String>,
    pub started: Instant,
}

/// The ingest routes (receivers of run events): rate-limited per sender by `router`.
fn ingest_routes() -> OpenApiRouter<AppState> {
    events::router()
        .merge(webhooks::router())
        .merge(test_results::upload_router())
        .merge(delivery::ingest_router())
}

/// Every other route under `/api`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(sources::router())
        .merge(integrations::router())
        .merge(rules::router())
        .merge(alerts::router())
        .merge(metrics::router())
        .merge(insight::router())
        .merge(runs::router())
        .merge(delivery::router())
        .merge(test_results::router())
        .merge(settings::router())
        .merge(stream::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(health::api_router())
        .merge(openapi::router())
}

/// The OpenAPI document of every route: each route's entry is registered where the route is.
pub fn routes_document() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<AppState>::new()
        .nest("/api", ingest_routes().merge(api_routes()))
        .merge(health::router())
        .into_openapi()
}

/// The whole application: API routes, `/health`, `/metrics`, and the SPA for every other GET.
pub fn router(state: AppState, static_dir: &Path) -> Router {
    let ingest = ingest_routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        rate_limit::ingest,
    ));
    let (api, _) = ingest.merge(api_routes()).split_for_parts();
    let api = api
        .route("/docs", spa::api_docs(static_dir))
        .layer(extract::body_limit(MAX_BODY))
        .fallback(spa::api_not_found)
        .method_not_allowed_fallback(spa::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::auth_failures,
        ));
    let (probes, _) = health::router().split_for_parts();
    let app = Router::new()
        .nest("/api", api)
        .merge(probes)
        // Where people look for API docs first.
        .route("/docs", get(|| async { Redirect::permanent("/api/docs") }))
        .route("/swagger", get(|| async { Redirect::permanent("/api/docs") }))
        .method_not_allowed_fallback(spa::method_not_allowed)
        .fallback(spa::service(static_dir))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::resolve_client,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::record_metrics,
        ))
        // gzip/brotli for clients that ask; tower-http's default predicate skips small bodies,
        // images and server-sent events (compressing a stream would hold its events back).
        .layer(tower_http::compression::CompressionLayer::new());
    let app = headers::cors(app, &state.info.cors_origins);
    headers::security(app)
        .layer(middleware::trace())
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            middleware::panic_response,
        ))
        .with_state(state)
}
