//! `GET /api/branches/health` over runs posted through the generic API.

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::db::deployments as store;
use cicd_monitor::delivery::PushEvent;
use serde_json::json;

use crate::support::{event, TestApp};

fn t(hours: i64) -> DateTime<Utc> {
    "2026-11-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::hours(hours)
}

async fn run(app: &TestApp, id: &str, repo: &str, branch: &str, status: &str, hour: i64) {
    let end = t(hour);
    let r = app
        .event(&event(
            json!({"id": id, "repo": repo, "workflow": "ci", "branch": branch, "status": status,
            "duration_seconds": 60, "started_at": (end - TimeDelta::minutes(1)).to_rfc3339(),
            "finished_at": end.to_rfc3339()}),
        ))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn default_branches_come_first_with_their_time_to_green_and_time_red(pool: sqlx::PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // org/b's default branch is develop, as its pushes say.
    let mut conn = pool.acquire().await.unwrap();
    store::record_push(
        &mut conn,
        &PushEvent {
            repo: "org/b".into(),
            default_branch: Some("develop".into()),
            git_ref: "refs/heads/develop".into(),
            before: None,
            after: "b1".into(),
            pushed_at: t(0),
            commits: vec![],
        },
    )
    .await
    .unwrap();
    // org/a main: red 01:00–03:00, then from 20:00 to the end of the day.
    run(&app, "a1", "org/a", "main", "failure", 1).await;
    run(&app, "a2", "org/a", "main", "success", 3).await;
    run(&app, "a3", "org/a", "main", "cancelled", 4).await;
    run(&app, "a4", "org/a", "main", "failure", 20).await;
    // A feature branch red since 05:00.
    run(&app, "f1", "org/a", "feature", "failure", 5).await;
    run(&app, "b1", "org/b", "develop", "success", 10).await;
    run(&app, "b2", "org/b", "main", "success", 11).await;

    let window = format!("from={}&to={}", t(0).to_rfc3339(), t(24).to_rfc3339()).replace('+', "%2B");
    let r = app.get(&format!("/api/branches/health?{window}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<(String, bool)> = r.body["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                format!(
                    "{}:{}",
                    b["repo"].as_str().unwrap(),
                    b["branch"].as_str().unwrap()
                ),
                b["default"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("org/a:main".to_owned(), true),
            ("org/b:develop".to_owned(), true),
            ("org/a:feature".to_owned(), false),
            ("org/b:main".to_owned(), false),
        ]
    );
    let main = &r.body["branches"][0];
    assert_eq!(
        (
            main["runs"].as_i64(),
            main["failures"].as_i64(),
            main["recoveries"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(main["time_to_green_p50_seconds"].as_f64(), Some(7200.0));
    assert_eq!(main["red_share"].as_f64(), Some(0.25));
    assert_eq!(main["longest_red_seconds"].as_f64(), Some(4.0 * 3600.0));
    assert_eq!(main["red_since"].as_str(), Some("2026-11-02T20:00:00Z"));
    let feature = &r.body["branches"][2];
    assert!((feature["red_share"].as_f64().unwrap() - 19.0 / 24.0).abs() < 1e-12);
    assert_eq!(feature["time_to_green_p50_seconds"], serde_json::Value::Null);

    let r = app
        .get(&format!("/api/branches/health?{window}&default=true&repo=org/a"))
        .await;
    assert_eq!(r.body["branches"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app.get("/api/branches/health?limit=0").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["details"][0]["field"], "limit");
}
