//! `POST/GET /api/tokens`, `DELETE /api/tokens/{id}`: API token management (admin).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState};
use crate::auth::{self, Scope};
use crate::db::audit::{self, Action};
use crate::db::tokens::{self, TokenInfo};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateToken {
    /// What the token is for (1–100 characters).
    #[schema(example = "github-actions")]
    pub name: String,
    pub scope: Scope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token itself. It is shown this once and cannot be recovered.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// Create a token (the secret is in this response only).
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Validation(vec![FieldError::new(
            "name",
            "must be 1 to 100 characters",
        )]));
    }
    let new = auth::generate();
    let mut tx = state.pool.begin().await?;
    let info = tokens::insert(&mut *tx, name, body.scope.as_str(), &new.hash, &new.prefix).await?;
    let what = Action::new("token.created", "token", info.id, &info.name)
        .detail(json!({"scope": info.scope, "prefix": info.prefix}));
    audit::record(&mut *tx, who, what).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: new.secret,
            info,
        }),
    ))
}

/// List tokens (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenInfo>)),
    security(("bearer" = ["admin"])))]
async fn list(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(tokens::list(&state.pool).await?))
}

/// Revoke a token.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn revoke(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let Some(revoked) = tokens::revoke(&mut *tx, id).await? else {
        return Err(ApiError::NotFound(format!("no live token with id {id}")));
    };
    let what =
        Action::new("token.revoked", "token", id, &revoked.name).detail(json!({"scope": revoked.scope}));
    audit::record(&mut *tx, who, what).await?;
    tx.commit().await?;
    state.auth.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
