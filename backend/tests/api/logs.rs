//! No secret reaches the logs: a full flow with every kind of secret configured or created, logged
//! as JSON at `debug` into a buffer, then searched for each secret's value.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;

use crate::alerting::finished;
use crate::fake_slack::{Answer, FakeSlack};
use crate::support::{
    config, event, TestApp, ADMIN, GITHUB_OLD_SECRET, GITHUB_SECRET, GITLAB_TOKEN, SECRET_KEY,
};

/// A `MakeWriter` appending every log line to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[sqlx::test(migrations = "../migrations")]
async fn no_configured_or_created_secret_appears_in_the_logs(pool: PgPool) {
    let logs = Captured::default();
    // The production JSON format (telemetry::init_tracing), at debug for every crate: more than
    // anyone runs with, so that a secret in a debug line is caught too. `#[sqlx::test]` runs on a
    // current-thread runtime, so this thread's default subscriber sees every task of the test.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter("debug")
        .with_writer(logs.clone())
        .finish();
    // tracing caches each callsite's interest process-wide, computed when it is first hit. A
    // sibling test's thread hitting a callsite with no subscriber at all would cache `never`, and
    // this test's subscriber would miss that line. With a global (inert) registry too, every
    // thread has a subscriber and two dispatchers exist, so interest is the union of both.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let slack = FakeSlack::start().await;
    // Every delivery fails: a 500, then `no_service`, then whatever the script does not cover.
    slack.script([
        Answer::ServerError,
        Answer::NoService,
        Answer::ServerError,
        Answer::NoService,
    ]);
    let env_slack = slack.url("env-hook-secret-0001");
    let slack_url = slack.url("integration-hook-secret-0002");
    let webhook_url = slack.url("wh-hook-secret-0003");
    let unreachable_url = "http://127.0.0.1:9/services/unreachable-secret-0004";
    let hmac_secret = "hmac-secret-value-0005";
    let stored_github = "stored-github-secret-0006";

    let mut cfg = config(false, "/nonexistent".into());
    cfg.slack_webhook_url = Some(env_slack.clone().into());
    let app = TestApp::with_config(pool.clone(), cfg).await;
    let hint = cicd_monitor::alerting::integrations::mask(&env_slack);
    cicd_monitor::db::integrations::sync_env_slack(&pool, Some(&hint))
        .await
        .unwrap();

    // Tokens, integrations, a stored webhook source.
    let created = app
        .post(
            "/api/tokens",
            Some(ADMIN),
            &json!({"name": "ci", "scope": "admin"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.body["token"].as_str().unwrap().to_owned();
    for (name, spec) in [
        (
            "team-slack",
            json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack_url}}}),
        ),
        (
            "hook",
            json!({"type": "Webhook", "webhook": {"url": {"value": webhook_url}, "hmacSecret": {"value": hmac_secret}}}),
        ),
        (
            "gone",
            json!({"type": "Slack", "slack": {"webhookUrl": {"value": unreachable_url}}}),
        ),
    ] {
        let r = app
            .post(
                "/api/integrations",
                Some(&token),
                &json!({"name": name, "spec": spec}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app
        .post(
            "/api/webhook-sources",
            Some(&token),
            &json!({"provider": "github", "name": "org", "secret": stored_github}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Ingest by every door, right and wrong secrets alike.
    assert_eq!(
        app.post("/api/events", Some(&token), &event(json!({})))
            .await
            .status,
        StatusCode::CREATED
    );
    let payload = json!({"zen": "hi", "hook_id": 1});
    let body = payload.to_string();
    for (secret, expect) in [
        (GITHUB_SECRET, StatusCode::OK),
        (stored_github, StatusCode::OK),
        ("wrong", StatusCode::UNAUTHORIZED),
    ] {
        let sig = sign(secret, body.as_bytes());
        let headers = [
            ("x-github-event", "ping"),
            ("x-hub-signature-256", sig.as_str()),
            ("content-type", "application/json"),
        ];
        assert_eq!(
            app.send("/api/webhooks/github", &headers, body.clone())
                .await
                .status,
            expect
        );
    }
    for (t, expect) in [
        (GITLAB_TOKEN, StatusCode::OK),
        ("wrong-gitlab-token", StatusCode::UNAUTHORIZED),
    ] {
        let headers = [
            ("x-gitlab-token", t),
            ("x-gitlab-event", "Push Hook"),
            ("content-type", "application/json"),
        ];
        assert_eq!(
            app.send("/api/webhooks/gitlab", &headers, "{}").await.status,
            expect
        );
    }
    let jenkins = app
        .send(
            &format!("/api/webhooks/jenkins?token={token}"),
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_ne!(jenkins.status, StatusCode::UNAUTHORIZED, "{}", jenkins.text);
    let stream = app
        .raw(
            Method::GET,
            "/api/stream?token=cicd_wrongwrongwrong",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(stream.status, StatusCode::UNAUTHORIZED);

    // An incident notifies every integration; each delivery fails.
    let spec = json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}, {"name": "team-slack"}, {"name": "hook"}, {"name": "gone"}], "groupWait": "0s"}});
    let r = app
        .post(
            "/api/alert-rules",
            Some(&token),
            &json!({"name": "red", "spec": spec}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    finished(&app, "f1", "failure", 2).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    for _ in 0..6 {
        if !app.state.outbox.deliver_one().await.unwrap() {
            break;
        }
    }
    let tested = app.post("/api/alerts/test", Some(ADMIN), &json!({})).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text);
    assert!(
        tested
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["outcome"] != "sent"),
        "{}",
        tested.text
    );
    let revoked = app
        .raw(
            Method::DELETE,
            &format!("/api/tokens/{}", created.body["id"]),
            Some(ADMIN),
            Body::empty(),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let text = logs.text();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The capture works: requests, the failed deliveries and their reasons were logged.
    assert!(lines.len() > 50, "only {} log lines", lines.len());
    assert!(text.contains("notification not delivered"), "{text}");
    assert!(
        text.contains("rollup_error") || text.contains("no_service"),
        "{text}"
    );
    assert!(
        text.contains("/api/webhooks/jenkins"),
        "requests are logged with their route"
    );
    let secrets = [
        ("CICD_ADMIN_TOKEN", ADMIN),
        ("CICD_SECRET_KEY", SECRET_KEY),
        ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET),
        ("GITHUB_WEBHOOK_SECRET (previous)", GITHUB_OLD_SECRET),
        ("GITLAB_WEBHOOK_TOKEN", GITLAB_TOKEN),
        ("SLACK_WEBHOOK_URL", env_slack.as_str()),
        ("SLACK_WEBHOOK_URL's path", "env-hook-secret-0001"),
        ("a Slack integration's URL", "integration-hook-secret-0002"),
        ("a webhook integration's URL", "wh-hook-secret-0003"),
        ("an unreachable integration's URL", "unreachable-secret-0004"),
        ("a webhook integration's HMAC secret", hmac_secret),
        ("a stored GitHub webhook secret", stored_github),
        ("a created token", token.as_str()),
        ("a created token's secret part", &token[12..]),
        ("a wrong GitLab token", "wrong-gitlab-token"),
        ("a wrong stream token", "cicd_wrongwrongwrong"),
    ];
    let leaks: Vec<&str> = secrets
        .iter()
        .filter(|(_, s)| text.contains(s))
        .map(|(what, _)| *what)
        .collect();
    assert!(leaks.is_empty(), "secrets in the logs: {leaks:?}");
}
