//! The guard on outbound requests, end to end with loopback targets only: integration URLs that
//! are not public are refused when configured unless allow-listed, and refused again when called
//! by a backend whose allow-list no longer admits them.

use axum::http::StatusCode;
use cicd_monitor::config::{Config, SecurityConfig};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::fake_slack::FakeSlack;
use crate::support::{config, TestApp, ADMIN};

/// An app whose allow-list is the default one: empty.
async fn guarded(pool: PgPool) -> TestApp {
    TestApp::with_config(
        pool,
        Config {
            security: SecurityConfig::unlimited(),
            ..config(true, "/nonexistent".into())
        },
    )
    .await
}

fn webhook(url: &str) -> Value {
    json!({"type": "Webhook", "webhook": {"url": {"value": url}}})
}

#[sqlx::test(migrations = "../migrations")]
async fn non_public_urls_are_refused_with_the_reason_and_nothing_is_stored(pool: PgPool) {
    let app = guarded(pool).await;
    // Literal addresses are refused without a connection; `localhost` resolves from the hosts file.
    for (url, why) in [
        ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
        ("http://[::1]:9/hook", "::1 is a loopback address"),
        ("http://localhost:9/hook", "localhost resolves to"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[fd00::1]/hook", "unique-local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ] {
        let r = app
            .post(
                "/api/integrations",
                Some(ADMIN),
                &json!({"name": "x", "spec": webhook(url)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", r.text);
        let detail = &r.body["error"]["details"][0];
        assert_eq!(detail["field"], "spec.webhook.url", "{url}");
        let message = detail["message"].as_str().unwrap();
        assert!(message.contains(why), "{url}: {message}");
        assert!(message.contains("CICD_OUTBOUND_ALLOW"), "{url}: {message}");
    }
    let listed = app.get_as("/api/integrations", ADMIN).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(0), "{}", listed.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_allow_listed_loopback_receiver_is_called_and_refused_once_no_longer_listed(pool: PgPool) {
    let slack = FakeSlack::start().await;
    // The tests' configuration allow-lists loopback.
    let app = TestApp::new(pool.clone()).await;
    let spec = json!({"type": "Slack", "slack": {"webhookUrl": {"value": slack.url("local")}}});
    let r = app
        .post(
            "/api/integrations",
            Some(ADMIN),
            &json!({"name": "local", "spec": spec}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/api/alerts/test", Some(ADMIN), &json!({})).await;
    assert_eq!(r.body[0]["outcome"], "sent", "{}", r.text);
    assert_eq!(slack.received().len(), 1);

    // A backend without the allow-list refuses the stored URL when calling it.
    let strict = guarded(pool).await;
    let r = strict.post("/api/alerts/test", Some(ADMIN), &json!({})).await;
    assert_eq!(r.body[0]["outcome"], "failed", "{}", r.text);
    let error = r.body[0]["error"].as_str().unwrap();
    assert!(error.contains("127.0.0.1 is a loopback address"), "{error}");
    assert_eq!(slack.received().len(), 1, "nothing more reached the receiver");
}
