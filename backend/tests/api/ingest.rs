use axum::body::Body;
use axum::http::{Method, StatusCode};
use cicd_monitor::auth::Scope;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, fields, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn a_new_event_is_created_and_returned(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.event(&event(json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], "run_20250827_001");
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["duration_seconds"], 123.0);
    assert_eq!(r.body["metadata"]["runner"], "ubuntu-latest");
    assert_eq!(r.body["outcome"], "created");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_event_twice_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // Nanoseconds are beyond PostgreSQL's precision: a replay must still compare equal.
    let body = event(json!({"started_at": "2025-08-27T06:00:00.123456789Z"}));
    let first = app.event(&body).await;
    let again = app.event(&body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["outcome"], "unchanged");
    assert_eq!(first.body["updated_at"], again.body["updated_at"]);
    let n: i64 = sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_late_running_event_after_success_is_ignored_and_says_so(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event(&event(json!({}))).await;
    let late = app
        .event(&event(
            json!({"status": "running", "finished_at": null, "duration_seconds": null}),
        ))
        .await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.body["outcome"], "ignored_stale");
    assert_eq!(late.body["status"], "success");
    assert!(late.body["note"]
        .as_str()
        .unwrap()
        .contains("never moves backwards"));
}

#[sqlx::test(migrations = "../migrations")]
async fn running_then_success_updates_the_run(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app
        .event(&event(
            json!({"status": "running", "finished_at": null, "duration_seconds": null}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app.event(&event(json!({"duration_seconds": null}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["outcome"], "updated");
    assert_eq!(r.body["duration_seconds"], 123.0, "derived from the timestamps");
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_json_is_a_400_in_the_error_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app
        .raw(
            Method::POST,
            "/api/events",
            Some(&app.ingest.clone()),
            Body::from("{\"id\": "),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_request");
}

#[sqlx::test(migrations = "../migrations")]
async fn every_bad_field_is_named_in_a_422_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let bad = event(json!({"status": "exploded", "duration_seconds": -5, "repo": "",
        "finished_at": "2025-08-27T05:00:00Z"}));
    let r = app.event(&bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "validation_failed");
    assert_eq!(
        fields(&r.body),
        ["repo", "status", "duration_seconds", "finished_at"]
    );
    let n: i64 = sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn ingest_needs_a_valid_token_with_the_ingest_scope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let none = app.post("/api/events", None, &event(json!({}))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    let wrong = app
        .post("/api/events", Some("cicd_not_a_real_token"), &event(json!({})))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let read = app.token(Scope::Read).await;
    let forbidden = app.post("/api/events", Some(&read), &event(json!({}))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.body["error"]["code"], "forbidden");
    let admin = app
        .post("/api/events", Some(crate::support::ADMIN), &event(json!({})))
        .await;
    assert_eq!(admin.status, StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_body_over_one_mebibyte_is_a_413(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let big = event(json!({"meta": {"blob": "x".repeat(1024 * 1024)}}));
    let r = app.event(&big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
    assert_eq!(
        r.body["error"]["message"],
        "the body is larger than this route accepts (1 MiB)"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_array_sent_as_one_event_points_to_the_batch_route(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app.event(&json!([event(json!({}))])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let message = r.body["error"]["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("POST /api/events/batch"), "{message}");
}

#[sqlx::test(migrations = "../migrations")]
async fn refusals_name_what_is_expected_in_plain_words(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let message = |r: &crate::support::Reply| {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        r.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let date = message(&app.event(&event(json!({"started_at": "27/08/2025 06:00"}))).await);
    assert!(
        date.contains("RFC 3339") && date.contains("2026-01-31T09:30:00Z"),
        "{date}"
    );
    let number = message(&app.event(&event(json!({"duration_seconds": "fast"}))).await);
    assert!(number.ends_with("expected a number"), "{number}");
    // A query parameter, too (a 400: the query cannot be read).
    let r = app.get("/api/runs?from=yesterday").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let query = r.body["error"]["message"].as_str().unwrap();
    assert!(query.contains("RFC 3339"), "{query}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_answers_each_event_on_its_own(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let batch = json!([
        event(json!({"id": "a"})),
        event(json!({"id": "b", "status": "nope"})),
        event(json!({"id": "a"})),
        event(json!({"id": "c", "status": "running", "finished_at": null})),
    ]);
    let r = app
        .post("/api/events/batch", Some(&app.ingest.clone()), &batch)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 3);
    assert_eq!(r.body["rejected"], 1);
    let statuses: Vec<u64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 422, 200, 201]);
    assert_eq!(r.body["results"][2]["result"]["outcome"], "unchanged");
    assert_eq!(r.body["results"][1]["error"]["details"][0]["field"], "[1].status");
    let n: i64 = sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_must_be_a_non_empty_array_of_at_most_1000(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.ingest.clone();
    assert_eq!(
        app.post("/api/events/batch", Some(&token), &json!({"id": 1}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post("/api/events/batch", Some(&token), &json!([]))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let many: Vec<_> = (0..1001).map(|i| event(json!({"id": format!("r{i}")}))).collect();
    let r = app.post("/api/events/batch", Some(&token), &json!(many)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrations = "../migrations")]
async fn many_parallel_writers_lose_and_duplicate_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut tasks = Vec::new();
    for w in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                // Each writer creates its own runs and also finishes a shared one.
                let own = app.event(&event(json!({"id": format!("w{w}-{i}")}))).await;
                assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
                let shared = app
                    .event(&event(json!({"id": format!("shared-{i}"), "status": "failure"})))
                    .await;
                assert!(shared.status.is_success(), "{}", shared.text);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n: i64 = sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 16 * 25 + 25);
    cicd_monitor::db::rollups::fold_all(&pool).await.unwrap();
    let total: i64 = sqlx::query_scalar("select sum(runs)::int8 from run_rollups where scope = 0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, n);
}
