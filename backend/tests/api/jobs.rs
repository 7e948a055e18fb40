//! The jobs, runners and usage views, fed by signed GitHub `workflow_run` and `workflow_job`
//! deliveries as GitHub documents them.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{TestApp, GITHUB_SECRET};
use crate::webhooks::deliver;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A `workflow_run` of `acme/api` (run `id`), created at `at`.
pub fn run(id: i64, at: DateTime<Utc>, status: &str, conclusion: Value) -> Value {
    json!({
        "action": if status == "completed" { "completed" } else { status },
        "workflow_run": {
            "id": id, "name": "CI", "run_number": id, "run_attempt": 1,
            "head_branch": "main", "head_sha": "abc123", "event": "push",
            "status": status, "conclusion": conclusion,
            "created_at": ts(at), "run_started_at": ts(at), "updated_at": ts(at + TimeDelta::minutes(9)),
        },
        "repository": {"full_name": "acme/api"}
    })
}

/// A `workflow_job` of run `run_id`: queued at `queued`, started `queue_s` later, ran `ran_s`.
#[allow(clippy::too_many_arguments)]
pub fn job(
    run_id: i64,
    id: i64,
    name: &str,
    labels: &[&str],
    action: &str,
    conclusion: Value,
    queued: DateTime<Utc>,
    queue_s: i64,
    ran_s: i64,
) -> Value {
    let started = queued + TimeDelta::seconds(queue_s);
    json!({
        "action": action,
        "workflow_job": {
            "id": id, "run_id": run_id, "run_attempt": 1, "name": name, "workflow_name": "CI",
            "head_branch": "main", "status": action, "conclusion": conclusion,
            "created_at": ts(queued),
            "started_at": ts(if action == "queued" { queued } else { started }),
            "completed_at": if action == "completed" { json!(ts(started + TimeDelta::seconds(ran_s))) } else { Value::Null },
            "labels": labels, "runner_name": if action == "queued" { Value::Null } else { json!("runner-1") },
            "runner_group_name": if action == "queued" { Value::Null } else if labels.contains(&"self-hosted") { json!("gpu-pool") } else { json!("GitHub Actions") },
            "html_url": format!("https://github.com/acme/api/actions/runs/{run_id}/job/{id}"),
            "steps": []
        },
        "repository": {"full_name": "acme/api"}
    })
}

