//! Extractors whose rejections come out in the API's JSON error shape, and which refuse a NUL
//! character (U+0000) anywhere in what they read, saying where it is (a 400 for a parameter, a 422
//! naming the field of a body): PostgreSQL stores no NUL in `text` or `jsonb`, so letting one
//! through would end in a 500.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::db::reads::Lsn;
use crate::domain::limits::{self, NUL_MESSAGE};
use crate::error::{ApiError, FieldError};

/// The most a route's body may hold, set beside its `DefaultBodyLimit` (by [`body_limit`]) so that
/// a `413` can say what it is.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A route's body limit: axum's, and the [`BodyLimit`] that names it in a `413`.
pub fn body_limit(
    max: usize,
) -> tower::ServiceBuilder<
    tower::layer::util::Stack<
        axum::Extension<BodyLimit>,
        tower::layer::util::Stack<axum::extract::DefaultBodyLimit, tower::layer::util::Identity>,
    >,
> {
    tower::ServiceBuilder::new()
        .layer(axum::extract::DefaultBodyLimit::max(max))
        .layer(axum::Extension(BodyLimit(max)))
}

/// The raw body, or why it cannot be read: a `413` names the route's limit. Taken after the
/// authentication extractors, whose refusal comes first.
pub struct RawBody(pub Result<Bytes, ApiError>);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().copied();
        Ok(RawBody(
            Bytes::from_request(req, state)
                .await
                .map_err(|r| too_large(r.into(), limit)),
        ))
    }
}

/// A `413` that says the limit, when the route has one.
fn too_large(e: ApiError, limit: Option<BodyLimit>) -> ApiError {
    match (e, limit) {
        (ApiError::PayloadTooLarge(_), Some(BodyLimit(max))) => ApiError::PayloadTooLarge(format!(
            "the body is larger than this route accepts ({} MiB)",
            max / (1024 * 1024)
        )),
        (e, _) => e,
    }
}

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

/// The request header in which the dashboard passes the highest WAL position the live stream
/// gave it (the `id` of a `run` event): a read with it sees at least what was announced.
pub const READ_AFTER: &str = "cicd-read-after";

/// The `CICD-Read-After` position of a request, if it has one.
pub struct ReadAfter(pub Option<Lsn>);

impl<S: Send + Sync> FromRequestParts<S> for ReadAfter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(READ_AFTER) else {
            return Ok(ReadAfter(None));
        };
        let lsn = value.to_str().ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
            ApiError::BadRequest("header `CICD-Read-After` is not a WAL position (like 16/B374D848)".into())
        })?;
        Ok(ReadAfter(Some(lsn)))
    }
}

/// The pool a read is served from: a read replica that has replayed what the read must see
/// (everything announced on the stream, and the `CICD-Read-After` position), else the primary
/// (see [`crate::db::reads`]).
pub struct ReadDb(pub sqlx::PgPool);

impl FromRequestParts<super::AppState> for ReadDb {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &super::AppState) -> Result<Self, ApiError> {
        let ReadAfter(after) = ReadAfter::from_request_parts(parts, state).await?;
        Ok(ReadDb(state.reads.pool(after).await.clone()))
    }
}

/// `Json<T>` answering malformed JSON with a JSON 400 (and a too-large body with 413).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let Ok(RawBody(bytes)) = RawBody::from_request(Request::from_parts(parts.clone(), body), state).await;
        let bytes = bytes?;
        // JSON carries a NUL only as the escape `\u0000`; the exact search runs when one may be there.
        if limits::may_hold_nul(&bytes) {
            if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                limits::drop_ignored::<T>(&mut value);
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
