//! The single-page app: files from `frontend/dist`, `index.html` for every other GET path, and a
//! JSON 404 for unknown `/api/*` paths.
//!
//! The build writes `.br` and `.gz` beside each text file; they are sent as they are to clients that
//! accept them. Files under `/assets/` carry a hash of their content in their name, so browsers
//! keep them for a year without asking again; everything else (`index.html`, which names the
//! current ones) is revalidated on every load. A missing asset is a 404, not the app's page: a
//! stale `index.html` must not get HTML cached for a year as its script.

use std::path::Path;

use axum::extract::{OriginalUri, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use crate::error::ApiError;

const ASSETS: &str = "/assets/";

/// Serves the built app, or — when `frontend/dist` has not been built — a page that says so.
pub fn service(dir: &Path) -> MethodRouter<AppState> {
    if dir.join("index.html").is_file() {
        let index = ServeFile::new(dir.join("index.html"))
            .precompressed_br()
            .precompressed_gzip();
        let files = ServeDir::new(dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(index);
        axum::routing::get_service(files).layer(middleware::from_fn(caching))
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

/// `GET /api/docs`: readable, interactive API documentation (Swagger UI, bundled into the build
/// as `api-docs.html`) of `/api/openapi.json`; a JSON 404 that says so when it is not built.
pub fn api_docs(dir: &Path) -> MethodRouter<AppState> {
    let page = dir.join("api-docs.html");
    if page.is_file() {
        let page = ServeFile::new(page).precompressed_br().precompressed_gzip();
        // The dashboard's policy, with `data:` images: Swagger UI's stylesheet draws its icons so.
        let policy = super::headers::CSP.replace("img-src 'self';", "img-src 'self' data:;");
        axum::routing::get_service(page)
            .layer(SetResponseHeaderLayer::overriding(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&policy).expect("a valid header value"),
            ))
            .layer(middleware::from_fn(caching))
    } else {
        let missing = page.display().to_string();
        get(move || async move {
            ApiError::NotFound(format!(
                "the API documentation is not built ({missing}); the document is at /api/openapi.json"
            ))
        })
    }
}

/// Cache-Control by path, and a 404 for assets that are not there (see the module's doc).
async fn caching(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let asset = path.starts_with(ASSETS);
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if asset && is_html {
        return ApiError::NotFound(format!("no file {path}")).into_response();
    }
    // A 304 carries the policy too: browsers update what they stored from it.
    let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let policy = if asset && found {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    res
}

/// Both name the path as sent (`OriginalUri`): under `/api` the router sees it without its prefix.
pub async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}
