//! `GET/PUT /api/settings`: runtime policy, read with the read scope, replaced by admins only.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use cicd_monitor::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{fields, Reply, TestApp, ADMIN};

async fn put(app: &TestApp, token: Option<&str>, body: &Value) -> Reply {
    app.raw(Method::PUT, "/api/settings", token, Body::from(body.to_string()))
        .await
}

async fn stored_days(pool: &PgPool) -> Value {
    sqlx::query_scalar("select value from settings where key = 'retention_days'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn settings_start_at_the_migrated_defaults_and_admins_replace_them(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let r = app.get("/api/settings").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"retention_days": 90, "rollup_retention_days": 400, "runner_prices": {}, "currency": "USD",
            "test_retention_days": 30, "auto_quarantine": null,
            "production_environments": ["production", "prod"],
            "change_failure_causes": ["failed_deployment", "rollback", "incident"]})
    );

    let changed = json!({"retention_days": 30, "rollup_retention_days": 365,
                         "runner_prices": {"macos-14": 0.08}, "currency": "EUR",
                         "test_retention_days": 14, "auto_quarantine": {"flakes": 3, "days": 7},
                         "production_environments": ["live", "prod-*"],
                         "change_failure_causes": ["rollback", "incident"]});
    let r = put(&app, Some(ADMIN), &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, changed);
    assert_eq!(app.get("/api/settings").await.body, changed);
    // The price table and currency may be left out of a replacement (clients that predate them).
    let r = put(
        &app,
        Some(ADMIN),
        &json!({"retention_days": 30, "rollup_retention_days": 365}),
    )
    .await;
    assert_eq!(r.body["runner_prices"], json!({}));
    assert_eq!(r.body["currency"], "USD");
    assert_eq!(
        (&r.body["test_retention_days"], &r.body["auto_quarantine"]),
        (&json!(30), &Value::Null)
    );
    let bad = json!({"retention_days": 30, "rollup_retention_days": 365, "test_retention_days": 0,
                     "auto_quarantine": {"flakes": 0, "days": 7}});
    let r = put(&app, Some(ADMIN), &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        crate::support::fields(&r.body),
        ["test_retention_days", "auto_quarantine"]
    );
    assert_eq!(stored_days(&pool).await, json!(30));

    // The bounds are allowed, and both settings may be equal.
    for days in [1, 3650] {
        let body = json!({ "retention_days": days, "rollup_retention_days": days });
        let r = put(&app, Some(ADMIN), &body).await;
        assert_eq!(r.status, StatusCode::OK, "{days}: {}", r.text);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn reading_settings_needs_the_read_scope_and_changing_them_admin(pool: PgPool) {
    let app = TestApp::with(pool.clone(), false, PathBuf::from("/nonexistent")).await;
    let read = app.token(Scope::Read).await;
    let ingest = app.ingest.clone();

    let r = app.get("/api/settings").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "unauthorized");
    assert_eq!(app.get_as("/api/settings", &read).await.status, StatusCode::OK);
    assert_eq!(app.get_as("/api/settings", ADMIN).await.status, StatusCode::OK);
    assert_eq!(
        app.get_as("/api/settings", &ingest).await.status,
        StatusCode::FORBIDDEN
    );

    let body = json!({"retention_days": 7, "rollup_retention_days": 400});
    assert_eq!(put(&app, None, &body).await.status, StatusCode::UNAUTHORIZED);
    for token in [&read, &ingest] {
        let r = put(&app, Some(token), &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "forbidden");
    }
    assert_eq!(stored_days(&pool).await, json!(90), "nothing changed");
    assert_eq!(put(&app, Some(ADMIN), &body).await.status, StatusCode::OK);
    assert_eq!(stored_days(&pool).await, json!(7));
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_settings_are_refused_whole_naming_each_field(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let with = |days: Value| json!({"retention_days": days, "rollup_retention_days": 400});
    for (body, named) in [
        (with(json!(0)), vec!["retention_days"]),
        (with(json!(3651)), vec!["retention_days"]),
        (with(json!(30.5)), vec!["retention_days"]),
        (with(json!("30")), vec!["retention_days"]),
        (with(json!(null)), vec!["retention_days"]),
        (json!({}), vec!["retention_days", "rollup_retention_days"]),
        (json!({"retention_days": 30}), vec!["rollup_retention_days"]),
        (
            json!({"retention_days": 30, "rollup_retention_days": 10}),
            vec!["rollup_retention_days"],
        ),
        (
            json!({"retention_days": 30, "rollup_retention_days": 3651}),
            vec!["rollup_retention_days"],
        ),
        (
            json!({"retention_days": 30, "rollup_retention_days": 400, "retention": 30}),
            vec!["retention"],
        ),
        (
            json!({"retentionDays": 30, "rollup_retention_days": 400}),
            vec!["retentionDays", "retention_days"],
        ),
        (json!([30]), vec!["body"]),
    ] {
        let r = put(&app, Some(ADMIN), &body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "validation_failed");
        assert_eq!(fields(&r.body), named, "{body}");
    }
    let r = app
        .raw(
            Method::PUT,
            "/api/settings",
            Some(ADMIN),
            Body::from("{\"retention_days\": "),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(stored_days(&pool).await, json!(90), "nothing was written");
}
