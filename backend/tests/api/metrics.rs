use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::dashboard;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{event, fields, TestApp};

fn at(hours_ago: i64, now: DateTime<Utc>) -> String {
    (now - TimeDelta::hours(hours_ago)).to_rfc3339()
}

/// Posts a finished run `hours_ago` hours before now.
async fn run(
    app: &TestApp,
    id: &str,
    repo: &str,
    workflow: &str,
    branch: &str,
    status: &str,
    hours_ago: i64,
    secs: f64,
) {
    let now = Utc::now();
    let start = now - TimeDelta::hours(hours_ago);
    let body = event(json!({
        "id": id, "repo": repo, "workflow": workflow, "branch": branch, "status": status,
        "duration_seconds": secs, "started_at": start.to_rfc3339(),
        "finished_at": (start + TimeDelta::milliseconds((secs * 1000.0) as i64)).to_rfc3339(),
    }));
    let r = app.event(&body).await;
    assert!(r.status.is_success(), "{}", r.text);
}

async fn seed(app: &TestApp) {
    run(app, "1", "org/a", "ci", "main", "success", 1, 100.0).await;
    run(app, "2", "org/a", "ci", "main", "failure", 2, 300.0).await;
    run(app, "3", "org/a", "deploy", "main", "success", 3, 60.0).await;
    run(app, "4", "org/b", "ci", "dev", "cancelled", 30, 10.0).await;
    run(app, "5", "org/b", "ci", "main", "success", 50, 200.0).await;
    // Previous period of a 7-day window.
    run(app, "6", "org/a", "ci", "main", "failure", 24 * 8, 100.0).await;
}

