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

/// Every id reached by following `next_cursor` from `first`, page by page.
async fn walk(app: &TestApp, first: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut url = first.to_owned();
    loop {
        let page = app.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
        let runs = page.body["runs"].as_array().unwrap();
        assert!(runs.len() <= 2, "pages hold at most `limit` runs");
        seen.extend(runs.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("{first}&cursor={c}"),
            None => break,
        }
    }
    seen
}

/// The duration orders read a window of at most 400 days (by default the last 400): these runs are older.
const WINDOW: &str = "from=2025-08-27T00:00:00Z&to=2025-08-28T00:00:00Z";

#[sqlx::test(migrations = "../migrations")]
async fn runs_are_sorted_four_ways_and_paged_without_gaps_or_repeats(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // (id, started hour, duration): ties in both keys, and runs without a duration.
    let runs = [
        ("a", 1, Some(30.0)),
        ("b", 2, None),
        ("c", 2, Some(7.5)),
        ("d", 3, Some(30.0)),
        ("e", 4, Some(0.25)),
        ("f", 5, None),
        ("g", 6, Some(30.0)),
    ];
    for (id, hour, duration) in runs {
        let r = app
            .event(&event(json!({
                "id": id, "started_at": format!("2025-08-27T0{hour}:00:00Z"), "finished_at": null,
                "duration_seconds": duration, "status": "running"
            })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let cases = [
        ("newest", vec!["g", "f", "e", "d", "c", "b", "a"]),
        ("oldest", vec!["a", "b", "c", "d", "e", "f", "g"]),
        ("slowest", vec!["g", "d", "a", "c", "e", "f", "b"]),
        ("fastest", vec!["e", "c", "a", "d", "g", "b", "f"]),
    ];
    for (sort, expected) in cases {
        assert_eq!(
            walk(&app, &format!("/api/runs?limit=2&sort={sort}&{WINDOW}")).await,
            expected,
            "sort={sort}"
        );
        // Every page size gives the same order.
        let all = app
            .get(&format!("/api/runs?limit=500&sort={sort}&{WINDOW}"))
            .await;
        let ids: Vec<_> = all.body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, expected, "sort={sort} in one page");
    }
    // The default is newest first, and its cursors go on with an explicit sort=newest.
    assert_eq!(
        walk(&app, "/api/runs?limit=2").await,
        ["g", "f", "e", "d", "c", "b", "a"]
    );
    // Filters apply to every order.
    let later = app
        .get("/api/runs?sort=fastest&status=running&from=2025-08-27T03:00:00Z&to=2025-08-28T00:00:00Z")
        .await;
    let ids: Vec<_> = later.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("e"), json!("d"), json!("g"), json!("f")]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_cursor_only_continues_the_sort_it_came_from(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..3 {
        app.event(&event(json!({"id": format!("r{i}"), "duration_seconds": i})))
            .await;
    }
    let page = app.get(&format!("/api/runs?limit=1&sort=slowest&{WINDOW}")).await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    for other in ["newest", "oldest", "fastest"] {
        let r = app
            .get(&format!("/api/runs?limit=1&sort={other}&cursor={cursor}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{other}: {}", r.text);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sort=slowest"));
    }
    let r = app.get(&format!("/api/runs?limit=1&cursor={cursor}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no sort means newest");
    let r = app.get("/api/runs?sort=longest").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_request");
}
