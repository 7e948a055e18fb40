//! `POST/GET /api/tokens`, `DELETE /api/tokens/{id}`: API token management (admin).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{Json as JsonBody, Path};
use super::{AdminAuth, AppState};
use crate::auth::{self, Scope};
use crate::db::audit::{self, Action};
use crate::db::tokens::{self, TokenInfo};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
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
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list(State(state): State<AppState>, _auth: AdminAuth) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(tokens::list(&state.pool).await?))
}

/// Revoke a token.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
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
