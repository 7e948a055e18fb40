//! The job and runner alert conditions (`JobQueueTime`, `QueuedJobs`, `JobFailureRate`,
//! `JobDuration`) against a real database, fed by signed GitHub `workflow_run` and `workflow_job`
//! deliveries: each opens one incident, holds it without notifying again, and resolves.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::alerting::engine::Alerts;
use cicd_monitor::alerting::incidents::NoticeContext;
use cicd_monitor::telemetry::Metrics;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::alerting::{rule, slack_integration};
use crate::support::{TestApp, ADMIN, GITHUB_SECRET};
use crate::webhooks::deliver;

/// Sends GitHub deliveries, each with a new delivery id.
struct Github<'a> {
    app: &'a TestApp,
    n: u32,
}

impl Github<'_> {
    async fn send(&mut self, event: &str, payload: &Value) {
        self.n += 1;
        let r = deliver(self.app, event, &format!("d{}", self.n), GITHUB_SECRET, payload).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    /// A `workflow_run` of `acme/api`'s CI (run `id`), created at `at`.
    async fn run(&mut self, id: i64, at: DateTime<Utc>, status: &str, conclusion: Value) {
        self.send("workflow_run", &crate::jobs::run(id, at, status, conclusion))
            .await;
    }

    /// A `workflow_job` of run `run_id` (`action` queued, in_progress or completed): queued at
    /// `queued`, started `queue_s` later, ran `ran_s`.
    #[allow(clippy::too_many_arguments)]
    async fn job(
        &mut self,
        run_id: i64,
        id: i64,
        name: &str,
        labels: &[&str],
        action: &str,
        conclusion: Value,
        queued: DateTime<Utc>,
        queue_s: i64,
        ran_s: i64,
    ) {
        let payload = crate::jobs::job(
            run_id, id, name, labels, action, conclusion, queued, queue_s, ran_s,
        );
        self.send("workflow_job", &payload).await;
    }

    /// A finished run `id` with one `test` job on `[self-hosted, gpu]`, started `minutes_ago`.
    async fn finished_test(&mut self, id: i64, minutes_ago: i64, conclusion: &str, queue_s: i64, ran_s: i64) {
        let at = Utc::now() - TimeDelta::minutes(minutes_ago);
        self.run(id, at, "in_progress", Value::Null).await;
        self.job(
            id,
            1000 + id,
            "test",
            &["self-hosted", "gpu"],
            "completed",
            json!(conclusion),
            at,
            queue_s,
            ran_s,
        )
        .await;
        self.run(id, at, "completed", json!(conclusion)).await;
    }
}

