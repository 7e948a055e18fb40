//! Rate limits (per token, per client address, failed authentications), the client address behind
//! trusted proxies, security headers and CORS.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use cicd_monitor::auth::Scope;
use cicd_monitor::config::{Config, SecurityConfig};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::support::{config, event, TestApp, GITLAB_TOKEN};

fn with_security(security: SecurityConfig) -> Config {
    Config {
        security,
        ..config(true, PathBuf::from("/nonexistent"))
    }
}

/// A request as it arrives from `peer` (the socket address `ConnectInfo` gives in `serve`).
async fn from(
    app: &TestApp,
    peer: &str,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let res: Response = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn bearer(token: &str) -> (String, String) {
    ("authorization".into(), format!("Bearer {token}"))
}

async fn post_event(
    app: &TestApp,
    peer: &str,
    token: &str,
    id: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (k, v) = bearer(token);
    from(
        app,
        peer,
        Method::POST,
        "/api/events",
        &[(&k, &v)],
        event(json!({"id": id})),
    )
    .await
}

fn assert_limited(status: StatusCode, headers: &axum::http::HeaderMap, body: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let retry: u64 = headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "Retry-After in whole seconds, at least 1");
}

#[sqlx::test(migrations = "../migrations")]
async fn ingest_over_the_rate_of_a_token_is_refused_with_429_and_retry_after(pool: PgPool) {
    let app = TestApp::with_config(
        pool,
        with_security(SecurityConfig {
            rate_limit_ingest: 1,
            rate_limit_ingest_burst: 3,
            ..SecurityConfig::unlimited()
        }),
    )
    .await;
    // Different addresses, one token: the token's budget is what runs out.
    for (i, peer) in ["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"].iter().enumerate() {
        let (status, _, body) = post_event(&app, peer, &app.ingest, &format!("r{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, headers, body) = post_event(&app, "192.0.2.4:1", &app.ingest, "r4").await;
    assert_limited(status, &headers, &body);
    let other = app.token(Scope::Ingest).await;
    let (status, _, body) = post_event(&app, "192.0.2.4:1", &other, "r5").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another token has its own budget: {body}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn ingest_over_the_rate_of_an_address_is_refused_whatever_the_token_or_route(pool: PgPool) {
    let app = TestApp::with_config(
        pool,
        with_security(SecurityConfig {
            rate_limit_ingest: 1,
            rate_limit_ingest_burst: 2,
            ..SecurityConfig::unlimited()
        }),
    )
    .await;
    let a = app.token(Scope::Ingest).await;
    let b = app.token(Scope::Ingest).await;
    assert_eq!(
        post_event(&app, "198.51.100.1:1", &a, "x1").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        post_event(&app, "198.51.100.1:2", &b, "x2").await.0,
        StatusCode::CREATED
    );
    let (status, headers, body) = post_event(&app, "198.51.100.1:3", &app.ingest, "x3").await;
    assert_limited(status, &headers, &body);
    // The webhooks share the address's budget, and are refused before their signature is checked.
    let (status, headers, body) = from(
        &app,
        "198.51.100.1:4",
        Method::POST,
        "/api/webhooks/gitlab",
        &[
            ("x-gitlab-token", GITLAB_TOKEN),
            ("x-gitlab-event", "Pipeline Hook"),
        ],
        json!({}),
    )
    .await;
    assert_limited(status, &headers, &body);
    // Another address, and the read routes, are not affected.
    assert_eq!(
        post_event(&app, "198.51.100.2:1", &a, "x4").await.0,
        StatusCode::CREATED
    );
    let (status, _, _) = from(&app, "198.51.100.1:5", Method::GET, "/api/runs", &[], Value::Null).await;
    assert_eq!(status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy(pool: PgPool) {
    let app = TestApp::with_config(
        pool,
        with_security(SecurityConfig {
            rate_limit_ingest: 1,
            rate_limit_ingest_burst: 1,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..SecurityConfig::unlimited()
        }),
    )
    .await;
    // A fresh token per request, so that only the address's budget (one request) counts.
    let post = |peer: &'static str, forwarded: &'static str, id: &'static str| {
        let app = app.clone();
        async move {
            let token = format!("Bearer {}", app.token(Scope::Ingest).await);
            let headers = [("authorization", token.as_str()), ("x-forwarded-for", forwarded)];
            let body = event(json!({"id": id}));
            from(&app, peer, Method::POST, "/api/events", &headers, body)
                .await
                .0
        }
    };
    // Behind the proxy, two clients are two addresses, each with its own budget…
    assert_eq!(post("10.0.0.1:1", "203.0.113.5", "p1").await, StatusCode::CREATED);
    assert_eq!(post("10.0.0.1:2", "203.0.113.6", "p2").await, StatusCode::CREATED);
    assert_eq!(
        post("10.0.0.1:3", "203.0.113.6", "p3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and a client sending X-Forwarded-For straight to the backend is its socket address,
    // whatever it claims.
    assert_eq!(
        post("198.51.100.9:1", "203.0.113.7", "p4").await,
        StatusCode::CREATED
    );
    assert_eq!(
        post("198.51.100.9:2", "203.0.113.8", "p5").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a spoofed header does not buy a new budget"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failed_authentications_block_the_address_for_a_while(pool: PgPool) {
    let app = TestApp::with_config(
        pool,
        with_security(SecurityConfig {
            rate_limit_auth_failures: 3,
            ..SecurityConfig::unlimited()
        }),
    )
    .await;
    let attacker = "203.0.113.66:4000";
    let read = app.token(Scope::Read).await;
    // Three failures of any kind: unknown token, wrong GitLab token, unsigned GitHub delivery.
    let (k, v) = bearer("cicd_guess1");
    assert_eq!(
        from(
            &app,
            attacker,
            Method::GET,
            "/api/tokens",
            &[(&k, &v)],
            Value::Null
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let wrong = [("x-gitlab-token", "guess2")];
    assert_eq!(
        from(
            &app,
            attacker,
            Method::POST,
            "/api/webhooks/gitlab",
            &wrong,
            json!({})
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        from(
            &app,
            attacker,
            Method::POST,
            "/api/webhooks/github",
            &[],
            json!({})
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    // The fourth within the minute is refused, and so is everything else from that address, even
    // a right guess: a blocked address learns nothing.
    let (k, v) = bearer("cicd_guess4");
    let (status, headers, body) = from(
        &app,
        attacker,
        Method::GET,
        "/api/tokens",
        &[(&k, &v)],
        Value::Null,
    )
    .await;
    assert_limited(status, &headers, &body);
    let (k, v) = bearer(&read);
    let (status, headers, body) =
        from(&app, attacker, Method::GET, "/api/runs", &[(&k, &v)], Value::Null).await;
    assert_limited(status, &headers, &body);
    let right = [("x-gitlab-token", GITLAB_TOKEN)];
    assert_eq!(
        from(
            &app,
            attacker,
            Method::POST,
            "/api/webhooks/gitlab",
            &right,
            json!({})
        )
        .await
        .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Others are not affected; successes never count.
    let (status, _, _) = from(
        &app,
        "192.0.2.10:1",
        Method::GET,
        "/api/runs",
        &[(&k, &v)],
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..10 {
        let (status, _, _) = from(
            &app,
            "192.0.2.11:1",
            Method::GET,
            "/api/runs",
            &[(&k, &v)],
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // A wrong scope (403) is not a failed authentication either.
    for _ in 0..5 {
        let (status, _, _) = from(
            &app,
            "192.0.2.12:1",
            Method::GET,
            "/api/tokens",
            &[(&k, &v)],
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_default_limits_let_a_busy_sender_through(pool: PgPool) {
    // The defaults (10,000 requests/s, burst 20,000) are far above what one sender does in tests
    // and above what the ingest benchmark reaches from one token and one address (docs/benchmarks.md).
    let app = TestApp::with_config(pool, with_security(SecurityConfig::default())).await;
    for i in 0..200 {
        let (status, _, body) = post_event(&app, "127.0.0.1:9", &app.ingest, &format!("busy{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

fn assert_security_headers(what: &str, headers: &axum::http::HeaderMap) {
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp} lacks {directive}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{what}");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{what}");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_response_carries_the_security_headers(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("cicd-spa-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><script type=module src=/assets/a.js></script>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/a.js"), "console.log(1)").unwrap();
    let app = TestApp::with(pool, false, dir.clone()).await;
    for (uri, token) in [
        ("/health", None),
        ("/metrics", None),
        ("/api/runs", None),
        ("/api/runs", Some(app.ingest.clone())),
        ("/api/no-such-route", None),
        ("/", None),
        ("/runs/deep/link", None),
        ("/assets/a.js", None),
    ] {
        let r = match &token {
            Some(t) => app.get_as(uri, t).await,
            None => app.get(uri).await,
        };
        assert_security_headers(&format!("GET {uri} ({})", r.status), &r.headers);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

async fn preflight(app: &TestApp, origin: &str) -> axum::http::HeaderMap {
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/runs")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap().headers().clone()
}

async fn cross_origin_get(app: &TestApp, origin: &str) -> axum::http::HeaderMap {
    let req = Request::builder()
        .uri("/api/runs")
        .header(header::ORIGIN, origin)
        .body(Body::empty())
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap().headers().clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn cross_origin_requests_are_allowed_only_from_configured_origins(pool: PgPool) {
    let closed = TestApp::new(pool.clone()).await;
    for headers in [
        preflight(&closed, "https://dash.example.com").await,
        cross_origin_get(&closed, "https://dash.example.com").await,
    ] {
        assert!(
            !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "CORS is off by default"
        );
    }

    let open = TestApp::with_config(
        pool,
        with_security(SecurityConfig {
            cors_origins: vec!["https://dash.example.com".into()],
            ..SecurityConfig::unlimited()
        }),
    )
    .await;
    let headers = preflight(&open, "https://dash.example.com").await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://dash.example.com"
    );
    let methods = headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("GET") && methods.contains("POST"), "{methods}");
    assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    let headers = cross_origin_get(&open, "https://dash.example.com").await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://dash.example.com"
    );
    assert_security_headers("a CORS response", &headers);
    for headers in [
        preflight(&open, "https://evil.example.net").await,
        cross_origin_get(&open, "https://evil.example.net").await,
    ] {
        assert!(
            !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "another origin is not allowed"
        );
    }
}

#[test]
fn a_cors_origin_that_is_not_an_origin_is_refused_at_start() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://unused")
            .unwrap();
        let cfg = with_security(SecurityConfig {
            cors_origins: vec!["dash.example.com".into()],
            ..SecurityConfig::unlimited()
        });
        let err = cicd_monitor::state(pool, &cfg).err().expect("refused");
        assert!(err.to_string().contains("CICD_CORS_ORIGINS"), "{err}");
    });
}
