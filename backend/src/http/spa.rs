//! The single-page app: files from `frontend/dist`, `index.html` for every other GET path, and a
//! JSON 404 for unknown `/api/*` paths.

use std::path::Path;

use axum::http::{Method, Uri};
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

pub fn service(dir: &Path) -> ServeDir<ServeFile> {
    ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))
}

pub async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