fn summary(body: &Value) -> (i64, i64, i64, i64) {
    let s = &body["summary"];
    (
        s["total_runs"].as_i64().unwrap(),
        s["success"].as_i64().unwrap(),
        s["failure"].as_i64().unwrap(),
        s["cancelled"].as_i64().unwrap(),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn the_response_has_the_seed_shape(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app).await;
    let r = app.get("/api/metrics").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = &r.body["summary"];
    for key in [
        "total_runs",
        "success_rate",
        "avg_duration_seconds",
        "last_updated",
        "p50_duration_seconds",
        "p95_duration_seconds",
        "failed_last_24h",
        "cancelled",
        "running",
    ] {
        assert!(s.get(key).is_some(), "summary.{key} missing");
    }
    assert_eq!(summary(&r.body), (5, 3, 1, 1));
    assert_eq!(s["success_rate"], 0.75);
    assert_eq!(s["avg_duration_seconds"], 134.0);
    assert_eq!(s["failed_last_24h"], 1);
    let point = &r.body["time_series"][0];
    for key in ["timestamp", "success", "failure", "avg_duration"] {
        assert!(point.get(key).is_some(), "time_series[].{key} missing");
    }
    assert_eq!(r.body["window"]["group_by"], "day");
    assert_eq!(r.body["window"]["source"], "rollups");
    let recent = r.body["recent_runs"].as_array().unwrap();
    assert_eq!(recent[0]["id"], "1", "newest first");
    for key in [
        "id",
        "workflow",
        "status",
        "duration_seconds",
        "started_at",
        "finished_at",
        "repo",
        "branch",
        "triggered_by",
    ] {
        assert!(recent[0].get(key).is_some(), "recent_runs[].{key} missing");
    }
    assert_eq!(r.body["previous"]["total_runs"], 1);
    assert_eq!(r.body["previous"]["failure"], 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_time_series_is_zero_filled_and_sums_to_the_summary(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app).await;
    let now = Utc::now();
    let url = format!(
        "/api/metrics?from={}&to={}&group_by=hour",
        at(48, now),
        at(0, now)
    )
    .replace('+', "%2B");
    let r = app.get(&url).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let series = r.body["time_series"].as_array().unwrap();
    assert!((48..=49).contains(&series.len()), "{}", series.len());
    let sum = |k: &str| series.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        sum("success") + sum("failure") + sum("cancelled"),
        r.body["summary"]["total_runs"].as_i64().unwrap()
    );
    assert!(series
        .iter()
        .any(|p| p["success"] == 0 && p["avg_duration"].is_null()));
}

#[sqlx::test(migrations = "../migrations")]
async fn filters_narrow_the_numbers_through_rollups_or_runs_alike(pool: PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app).await;
    let by_repo = app.get("/api/metrics?repo=org/a").await;
    assert_eq!(summary(&by_repo.body), (3, 2, 1, 0));
    let by_wf = app.get("/api/metrics?repo=org/a&workflow=ci").await;
    assert_eq!(summary(&by_wf.body), (2, 1, 1, 0));
    assert_eq!(by_wf.body["window"]["source"], "rollups");
    let by_branch = app.get("/api/metrics?branch=main").await;
    assert_eq!(summary(&by_branch.body), (4, 3, 1, 0));
    // No rollup scope covers repo + branch: read from runs, same answer shape.
    let raw = app.get("/api/metrics?repo=org/b&branch=dev").await;
    assert_eq!(raw.body["window"]["source"], "runs");
    assert_eq!(summary(&raw.body), (1, 0, 0, 1));
    let wf_all = app.get("/api/metrics?workflow=ci").await;
    assert_eq!(summary(&wf_all.body), (4, 2, 1, 1));
    let failed = app.get("/api/metrics?status=failure").await;
    assert_eq!(summary(&failed.body), (1, 0, 1, 0));
    assert!(failed.body["recent_runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "failure"));
}

#[sqlx::test(migrations = "../migrations")]
async fn rollups_and_runs_give_identical_numbers(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    for i in 0..60 {
        let status = ["success", "failure", "cancelled", "skipped"][i % 4];
        run(
            &app,
            &format!("r{i}"),
            "org/a",
            "ci",
            "main",
            status,
            (i as i64 * 7) % 160,
            5.0 + (i * i) as f64,
        )
        .await;
    }
    // repo+workflow is answered by rollups; adding branch=main (every run) forces the runs path.
    let rolled = app.get("/api/metrics?repo=org/a&workflow=ci").await.body;
    let raw = app
        .get("/api/metrics?repo=org/a&workflow=ci&branch=main")
        .await
        .body;
    assert_eq!(rolled["window"]["source"], "rollups");
    assert_eq!(raw["window"]["source"], "runs");
    assert_eq!(rolled["summary"]["total_runs"], raw["summary"]["total_runs"]);
    assert_eq!(
        rolled["summary"]["p95_duration_seconds"],
        raw["summary"]["p95_duration_seconds"]
    );
    assert_eq!(rolled["time_series"], raw["time_series"]);
    assert_eq!(rolled["previous"], raw["previous"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_windows_and_parameters_are_rejected(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app
        .get("/api/metrics?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.body), ["from"]);
    let r = app.get("/api/metrics?group_by=month").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "bad_request");
    let r = app.get("/api/metrics?limit=501").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/api/metrics?limit=0").await;
    assert_eq!(r.status, StatusCode::OK, "limit=0 asks for no recent runs");
    assert_eq!(r.body["recent_runs"], serde_json::json!([]));
    let r = app
        .get("/api/metrics?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z&group_by=hour")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../migrations")]
async fn reads_need_a_read_token_when_not_public(pool: PgPool) {
    let app = TestApp::with(pool, false, "/nonexistent".into()).await;
    assert_eq!(app.get("/api/metrics").await.status, StatusCode::UNAUTHORIZED);
    let ingest = app.ingest.clone();
    assert_eq!(
        app.get_as("/api/metrics", &ingest).await.status,
        StatusCode::FORBIDDEN
    );
    let read = app.token(cicd_monitor::auth::Scope::Read).await;
    assert_eq!(app.get_as("/api/metrics", &read).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn queue_time_is_summarised_from_rollups_and_runs_alike(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let now = Utc::now();
    for (i, queue) in [Some(10), Some(20), Some(30), None].into_iter().enumerate() {
        let start = now - TimeDelta::hours(2 + i as i64);
        let mut body = event(json!({
            "id": format!("q{i}"), "repo": "org/q", "workflow": "ci", "status": "success",
            "started_at": start.to_rfc3339(), "finished_at": (start + TimeDelta::seconds(60)).to_rfc3339(),
        }));
        body.as_object_mut().unwrap().remove("duration_seconds");
        if let Some(q) = queue {
            body["queued_at"] = json!((start - TimeDelta::seconds(q)).to_rfc3339());
        }
        let r = app.event(&body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            r.body["queue_seconds"],
            queue.map_or(Value::Null, |q| json!(q as f64))
        );
    }
    let rolled = app.get("/api/metrics?repo=org/q").await.body;
    let raw = app.get("/api/metrics?repo=org/q&branch=main").await.body;
    assert_eq!(raw["window"]["source"], "runs");
    for body in [&rolled, &raw] {
        let s = &body["summary"];
        assert_eq!(s["avg_queue_seconds"], 20.0, "{s}");
        let p95 = s["p95_queue_seconds"].as_f64().unwrap();
        assert!((26.0..=34.0).contains(&p95), "p95 {p95}");
        let with_queue: Vec<&Value> = body["time_series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !p["avg_queue"].is_null())
            .collect();
        assert!(!with_queue.is_empty());
    }
    assert_eq!(rolled["time_series"], raw["time_series"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn days_start_at_midnight_in_the_chosen_time_zone(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Paris moves from UTC+1 to UTC+2 on 29 March 2026: that day is 23 hours long.
    for (id, start, end) in [
        ("a", "2026-03-28T23:30:00Z", "2026-03-28T23:31:00Z"),
        ("b", "2026-03-29T22:30:00Z", "2026-03-29T22:31:00Z"),
    ] {
        let r = app
            .event(&event(json!({
                "id": id, "repo": "org/a", "workflow": "ci", "branch": "main", "status": "success",
                "started_at": start, "finished_at": end,
            })))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let window = "from=2026-03-28T00:00:00Z&to=2026-03-31T00:00:00Z&group_by=day";
    let days = |body: &Value| -> Vec<(String, i64)> {
        body["time_series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["timestamp"].as_str().unwrap().to_owned(),
                    p["success"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let paris = app
        .get(&format!("/api/metrics?{window}&repo=org/a&tz=Europe/Paris"))
        .await;
    assert_eq!(paris.status, StatusCode::OK, "{}", paris.text);
    assert_eq!(paris.body["window"]["tz"], "Europe/Paris");
    let expected: Vec<(String, i64)> = [
        ("2026-03-27T23:00:00Z", 0),
        ("2026-03-28T23:00:00Z", 1),
        ("2026-03-29T22:00:00Z", 1),
        ("2026-03-30T22:00:00Z", 0),
    ]
    .map(|(t, n)| (t.to_owned(), n))
    .into();
    assert_eq!(days(&paris.body), expected);
    // The runs path (repo + branch) cuts days alike.
    let raw = app
        .get(&format!(
            "/api/metrics?{window}&repo=org/a&branch=main&tz=Europe/Paris"
        ))
        .await;
    assert_eq!(raw.body["window"]["source"], "runs");
    assert_eq!(days(&raw.body), expected);

    let utc = app.get(&format!("/api/metrics?{window}")).await;
    assert_eq!(utc.body["window"]["tz"], "UTC");
    let utc_days = days(&utc.body);
    assert_eq!(utc_days[0], ("2026-03-28T00:00:00Z".to_owned(), 1));
    assert_eq!(utc_days[1], ("2026-03-29T00:00:00Z".to_owned(), 1));

    let r = app.get("/api/metrics?tz=Mars/Olympus_Mons").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r.body), ["tz"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_zone_the_database_does_not_know_is_a_422_on_tz(pool: PgPool) {
    // What PostgreSQL answers for a zone missing from its (possibly older) time zone data.
    let err = sqlx::query("select date_trunc('day', now(), 'Nowhere/Atlantis')")
        .execute(&pool)
        .await
        .unwrap_err();
    let e = dashboard::zone_unknown_to_database(err, chrono_tz::Tz::UTC);
    assert!(
        matches!(&e, dashboard::Error::Invalid(f) if f.len() == 1 && f[0].field == "tz"),
        "{e:?}"
    );
    // Any other database error stays what it was.
    let other = sqlx::query("select 1/0").execute(&pool).await.unwrap_err();
    assert!(matches!(
        dashboard::zone_unknown_to_database(other, chrono_tz::Tz::UTC),
        dashboard::Error::Database(_)
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_of_the_last_day_come_with_the_day_before(pool: PgPool) {
    let app = TestApp::new(pool).await;
    run(&app, "1", "org/a", "ci", "main", "failure", 2, 10.0).await;
    run(&app, "2", "org/a", "ci", "main", "failure", 30, 10.0).await;
    run(&app, "3", "org/a", "ci", "main", "failure", 40, 10.0).await;
    run(&app, "4", "org/a", "ci", "main", "failure", 60, 10.0).await;
    let s = app.get("/api/metrics").await.body["summary"].clone();
    assert_eq!(
        (s["failed_last_24h"].as_i64(), s["failed_previous_24h"].as_i64()),
        (Some(1), Some(2))
    );
}