async fn send(app: &TestApp, event: &str, n: &mut u32, payload: &Value) {
    *n += 1;
    let r = deliver(app, event, &format!("d{n}"), GITHUB_SECRET, payload).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_runners_and_usage_from_github_deliveries(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    sqlx::query(
        "insert into settings (key, value) values ('runner_prices', '{\"ubuntu-latest\": 0.008, \"gpu\": 0.5}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let now = Utc::now();
    let t0 = now - TimeDelta::hours(3);
    let mut n = 0;
    // Three runs, each a build (ubuntu) and a test (self-hosted gpu) job. Test fails once.
    for (i, test_ok) in [(1, true), (2, false), (3, true)] {
        let at = t0 + TimeDelta::minutes(20 * i);
        send(
            &app,
            "workflow_run",
            &mut n,
            &run(i, at, "in_progress", Value::Null),
        )
        .await;
        let build = |action, c| job(i, 100 + i, "build", &["ubuntu-latest"], action, c, at, 10, 61);
        let test = |action, c| {
            job(
                i,
                200 + i,
                "test",
                &["gpu", "self-hosted"],
                action,
                c,
                at,
                30 * i,
                120,
            )
        };
        send(&app, "workflow_job", &mut n, &build("queued", Value::Null)).await;
        send(
            &app,
            "workflow_job",
            &mut n,
            &build("completed", json!("success")),
        )
        .await;
        // The test job's in_progress delivery is lost: completed repairs it.
        send(&app, "workflow_job", &mut n, &test("queued", Value::Null)).await;
        let conclusion = if test_ok { "success" } else { "failure" };
        send(
            &app,
            "workflow_job",
            &mut n,
            &test("completed", json!(conclusion)),
        )
        .await;
        // A replay changes nothing.
        send(
            &app,
            "workflow_job",
            &mut n,
            &test("completed", json!(conclusion)),
        )
        .await;
    }
    // One job waits for a gpu runner now.
    send(
        &app,
        "workflow_run",
        &mut n,
        &run(4, now - TimeDelta::minutes(5), "queued", Value::Null),
    )
    .await;
    send(
        &app,
        "workflow_job",
        &mut n,
        &job(
            4,
            204,
            "test",
            &["self-hosted", "GPU"],
            "queued",
            Value::Null,
            now - TimeDelta::minutes(5),
            0,
            0,
        ),
    )
    .await;
    app.state.folder.run_once().await.unwrap();

    let jobs = app.get("/api/jobs?sort=slowest").await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.text);
    let items = jobs.body["items"].as_array().unwrap();
    assert_eq!(jobs.body["total"], 2, "{}", jobs.text);
    assert_eq!(items[0]["job"], "test", "the slowest first: {}", jobs.text);
    let test = &items[0];
    assert_eq!(test["repo"], "acme/api");
    assert_eq!(test["workflow"], "CI");
    assert_eq!(test["labels"], json!([["gpu", "self-hosted"]]));
    assert_eq!(test["runs"], 3);
    assert_eq!(test["failures"], 1);
    assert!((test["failure_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    // 120 s each: within the histogram's bucket.
    let p50 = test["duration_p50_seconds"].as_f64().unwrap();
    assert!((100.0..=140.0).contains(&p50), "{p50}");
    // Queue times 30, 60, 90 s.
    let q95 = test["queue_p95_seconds"].as_f64().unwrap();
    assert!((75.0..=110.0).contains(&q95), "{q95}");
    // Self-hosted on GitHub: rounded up per job (2 min each), no multiplier; gpu costs 0.5/min.
    assert_eq!(test["billable_minutes"], 6.0);
    assert!((test["cost"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert_eq!(test["previous"]["runs"], 0);
    let build = &items[1];
    // 61 s → 2 minutes, hosted Linux ×1.
    assert_eq!(build["billable_minutes"], 6.0);
    assert!((build["cost"].as_f64().unwrap() - 0.048).abs() < 1e-9);
    assert_eq!(jobs.body["currency"], "USD");

    let failing = app.get("/api/jobs?sort=failing&limit=1").await;
    assert_eq!(failing.body["items"][0]["job"], "test");
    assert_eq!(failing.body["items"].as_array().unwrap().len(), 1);
    let page2 = app.get("/api/jobs?sort=failing&limit=1&offset=1").await;
    assert_eq!(page2.body["items"][0]["job"], "build");
    // The branch path (the counts stored with the jobs) gives the same figures.
    let main = app.get("/api/jobs?sort=slowest&branch=main").await;
    assert_eq!(main.body["items"], jobs.body["items"], "{}", main.text);
    let other = app.get("/api/jobs?branch=dev").await;
    assert_eq!(other.body["total"], 0);

    let runners = app.get("/api/runners").await;
    assert_eq!(runners.status, StatusCode::OK, "{}", runners.text);
    let pools = runners.body["items"].as_array().unwrap();
    let gpu = pools
        .iter()
        .find(|p| p["labels"] == json!(["gpu", "self-hosted"]))
        .unwrap();
    assert_eq!(gpu["queued"], 1, "{}", runners.text);
    assert_eq!(
        gpu["running"], 0,
        "the completed job without in_progress is not running"
    );
    assert_eq!(gpu["jobs"], 3);
    assert_eq!(gpu["oldest_queued"]["job_id"], "204");
    assert_eq!(gpu["oldest_queued"]["repo"], "acme/api");
    assert!(gpu["oldest_queued"]["waiting_seconds"].as_f64().unwrap() >= 290.0);
    // 3 × 120 s busy over 7 days on average; in the busiest minute one job ran the whole minute.
    assert_eq!(gpu["busy_max"], 1.0);
    assert!(gpu["busy_avg"].as_f64().unwrap() > 0.0);
    assert_eq!(runners.body["stale_after_hours"], 24);
    assert_eq!(
        pools[0]["labels"],
        json!(["gpu", "self-hosted"]),
        "most queued first"
    );

    let series = app
        .get(&format!(
            "/api/runners/timeseries?labels=self-hosted,gpu&group_by=hour&from={}",
            ts(t0 - TimeDelta::hours(1))
        ))
        .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.text);
    let jobs_total: i64 = series.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["runs"].as_i64().unwrap())
        .sum();
    assert_eq!(jobs_total, 3);
    let busy_max = series.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["busy_max"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(busy_max, 1.0);

    let too_long = app
        .get(&format!("/api/runners/timeseries?labels={}", "a".repeat(4001)))
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::fields(&too_long.body), ["labels"]);
    let none = app.get("/api/runners/timeseries").await;
    assert_eq!(crate::support::fields(&none.body), ["labels"]);

    let job_series = app
        .get("/api/jobs/timeseries?repo=acme/api&workflow=CI&job=test")
        .await;
    assert_eq!(job_series.status, StatusCode::OK, "{}", job_series.text);
    let runs: i64 = job_series.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["runs"].as_i64().unwrap())
        .sum();
    assert_eq!(runs, 3);
    assert_eq!(job_series.body["slowest"].as_array().unwrap().len(), 3);
    let missing = app.get("/api/jobs/timeseries?repo=acme/api").await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::fields(&missing.body), ["workflow", "job"]);

    let usage = app.get("/api/usage?group_by=labels").await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    assert_eq!(usage.body["total"]["billable_minutes"], 12.0);
    assert!((usage.body["total"]["cost"].as_f64().unwrap() - 3.048).abs() < 1e-9);
    assert_eq!(usage.body["groups"].as_array().unwrap().len(), 2);
    let day_sum: f64 = usage.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["billable_minutes"].as_f64().unwrap())
        .sum();
    assert_eq!(day_sum, 12.0);
    let by_repo = app.get("/api/usage?group_by=repo&tz=Asia/Kolkata").await;
    assert_eq!(by_repo.body["groups"][0]["repo"], "acme/api", "{}", by_repo.text);
    assert_eq!(by_repo.body["groups"][0]["billable_minutes"], 12.0);
    let csv = app.get("/api/usage?group_by=workflow&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(csv
        .text
        .starts_with("day,repo,workflow,labels,jobs,billable_minutes,minutes,cost,currency\n"));
    assert!(csv.text.contains(",acme/api,CI,,"), "{}", csv.text);

    // Prices come from the settings.
    app.put_settings(&json!({"retention_days": 90, "rollup_retention_days": 400,
                              "runner_prices": {"gpu": 1.0}, "currency": "EUR"}))
        .await;
    let usage = app.get("/api/usage?group_by=labels").await;
    assert_eq!(usage.body["currency"], "EUR");
    assert!((usage.body["total"]["cost"].as_f64().unwrap() - 6.0).abs() < 1e-9);
}

#[sqlx::test(migrations = "../migrations")]
async fn stale_jobs_leave_the_live_counts(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut n = 0;
    let long_ago = Utc::now() - TimeDelta::hours(30);
    send(
        &app,
        "workflow_run",
        &mut n,
        &run(9, long_ago, "in_progress", Value::Null),
    )
    .await;
    send(
        &app,
        "workflow_job",
        &mut n,
        &job(
            9,
            900,
            "deploy",
            &["macos-14"],
            "in_progress",
            Value::Null,
            long_ago,
            5,
            0,
        ),
    )
    .await;
    let runners = app.get("/api/runners").await;
    let mac = &runners.body["items"][0];
    assert_eq!(mac["labels"], json!(["macos-14"]), "{}", runners.text);
    assert_eq!(
        (mac["running"].as_i64(), mac["stale"].as_i64()),
        (Some(0), Some(1))
    );
}

/// Days in Asia/Kolkata start at :30 past a UTC hour; each hour's jobs still count in one day.
#[sqlx::test(migrations = "../migrations")]
async fn a_day_cut_at_a_half_hour_counts_every_job_once(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut n = 0;
    // Local midnight of 3 March in Kolkata is 2 March 18:30 UTC; jobs around it, hour by hour.
    let midnight = "2026-03-02T18:30:00Z".parse::<DateTime<Utc>>().unwrap();
    for i in 0..6 {
        let at = midnight + TimeDelta::minutes(40 * i - 130);
        send(
            &app,
            "workflow_run",
            &mut n,
            &run(i, at, "in_progress", Value::Null),
        )
        .await;
        let done = job(
            i,
            500 + i,
            "build",
            &["ubuntu-latest"],
            "completed",
            json!("success"),
            at,
            5,
            50,
        );
        send(&app, "workflow_job", &mut n, &done).await;
    }
    app.state.folder.run_once().await.unwrap();
    for window in [
        "from=2026-03-01T18:30:00Z&to=2026-03-04T18:30:00Z",
        "from=2026-03-02T00:00:00Z&to=2026-03-03T12:00:00Z",
    ] {
        let usage = app.get(&format!("/api/usage?tz=Asia/Kolkata&{window}")).await;
        assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
        // Six jobs of 50 s, each a billable minute.
        assert_eq!(usage.body["total"]["jobs"], 6, "{}", usage.text);
        assert_eq!(usage.body["groups"][0]["billable_minutes"], 6.0);
        let per_day: Vec<i64> = usage.body["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["jobs"].as_i64().unwrap())
            .collect();
        assert_eq!(per_day.iter().sum::<i64>(), 6, "{per_day:?}");
        let series = app
            .get(&format!(
                "/api/jobs/timeseries?repo=acme/api&workflow=CI&job=build&group_by=day&tz=Asia/Kolkata&{window}"
            ))
            .await;
        let runs: i64 = series.body["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["runs"].as_i64().unwrap())
            .sum();
        assert_eq!(runs, 6, "{}", series.text);
    }
}

/// The answers of `views`, without the figures that move with the clock (the oldest queued
/// job's wait, and busy time averaged over a window that ends now).
async fn answers(app: &TestApp, views: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for v in views {
        let r = app.get(v).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut body = r.body;
        if let Some(items) = body["items"].as_array_mut() {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.remove("oldest_queued");
                item.remove("busy_avg");
            }
        }
        out.push(body);
    }
    out
}

/// The jobs, runners and usage views keep what settled tiles add up to between requests; a late
/// job in one of those tiles shows at the next request, and the cached answers equal the ones
/// read straight from the rollups (a repository filter bypasses the cache).
#[sqlx::test(migrations = "../migrations")]
async fn views_stay_exact_when_late_jobs_land_in_cached_tiles(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut n = 0;
    let now = Utc::now();
    let deliver_job = |id: i64, days_ago: i64, ran_s: i64| {
        let at = now - TimeDelta::days(days_ago);
        (
            run(id, at, "in_progress", Value::Null),
            job(
                id,
                900 + id,
                "build",
                &["ubuntu-latest"],
                "completed",
                json!("success"),
                at,
                30,
                ran_s,
            ),
        )
    };
    for (id, days_ago) in [(1, 20), (2, 12), (3, 5)] {
        let (r, j) = deliver_job(id, days_ago, 60);
        send(&app, "workflow_run", &mut n, &r).await;
        send(&app, "workflow_job", &mut n, &j).await;
    }
    app.state.folder.run_once().await.unwrap();
    let from = ts(now - TimeDelta::days(30));
    let views = [
        format!("/api/jobs?from={from}"),
        format!("/api/runners?from={from}"),
        format!("/api/usage?from={from}&group_by=repo"),
    ];
    let first = answers(&app, &views).await;
    assert_eq!(first[0]["items"][0]["runs"], 3, "{}", first[0]);
    assert_eq!(answers(&app, &views).await, first, "a cached answer is the same");

    // A late job, 12 days ago (a settled, cached tile), ten times as long as the others.
    let (r, j) = deliver_job(4, 12, 600);
    send(&app, "workflow_run", &mut n, &r).await;
    send(&app, "workflow_job", &mut n, &j).await;
    app.state.folder.run_once().await.unwrap();
    let after = answers(&app, &views).await;
    let jobs = &after[0]["items"][0];
    assert_eq!(jobs["runs"], 4, "{jobs}");
    assert!(jobs["duration_p95_seconds"].as_f64().unwrap() > 300.0, "{jobs}");
    assert_eq!(after[2]["total"]["jobs"], 4, "{}", after[2]);
    assert_eq!(after[1]["items"][0]["jobs"], 4, "{}", after[1]);

    // The same figures straight from the rollups.
    let direct = app.get(&format!("/api/jobs?from={from}&repo=acme/api")).await;
    assert_eq!(direct.body["items"][0], after[0]["items"][0]);
    let direct = app
        .get(&format!("/api/usage?from={from}&group_by=repo&repo=acme/api"))
        .await;
    assert_eq!(direct.body["total"], after[2]["total"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failure_fixed_by_a_rerun_on_the_same_commit_is_a_flaky_run_and_job(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let at = Utc::now() - TimeDelta::hours(2);
    let mut n = 0;
    let attempt = |mut v: Value, a: i64, key: &str| {
        v[key]["run_attempt"] = json!(a);
        v
    };
    // Run 1: attempt 1 fails on `test`, attempt 2 passes. Run 2 fails and is not re-run.
    for (a, ok) in [(1, false), (2, true)] {
        let conclusion = json!(if ok { "success" } else { "failure" });
        let start = at + TimeDelta::minutes(30 * (a - 1));
        send(
            &app,
            "workflow_run",
            &mut n,
            &attempt(run(1, start, "completed", conclusion.clone()), a, "workflow_run"),
        )
        .await;
        let j = job(
            1,
            10 * a,
            "test",
            &["ubuntu-latest"],
            "completed",
            conclusion,
            start,
            5,
            60,
        );
        send(&app, "workflow_job", &mut n, &attempt(j, a, "workflow_job")).await;
        let b = job(
            1,
            10 * a + 1,
            "build",
            &["ubuntu-latest"],
            "completed",
            json!("success"),
            start,
            5,
            60,
        );
        send(&app, "workflow_job", &mut n, &attempt(b, a, "workflow_job")).await;
    }
    send(
        &app,
        "workflow_run",
        &mut n,
        &run(2, at + TimeDelta::minutes(90), "completed", json!("failure")),
    )
    .await;
    app.state.folder.run_once().await.unwrap();

    let metrics = app.get("/api/metrics?repo=acme/api").await;
    assert_eq!(metrics.body["summary"]["flaky_runs"], 1, "{}", metrics.text);
    // 2 successes and failures… of which the re-run of run 1 is flaky: 1 of 3.
    let rate = metrics.body["summary"]["flake_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{}", metrics.text);
    assert_eq!(
        app.get("/api/metrics?repo=acme/other").await.body["summary"]["flaky_runs"],
        0
    );

    let jobs = app.get("/api/jobs?repo=acme/api&sort=name").await;
    let flaky: Vec<(&str, i64)> = jobs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["job"].as_str().unwrap(), j["flaky"].as_i64().unwrap()))
        .collect();
    assert_eq!(flaky, [("build", 0), ("test", 1)], "{}", jobs.text);
}
