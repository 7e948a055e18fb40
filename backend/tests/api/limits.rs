//! Every limit of `backend/src/domain/limits.rs` (the README's table), through the router: a clear
//! 4xx in the error shape for clients that can fix their request, a cut (noted) for webhooks.

use axum::http::StatusCode;
use cicd_monitor::domain::limits::{MAX_ID, MAX_NAME, MAX_STORED_METADATA};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{event, fields, TestApp};
use crate::webhooks::{deliver, workflow_run};

async fn runs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!([inner]))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_body_may_reach_ten_mebibytes_and_no_further(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let token = app.ingest.clone();
    // 40 events of 50 KiB each: 2 MiB, over the single-event limit but within the batch's.
    let events: Vec<_> = (0..40)
        .map(|i| event(json!({"id": format!("r{i}"), "meta": {"log": "x".repeat(50 * 1024)}})))
        .collect();
    let r = app.post("/api/events/batch", Some(&token), &json!(events)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 40);

    let events: Vec<_> = (0..200)
        .map(|i| event(json!({"id": format!("big{i}"), "meta": {"log": "x".repeat(60 * 1024)}})))
        .collect();
    let r = app.post("/api/events/batch", Some(&token), &json!(events)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
    assert_eq!(
        r.body["error"]["message"],
        "the body is larger than this route accepts (10 MiB)"
    );
    assert_eq!(runs(&pool).await, 40, "nothing of the refused batch was written");
}

#[sqlx::test(migrations = "../migrations")]
async fn json_nested_deeper_than_64_levels_is_a_400_everywhere(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let token = app.ingest.clone();
    // The event object and `meta` are two levels: 62 more reach the limit.
    let ok = event(json!({"id": "ok", "meta": {"a": nested(62)}}));
    assert_eq!(app.event(&ok).await.status, StatusCode::CREATED);
    for depth in [63, 200] {
        let deep = event(json!({"id": "deep", "meta": {"a": nested(depth)}}));
        let r = app.event(&deep).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{depth}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "bad_request");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("64 levels"));
        // In a batch, each item may nest as deeply as a single event.
        let r = app
            .post("/api/events/batch", Some(&token), &json!([ok, deep]))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{depth}: {}", r.text);
    }
    let r = app
        .post(
            "/api/events/batch",
            Some(&token),
            &json!([event(json!({"id": "ok2", "meta": {"a": nested(62)}}))]),
        )
        .await;
    assert_eq!(r.body["accepted"], 1, "{}", r.text);

    let mut payload = workflow_run(1, 1, "completed", json!("success"));
    payload["workflow_run"]["extra"] = nested(100);
    let r = deliver(
        &app,
        "workflow_run",
        "d-deep",
        crate::support::GITHUB_SECRET,
        &payload,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(runs(&pool).await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn generic_fields_over_their_length_are_named_in_a_422(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let long = "x".repeat(MAX_NAME + 1);
    let many: serde_json::Map<String, Value> = (0..1001).map(|i| (format!("k{i}"), json!(i))).collect();
    let r = app
        .event(&event(json!({
            "commit_sha": long, "triggered_by": long, "url": format!("https://e.com/{}", "u".repeat(2048)),
            "meta": many,
        })))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r.body), ["commit_sha", "triggered_by", "url", "meta"]);
    assert_eq!(runs(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn webhook_values_over_the_limits_are_cut_and_noted(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut payload = workflow_run(1, 1, "completed", json!("success"));
    payload["workflow_run"]["id"] = json!("9".repeat(700));
    payload["workflow_run"]["head_branch"] = json!("b".repeat(300));
    payload["workflow_run"]["pad"] = json!("p".repeat(MAX_STORED_METADATA));
    let r = deliver(
        &app,
        "workflow_run",
        "d-long",
        crate::support::GITHUB_SECRET,
        &payload,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["runs"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id.chars().count(), MAX_ID);
    let (branch, metadata): (String, Value) =
        sqlx::query_as("select branch, metadata from pipeline_runs where id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(branch.chars().count(), MAX_NAME);
    assert!(
        metadata["omitted"].as_str().unwrap().contains("bytes"),
        "{metadata}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn ranges_pages_and_filters_are_bounded(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let long = "r".repeat(MAX_NAME + 1);
    for (uri, field) in [
        ("/api/runs?limit=0".to_owned(), "limit"),
        ("/api/runs?limit=501".to_owned(), "limit"),
        (
            "/api/runs?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z".to_owned(),
            "from",
        ),
        (
            "/api/runs?sort=slowest&from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z".to_owned(),
            "from",
        ),
        (
            "/api/runs?sort=fastest&from=2020-01-01T00:00:00Z".to_owned(),
            "from",
        ),
        (format!("/api/runs?repo={long}"), "repo"),
        (format!("/api/runs?provider={long}"), "provider"),
        ("/api/metrics?limit=501".to_owned(), "limit"),
        (
            "/api/metrics?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z".to_owned(),
            "from",
        ),
        (format!("/api/metrics?branch={long}"), "branch"),
        ("/api/alerts?limit=501".to_owned(), "limit"),
    ] {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "validation_failed", "{uri}");
        assert_eq!(fields(&r.body), [field], "{uri}");
    }
    // The time orders take any window; the duration orders 400 days (the default when `from` is absent).
    for uri in [
        "/api/runs?from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
        "/api/runs?sort=oldest&from=2000-01-01T00:00:00Z",
        "/api/runs?sort=slowest",
        "/api/runs?sort=slowest&from=2024-01-01T00:00:00Z&to=2025-02-04T00:00:00Z",
        "/api/runs?limit=500",
    ] {
        assert_eq!(app.get(uri).await.status, StatusCode::OK, "{uri}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_nul_character_is_refused_by_name_or_replaced_in_webhooks(pool: PgPool) {
    // PostgreSQL stores no NUL (U+0000) in text or jsonb: every way one can arrive gets a 4xx naming
    // it, or (webhooks, which cannot be refused back) becomes U+FFFD — never a 500.
    let app = TestApp::new(pool.clone()).await;
    let token = app.ingest.clone();
    let nul = |field: &str, r: &crate::support::Reply| {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", r.text);
        assert_eq!(r.body["error"]["details"][0]["field"], field, "{}", r.text);
        assert!(r.text.contains("NUL"), "{}", r.text);
    };
    nul(
        "repo",
        &app.event(&event(json!({"id": "n1", "repo": "a\u{0}b"}))).await,
    );
    nul(
        "meta.log[1]",
        &app.event(&event(json!({"id": "n2", "meta": {"log": ["ok", "\u{0}"]}})))
            .await,
    );
    let r = app
        .post(
            "/api/events/batch",
            Some(&token),
            &json!([event(json!({"id": "fine"})), event(json!({"id": "n\u{0}3"}))]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 1);
    assert_eq!(r.body["results"][1]["error"]["details"][0]["field"], "[1].id");
    assert_eq!(runs(&pool).await, 1);

    for (uri, what) in [
        ("/api/metrics?repo=a%00b", "query parameter `repo`"),
        ("/api/runs?branch=%00", "query parameter `branch`"),
        ("/api/runs/run%00x", "the path"),
    ] {
        let r = app.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(what) && message.contains("NUL"),
            "{uri}: {message}"
        );
    }
    let rule = json!({"name": "red\u{0}", "spec": {}});
    let r = app
        .post("/api/alert-rules", Some(crate::support::ADMIN), &rule)
        .await;
    nul("name", &r);

    let mut payload = workflow_run(2, 1, "completed", json!("success"));
    payload["workflow_run"]["head_branch"] = json!("fix\u{0}it");
    payload["workflow_run"]["note"] = json!({"k\u{0}": "v\u{0}"});
    let r = deliver(
        &app,
        "workflow_run",
        "d-nul",
        crate::support::GITHUB_SECRET,
        &payload,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (branch, metadata): (String, Value) =
        sqlx::query_as("select branch, metadata from pipeline_runs where provider = 'github'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(branch, "fix\u{FFFD}it");
    assert_eq!(metadata.to_string().matches('\u{FFFD}').count(), 3, "{metadata}");
}
