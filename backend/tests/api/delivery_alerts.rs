//! The delivery alert conditions (`DeploymentFailed`, `ChangeFailureRate`, `LeadTime`): one
//! incident per service, from production deployments only, resolved when the service recovers.
//! The engine's clock is the `now` given to `tick`.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::alerting::{rule, slack_integration};
use crate::job_alerts::{condition_variants, incidents};
use crate::support::{fields, TestApp, ADMIN};

async fn deploy(
    app: &TestApp,
    id: &str,
    service: &str,
    environment: &str,
    status: &str,
    at: DateTime<Utc>,
    extra: Value,
) {
    let mut body = json!({"id": id, "service": service, "environment": environment, "status": status,
        "at": at.to_rfc3339()});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let ingest = app.ingest.clone();
    let r = app.post("/api/deployments", Some(&ingest), &body).await;
    assert!(r.status.is_success(), "{}", r.text);
}

fn services(incidents: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = incidents
        .iter()
        .map(|i| i["labels"]["service"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_production_deployment_fires_for_its_service_until_the_next_success(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    let id = rule(
        &app,
        "deploy-failed",
        json!({"condition": {"type": "DeploymentFailed", "service": "pay*"},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let t0 = Utc::now();
    let ago = |m: i64| t0 - TimeDelta::minutes(m);
    deploy(
        &app,
        "p1",
        "payments",
        "production",
        "success",
        ago(60),
        json!({}),
    )
    .await;
    deploy(
        &app,
        "p2",
        "payments",
        "production",
        "failure",
        ago(30),
        json!({"run_id": "run-42"}),
    )
    .await;
    // Not production, or not matched by the glob.
    deploy(&app, "s1", "payouts", "staging", "failure", ago(20), json!({})).await;
    deploy(&app, "w1", "web", "production", "failure", ago(20), json!({})).await;
    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(services(&firing), ["payments"]);
    assert_eq!(
        firing[0]["run_ids"],
        json!(["run-42"]),
        "the run that made it: {firing:?}"
    );
    // The next success resolves it.
    deploy(&app, "p3", "payments", "production", "success", ago(5), json!({})).await;
    alerts.tick(t0 + TimeDelta::minutes(1)).await.unwrap();
    assert!(incidents(&app, id, "firing").await.is_empty());
    assert_eq!(incidents(&app, id, "resolved").await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn change_failure_rate_and_lead_time_fire_per_service_from_the_dora_figures(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let cfr = rule(
        &app,
        "cfr",
        json!({"condition": {"type": "ChangeFailureRate", "threshold": 40, "window": "7d", "minDeployments": 4},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let lead = rule(
        &app,
        "lead",
        json!({"condition": {"type": "LeadTime", "stat": "p50", "threshold": "1d", "window": "7d"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let t0 = Utc::now();
    let ago = |h: i64| t0 - TimeDelta::hours(h);
    let commit = |sha: &str, hours_before: i64, at: DateTime<Utc>| json!({"sha": sha, "committed_at": (at - TimeDelta::hours(hours_before)).to_rfc3339()});
    // api: 2 failed changes of 4 (50 %), lead times 2 d and 3 d.
    deploy(
        &app,
        "a1",
        "api",
        "production",
        "success",
        ago(100),
        json!({"commits": [commit("x1", 48, ago(100))]}),
    )
    .await;
    deploy(&app, "a2", "api", "production", "failure", ago(80), json!({})).await;
    deploy(&app, "a3", "api", "production", "error", ago(60), json!({})).await;
    deploy(
        &app,
        "a4",
        "api",
        "production",
        "success",
        ago(40),
        json!({"commits": [commit("x2", 72, ago(40))]}),
    )
    .await;
    // web: 1 of 3, and fast.
    deploy(
        &app,
        "w1",
        "web",
        "production",
        "success",
        ago(90),
        json!({"commits": [commit("y1", 1, ago(90))]}),
    )
    .await;
    deploy(&app, "w2", "web", "production", "failure", ago(70), json!({})).await;
    deploy(
        &app,
        "w3",
        "web",
        "production",
        "success",
        ago(50),
        json!({"commits": [commit("y2", 2, ago(50))]}),
    )
    .await;
    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    let firing = incidents(&app, cfr, "firing").await;
    assert_eq!(
        services(&firing),
        ["api"],
        "web has 3 deployments, fewer than minDeployments"
    );
    assert_eq!(firing[0]["value"], 50.0);
    let firing = incidents(&app, lead, "firing").await;
    assert_eq!(services(&firing), ["api"]);
    assert_eq!(firing[0]["value"], 2.5 * 86400.0, "p50 of 2 d and 3 d");
    // A week later the window holds nothing: both resolve.
    alerts.tick(t0 + TimeDelta::days(8)).await.unwrap();
    assert!(incidents(&app, cfr, "firing").await.is_empty());
    assert!(incidents(&app, lead, "firing").await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn delivery_rules_are_validated_naming_the_field(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    for (condition, field) in [
        (
            json!({"type": "ChangeFailureRate", "threshold": 0, "window": "7d"}),
            "spec.condition.threshold",
        ),
        (
            json!({"type": "DeploymentFailed", "service": "pay[ments"}),
            "spec.condition.service",
        ),
        (
            json!({"type": "LeadTime", "threshold": "1d", "window": "7d", "service": " "}),
            "spec.condition.service",
        ),
    ] {
        let r = app
            .post(
                "/api/alert-rules",
                Some(ADMIN),
                &json!({"name": "bad", "spec": {"condition": condition}}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{condition}: {}",
            r.text
        );
        assert_eq!(fields(&r.body), [field], "{condition}");
    }
    let r = app
        .post(
            "/api/alert-rules",
            Some(ADMIN),
            &json!({"name": "bad", "spec": {"condition": {"type": "DeploymentFailed"}, "match": {"repo": "org/*"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r.body), ["spec.match"]);
    // The API documents each condition.
    let variant = condition_variants(&app).await;
    for t in ["DeploymentFailed", "ChangeFailureRate", "LeadTime"] {
        assert!(variant(t)["properties"].is_object(), "{t}");
    }
}
