//! The single-page app: files from `frontend/dist`, `index.html` for every other GET path, and a
//! JSON 404 for unknown `/api/*` paths.

use std::path::Path;

use axum::http::{Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, MethodRouter};
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;
use crate::error::ApiError;

/// Serves the built app, or — when `frontend/dist` has not been built — a page that says so.
pub fn service(dir: &Path) -> MethodRouter<AppState> {
    if dir.join("index.html").is_file() {
        axum::routing::get_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
    } else {
        let missing = dir.display().to_string();
        get(move || async move {
            let page = format!(
                "<!doctype html><title>ci-cd-monitor</title><h1>ci-cd-monitor</h1>\
                 <p>The dashboard is not built (no <code>{missing}/index.html</code>). The API is up: \
                 see <a href=\"/api/openapi.json\">/api/openapi.json</a>, \
                 <a href=\"/api/metrics\">/api/metrics</a> and <a href=\"/health\">/health</a>.</p>"
            );
            (StatusCode::NOT_FOUND, Html(page)).into_response()
        })
    }
}

pub async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
