//! Delivery of the outbox to a fake Slack: ordering, rate limits, retries, permanent errors, and
//! exactly-once delivery with three backend instances on one database.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::alerting::{finished, rule};
use crate::fake_slack::{Answer, FakeSlack};
use crate::support::{event, TestApp, ADMIN};

async fn integration(app: &TestApp, name: &str, spec: Value) -> i64 {
    let r = app
        .post(
            "/api/integrations",
            Some(ADMIN),
            &json!({"name": name, "spec": spec}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

async fn statuses(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("select kind, status from notifications order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Runs the app's outbox until nothing is pending or `limit` passes.
pub async fn drain(app: &TestApp, limit: Duration) {
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar("select count(*) from notifications where status = 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if pending == 0 || started.elapsed() > limit {
            return;
        }
        if !app.state.outbox.deliver_one().await.unwrap() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn slack_gets_each_message_once_in_order_after_a_429(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack.script([Answer::TooMany { retry_after: 1 }]);
    integration(
        &app,
        "slack",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("T1")}}}),
    )
    .await;
    rule(&app, "red", json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}})).await;
    finished(&app, "f1", "failure", 5).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    finished(&app, "f2", "failure", 4).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    finished(&app, "s1", "success", 3).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();

    let started = Instant::now();
    drain(&app, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After and about one message a second"
    );
    let sent: Vec<(String, String)> = statuses(&pool).await;
    assert_eq!(
        sent,
        [("firing", "sent"), ("run:f2", "sent"), ("resolved", "sent")]
            .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );
    let received = slack.received();
    assert_eq!(received.len(), 4, "the 429'd attempt, then three messages");
    assert_eq!(received[0].1, received[1].1, "the retry sends the same message");
    for (_, message) in &received {
        assert!(message["text"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(message["blocks"].is_array());
    }
    assert!(received[3].1["text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("resolved"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_permanent_error_fails_the_message_and_shows_on_the_integration(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack.script([Answer::NoService]);
    let id = integration(
        &app,
        "slack",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("gone")}}}),
    )
    .await;
    rule(&app, "red", json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}})).await;
    finished(&app, "f1", "failure", 5).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    drain(&app, Duration::from_secs(5)).await;
    assert_eq!(
        statuses(&pool).await,
        [("firing".to_owned(), "failed".to_owned())]
    );
    let info = app.get_as(&format!("/api/integrations/{id}"), ADMIN).await;
    assert_eq!(info.body["status"]["healthy"], false);
    assert!(
        info.body["status"]["last_error"]
            .as_str()
            .unwrap()
            .contains("no_service"),
        "{}",
        info.text
    );
    assert!(!info.text.contains(&slack.url("gone")), "the URL is a secret");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_server_error_is_retried_later_not_lost(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack.script([Answer::ServerError]);
    integration(
        &app,
        "slack",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("T1")}}}),
    )
    .await;
    rule(&app, "red", json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}})).await;
    finished(&app, "f1", "failure", 5).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    assert!(app.state.outbox.deliver_one().await.unwrap());
    let (status, attempts): (String, i32) = sqlx::query_as("select status, attempts from notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(
        !app.state.outbox.deliver_one().await.unwrap(),
        "backing off: not yet"
    );
    drain(&app, Duration::from_secs(8)).await;
    assert_eq!(statuses(&pool).await, [("firing".to_owned(), "sent".to_owned())]);
}

