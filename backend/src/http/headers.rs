//! Security headers on every response (the single-page app and the API), and CORS when
//! `CICD_CORS_ORIGINS` names origins.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The dashboard's Content-Security-Policy. The built app is one module script and one stylesheet
/// from `/assets` (no inline `<script>` or `<style>`, no `style="…"` in its HTML, no `data:` URLs),
/// so everything is `'self'`: the API and the stream are same-origin (`connect-src`); uPlot and
/// React set element styles through the CSSOM (`element.style.x = …`), which `style-src` does not
/// govern, so no `'unsafe-inline'` is needed. `frame-ancestors 'none'` forbids framing
/// (clickjacking), as `X-Frame-Options: DENY` does for older browsers.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Adds the security headers to every response that has not set them itself.
pub fn security<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.layer(set(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// Lets pages of these origins call the API (`*`: any origin). Tokens travel in the
/// `Authorization` header, never in cookies, so credentials are not allowed.
pub fn cors<S: Clone + Send + Sync + 'static>(app: Router<S>, origins: &[String]) -> Router<S> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return app;
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    app.layer(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static(super::extract::READ_AFTER),
            ])
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}
