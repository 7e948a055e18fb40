//! Reconciliations against the mock Kubernetes API server and a fake backend.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::context::error_policy;
use crate::fixtures::{
    context, dead_backend, deleting, fake_backend, finalized, integration, rule, within_1s, Step,
};
use crate::{alert_rule, integration as integration_ctrl};

fn ready(status: &Value) -> Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("Ready")
        .clone()
}

fn red() -> Value {
    json!({"condition": {"type": "ConsecutiveFailures", "threshold": 3}, "severity": "critical"})
}

#[tokio::test]
async fn a_new_rule_gets_the_finalizer_first() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let obj = rule(red());
    let mock = server.run("alertrules", &obj, vec![Step::AddFinalizer]);
    alert_rule::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    assert!(
        calls.lock().expect("lock").is_empty(),
        "nothing is synced before the finalizer is in place"
    );
}

#[tokio::test]
async fn a_finalized_rule_is_upserted_then_its_status_patched_and_an_event_published() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let check = |status: &Value| {
        assert_eq!(status["observedGeneration"], 1);
        assert_eq!(status["backendId"], "7");
        assert_eq!(status["firing"], 1);
        assert_eq!(status["lastTriggered"], "2026-01-02T03:04:05Z");
        assert!(status["lastSyncTime"].is_string());
        let r = ready(status);
        assert_eq!(
            (r["status"].as_str(), r["reason"].as_str()),
            (Some("True"), Some("Synced"))
        );
    };
    let obj = finalized(rule(red()));
    let mock = server.run(
        "alertrules",
        &obj,
        vec![Step::PatchStatus(Box::new(check)), Step::Event("Synced")],
    );
    alert_rule::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    let calls = calls.lock().expect("lock");
    assert_eq!(calls.len(), 1);
    let (method, path, body) = &calls[0];
    assert_eq!(
        (method, path.as_str()),
        (&Method::PUT, "/api/alert-rules/by-uid/uid-1")
    );
    assert_eq!(
        (body["namespace"].as_str(), body["name"].as_str()),
        (Some("default"), Some("test"))
    );
    assert_eq!(body["spec"]["condition"]["threshold"], 3);
}

#[tokio::test]
async fn an_invalid_spec_is_reported_without_calling_the_backend_or_retrying() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let bad = json!({"condition": {"type": "FailureRate", "threshold": 150, "window": "1h"}});
    let check = |status: &Value| {
        let r = ready(status);
        assert_eq!(
            (r["status"].as_str(), r["reason"].as_str()),
            (Some("False"), Some("InvalidSpec"))
        );
        assert!(r["message"]
            .as_str()
            .expect("message")
            .contains("spec.condition.threshold"));
    };
    let obj = finalized(rule(bad));
    let mock = server.run(
        "alertrules",
        &obj,
        vec![Step::PatchStatus(Box::new(check)), Step::Event("InvalidSpec")],
    );
    let action = alert_rule::reconcile(Arc::new(obj), ctx.clone()).await;
    within_1s(mock).await;
    assert!(action.is_ok(), "a bad spec waits for a change, not a retry storm");
    assert!(calls.lock().expect("lock").is_empty());
    assert!(ctx.metrics.render().contains("reason=\"InvalidSpec\"} 1"));
}

