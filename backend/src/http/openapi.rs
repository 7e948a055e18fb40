//! The OpenAPI 3.1 document, generated from the handlers' annotations, at `/api/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ci-cd-monitor", description = "Records CI/CD pipeline runs, serves dashboard metrics and alerts."),
    paths(
        super::events::ingest,
        super::events::ingest_batch,
        super::webhooks::github_hook,
        super::webhooks::gitlab_hook,
        super::webhooks::jenkins_hook,
        super::webhooks::cdevents_hook,
        super::sources::create,
        super::sources::list,
        super::sources::remove,
        super::integrations::create,
        super::integrations::list,
        super::integrations::get_one,
        super::integrations::replace,
        super::integrations::remove,
        super::integrations::upsert_k8s,
        super::integrations::remove_k8s,
        super::rules::create,
        super::rules::list,
        super::rules::get_one,
        super::rules::replace,
        super::rules::remove,
        super::rules::upsert_k8s,
        super::rules::remove_k8s,
        super::alerts::list,
        super::alerts::ack,
        super::alerts::mute,
        super::alerts::test,
        super::metrics::metrics,
        super::runs::list,
        super::runs::get_one,
        super::runs::filters,
        super::stream::stream,
        super::settings::get_all,
        super::settings::replace,
        super::tokens::create,
        super::tokens::list,
        super::tokens::revoke,
        super::health::health,
        super::health::ready,
        super::health::prometheus,
        super::health::config,
        openapi_json,
    ),
    components(schemas(super::stream::Hello, super::stream::Resync, crate::live::IncidentChange, crate::domain::Run)),
    modifiers(&BearerAuth),
    tags(
        (name = "ingest", description = "Recording run events"),
        (name = "webhooks", description = "Native CI webhooks (GitHub, GitLab, Jenkins, CDEvents) and their sources"),
        (name = "alerting", description = "Alert rules, integrations and incidents"),
        (name = "dashboard", description = "Aggregated metrics"),
        (name = "runs", description = "Individual runs"),
        (name = "stream", description = "Live updates (server-sent events)"),
        (name = "settings", description = "Runtime policy (retention)"),
        (name = "tokens", description = "API tokens (admin)"),
        (name = "health", description = "Probes, Prometheus metrics and UI config"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cicd_…")
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
