//! Extractors whose rejections come out in the API's JSON error shape, and which refuse a NUL
//! character (U+0000) anywhere in what they read, saying where it is (a 400 for a parameter, a 422
//! naming the field of a body): PostgreSQL stores no NUL in `text` or `jsonb`, so letting one
//! through would end in a 500.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::limits::{self, NUL_MESSAGE};
use crate::error::{ApiError, FieldError};

/// `Query<T>` answering a bad parameter with a JSON 400.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // A NUL reaches a query only percent-encoded (a raw one is not a valid URI).
        if let Some(query) = parts.uri.query().filter(|q| q.contains("%00")) {
            if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
                .find(|(name, value)| name.contains('\0') || value.contains('\0'))
            {
                let name = name.replace('\0', "%00");
                return Err(ApiError::BadRequest(format!(
                    "query parameter `{name}` {NUL_MESSAGE}"
                )));
            }
        }
        let axum::extract::Query(value) = axum::extract::Query::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `Path<T>` answering a bad path parameter with a JSON 400.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.path().contains("%00") {
            return Err(ApiError::BadRequest(format!("the path {NUL_MESSAGE}")));
        }
        let axum::extract::Path(value) = axum::extract::Path::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// `Json<T>` answering malformed JSON with a JSON 400 (and a too-large body with 413).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await?;
        // JSON carries a NUL only as the escape `\u0000`; the exact search runs when one may be there.
        if limits::may_hold_nul(&bytes) {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if let Some(at) = limits::nul_path(&value) {
                    let field = if at.is_empty() { "body".into() } else { at };
                    return Err(ApiError::Validation(vec![FieldError::new(field, NUL_MESSAGE)]));
                }
            }
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let axum::Json(value) = axum::Json::from_request(req, state).await?;
        Ok(Json(value))
    }
}
