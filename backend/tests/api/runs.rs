use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, TestApp};

#[sqlx::test(migrations = "../migrations")]
async fn runs_are_listed_newest_first_page_by_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..7 {
        let started = format!("2025-08-27T0{i}:00:00Z");
        let r = app.event(&event(json!({"id": format!("r{i}"), "started_at": started, "finished_at": null, "duration_seconds": 5}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let mut seen = Vec::new();
    let mut url = "/api/runs?limit=3".to_owned();
    loop {
        let page = app.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for r in page.body["runs"].as_array().unwrap() {
            assert!(r.get("metadata").is_none(), "lists omit raw payloads");
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/runs?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]);
    assert_eq!(
        app.get("/api/runs?cursor=garbage").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_can_be_filtered(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event(&event(json!({"id": "a", "repo": "org/a", "status": "failure"})))
        .await;
    app.event(&event(json!({"id": "b", "repo": "org/b"}))).await;
    let r = app.get("/api/runs?repo=org/a&status=failure").await;
    let ids: Vec<_> = r.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a")]);
    assert_eq!(
        app.get("/api/runs?status=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn one_run_comes_with_its_raw_metadata(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event(&event(json!({"id": "with/slash"}))).await;
    let r = app.get("/api/runs/with%2Fslash").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["metadata"]["runner"], "ubuntu-latest");
    let missing = app.get("/api/runs/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "not_found");
}

#[sqlx::test(migrations = "../migrations")]
async fn filters_list_what_was_seen(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.event(&event(
        json!({"id": "a", "repo": "org/a", "workflow": "ci", "branch": "main"}),
    ))
    .await;
    app.event(&event(
        json!({"id": "b", "repo": "org/b", "workflow": "deploy", "branch": null}),
    ))
    .await;
    let r = app.get("/api/filters").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["repos"], json!(["org/a", "org/b"]));
    assert_eq!(r.body["branches"], json!(["main"]));
    assert_eq!(r.body["providers"], json!(["generic"]));
    assert_eq!(
        r.body["workflows"][1],
        json!({"repo": "org/b", "workflow": "deploy"})
    );
}
