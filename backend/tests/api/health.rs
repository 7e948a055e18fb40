use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn health_has_the_seed_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert!(r.body["uptime_seconds"].is_u64());
    assert!(r.body["timestamp"].is_string());
    assert!(
        r.headers.contains_key("x-request-id"),
        "every response carries a request id"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn ready_checks_database_and_migrations(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    assert_eq!(
        app.get("/ready").await.body,
        json!({"status": "ready", "database": true, "migrations": true})
    );
    sqlx::query("delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)")
        .execute(&pool)
        .await
        .unwrap();
    let r = app.get("/ready").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[sqlx::test(migrations = "../migrations")]
async fn config_tells_the_ui_what_it_needs(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.get("/api/config").await;
    assert_eq!(r.body["environment"], "test");
    assert_eq!(r.body["auth_mode"], "public-read");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
}

#[sqlx::test(migrations = "../migrations")]
async fn prometheus_metrics_are_well_formed_and_bounded(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event(&event(json!({}))).await;
    app.get("/api/runs/some-id-that-must-not-become-a-label").await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for name in [
        "cicd_http_requests_total",
        "cicd_http_request_duration_seconds_bucket",
        "cicd_runs_ingested_total",
        "cicd_ingest_batch_size_bucket",
        "cicd_db_pool_connections",
        "cicd_stream_clients",
    ] {
        assert!(r.text.contains(name), "{name} missing");
    }
    assert!(r.text.contains(r#"route="/api/runs/{id}""#));
    assert!(!r.text.contains("some-id-that-must-not-become-a-label"));
    assert!(r
        .text
        .contains(r#"cicd_runs_ingested_total{provider="generic",status="success"} 1"#));

    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            child.stdin.take().unwrap().write_all(r.text.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) if std::env::var("CI").is_err() => {
            eprintln!("promtool not installed; `make test` installs it")
        }
        Err(e) => panic!("promtool is required in CI: {e}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn openapi_documents_every_route(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = r.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/events", "post"),
        ("/api/events/batch", "post"),
        ("/api/metrics", "get"),
        ("/api/runs", "get"),
        ("/api/runs/{id}", "get"),
        ("/api/filters", "get"),
        ("/api/stream", "get"),
        ("/api/settings", "get"),
        ("/api/settings", "put"),
        ("/api/tokens", "post"),
        ("/api/tokens", "get"),
        ("/api/tokens/{id}", "delete"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
        ("/api/config", "get"),
        ("/api/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} undocumented"
        );
    }
    assert!(r.body["components"]["schemas"]["ErrorBody"].is_object());
    for schema in ["Settings", "Run", "Hello", "Resync", "IncidentChange"] {
        assert!(
            r.body["components"]["schemas"][schema].is_object(),
            "{schema} undocumented"
        );
    }
    assert!(
        paths["/api/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "the stream is documented as text/event-stream"
    );
    let sort = paths["/api/runs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sort")
        .expect("runs take a sort parameter");
    assert_eq!(
        sort["schema"]["enum"],
        serde_json::json!(["newest", "oldest", "slowest", "fastest"]),
        "{sort}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_api_paths_get_a_json_404_and_others_the_spa(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("cicd-spa-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>ci-cd-monitor</title>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    // As the build writes them: the file compressed once, beside it (what is in it does not matter
    // here, only that it is sent as it is).
    std::fs::write(dir.join("assets/app.js.br"), "brotli bytes").unwrap();
    let app = TestApp::with(pool, true, dir.clone()).await;
    let r = app.get("/api/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
    assert_eq!(r.body["error"]["message"], "no API route /api/nope");
    let wrong_method = app
        .raw(
            axum::http::Method::GET,
            "/api/events",
            None,
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["error"]["code"], "method_not_allowed");
    assert_eq!(
        wrong_method.body["error"]["message"],
        "/api/events does not accept GET"
    );
    let page = app.get("/runs/123").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("ci-cd-monitor"));
    assert_eq!(page.headers["cache-control"], "no-cache");
    let asset = app.get("/assets/app.js").await;
    assert_eq!(asset.text, "console.log(1)");
    assert_eq!(
        asset.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let revalidated = app
        .get_with(
            "/assets/app.js",
            &[(
                "if-modified-since",
                asset.headers["last-modified"].to_str().unwrap(),
            )],
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        revalidated.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let compressed = app
        .get_with("/assets/app.js", &[("accept-encoding", "gzip, br")])
        .await;
    assert_eq!(compressed.headers["content-encoding"], "br");
    assert_eq!(
        compressed.text, "brotli bytes",
        "the build's file, not compressed again"
    );
    // A missing asset is not the app's page (which a browser would keep for a year as a script).
    let missing = app.get("/assets/gone.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "not_found");
    assert_eq!(missing.headers.get("cache-control"), None);
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn the_api_docs_are_served_at_api_docs_and_found_from_docs_and_swagger(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("cicd-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::write(dir.join("api-docs.html"), "<!doctype html><title>API</title>").unwrap();
    let app = TestApp::with(pool.clone(), true, dir.clone()).await;
    let docs = app.get("/api/docs").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert_eq!(docs.text, "<!doctype html><title>API</title>");
    assert_eq!(docs.headers["cache-control"], "no-cache");
    let csp = docs.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' data:") && csp.contains("script-src 'self';"),
        "{csp}"
    );
    for alias in ["/docs", "/swagger"] {
        let r = app.get(alias).await;
        assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT, "{alias}");
        assert_eq!(r.headers["location"], "/api/docs");
    }
    // Other paths under /api stay JSON 404s.
    let nope = app.get("/api/docs/nope").await;
    assert_eq!(nope.status, StatusCode::NOT_FOUND);
    assert_eq!(nope.body["error"]["code"], "not_found");
    std::fs::remove_dir_all(&dir).unwrap();

    // Not built: a JSON 404 that says so.
    let unbuilt = TestApp::new(pool).await.get("/api/docs").await;
    assert_eq!(unbuilt.status, StatusCode::NOT_FOUND);
    let message = unbuilt.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not built"), "{message}");
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_built_dashboard_pages_point_to_the_api(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.get("/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text.contains("/api/openapi.json"), "{}", r.text);
}

#[sqlx::test(migrations = false)]
async fn replicas_starting_together_apply_each_migration_once(pool: PgPool) {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(
            async move { cicd_monitor::db::migrate(&pool).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let n: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n as usize, cicd_monitor::db::MIGRATOR.iter().count());
    assert!(cicd_monitor::db::migrations_applied(&pool).await.unwrap());
}
