use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, TestApp, ADMIN};

#[sqlx::test(migrations = "../migrations")]
async fn tokens_are_created_once_listed_without_secrets_and_revoked(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let created = app
        .post(
            "/api/tokens",
            Some(ADMIN),
            &json!({"name": "gha", "scope": "ingest"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cicd_"));
    let id = created.body["id"].as_i64().unwrap();

    // Only a hash is stored.
    let stored: i64 =
        sqlx::query_scalar("select count(*) from api_tokens where token_hash = sha256($1::bytea)")
            .bind(secret.as_bytes())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    let leaked: i64 = sqlx::query_scalar(
        "select count(*) from api_tokens where position($1 in prefix) > 0 and length(prefix) >= length($1)",
    )
    .bind(&secret)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);

    let list = app.get_as("/api/tokens", ADMIN).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&secret));
    assert!(list
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id && t["scope"] == "ingest"));

    assert_eq!(
        app.post("/api/events", Some(&secret), &event(json!({})))
            .await
            .status,
        StatusCode::CREATED
    );
    let revoke = app
        .raw(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            Some(ADMIN),
            Body::empty(),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.post("/api/events", Some(&secret), &event(json!({})))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .raw(
            Method::DELETE,
            &format!("/api/tokens/{id}"),
            Some(ADMIN),
            Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn token_management_is_for_admins_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ingest = app.ingest.clone();
    assert_eq!(
        app.get_as("/api/tokens", &ingest).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/api/tokens").await.status, StatusCode::UNAUTHORIZED);
    let bad = app
        .post(
            "/api/tokens",
            Some(ADMIN),
            &json!({"name": "", "scope": "ingest"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_scope = app
        .post("/api/tokens", Some(ADMIN), &json!({"name": "x", "scope": "root"}))
        .await;
    assert!(bad_scope.status.is_client_error());
    assert!(bad_scope.body["error"]["code"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn token_use_is_recorded(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.event(&event(json!({}))).await;
    for _ in 0..50 {
        let used: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("select last_used_at from api_tokens where name = 'tests'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if used.is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("last_used_at was never set");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_a_malformed_and_an_unknown_token_each_say_what_is_wrong(pool: PgPool) {
    let app = TestApp::with(pool, false, "/nonexistent".into()).await;
    let message = |r: &crate::support::Reply| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "unauthorized");
        r.body["error"]["message"].as_str().unwrap().to_owned()
    };
    let missing = message(&app.get_with("/api/runs", &[]).await);
    let not_bearer = message(&app.get_with("/api/runs", &[("authorization", ADMIN)]).await);
    let unknown = message(&app.get_as("/api/runs", "cicd_no-such-token").await);
    assert!(missing.contains("Authorization: Bearer <token>"), "{missing}");
    assert!(not_bearer.contains("must be `Bearer <token>`"), "{not_bearer}");
    assert!(unknown.contains("unknown or has been revoked"), "{unknown}");

    // With public reads, a header that is not a bearer token (a proxy's Basic credentials) is no
    // reason to refuse a read.
    let public = TestApp::new(app.pool.clone()).await;
    let basic = public
        .get_with("/api/runs", &[("authorization", "Basic dXNlcjpwYXNz")])
        .await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.text);
}
