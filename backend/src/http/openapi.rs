//! The OpenAPI 3.1 document, generated from the handlers' annotations, at `/api/openapi.json`.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use cicd_monitor_crds::{AlertRuleSpec, IntegrationSpec};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "ci-cd-monitor", description = "Records CI/CD pipeline runs, serves dashboard metrics and alerts."),
    components(schemas(super::stream::Hello, super::stream::Resync, crate::db::notify::IncidentChange, crate::db::notify::RunnersChange, crate::db::notify::TestsChange, crate::domain::Run)),
    tags(
        (name = "ingest", description = "Recording run events"),
        (name = "webhooks", description = "Native CI webhooks (GitHub, GitLab, Jenkins, CDEvents) and their sources"),
        (name = "alerting", description = "Alert rules, integrations and incidents"),
        (name = "dashboard", description = "Aggregated metrics"),
        (name = "runs", description = "Individual runs"),
        (name = "jobs", description = "Jobs, runner pools and usage: where CI time and money go"),
        (name = "delivery", description = "Deployments, the commits they ship and incidents in production: the DORA keys"),
        (name = "stream", description = "Live updates (server-sent events)"),
        (name = "settings", description = "Runtime policy (retention, runner prices)"),
        (name = "tokens", description = "API tokens and the audit log of admin actions (admin)"),
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

/// The answers that every authenticated route shares, from its `security` requirement: a route
/// that takes a bearer token (the requirement names the scope it needs) answers `401` without a
/// valid one, `403` to a token of another scope, and `503` while the database that holds the
/// tokens cannot be reached.
struct AuthResponses;

impl Modify for AuthResponses {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        const SHARED: [(&str, &str); 3] = [
            ("401", "No valid token (missing, malformed, unknown or revoked)"),
            ("403", "The token's scope does not allow this route"),
            ("503", "The database is unavailable; retry"),
        ];
        for item in api.paths.paths.values_mut() {
            for op in operations_mut(item).filter(|op| takes_bearer(op)) {
                for (status, description) in SHARED {
                    if !op.responses.responses.contains_key(status) {
                        let response = error_response(description, false);
                        op.responses.responses.insert(status.into(), RefOr::T(response));
                    }
                }
            }
        }
    }
}

/// Whether an operation accepts a bearer token.
fn takes_bearer(op: &Operation) -> bool {
    let requirements = op.security.as_ref().and_then(|s| serde_json::to_value(s).ok());
    requirements
        .as_ref()
        .and_then(|r| r.as_array())
        .is_some_and(|r| r.iter().any(|r| r.get("bearer").is_some()))
}

/// Every route that reads a path parameter, a query or a body answers `400` in the error shape when
/// one cannot be read at all (an id past `i64`, a malformed time, a body that is not JSON), before
/// any handler runs: the document says so on each such operation.
struct BadRequests;

impl Modify for BadRequests {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        for item in api.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let reads_input =
                    op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                if reads_input && !op.responses.responses.contains_key("400") {
                    let response = error_response("A parameter or the body cannot be read", false);
                    op.responses.responses.insert("400".into(), RefOr::T(response));
                }
            }
        }
    }
}

/// Every `/api` route answers `429` with `Retry-After` to an address that failed authentication
/// too often (and the ingest routes to a sender over its rate), before any handler runs.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        for (path, item) in api.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for op in operations_mut(item) {
                let response = error_response(
                    "Too many requests: failed authentications from this address, or a sender over the \
                     ingest rate; retry after `Retry-After` seconds",
                    true,
                );
                op.responses.responses.insert("429".into(), RefOr::T(response));
            }
        }
    }
}

/// A response in the error shape, with a `Retry-After` header (whole seconds) when asked.
fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if retry_after {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(seconds)
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response.build()
}

/// The `AlertRule` and `Integration` specs are the custom resources' types (schemars, shared with
/// the operator); their JSON Schema becomes the components `AlertRuleSpec` and `IntegrationSpec`,
/// so a rule means the same thing from YAML, from the UI and from generated clients.
struct CrdSpecs;

impl Modify for CrdSpecs {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("AlertRuleSpec".into(), crd_schema::<AlertRuleSpec>());
        components
            .schemas
            .insert("IntegrationSpec".into(), crd_schema::<IntegrationSpec>());
    }
}

fn crd_schema<T: schemars::JsonSchema>() -> RefOr<Schema> {
    let settings = schemars::generate::SchemaSettings::draft2019_09().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let mut schema = settings.into_generator().into_root_schema_for::<T>().to_value();
    as_utoipa_reads(&mut schema);
    serde_json::from_value(schema).expect("the CRD types' JSON Schema is valid OpenAPI 3.1")
}

/// schemars 1 writes a tag (`type: RunFailed`) as `const`, which utoipa does not read (generated
/// clients would lose the discriminator), and keeps the line breaks of `///` comments: write
/// `const` as a one-value `enum` and join lines within paragraphs.
fn as_utoipa_reads(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if let Some(value) = map.remove("const") {
                map.insert("enum".into(), serde_json::json!([value]));
            }
            if let Some(serde_json::Value::String(text)) = map.get_mut("description") {
                let paragraphs: Vec<String> = text.split("\n\n").map(|p| p.replace('\n', " ")).collect();
                *text = paragraphs.join("\n\n");
            }
            map.values_mut().for_each(as_utoipa_reads);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(as_utoipa_reads),
        _ => {}
    }
}

/// `schema_with` for fields holding an `AlertRuleSpec`.
pub fn alert_rule_spec() -> Ref {
    Ref::from_schema_name("AlertRuleSpec")
}

/// `schema_with` for fields holding an `IntegrationSpec`.
pub fn integration_spec() -> Ref {
    Ref::from_schema_name("IntegrationSpec")
}

/// Handlers in different modules share names (`list`, `create`, …); generated clients need unique
/// operation ids, so a shared name gets its resource appended: `list_alert_rules`, `list_runs`.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for op in api.paths.paths.values().flat_map(operations) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
        for (path, item) in api.paths.paths.iter_mut() {
            let resource = path
                .trim_start_matches("/api/")
                .split('/')
                .next()
                .unwrap_or_default()
                .replace(['-', '.'], "_");
            for op in operations_mut(item) {
                if let Some(id) = op.operation_id.as_mut() {
                    if seen.get(id.as_str()) > Some(&1) {
                        *id = format!("{id}_{resource}");
                    }
                }
            }
        }
    }
}

fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The document served at `/api/openapi.json` (also printed by `cicd-monitor openapi`): the
/// routes' own entries, then what every route shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut api = ApiDoc::openapi();
    api.merge(super::routes_document());
    let modifiers: [&dyn Modify; 6] = [
        &BearerAuth,
        &AuthResponses,
        &UniqueOperationIds,
        &CrdSpecs,
        &BadRequests,
        &RateLimited,
    ];
    for modifier in modifiers {
        modifier.modify(&mut api);
    }
    api
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: LazyLock<String> =
        LazyLock::new(|| document().to_json().expect("the OpenAPI document serialises"));
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use crate::domain::Provider;

    #[test]
    fn every_provider_has_a_receiver_in_the_document() {
        let document = super::document();
        for provider in Provider::iter() {
            let item = document.paths.paths.get(provider.receiver());
            assert!(
                item.is_some_and(|i| i.post.is_some()),
                "no POST {} for {provider}",
                provider.receiver()
            );
        }
    }
}
