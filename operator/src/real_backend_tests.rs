//! The reconcilers driving the real backend (in-process, on a socket) on a real PostgreSQL; the
//! Kubernetes API is the mock server. Needs `DATABASE_URL` (`make test` runs it under `scripts/with-postgres.sh`).

use std::path::Path;
use std::sync::Arc;

use cicd_monitor::auth::{self, Scope};
use cicd_monitor::config::{Config, SecurityConfig};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fixtures::{
    context_with_token, dead_backend, deleting, finalized, integration, rule, within_1s, Step,
};
use crate::{alert_rule, integration as integration_ctrl};

const ADMIN: &str = "operator-test-admin";

fn config() -> Config {
    Config {
        // Rate limits as deployed; integration URLs as in the backend's tests (Slack's name is
        // allowed without being resolved).
        security: SecurityConfig {
            outbound_allow: Config::for_tests().security.outbound_allow,
            ..SecurityConfig::default()
        },
        secret_key: Some("0123456789abcdef0123456789abcdef-test-key".into()),
        admin_token: Some(ADMIN.into()),
        public_read: false,
        ingest_writers: 1,
        ..Config::for_tests()
    }
}

/// Serves the backend on a local port; returns its URL and an operator token.
async fn backend(pool: PgPool) -> (String, String) {
    let state = cicd_monitor::state(pool.clone(), &config()).expect("state");
    let app = cicd_monitor::http::router(state, Path::new("/nonexistent"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (token, _) = auth::create(&pool, "operator", Scope::Operator)
        .await
        .expect("token");
    (url, token)
}

async fn list(url: &str, what: &str) -> Vec<Value> {
    let res = reqwest::Client::new()
        .get(format!("{url}/api/{what}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("GET");
    res.json().await.expect("json")
}

fn reason(expected: &'static str) -> Box<dyn FnOnce(&Value) + Send> {
    Box::new(move |status: &Value| {
        let ready = status["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == "Ready")
            .expect("Ready")
            .clone();
        assert_eq!(ready["reason"], expected, "{status}");
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn resources_are_created_changed_and_deleted_in_the_real_backend(pool: PgPool) {
    let (url, token) = backend(pool).await;
    let secret_path = "/api/v1/namespaces/default/secrets/slack";
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack", "namespace": "default"},
        "stringData": {"url": "https://hooks.slack.com/services/T0/B0/abcd"}});

    // An Integration with its Secret.
    let int = finalized(integration(json!({"type": "Slack",
        "slack": {"webhookUrl": {"secretKeyRef": {"name": "slack", "key": "url"}}, "channel": "#ci"}})));
    let (ctx, server) = context_with_token(&url, &token);
    let mock = server.run(
        "integrations",
        &int,
        vec![
            Step::Get(secret_path, Some(secret)),
            Step::PatchStatus(reason("Synced")),
            Step::Event("Synced"),
        ],
    );
    integration_ctrl::reconcile(Arc::new(int.clone()), ctx)
        .await
        .expect("synced");
    within_1s(mock).await;
    let integrations = list(&url, "integrations").await;
    assert_eq!(integrations.len(), 1, "{integrations:?}");
    assert_eq!(integrations[0]["name"], "default/test");
    assert_eq!(integrations[0]["source"], "kubernetes");
    assert_eq!(integrations[0]["url_hint"], "https://hooks.slack.com/…/abcd");

    // An AlertRule notifying it (the Integration is Ready).
    let mut ready_int = int.clone();
    ready_int.status = Some(cicd_monitor_crds::IntegrationStatus {
        conditions: vec![crate::conditions::condition(
            "Ready",
            true,
            "Synced",
            "",
            Some(1),
            k8s_openapi::jiff::Timestamp::now(),
        )],
        ..Default::default()
    });
    let int_path = "/apis/cicd-monitor.dev/v1alpha1/namespaces/default/integrations/test";
    let spec = |threshold: u32| {
        json!({"match": {"repo": "acme/*", "branches": ["main"]},
            "condition": {"type": "ConsecutiveFailures", "threshold": threshold},
            "notify": {"integrations": [{"name": "test"}]}})
    };
    let r = finalized(rule(spec(3)));
    let (ctx, server) = context_with_token(&url, &token);
    let mock = server.run(
        "alertrules",
        &r,
        vec![
            Step::Get(int_path, Some(serde_json::to_value(&ready_int).expect("json"))),
            Step::PatchStatus(reason("Synced")),
            Step::Event("Synced"),
        ],
    );
    alert_rule::reconcile(Arc::new(r), ctx).await.expect("synced");
    within_1s(mock).await;
    let rules = list(&url, "alert-rules").await;
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0]["name"].as_str(), rules[0]["source"].as_str()),
        (Some("default/test"), Some("kubernetes"))
    );
    assert_eq!(
        rules[0]["spec"]["notify"]["integrations"][0]["name"],
        "default/test"
    );
    let id = rules[0]["id"].clone();

    // Changed: threshold 5, while the backend is down, then back.
    let mut changed = finalized(rule(spec(5)));
    changed.metadata.generation = Some(2);
    let (ctx, server) = context_with_token(&dead_backend().await, &token);
    let mock = server.run(
        "alertrules",
        &changed,
        vec![
            Step::Get(int_path, Some(serde_json::to_value(&ready_int).expect("json"))),
            Step::PatchStatus(reason("BackendUnavailable")),
            Step::Event("BackendUnavailable"),
        ],
    );
    let err = alert_rule::reconcile(Arc::new(changed.clone()), ctx)
        .await
        .expect_err("backend down");
    within_1s(mock).await;
    assert_eq!(err.metric_label(), "BackendUnavailable");
    let mut failed = changed.clone();
    failed.status = Some(cicd_monitor_crds::AlertRuleStatus {
        conditions: vec![crate::conditions::condition(
            "Ready",
            false,
            "BackendUnavailable",
            "cannot connect",
            Some(2),
            k8s_openapi::jiff::Timestamp::now(),
        )],
        ..Default::default()
    });
    let (ctx, server) = context_with_token(&url, &token);
    let mock = server.run(
        "alertrules",
        &failed,
        vec![
            Step::Get(int_path, Some(serde_json::to_value(&ready_int).expect("json"))),
            Step::PatchStatus(reason("Synced")),
            Step::Event("Synced"),
        ],
    );
    alert_rule::reconcile(Arc::new(failed), ctx)
        .await
        .expect("recovered");
    within_1s(mock).await;
    let rules = list(&url, "alert-rules").await;
    assert_eq!(rules[0]["id"], id, "updated in place");
    assert_eq!(rules[0]["spec"]["condition"]["threshold"], 5);

    // Deleted: the rule, then the integration; deleting again is still fine.
    for _ in 0..2 {
        let gone = deleting(changed.clone());
        let (ctx, server) = context_with_token(&url, &token);
        let mock = server.run(
            "alertrules",
            &gone,
            vec![Step::Event("Deleted"), Step::RemoveFinalizer],
        );
        alert_rule::reconcile(Arc::new(gone), ctx).await.expect("deleted");
        within_1s(mock).await;
    }
    assert!(list(&url, "alert-rules").await.is_empty());
    let gone = deleting(int);
    let (ctx, server) = context_with_token(&url, &token);
    let mock = server.run(
        "integrations",
        &gone,
        vec![Step::Event("Deleted"), Step::RemoveFinalizer],
    );
    integration_ctrl::reconcile(Arc::new(gone), ctx)
        .await
        .expect("deleted");
    within_1s(mock).await;
    assert!(list(&url, "integrations").await.is_empty());
}
