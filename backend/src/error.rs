//! The one error type of the HTTP layer and its JSON shape:
//! `{"error": {"code": "...", "message": "...", "details": [{"field": "...", "message": "..."}]}}`.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::field_error::in_plain_words;
pub use crate::domain::field_error::FieldError;

/// The error body every route answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or query could not be read (malformed JSON, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token, a header that is not `Bearer <token>`, or a token unknown or revoked.
    #[error("{0}")]
    Unauthorized(Unauthenticated),
    /// 401: a webhook's signature or shared token does not match any configured secret.
    #[error("{0}")]
    BadSignature(String),
    /// 403: the token's scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the change conflicts with stored state.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the route accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429: over a rate limit; `Retry-After` says after how many seconds to try again.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// 422: well-formed, but fields are invalid; each one is named.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 503: PostgreSQL is unreachable; retry after a few seconds.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// 500: a fault on our side. The cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::BadSignature(_) => "invalid_signature",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Validation(_) => "validation_failed",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable => "database_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The JSON body of this error (also used inside batch results).
    pub fn body(&self) -> ErrorBody {
        let details = match self {
            ApiError::Validation(d) => d.clone(),
            _ => Vec::new(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                details,
            },
        }
    }
}

/// Why a request is not authenticated, each with its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    #[error("this route needs a token: send the header `Authorization: Bearer <token>`")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    #[error("the token is unknown or has been revoked")]
    Unknown,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let mut res = (self.status(), Json(self.body())).into_response();
        let headers = res.headers_mut();
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::TooManyRequests { retry_after_secs, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            }
            _ => {}
        }
        res
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            return ApiError::Unavailable;
        }
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                let what = db.constraint().unwrap_or("a unique key");
                return ApiError::Conflict(format!("already exists ({what})"));
            }
        }
        ApiError::Internal(e.into())
    }
}

fn rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(text)
    } else {
        ApiError::BadRequest(in_plain_words(&text))
    }
}

impl From<JsonRejection> for ApiError {
    /// A well-formed body with a field of the wrong type or value is a 422 naming the field.
    fn from(r: JsonRejection) -> Self {
        let text = r.body_text();
        if r.status() != StatusCode::UNPROCESSABLE_ENTITY {
            return rejection(r.status(), text);
        }
        let detail = text
            .strip_prefix("Failed to deserialize the JSON body into the target type: ")
            .unwrap_or(&text);
        let detail = detail.split(" at line ").next().unwrap_or(detail);
        let (field, message) = match detail.split_once(": ") {
            Some((path, message)) if !path.contains(' ') => (path, message),
            _ => ("body", detail),
        };
        ApiError::Validation(vec![FieldError::new(field, in_plain_words(message))])
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

impl From<crate::alerting::owned::Error> for ApiError {
    fn from(e: crate::alerting::owned::Error) -> Self {
        use crate::alerting::owned::Error;
        match e {
            Error::NotFound { .. } => ApiError::NotFound(e.to_string()),
            Error::ManagedByKubernetes { .. } | Error::DeclaredByEnvironment { .. } | Error::NoSecretKey => {
                ApiError::Conflict(e.to_string())
            }
            Error::Invalid(fields) => ApiError::Validation(fields),
            Error::Database(e) => e.into(),
            Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::ingest::Malformed> for ApiError {
    fn from(e: crate::ingest::Malformed) -> Self {
        ApiError::BadRequest(e.0)
    }
}

impl From<crate::ingest::generic::Error> for ApiError {
    fn from(e: crate::ingest::generic::Error) -> Self {
        match e {
            crate::ingest::generic::Error::Malformed(e) => e.into(),
            crate::ingest::generic::Error::Invalid(fields) => ApiError::Validation(fields),
        }
    }
}

impl From<crate::dashboard::Error> for ApiError {
    fn from(e: crate::dashboard::Error) -> Self {
        match e {
            crate::dashboard::Error::Invalid(fields) => ApiError::Validation(fields),
            crate::dashboard::Error::Database(e) => e.into(),
        }
    }
}

impl From<crate::writer::Error> for ApiError {
    fn from(e: crate::writer::Error) -> Self {
        match e {
            crate::writer::Error::Database(e) => e.into(),
            crate::writer::Error::Unavailable => ApiError::Unavailable,
            crate::writer::Error::Stopped => ApiError::Internal(e.into()),
        }
    }
}

impl From<crate::signatures::Error> for ApiError {
    fn from(e: crate::signatures::Error) -> Self {
        match e {
            crate::signatures::Error::Rejected(why) => ApiError::BadSignature(why),
            crate::signatures::Error::NoSecretKey => ApiError::Conflict(e.to_string()),
            crate::signatures::Error::Database(e) => e.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
