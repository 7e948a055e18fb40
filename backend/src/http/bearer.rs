//! Bearer-token extractors: a handler states what it needs by taking one of them.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::AppState;
use crate::auth::{Principal, Scope};
use crate::error::{ApiError, Unauthenticated};

/// The caller of a request with an `Authorization: Bearer` header (or nobody, for public reads).
pub async fn authorize(
    headers: &HeaderMap,
    state: &AppState,
    needed: Scope,
) -> Result<Option<Principal>, ApiError> {
    let token = match headers.get(AUTHORIZATION) {
        None => Err(Unauthenticated::Missing),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(Unauthenticated::NotBearer),
    };
    match token {
        Ok(token) => authorize_token(state, token, needed).await.map(Some),
        // Public reads pass whatever else the header carries (a proxy's Basic credentials).
        Err(_) if needed == Scope::Read && state.info.public_read => Ok(None),
        Err(why) => Err(ApiError::Unauthorized(why)),
    }
}

/// The caller a token stands for, if it has the `needed` scope.
pub async fn authorize_token(state: &AppState, token: &str, needed: Scope) -> Result<Principal, ApiError> {
    let principal = state
        .auth
        .resolve(token)
        .await?
        .ok_or(ApiError::Unauthorized(Unauthenticated::Unknown))?;
    if !principal.scope.allows(needed) {
        return Err(ApiError::Forbidden(format!(
            "this route needs a token with the {} scope; this one has {}",
            needed.as_str(),
            principal.scope.as_str()
        )));
    }
    if needed == Scope::Ingest {
        state.limits.ingest_token(principal.token_id)?;
    }
    Ok(principal)
}

macro_rules! scope_extractor {
    ($name:ident, $scope:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(#[allow(dead_code)] pub Option<Principal>);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                authorize(&parts.headers, state, $scope).await.map($name)
            }
        }
    };
}

scope_extractor!(
    IngestAuth,
    Scope::Ingest,
    "A caller with the `ingest` scope (or `admin`)."
);
scope_extractor!(
    ReadAuth,
    Scope::Read,
    "A caller with the `read` scope, or anyone when reads are public."
);
scope_extractor!(AdminAuth, Scope::Admin, "A caller with the `admin` scope.");
scope_extractor!(
    OperatorAuth,
    Scope::Operator,
    "The Kubernetes operator (a token with the `operator` scope)."
);