/// The outbox: `(kind, notice)` in order.
async fn outbox(pool: &PgPool) -> Vec<(String, Value)> {
    sqlx::query_as::<_, (String, sqlx::types::Json<Value>)>(
        "select kind, notice from notifications order by id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(k, n)| (k, n.0))
    .collect()
}

/// The condition types of the OpenAPI document's `AlertRuleSpec`: a function from a type's name to
/// its schema (panicking when the document has no such type).
pub async fn condition_variants(app: &TestApp) -> impl Fn(&str) -> Value {
    let doc = app.get("/api/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    let variants = doc.body["components"]["schemas"]["AlertRuleSpec"]["properties"]["condition"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    move |t: &str| {
        variants
            .iter()
            .find(|v| v["properties"]["type"]["enum"] == json!([t]))
            .cloned()
            .unwrap_or_else(|| panic!("no {t} in {variants:?}"))
    }
}

pub fn kinds(outbox: &[(String, Value)]) -> Vec<&str> {
    outbox.iter().map(|(k, _)| k.as_str()).collect()
}

/// The rule's incidents in a state (`firing`, `pending`, `resolved`, `all`).
pub async fn incidents(app: &TestApp, rule: i64, state: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/alerts?rule_id={rule}&state={state}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_queued_backlog_fires_only_once_it_lasted_for_and_resolves_when_it_drains(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    let id = rule(
        &app,
        "gpu-backlog",
        json!({"condition": {"type": "QueuedJobs", "labels": ["GPU", "self-hosted"], "threshold": 2, "for": "10m"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s", "repeatInterval": "1h"}}),
    )
    .await;
    let mut gh = Github { app: &app, n: 0 };
    let t0 = Utc::now();
    gh.run(1, t0 - TimeDelta::minutes(3), "queued", Value::Null).await;
    for job in [11, 12] {
        gh.job(
            1,
            job,
            "test",
            &["self-hosted", "gpu"],
            "queued",
            Value::Null,
            t0 - TimeDelta::minutes(3),
            0,
            0,
        )
        .await;
    }
    // A job for another pool does not count.
    gh.job(
        1,
        13,
        "build",
        &["ubuntu-latest"],
        "queued",
        Value::Null,
        t0,
        0,
        0,
    )
    .await;
    app.state.folder.run_once().await.unwrap();
    let runners = app.get("/api/runners").await;
    let gpu = runners.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["labels"] == json!(["gpu", "self-hosted"]))
        .cloned()
        .unwrap();
    assert_eq!(gpu["queued"], 2, "{}", runners.text);

    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    let pending = incidents(&app, id, "pending").await;
    assert_eq!(pending.len(), 1, "the backlog is pending until it lasted 10m");
    assert_eq!(pending[0]["labels"], json!({"labels": "gpu,self-hosted"}));
    assert_eq!(pending[0]["value"], 2.0);
    alerts.tick(t0 + TimeDelta::minutes(9)).await.unwrap();
    assert!(outbox(&pool).await.is_empty(), "9 minutes are not 10");

    // Another replica (or this one, restarted) knows since when: the pending incident is stored.
    let other = Alerts::new(
        pool.clone(),
        NoticeContext {
            environment: "test".into(),
            public_url: Some("https://cicd.example.com".into()),
        },
        Arc::new(Metrics::new()),
        TimeDelta::hours(24),
    );
    assert!(other.tick(t0 + TimeDelta::minutes(11)).await.unwrap());
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing"]);
    let notice = &sent[0].1;
    assert_eq!(notice["labels"], json!({"labels": "gpu,self-hosted"}));
    assert_eq!(
        notice["condition"],
        "≥ 2 jobs queued for runners [gpu, self-hosted] for 10m"
    );
    let value = notice["value"].as_str().unwrap();
    assert!(value.starts_with("2 jobs queued (the oldest for "), "{value}");
    assert_eq!(notice["threshold"], "2 jobs queued for 10m");
    assert_eq!(
        notice["dashboard_url"],
        "https://cicd.example.com/runners?labels=gpu%2Cself-hosted"
    );
    // The incident started when the backlog began, not when it fired.
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0]["id"], pending[0]["id"]);

    // Still queued: it stays open and says nothing more until the repeat interval.
    alerts.tick(t0 + TimeDelta::minutes(20)).await.unwrap();
    other.tick(t0 + TimeDelta::minutes(30)).await.unwrap();
    assert_eq!(kinds(&outbox(&pool).await), ["firing"]);

    // One job starts: one queued is below the threshold, and the incident resolves.
    gh.job(
        1,
        11,
        "test",
        &["self-hosted", "gpu"],
        "in_progress",
        Value::Null,
        t0 - TimeDelta::minutes(3),
        120,
        0,
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(31)).await.unwrap();
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing", "resolved"]);
    assert_eq!(
        sent[1].1["dashboard_url"],
        "https://cicd.example.com/runners?labels=gpu%2Cself-hosted"
    );
    assert_eq!(incidents(&app, id, "resolved").await.len(), 1);

    // A blip (a backlog that drains before `for`) sends nothing, and the next backlog's wait
    // starts over.
    gh.job(
        1,
        14,
        "test",
        &["gpu", "self-hosted"],
        "queued",
        Value::Null,
        t0,
        0,
        0,
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(40)).await.unwrap();
    assert_eq!(incidents(&app, id, "pending").await.len(), 1);
    gh.job(
        1,
        14,
        "test",
        &["gpu", "self-hosted"],
        "in_progress",
        Value::Null,
        t0,
        60,
        0,
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(45)).await.unwrap();
    assert!(
        incidents(&app, id, "pending").await.is_empty(),
        "the blip is forgotten"
    );
    gh.job(
        1,
        15,
        "test",
        &["gpu", "self-hosted"],
        "queued",
        Value::Null,
        t0,
        0,
        0,
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(48)).await.unwrap();
    alerts.tick(t0 + TimeDelta::minutes(55)).await.unwrap();
    assert_eq!(
        kinds(&outbox(&pool).await),
        ["firing", "resolved"],
        "7 minutes of the new backlog are not 10"
    );
    alerts.tick(t0 + TimeDelta::minutes(59)).await.unwrap();
    assert_eq!(kinds(&outbox(&pool).await), ["firing", "resolved", "firing"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn job_queue_time_fires_on_a_slow_pool_and_resolves_when_the_window_moves_on(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    let mut gh = Github { app: &app, n: 0 };
    // Three gpu test jobs waited 15 minutes each; a build on another pool waited 5 seconds.
    for id in 1..=3 {
        gh.finished_test(id, 40 + 5 * id, "success", 900, 60).await;
    }
    gh.run(9, Utc::now() - TimeDelta::minutes(30), "in_progress", Value::Null)
        .await;
    gh.job(
        9,
        99,
        "build",
        &["ubuntu-latest"],
        "completed",
        json!("success"),
        Utc::now() - TimeDelta::minutes(30),
        5,
        60,
    )
    .await;
    app.state.folder.run_once().await.unwrap();
    let slow = rule(
        &app,
        "gpu-slow",
        json!({"condition": {"type": "JobQueueTime", "labels": ["gpu", "self-hosted"], "stat": "p50",
                             "threshold": "10m", "window": "2h"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let fine = rule(
        &app,
        "ubuntu-slow",
        json!({"condition": {"type": "JobQueueTime", "labels": ["ubuntu-latest"], "threshold": "1m", "window": "2h"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let now = Utc::now();
    let alerts = &app.state.alerts;
    alerts.tick(now).await.unwrap();
    alerts.tick(now + TimeDelta::minutes(1)).await.unwrap();
    let firing = incidents(&app, slow, "firing").await;
    assert_eq!(firing.len(), 1);
    assert!(incidents(&app, fine, "all").await.is_empty());
    // The same figure as the runners view.
    let runners = app.get("/api/runners").await;
    let gpu = runners.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["labels"] == json!(["gpu", "self-hosted"]))
        .cloned()
        .unwrap();
    assert_eq!(firing[0]["value"], gpu["queue_p50_seconds"], "{}", runners.text);
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing"], "fired once");
    let notice = &sent[0].1;
    assert_eq!(
        notice["condition"],
        "p50 queue time of jobs on runners [gpu, self-hosted] > 10m over 2h"
    );
    let value = notice["value"].as_str().unwrap();
    assert!(
        value.starts_with("p50 queue time ") && value.ends_with(" (3 jobs)"),
        "{value}"
    );
    assert_eq!(notice["threshold"], "10m");
    assert_eq!(
        notice["dashboard_url"],
        "https://cicd.example.com/runners?labels=gpu%2Cself-hosted"
    );

    // Hours later the slow jobs are out of the window: resolved, and said so once.
    alerts.tick(now + TimeDelta::hours(4)).await.unwrap();
    alerts.tick(now + TimeDelta::hours(5)).await.unwrap();
    assert_eq!(kinds(&outbox(&pool).await), ["firing", "resolved"]);
    assert_eq!(incidents(&app, slow, "resolved").await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn job_failure_rate_waits_for_min_runs_then_fires_holds_and_resolves(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    let mut gh = Github { app: &app, n: 0 };
    for (id, conclusion) in [(1, "failure"), (2, "success"), (3, "failure")] {
        gh.finished_test(id, 60 - 10 * id, conclusion, 10, 60).await;
    }
    // Cancelled executions are not counted towards minRuns.
    gh.finished_test(4, 25, "cancelled", 10, 60).await;
    app.state.folder.run_once().await.unwrap();
    let jobs = app.get("/api/jobs").await;
    let test = jobs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "test")
        .cloned()
        .unwrap();
    assert_eq!(
        (&test["repo"], &test["workflow"]),
        (&json!("acme/api"), &json!("CI"))
    );
    let id = rule(
        &app,
        "flaky-tests",
        json!({"condition": {"type": "JobFailureRate",
                             "job": {"repo": "acme/api", "workflow": "CI", "name": "test"},
                             "threshold": 50, "window": "3h", "minRuns": 4},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s", "repeatInterval": "1h"}}),
    )
    .await;
    let other_job = rule(
        &app,
        "flaky-build",
        json!({"condition": {"type": "JobFailureRate",
                             "job": {"repo": "acme/api", "workflow": "CI", "name": "build"},
                             "threshold": 1, "window": "3h", "minRuns": 0}}),
    )
    .await;
    let alerts = &app.state.alerts;
    alerts.tick(Utc::now()).await.unwrap();
    assert!(
        incidents(&app, id, "all").await.is_empty(),
        "2 failures of 3 counted runs: fewer than minRuns"
    );

    gh.finished_test(5, 15, "failure", 10, 60).await;
    app.state.folder.run_once().await.unwrap();
    alerts.tick(Utc::now()).await.unwrap();
    alerts.tick(Utc::now() + TimeDelta::minutes(5)).await.unwrap();
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(firing.len(), 1, "3 failures of 4 runs");
    assert_eq!(firing[0]["value"], 75.0);
    assert_eq!(
        firing[0]["labels"],
        json!({"repo": "acme/api", "workflow": "CI", "job": "test"})
    );
    assert!(incidents(&app, other_job, "all").await.is_empty());
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing"]);
    let notice = &sent[0].1;
    assert_eq!(
        notice["condition"],
        "failure rate of job acme/api · CI · test ≥ 50% over 3h (at least 4 runs)"
    );
    assert_eq!(notice["value"], "75.0% of 4 runs");
    assert_eq!(
        notice["dashboard_url"],
        "https://cicd.example.com/jobs?job_repo=acme%2Fapi&job_workflow=CI&job=test"
    );
    // The newest failed execution is the run it links to.
    assert_eq!(
        notice["run_url"],
        "https://github.com/acme/api/actions/runs/5/job/1005"
    );
    assert_eq!(firing[0]["run_ids"].as_array().unwrap().len(), 3);

    // Three successes later: 3 failures of 7 is below half, and it resolves.
    for id in 6..=8 {
        gh.finished_test(id, 10 - id, "success", 10, 60).await;
    }
    app.state.folder.run_once().await.unwrap();
    alerts.tick(Utc::now() + TimeDelta::minutes(10)).await.unwrap();
    alerts.tick(Utc::now() + TimeDelta::minutes(11)).await.unwrap();
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing", "resolved"]);
    assert_eq!(sent[1].1["labels"]["job"], "test");
    let resolved = incidents(&app, id, "resolved").await;
    let rate = resolved[0]["value"].as_f64().unwrap();
    assert!((rate - 300.0 / 7.0).abs() < 1e-9, "{rate}");
}

#[sqlx::test(migrations = "../migrations")]
async fn job_duration_fires_on_a_slow_job_and_resolves(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    let mut gh = Github { app: &app, n: 0 };
    for id in 1..=4 {
        gh.finished_test(id, 70 - 10 * id, "success", 10, 1500).await;
    }
    app.state.folder.run_once().await.unwrap();
    let slow = rule(
        &app,
        "slow-tests",
        json!({"condition": {"type": "JobDuration", "job": {"repo": "acme/api", "workflow": "CI", "name": "test"},
                             "stat": "p95", "threshold": "20m", "window": "2h"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let fast_enough = rule(
        &app,
        "very-slow-tests",
        json!({"condition": {"type": "JobDuration", "job": {"repo": "acme/api", "workflow": "CI", "name": "test"},
                             "stat": "p50", "threshold": "40m", "window": "2h"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let now = Utc::now();
    let alerts = &app.state.alerts;
    alerts.tick(now).await.unwrap();
    alerts.tick(now + TimeDelta::minutes(1)).await.unwrap();
    let firing = incidents(&app, slow, "firing").await;
    assert_eq!(firing.len(), 1);
    assert!(incidents(&app, fast_enough, "all").await.is_empty());
    let jobs = app.get("/api/jobs").await;
    let test = &jobs.body["items"][0];
    assert_eq!(firing[0]["value"], test["duration_p95_seconds"], "{}", jobs.text);
    let sent = outbox(&pool).await;
    assert_eq!(kinds(&sent), ["firing"]);
    let notice = &sent[0].1;
    assert_eq!(
        notice["condition"],
        "p95 duration of job acme/api · CI · test > 20m over 2h"
    );
    assert!(
        notice["value"].as_str().unwrap().ends_with(" (4 jobs)"),
        "{notice}"
    );
    assert_eq!(
        notice["dashboard_url"],
        "https://cicd.example.com/jobs?job_repo=acme%2Fapi&job_workflow=CI&job=test"
    );
    assert_eq!(notice["run_id"], firing[0]["run_ids"][0]);

    alerts.tick(now + TimeDelta::hours(4)).await.unwrap();
    assert_eq!(kinds(&outbox(&pool).await), ["firing", "resolved"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn job_and_runner_rules_are_validated_naming_the_field(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let post = |spec: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/alert-rules",
                Some(ADMIN),
                &json!({"name": "bad", "spec": spec}),
            )
            .await
        }
    };
    let r = post(json!({"match": {"repo": "acme/*"},
                         "condition": {"type": "QueuedJobs", "labels": [" ", ""], "threshold": 0, "for": "2d"}}))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        crate::support::fields(&r.body),
        [
            "spec.condition.threshold",
            "spec.condition.labels",
            "spec.condition.for",
            "spec.match"
        ]
    );
    let r = post(json!({"condition": {"type": "JobFailureRate",
                                      "job": {"repo": "acme/api", "workflow": "", "name": "test"},
                                      "threshold": 150, "window": "10s"}}))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        crate::support::fields(&r.body),
        [
            "spec.condition.threshold",
            "spec.condition.job.workflow",
            "spec.condition.window"
        ]
    );
    // A percentile the job conditions do not have, and a job without its name, do not read.
    for condition in [
        json!({"type": "JobDuration", "job": {"repo": "a", "workflow": "b", "name": "c"}, "stat": "avg",
               "threshold": "5m", "window": "1h"}),
        json!({"type": "JobDuration", "job": {"repo": "a", "workflow": "b"}, "threshold": "5m", "window": "1h"}),
        json!({"type": "QueuedJobs", "labels": ["gpu"], "threshold": 2}),
    ] {
        let r = post(json!({ "condition": condition })).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{condition}: {}",
            r.text
        );
    }
    let ok = rule(
        &app,
        "backlog",
        json!({"condition": {"type": "QueuedJobs", "labels": ["gpu"], "threshold": 3, "for": "5m"}}),
    )
    .await;
    let got = app.get(&format!("/api/alert-rules/{ok}")).await;
    assert_eq!(
        got.body["spec"]["condition"],
        json!({"type": "QueuedJobs", "labels": ["gpu"], "threshold": 3, "for": "5m"})
    );
    let seed: (String, Option<f64>) =
        sqlx::query_as("select threshold_type, threshold_value from alerts where id = $1")
            .bind(ok)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(seed, ("QueuedJobs".into(), Some(3.0)));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_describes_the_job_and_runner_conditions(pool: PgPool) {
    let variant = condition_variants(&TestApp::new(pool).await).await;
    let required = |t: &str| {
        let mut r: Vec<String> = serde_json::from_value(variant(t)["required"].clone()).unwrap();
        r.sort();
        r
    };
    assert_eq!(
        required("JobQueueTime"),
        ["labels", "threshold", "type", "window"]
    );
    assert_eq!(required("QueuedJobs"), ["for", "labels", "threshold", "type"]);
    assert_eq!(required("JobFailureRate"), ["job", "threshold", "type", "window"]);
    assert_eq!(required("JobDuration"), ["job", "threshold", "type", "window"]);
    assert_eq!(
        variant("JobDuration")["properties"]["stat"]["enum"],
        json!(["p50", "p95"])
    );
    let job = &variant("JobFailureRate")["properties"]["job"];
    let mut job_fields: Vec<String> = serde_json::from_value(job["required"].clone()).unwrap();
    job_fields.sort();
    assert_eq!(job_fields, ["name", "repo", "workflow"]);
}
