//! Alert rules, integrations and incidents through the API, against a real database.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{event, TestApp, ADMIN, OPERATOR};

pub async fn slack_integration(app: &TestApp, name: &str, url: &str) -> i64 {
    let r = app
        .post(
            "/api/integrations",
            Some(ADMIN),
            &json!({"name": name, "spec": {"type": "Slack", "slack": {"webhookUrl": {"value": url}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

pub async fn rule(app: &TestApp, name: &str, spec: Value) -> i64 {
    let r = app
        .post(
            "/api/alert-rules",
            Some(ADMIN),
            &json!({"name": name, "spec": spec}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

/// A finished run of acme/api ci on main, `minutes_ago` minutes ago.
pub async fn finished(app: &TestApp, id: &str, status: &str, minutes_ago: i64) {
    let start = Utc::now() - TimeDelta::minutes(minutes_ago);
    let r = app
        .event(&event(json!({
            "id": id, "repo": "acme/api", "workflow": "ci", "branch": "main", "status": status,
            "started_at": start.to_rfc3339(), "finished_at": (start + TimeDelta::seconds(90)).to_rfc3339(),
            "duration_seconds": 90, "url": format!("https://ci.example.com/{id}")
        })))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

async fn outbox(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("select kind, status from notifications order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn integrations_keep_their_secrets_write_only_and_sealed(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let url = "https://hooks.slack.com/services/T000/B000/secretpart1234";
    let id = slack_integration(&app, "team-slack", url).await;
    let listed = app.get_as("/api/integrations", ADMIN).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.text.contains("secretpart"), "{}", listed.text);
    assert_eq!(listed.body[0]["url_hint"], "https://hooks.slack.com/…/1234");
    assert_eq!(listed.body[0]["status"]["healthy"], true);
    let sealed: Vec<u8> = sqlx::query_scalar("select secrets_sealed from integrations where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!sealed.windows(10).any(|w| w == b"secretpart"));

    let bad = app
        .post(
            "/api/integrations",
            Some(ADMIN),
            &json!({"name": "x", "spec": {"type": "Webhook", "webhook": {"url": {"value": "ftp://x"}}}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::fields(&bad.body), ["spec.webhook.url"]);
    let reader = app.token(cicd_monitor::auth::Scope::Read).await;
    assert_eq!(
        app.get_as("/api/integrations", &reader).await.status,
        StatusCode::FORBIDDEN
    );

    // An edit that leaves the secret out keeps the stored one; a new value replaces it.
    let uri = format!("/api/integrations/{id}");
    let body = json!({"name": "team-slack-renamed", "spec": {"type": "Slack", "slack": {"webhookUrl": {}, "channel": "#ci"}}});
    let kept = app
        .raw(Method::PUT, &uri, Some(ADMIN), Body::from(body.to_string()))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    assert_eq!(kept.body["url_hint"], "https://hooks.slack.com/…/1234");
    assert_eq!(kept.body["spec"]["slack"]["channel"], "#ci");
    let new_url = json!({"name": "team-slack-renamed", "spec": {"type": "Slack", "slack": {"webhookUrl": {"value": "https://hooks.slack.com/services/T0/B0/newpart9876"}}}});
    let replaced = app
        .raw(Method::PUT, &uri, Some(ADMIN), Body::from(new_url.to_string()))
        .await;
    assert_eq!(replaced.body["url_hint"], "https://hooks.slack.com/…/9876");
    // Switching type needs the new type's URL.
    let switched = json!({"name": "team-slack-renamed", "spec": {"type": "Webhook", "webhook": {"url": {}}}});
    let refused = app
        .raw(Method::PUT, &uri, Some(ADMIN), Body::from(switched.to_string()))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_operator_token_from_the_environment_manages_kubernetes_resources_and_nothing_else(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let body = json!({"namespace": "team-a", "name": "hook",
        "spec": {"type": "Slack", "slack": {"webhookUrl": {"value": "https://hooks.slack.com/services/y"}}}});
    let created = app
        .raw(
            Method::PUT,
            "/api/integrations/by-uid/uid-env",
            Some(OPERATOR),
            Body::from(body.to_string()),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.body["source"], "kubernetes");
    let tokens = app.get_as("/api/tokens", OPERATOR).await;
    assert_eq!(
        tokens.status,
        StatusCode::FORBIDDEN,
        "the operator token is not an admin token"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn what_kubernetes_owns_is_read_only_through_the_api(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let operator = app.token(cicd_monitor::auth::Scope::Operator).await;
    let body = json!({"namespace": "team-a", "name": "slack-payments",
        "spec": {"type": "Slack", "slack": {"webhookUrl": {"value": "https://hooks.slack.com/services/x"}}}});
    let as_admin = app
        .raw(
            Method::PUT,
            "/api/integrations/by-uid/uid-1",
            Some(ADMIN),
            Body::from(body.to_string()),
        )
        .await;
    assert_eq!(
        as_admin.status,
        StatusCode::FORBIDDEN,
        "only the operator manages Kubernetes resources"
    );
    let created = app
        .raw(
            Method::PUT,
            "/api/integrations/by-uid/uid-1",
            Some(&operator),
            Body::from(body.to_string()),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.body["name"], "team-a/slack-payments");
    assert_eq!(created.body["source"], "kubernetes");
    let id = created.body["id"].as_i64().unwrap();
    // Idempotent: the same upsert again changes nothing but updated_at.
    let again = app
        .raw(
            Method::PUT,
            "/api/integrations/by-uid/uid-1",
            Some(&operator),
            Body::from(body.to_string()),
        )
        .await;
    assert_eq!(again.body["id"], id);

    let delete = app
        .raw(
            Method::DELETE,
            &format!("/api/integrations/{id}"),
            Some(ADMIN),
            Body::empty(),
        )
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT);
    assert!(delete.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("team-a/slack-payments"));

    let rule = json!({"namespace": "team-a", "name": "red", "spec": {
        "condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "team-a/slack-payments"}]}}});
    let r = app
        .raw(
            Method::PUT,
            "/api/alert-rules/by-uid/uid-2",
            Some(&operator),
            Body::from(rule.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rule_id = r.body["id"].as_i64().unwrap();
    let edit = app
        .raw(
            Method::PUT,
            &format!("/api/alert-rules/{rule_id}"),
            Some(ADMIN),
            Body::from(json!({"name": "red", "spec": {"condition": {"type": "RunFailed"}}}).to_string()),
        )
        .await;
    assert_eq!(edit.status, StatusCode::CONFLICT);

    for uri in ["/api/alert-rules/by-uid/uid-2", "/api/integrations/by-uid/uid-1"] {
        let gone = app.raw(Method::DELETE, uri, Some(&operator), Body::empty()).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{uri}");
        let again = app.raw(Method::DELETE, uri, Some(&operator), Body::empty()).await;
        assert_eq!(
            again.status,
            StatusCode::NOT_FOUND,
            "{uri}: a finalizer treats this as done"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn rules_are_validated_beyond_their_types(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let r = app
        .post(
            "/api/alert-rules",
            Some(ADMIN),
            &json!({"name": "bad", "spec": {
                "match": {"branches": ["[oops"]},
                "condition": {"type": "FailureRate", "threshold": 150, "window": "10s"},
                "notify": {"integrations": [{"name": "nowhere"}], "repeatInterval": "10s"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        crate::support::fields(&r.body),
        [
            "spec.condition.threshold",
            "spec.condition.window",
            "spec.match.branches",
            "spec.notify.repeatInterval",
            "spec.notify.integrations[0].name"
        ]
    );
    let unknown_type = app
        .post(
            "/api/alert-rules",
            Some(ADMIN),
            &json!({"name": "x", "spec": {"condition": {"type": "Vibes"}}}),
        )
        .await;
    assert_eq!(
        unknown_type.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown_type.text
    );

    let id = rule(
        &app,
        "red",
        json!({"condition": {"type": "ConsecutiveFailures", "threshold": 3}}),
    )
    .await;
    let got = app.get(&format!("/api/alert-rules/{id}")).await;
    assert_eq!(got.body["spec"]["notify"]["groupWait"], "30s");
    assert_eq!(got.body["source"], "api");
    let seed: (String, Option<f64>, bool) =
        sqlx::query_as("select threshold_type, threshold_value, enabled from alerts where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(seed, ("ConsecutiveFailures".into(), Some(3.0), true));
}

#[sqlx::test(migrations = "../migrations")]
async fn consecutive_failures_fire_once_repeat_and_resolve(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    rule(
        &app,
        "main-is-red",
        json!({"match": {"repo": "acme/*", "branches": ["main"]},
               "condition": {"type": "ConsecutiveFailures", "threshold": 2},
               "severity": "critical",
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s", "repeatInterval": "1h"}}),
    )
    .await;
    let alerts = &app.state.alerts;
    finished(&app, "r1", "failure", 30).await;
    alerts.tick(Utc::now()).await.unwrap();
    assert!(outbox(&pool).await.is_empty(), "one failure is not two");
    finished(&app, "r2", "failure", 20).await;
    alerts.tick(Utc::now()).await.unwrap();
    alerts.tick(Utc::now()).await.unwrap();
    assert_eq!(
        outbox(&pool).await,
        [("firing".to_owned(), "pending".to_owned())],
        "fired once"
    );

    let incidents = app.get("/api/alerts").await;
    assert_eq!(incidents.body[0]["state"], "firing");
    assert_eq!(
        incidents.body[0]["labels"],
        json!({"repo": "acme/api", "workflow": "ci", "branch": "main"})
    );
    assert_eq!(incidents.body[0]["run_ids"], json!(["r2", "r1"]));
    assert_eq!(incidents.body[0]["severity"], "critical");

    // Past the repeat interval it notifies again; once acknowledged it does not.
    alerts.tick(Utc::now() + TimeDelta::minutes(61)).await.unwrap();
    assert_eq!(outbox(&pool).await.len(), 2);
    let id = incidents.body[0]["id"].as_i64().unwrap();
    let acked = app
        .raw(
            Method::POST,
            &format!("/api/alerts/{id}/ack"),
            Some(ADMIN),
            Body::empty(),
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK);
    alerts.tick(Utc::now() + TimeDelta::minutes(200)).await.unwrap();
    assert_eq!(outbox(&pool).await.len(), 2);

    finished(&app, "r3", "success", 10).await;
    alerts.tick(Utc::now()).await.unwrap();
    let kinds: Vec<String> = outbox(&pool).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["firing", "repeat:1", "resolved"]);
    assert_eq!(app.get("/api/alerts?state=resolved").await.body[0]["id"], id);
    assert!(app.get("/api/alerts").await.body.as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn flapping_inside_group_wait_sends_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    rule(
        &app,
        "red",
        json!({"condition": {"type": "RunFailed"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "5m"}}),
    )
    .await;
    let now = Utc::now();
    finished(&app, "f1", "failure", 3).await;
    app.state.alerts.tick(now).await.unwrap();
    assert_eq!(
        app.get("/api/alerts?state=pending")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    finished(&app, "s1", "success", 2).await;
    app.state.alerts.tick(now + TimeDelta::minutes(1)).await.unwrap();
    finished(&app, "f2", "failure", 1).await;
    app.state.alerts.tick(now + TimeDelta::minutes(2)).await.unwrap();
    assert!(outbox(&pool).await.is_empty(), "still inside groupWait");
    app.state.alerts.tick(now + TimeDelta::minutes(8)).await.unwrap();
    assert_eq!(
        outbox(&pool).await.len(),
        1,
        "bad for longer than groupWait: fires"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_failure_is_news_but_a_mute_silences_it(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    rule(
        &app,
        "any-failure",
        json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    finished(&app, "f1", "failure", 5).await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    finished(&app, "f2", "failure", 4).await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    let kinds: Vec<String> = outbox(&pool).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["firing", "run:f2"]);

    let id = app.get("/api/alerts").await.body[0]["id"].as_i64().unwrap();
    let muted = app
        .post(
            &format!("/api/alerts/{id}/mute"),
            Some(ADMIN),
            &json!({"for": "1h"}),
        )
        .await;
    assert_eq!(muted.status, StatusCode::OK, "{}", muted.text);
    finished(&app, "f3", "failure", 3).await;
    finished(&app, "s1", "success", 2).await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    assert_eq!(
        outbox(&pool).await.len(),
        2,
        "muted: neither the failure nor the resolution is sent"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_run_fires_within_a_second_without_waiting_for_the_tick(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    rule(
        &app,
        "red",
        json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    app.state.alerts.spawn(std::time::Duration::from_secs(3600));
    // The first tick runs at once; let it pass.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    finished(&app, "f1", "failure", 1).await;
    while outbox(&pool).await.is_empty() {
        assert!(
            // Far below the 1 h tick: the run itself woke the engine. Loose so a busy CI stays green.
            started.elapsed() < std::time::Duration::from_secs(10),
            "not fired by the run (the tick is an hour away)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn window_rules_measure_rate_duration_and_queue_time(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    for (i, status) in ["failure", "success", "failure", "failure"].iter().enumerate() {
        finished(&app, &format!("w{i}"), status, 10 + i as i64).await;
    }
    let rate = rule(
        &app,
        "rate",
        json!({"condition": {"type": "FailureRate", "threshold": 50, "window": "1h", "minRuns": 4},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let slow = rule(
        &app,
        "slow",
        json!({"condition": {"type": "Duration", "stat": "p95", "threshold": "1m", "window": "1h"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let fine = rule(
        &app,
        "fine",
        json!({"condition": {"type": "Duration", "stat": "avg", "threshold": "5m", "window": "1h"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    let firing: Vec<i64> = app
        .get("/api/alerts?state=firing")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rule_id"].as_i64().unwrap())
        .collect();
    assert!(firing.contains(&rate) && firing.contains(&slow), "{firing:?}");
    assert!(!firing.contains(&fine));
    let inc = app.get(&format!("/api/alerts?rule_id={rate}")).await.body;
    assert_eq!(inc[0]["value"], 75.0);
    assert_eq!(inc[0]["threshold"], 50.0);
}

#[sqlx::test(migrations = "../migrations")]
async fn silence_regression_and_queue_time_rules_fire(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let now = Utc::now();
    // Baseline: 90 s runs a day ago; recent: 300 s runs with 10 minutes in the queue; all failures
    // for the last two hours.
    for i in 0..5 {
        let start = now - TimeDelta::hours(30) + TimeDelta::minutes(i * 10);
        let r = app
            .event(&event(
                json!({"id": format!("b{i}"), "repo": "acme/api", "workflow": "ci", "branch": "main",
                "status": "success", "started_at": start.to_rfc3339(), "duration_seconds": 90,
                "finished_at": (start + TimeDelta::seconds(90)).to_rfc3339()}),
            ))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    for i in 0..5 {
        let start = now - TimeDelta::minutes(100 - i * 10);
        let r = app
            .event(&event(
                json!({"id": format!("n{i}"), "repo": "acme/api", "workflow": "ci", "branch": "main",
                "status": "failure", "queued_at": (start - TimeDelta::minutes(10)).to_rfc3339(),
                "started_at": start.to_rfc3339(), "duration_seconds": 300,
                "finished_at": (start + TimeDelta::seconds(300)).to_rfc3339()}),
            ))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let silent = rule(
        &app,
        "silent",
        json!({"condition": {"type": "NoSuccessWithin", "window": "2h"}, "notify": {"groupWait": "0s"}}),
    )
    .await;
    let slower = rule(
        &app,
        "slower",
        json!({"condition": {"type": "DurationRegression", "percent": 100, "window": "3h", "baselineWindow": "2d"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let queued = rule(
        &app,
        "queued",
        json!({"condition": {"type": "QueueTime", "stat": "avg", "threshold": "5m", "window": "3h"}, "notify": {"groupWait": "0s"}}),
    )
    .await;
    let calm = rule(
        &app,
        "calm",
        json!({"condition": {"type": "NoSuccessWithin", "window": "2d"}, "notify": {"groupWait": "0s"}}),
    )
    .await;
    app.state.alerts.tick(now).await.unwrap();
    let firing: Vec<i64> = app
        .get("/api/alerts?state=firing")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rule_id"].as_i64().unwrap())
        .collect();
    for r in [silent, slower, queued] {
        assert!(firing.contains(&r), "rule {r} should fire: {firing:?}");
    }
    assert!(!firing.contains(&calm));
    let regression = app.get(&format!("/api/alerts?rule_id={slower}")).await.body;
    assert!(
        (regression[0]["value"].as_f64().unwrap() - 233.3).abs() < 1.0,
        "{regression}"
    );
    let queue = app.get(&format!("/api/alerts?rule_id={queued}")).await.body;
    assert_eq!(queue[0]["value"], 600.0);
}