#[tokio::test]
async fn a_rule_naming_a_missing_integration_says_so() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let spec = json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}]}});
    let check = |status: &Value| {
        assert_eq!(ready(status)["reason"], "IntegrationNotFound");
        let resolved = status["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == "IntegrationsResolved")
            .expect("IntegrationsResolved")
            .clone();
        assert_eq!(resolved["status"], "False");
    };
    let path = "/apis/cicd-monitor.dev/v1alpha1/namespaces/default/integrations/slack";
    let obj = finalized(rule(spec));
    let mock = server.run(
        "alertrules",
        &obj,
        vec![
            Step::Get(path, None),
            Step::PatchStatus(Box::new(check)),
            Step::Event("IntegrationNotFound"),
        ],
    );
    alert_rule::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    assert!(calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn deleting_a_rule_removes_it_from_the_backend_then_the_finalizer() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let obj = deleting(finalized(rule(red())));
    let mock = server.run(
        "alertrules",
        &obj,
        vec![Step::Event("Deleted"), Step::RemoveFinalizer],
    );
    alert_rule::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    let calls = calls.lock().expect("lock");
    assert_eq!(
        calls[0].0,
        Method::DELETE,
        "a 404 from the backend counts as done"
    );
}

#[tokio::test]
async fn a_backend_outage_is_reported_and_retried_with_backoff() {
    let (ctx, server) = context(&dead_backend().await);
    let check = |status: &Value| {
        assert_eq!(ready(status)["reason"], "BackendUnavailable");
        assert!(status.get("backendId").is_none());
    };
    let obj = Arc::new(finalized(rule(red())));
    let mock = server.run(
        "alertrules",
        &*obj,
        vec![
            Step::PatchStatus(Box::new(check)),
            Step::Event("BackendUnavailable"),
        ],
    );
    let err = alert_rule::reconcile(obj.clone(), ctx.clone())
        .await
        .expect_err("transient");
    within_1s(mock).await;
    assert_eq!(err.metric_label(), "BackendUnavailable");
    let first = error_policy(obj.clone(), &err, ctx.clone());
    let second = error_policy(obj, &err, ctx.clone());
    assert_ne!(first, second, "the wait grows");
    assert!(
        ctx.metrics
            .render()
            .contains("reconcile_errors_total{kind=\"AlertRule\",reason=\"BackendUnavailable\"} 1"),
        "counted once, not again by the error policy"
    );
}

#[tokio::test]
async fn deleting_while_the_backend_is_down_keeps_the_finalizer() {
    let (ctx, server) = context(&dead_backend().await);
    let obj = deleting(finalized(rule(red())));
    let mock = server.run("alertrules", &obj, vec![]);
    let res = alert_rule::reconcile(Arc::new(obj), ctx).await;
    within_1s(mock).await;
    assert!(res.is_err());
}

#[tokio::test]
async fn an_integration_is_sent_with_its_secret_resolved() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let spec =
        json!({"type": "Slack", "slack": {"webhookUrl": {"secretKeyRef": {"name": "slack", "key": "url"}}}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack", "namespace": "default"},
        "data": {"url": "aHR0cHM6Ly9ob29rcy5zbGFjay5jb20vc2VydmljZXMveA=="}});
    let check = |status: &Value| {
        assert_eq!(ready(status)["reason"], "Synced");
        assert_eq!(status["backendId"], "7");
    };
    let obj = finalized(integration(spec));
    let mock = server.run(
        "integrations",
        &obj,
        vec![
            Step::Get("/api/v1/namespaces/default/secrets/slack", Some(secret)),
            Step::PatchStatus(Box::new(check)),
            Step::Event("Synced"),
        ],
    );
    integration_ctrl::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    let calls = calls.lock().expect("lock");
    assert_eq!(calls[0].1, "/api/integrations/by-uid/uid-1");
    assert_eq!(
        calls[0].2["spec"]["slack"]["webhookUrl"],
        json!({"value": "https://hooks.slack.com/services/x"})
    );
}

#[tokio::test]
async fn an_integration_whose_secret_is_missing_is_not_sent() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let (ctx, server) = context(&url);
    let spec =
        json!({"type": "Slack", "slack": {"webhookUrl": {"secretKeyRef": {"name": "slack", "key": "url"}}}});
    let check = |status: &Value| assert_eq!(ready(status)["reason"], "SecretNotFound");
    let obj = finalized(integration(spec));
    let mock = server.run(
        "integrations",
        &obj,
        vec![
            Step::Get("/api/v1/namespaces/default/secrets/slack", None),
            Step::PatchStatus(Box::new(check)),
            Step::Event("SecretNotFound"),
        ],
    );
    integration_ctrl::reconcile(Arc::new(obj), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    assert!(calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_spec_the_backend_rejects_shows_its_message() {
    let (url, _calls) = fake_backend(StatusCode::UNPROCESSABLE_ENTITY).await;
    let (ctx, server) = context(&url);
    let check = |status: &Value| {
        let r = ready(status);
        assert_eq!(r["reason"], "InvalidSpec");
        assert_eq!(r["message"], "spec.match.repo: bad glob");
    };
    let obj = finalized(rule(red()));
    let mock = server.run(
        "alertrules",
        &obj,
        vec![Step::PatchStatus(Box::new(check)), Step::Event("InvalidSpec")],
    );
    alert_rule::reconcile(Arc::new(obj), ctx).await.expect("no retry");
    within_1s(mock).await;
}

#[tokio::test]
async fn a_second_reconcile_that_changes_nothing_writes_no_status_and_no_event() {
    let (url, calls) = fake_backend(StatusCode::OK).await;
    let written = Arc::new(std::sync::Mutex::new(Value::Null));
    let obj = finalized(rule(red()));
    let (ctx, server) = context(&url);
    let keep = written.clone();
    let check = move |status: &Value| *keep.lock().expect("lock") = status.clone();
    let mock = server.run(
        "alertrules",
        &obj,
        vec![Step::PatchStatus(Box::new(check)), Step::Event("Synced")],
    );
    alert_rule::reconcile(Arc::new(obj.clone()), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;

    let mut again = obj;
    again.status = Some(serde_json::from_value(written.lock().expect("lock").clone()).expect("status"));
    let (ctx, server) = context(&url);
    let mock = server.run("alertrules", &again, vec![]);
    alert_rule::reconcile(Arc::new(again), ctx)
        .await
        .expect("reconciled");
    within_1s(mock).await;
    assert_eq!(
        calls.lock().expect("lock").len(),
        2,
        "the backend is still written (drift is undone)"
    );
}
