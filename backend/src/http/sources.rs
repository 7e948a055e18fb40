//! `GET/POST /api/webhook-sources`, `DELETE /api/webhook-sources/{id}`: provider webhook secrets
//! stored in the database (admin), one per GitHub organisation or GitLab instance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use strum::IntoEnumIterator;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState};
use crate::db::audit::{self, Action};
use crate::db::sources::{self, SourceInfo};
use crate::domain::provider::{Credential, Provider};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
        .routes(routes!(receivers))
}

/// Where a provider's deliveries go, and how they prove who sent them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receiver {
    pub provider: Provider,
    /// The path to give the CI system, after this server's address.
    #[schema(example = "/api/webhooks/github")]
    pub path: &'static str,
    pub credential: Credential,
    /// Whether the environment holds a secret for it (`GITHUB_WEBHOOK_SECRET`,
    /// `GITLAB_WEBHOOK_TOKEN`); the stored ones are `GET /api/webhook-sources`.
    pub environment_secret: bool,
}

/// Every provider's receiver: the URLs to paste into GitHub, GitLab, Jenkins or a CDEvents producer.
#[utoipa::path(get, path = "/webhook-receivers", tag = "webhooks",
    responses((status = 200, body = Vec<Receiver>)),
    security(("bearer" = ["admin"])))]
async fn receivers(State(state): State<AppState>, _auth: AdminAuth) -> Json<Vec<Receiver>> {
    Json(
        Provider::iter()
            .map(|provider| Receiver {
                provider,
                path: provider.receiver(),
                credential: provider.credential(),
                environment_secret: state.verifier.has_environment_secret(provider),
            })
            .collect(),
    )
}

#[derive(Deserialize, ToSchema)]
pub struct CreateSource {
    /// A provider whose webhooks carry a secret.
    #[serde(deserialize_with = "with_secrets")]
    #[schema(schema_with = providers_with_secrets)]
    pub provider: Provider,
    /// A name to tell sources apart, e.g. the organisation (1–100 characters); runs record it as
    /// `metadata.webhook_source`.
    #[schema(example = "acme-org", min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// The webhook secret (GitHub) or secret token (GitLab), at least 16 characters and no comma.
    /// Stored sealed, never returned.
    #[schema(value_type = String, example = "a-long-random-secret", min_length = 16, pattern = "^[^,]*$")]
    pub secret: SecretString,
}

/// Reads a provider whose webhooks carry a secret (GitHub, GitLab).
fn with_secrets<'de, D: Deserializer<'de>>(d: D) -> Result<Provider, D::Error> {
    let name = String::deserialize(d)?;
    Provider::parse(&name)
        .filter(|p| p.credential() == Credential::SharedSecret)
        .ok_or_else(|| {
            let expected: Vec<String> = Provider::with_secrets().map(|p| format!("`{p}`")).collect();
            serde::de::Error::custom(format!(
                "unknown provider `{name}`, expected {}",
                expected.join(" or ")
            ))
        })
}

fn providers_with_secrets() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(Provider::with_secrets().map(Provider::as_str)))
        .build()
}

/// Add a webhook source.
#[utoipa::path(post, path = "/webhook-sources", tag = "webhooks", request_body = CreateSource,
    responses((status = 201, body = SourceInfo), (status = 400, body = ErrorBody), (status = 409, description = "The name is taken, or CICD_SECRET_KEY is unset", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<CreateSource>,
) -> ApiResult<(StatusCode, Json<SourceInfo>)> {
    let name = body.name.trim();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    if body.secret.expose_secret().chars().count() < 16 || body.secret.expose_secret().contains(',') {
        errors.push(FieldError::new(
            "secret",
            "must be at least 16 characters, without commas",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let sealed = state.verifier.seal(body.secret.expose_secret())?;
    let mut tx = state.pool.begin().await?;
    let info = sources::insert(&mut *tx, body.provider.as_str(), name, &sealed).await?;
    let what = Action::new("webhook_source.created", "webhook_source", info.id, &info.name)
        .detail(serde_json::json!({"provider": info.provider}));
    audit::record(&mut *tx, who, what).await?;
    tx.commit().await?;
    state.verifier.invalidate();
    Ok((StatusCode::CREATED, Json(info)))
}

/// List webhook sources (never their secrets).
#[utoipa::path(get, path = "/webhook-sources", tag = "webhooks",
    responses((status = 200, body = Vec<SourceInfo>)),
    security(("bearer" = ["admin"])))]
async fn list(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Vec<SourceInfo>>> {
    Ok(Json(sources::list(&state.pool).await?))
}

/// Remove a webhook source; its deliveries are refused from then on (within seconds on other replicas).
#[utoipa::path(delete, path = "/webhook-sources/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Source id")),
    responses((status = 204, description = "Removed"),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn remove(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let Some((provider, name)) = sources::delete(&mut *tx, id).await? else {
        return Err(ApiError::NotFound(format!("no webhook source with id {id}")));
    };
    let what = Action::new("webhook_source.deleted", "webhook_source", id, &name)
        .detail(serde_json::json!({"provider": provider}));
    audit::record(&mut *tx, who, what).await?;
    tx.commit().await?;
    state.verifier.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