#[sqlx::test(migrations = "../migrations")]
async fn three_instances_deliver_every_notification_exactly_once_in_order(pool: PgPool) {
    let slack = FakeSlack::start().await;
    let mut apps = vec![TestApp::new(pool.clone()).await];
    for _ in 0..2 {
        let other = PgPoolOptions::new()
            .max_connections(6)
            .connect_with(pool.connect_options().as_ref().clone())
            .await
            .unwrap();
        apps.push(TestApp::new(other).await);
    }
    integration(
        &apps[0],
        "hook",
        json!({"type": "Webhook", "webhook": {"url": {"value": slack.url("wh-1")}}}),
    )
    .await;
    rule(
        &apps[0],
        "two-in-a-row",
        json!({"condition": {"type": "ConsecutiveFailures", "threshold": 2},
               "notify": {"integrations": [{"name": "hook"}], "groupWait": "0s"}}),
    )
    .await;
    for app in &apps {
        app.state.alerts.spawn(Duration::from_millis(200));
        tokio::spawn(app.state.outbox.clone().run());
    }
    // A burst: ten groups, two failures each, sent to the three instances at once; then a success each.
    let groups = 10;
    let mut burst = Vec::new();
    for g in 0..groups {
        for k in 0..2 {
            let app = apps[(g + k) % 3].clone();
            burst.push(tokio::spawn(async move {
                let body = event(
                    json!({"id": format!("g{g}-f{k}"), "repo": format!("acme/r{g}"), "workflow": "ci",
                    "status": "failure", "started_at": format!("2026-01-01T00:0{k}:00Z"),
                    "finished_at": format!("2026-01-01T00:0{k}:30Z")}),
                );
                assert!(app.event(&body).await.status.is_success());
            }));
        }
    }
    for b in burst {
        b.await.unwrap();
    }
    wait_for(&pool, groups as i64, "firing").await;
    for g in 0..groups {
        let body = event(
            json!({"id": format!("g{g}-ok"), "repo": format!("acme/r{g}"), "workflow": "ci",
            "status": "success", "started_at": "2026-01-01T00:05:00Z", "finished_at": "2026-01-01T00:05:30Z"}),
        );
        assert!(apps[g % 3].event(&body).await.status.is_success());
    }
    wait_for(&pool, groups as i64, "resolved").await;
    // Give every instance time to (wrongly) send anything twice.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let received = slack.received();
    let rows: Vec<(i64, i64, String, String, i32)> =
        sqlx::query_as("select id, incident_id, kind, status, attempts from notifications order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let got: Vec<String> = received
        .iter()
        .map(|(_, m)| format!("{} {} {}", m["group"]["repo"], m["kind"], m["incident_id"]))
        .collect();
    assert_eq!(
        received.len(),
        2 * groups,
        "each notification exactly once: {rows:?} {got:#?}"
    );
    for g in 0..groups {
        let kinds: Vec<&str> = received
            .iter()
            .filter(|(_, m)| m["group"]["repo"] == format!("acme/r{g}"))
            .map(|(_, m)| m["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["firing", "resolved"], "group {g}");
    }
}

/// Waits until `n` notifications of `kind` are sent.
async fn wait_for(pool: &PgPool, n: i64, kind: &str) {
    let started = Instant::now();
    loop {
        let sent: i64 =
            sqlx::query_scalar("select count(*) from notifications where kind = $1 and status = 'sent'")
                .bind(kind)
                .fetch_one(pool)
                .await
                .unwrap();
        if sent >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{sent} of {n} {kind} notifications sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sender_that_dies_mid_send_loses_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    integration(
        &app,
        "slack",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("T1")}}}),
    )
    .await;
    rule(&app, "red", json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}})).await;
    finished(&app, "f1", "failure", 5).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();

    // Another replica has taken the integration's send slot and its notification, then dies (its
    // connection goes away without a commit).
    let mut dying = pool.acquire().await.unwrap().detach();
    let mut tx = sqlx::Connection::begin(&mut dying).await.unwrap();
    sqlx::query("select id from integrations for update")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("select id from notifications for update")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        !app.state.outbox.deliver_one().await.unwrap(),
        "the slot is taken while it lives"
    );
    drop(tx);
    sqlx::Connection::close(dying).await.ok();

    drain(&app, Duration::from_secs(5)).await;
    assert_eq!(statuses(&pool).await, [("firing".to_owned(), "sent".to_owned())]);
    assert_eq!(slack.received().len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_environment_slack_webhook_is_the_default_integration(pool: PgPool) {
    let slack = FakeSlack::start().await;
    let mut cfg = crate::support::config(true, "/nonexistent".into());
    cfg.slack_webhook_url = Some(slack.url("env").into());
    let state = cicd_monitor::state(pool.clone(), &cfg).unwrap();
    cicd_monitor::db::integrations::sync_env_slack(&pool, Some("https://hooks…/env"))
        .await
        .unwrap();
    let app = TestApp::new(pool.clone()).await;
    rule(
        &app,
        "red",
        json!({"condition": {"type": "RunFailed"}, "notify": {"groupWait": "0s"}}),
    )
    .await;
    finished(&app, "f1", "failure", 5).await;
    state.alerts.tick(chrono::Utc::now()).await.unwrap();
    while state.outbox.deliver_one().await.unwrap() {}
    assert_eq!(statuses(&pool).await, [("firing".to_owned(), "sent".to_owned())]);
    assert_eq!(slack.received()[0].0, "env");

    let listed = app.get_as("/api/integrations", ADMIN).await;
    assert_eq!(listed.body[0]["source"], "env");
    let id = listed.body[0]["id"].as_i64().unwrap();
    let delete = app
        .raw(
            axum::http::Method::DELETE,
            &format!("/api/integrations/{id}"),
            Some(ADMIN),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_test_endpoint_reports_each_integration(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack.script([Answer::Ok, Answer::NoService]);
    integration(
        &app,
        "a-works",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("ok")}}}),
    )
    .await;
    integration(
        &app,
        "b-gone",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("gone")}}}),
    )
    .await;
    let r = app.post("/api/alerts/test", Some(ADMIN), &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[0]["integration"], "a-works");
    assert_eq!(r.body[0]["outcome"], "sent");
    assert_eq!(r.body[1]["outcome"], "failed");
    assert!(r.body[1]["error"].as_str().unwrap().contains("no_service"));
    // Test messages are counted like every other message, by kind.
    let exposition = app.get("/metrics").await.text;
    let counted = |outcome: &str| {
        exposition
            .lines()
            .find(|l| {
                l.starts_with("cicd_notifications_total{")
                    && l.contains("kind=\"test\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(counted("sent").as_deref(), Some("1"), "{exposition}");
    assert_eq!(counted("failed").as_deref(), Some("1"), "{exposition}");
    let one = app
        .post(
            "/api/alerts/test",
            Some(ADMIN),
            &json!({"integration": "a-works"}),
        )
        .await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    let none = app
        .post("/api/alerts/test", Some(ADMIN), &json!({"integration": "nope"}))
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}
