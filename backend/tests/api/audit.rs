//! The audit log: every admin action recorded with who did it, no secret in it, and its listing
//! (`GET /api/audit`: admin only, filters, keyset pages).

use axum::body::Body;
use axum::http::{Method, StatusCode};
use cicd_monitor::auth::Scope;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::alerting::{finished, rule};
use crate::support::{fields, TestApp, ADMIN};

const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/audit-secret-path-xyz";

async fn send(app: &TestApp, method: Method, uri: &str, token: &str, body: Value) -> Value {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let r = app.raw(method.clone(), uri, Some(token), body).await;
    assert!(r.status.is_success(), "{method} {uri}: {} {}", r.status, r.text);
    r.body
}

async fn audit(app: &TestApp, query: &str) -> Value {
    let r = app.get_as(&format!("/api/audit{query}"), ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// `(actor, action, target_name)` of the entries, oldest first.
fn summary(page: &Value) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

fn row(actor: &str, action: &str, target: &str) -> (String, String, String) {
    (actor.into(), action.into(), target.into())
}

#[sqlx::test(migrations = "../migrations")]
async fn admin_actions_are_recorded_with_who_did_them_and_no_secret(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // The bootstrap admin creates a named admin token, which does the rest.
    let created = send(
        &app,
        Method::POST,
        "/api/tokens",
        ADMIN,
        json!({"name": "ci-admin", "scope": "admin"}),
    )
    .await;
    let admin = created["token"].as_str().unwrap().to_owned();
    let admin_id = created["id"].as_i64().unwrap();

    let spec = json!({"type": "Slack", "slack": {"webhookUrl": {"value": SLACK_URL}}});
    let integration = send(
        &app,
        Method::POST,
        "/api/integrations",
        &admin,
        json!({"name": "team", "spec": spec}),
    )
    .await;
    let iid = integration["id"].as_i64().unwrap();
    let renamed = json!({"name": "team-2", "spec": {"type": "Slack", "slack": {"webhookUrl": {}}}});
    send(
        &app,
        Method::PUT,
        &format!("/api/integrations/{iid}"),
        &admin,
        renamed,
    )
    .await;

    let rule_spec = json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "team-2"}], "groupWait": "0s"}});
    let r = send(
        &app,
        Method::POST,
        "/api/alert-rules",
        &admin,
        json!({"name": "red", "spec": rule_spec}),
    )
    .await;
    let rid = r["id"].as_i64().unwrap();
    let mut changed = rule_spec.clone();
    changed["severity"] = "critical".into();
    send(
        &app,
        Method::PUT,
        &format!("/api/alert-rules/{rid}"),
        &admin,
        json!({"name": "red", "spec": changed}),
    )
    .await;

    finished(&app, "f1", "failure", 3).await;
    app.state.alerts.tick(chrono::Utc::now()).await.unwrap();
    let incidents = app.get_as("/api/alerts", &admin).await.body;
    let incident = incidents[0]["id"].as_i64().expect("an incident fired");
    send(
        &app,
        Method::POST,
        &format!("/api/alerts/{incident}/ack"),
        &admin,
        json!({}),
    )
    .await;
    send(
        &app,
        Method::POST,
        &format!("/api/alerts/{incident}/mute"),
        &admin,
        json!({"for": "1h"}),
    )
    .await;

    send(
        &app,
        Method::PUT,
        "/api/settings",
        &admin,
        json!({"retention_days": 30, "rollup_retention_days": 400}),
    )
    .await;
    let source = send(
        &app,
        Method::POST,
        "/api/webhook-sources",
        &admin,
        json!({"provider": "gitlab", "name": "gl-instance", "secret": "a-gitlab-secret-for-audit"}),
    )
    .await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/webhook-sources/{}", source["id"]),
        &admin,
        Value::Null,
    )
    .await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/alert-rules/{rid}"),
        &admin,
        Value::Null,
    )
    .await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/integrations/{iid}"),
        &admin,
        Value::Null,
    )
    .await;
    send(
        &app,
        Method::DELETE,
        &format!("/api/tokens/{admin_id}"),
        ADMIN,
        Value::Null,
    )
    .await;

    let page = audit(&app, "").await;
    assert_eq!(
        summary(&page),
        [
            row("bootstrap admin", "token.created", "ci-admin"),
            row("ci-admin", "integration.created", "team"),
            row("ci-admin", "integration.updated", "team-2"),
            row("ci-admin", "alert_rule.created", "red"),
            row("ci-admin", "alert_rule.updated", "red"),
            row("ci-admin", "incident.acknowledged", "red"),
            row("ci-admin", "incident.muted", "red"),
            row("ci-admin", "settings.changed", ""),
            row("ci-admin", "webhook_source.created", "gl-instance"),
            row("ci-admin", "webhook_source.deleted", "gl-instance"),
            row("ci-admin", "alert_rule.deleted", "red"),
            row("ci-admin", "integration.deleted", "team-2"),
            row("bootstrap admin", "token.revoked", "ci-admin"),
        ]
    );
    let entries = page["entries"].as_array().unwrap();
    let first = entries.last().unwrap();
    assert_eq!(first["actor_token_id"], Value::Null);
    assert_eq!(first["actor_scope"], "admin");
    assert_eq!(first["target_kind"], "token");
    assert_eq!(first["target_id"], admin_id.to_string());
    assert_eq!(first["detail"]["scope"], "admin");
    assert!(first["at"].as_str().is_some());
    assert_eq!(
        entries[1]["actor_token_id"], admin_id,
        "a token's actions carry its id"
    );
    let settings = entries
        .iter()
        .find(|e| e["action"] == "settings.changed")
        .unwrap();
    assert_eq!(settings["detail"]["after"]["retention_days"], 30);
    assert_eq!(settings["detail"]["before"]["retention_days"], 90);

    let all = serde_json::to_string(&page).unwrap();
    for secret in [
        SLACK_URL,
        "audit-secret-path-xyz",
        "a-gitlab-secret-for-audit",
        admin.as_str(),
        ADMIN,
    ] {
        assert!(!all.contains(secret), "the audit log holds a secret: {secret}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn what_the_operator_changes_is_recorded_as_the_kubernetes_operator_once_per_change(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let operator = app.token(Scope::Operator).await;
    let body = |severity: &str| json!({"namespace": "team-a", "name": "red", "spec": {"condition": {"type": "RunFailed"}, "severity": severity}});
    let uri = "/api/alert-rules/by-uid/uid-1";
    send(&app, Method::PUT, uri, &operator, body("warning")).await;
    // Resyncs re-apply the same resource: nothing changed, nothing recorded.
    send(&app, Method::PUT, uri, &operator, body("warning")).await;
    send(&app, Method::PUT, uri, &operator, body("critical")).await;
    let integration = json!({"namespace": "team-a", "name": "hook", "spec": {"type": "Slack", "slack": {"webhookUrl": {"value": SLACK_URL}}}});
    send(
        &app,
        Method::PUT,
        "/api/integrations/by-uid/uid-2",
        &operator,
        integration.clone(),
    )
    .await;
    send(
        &app,
        Method::PUT,
        "/api/integrations/by-uid/uid-2",
        &operator,
        integration,
    )
    .await;
    send(
        &app,
        Method::DELETE,
        "/api/integrations/by-uid/uid-2",
        &operator,
        Value::Null,
    )
    .await;
    send(&app, Method::DELETE, uri, &operator, Value::Null).await;

    let page = audit(&app, "").await;
    let k = "kubernetes operator";
    assert_eq!(
        summary(&page),
        [
            row(k, "alert_rule.created", "team-a/red"),
            row(k, "alert_rule.updated", "team-a/red"),
            row(k, "integration.created", "team-a/hook"),
            row(k, "integration.deleted", "team-a/hook"),
            row(k, "alert_rule.deleted", "team-a/red"),
        ]
    );
    assert!(page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor_scope"] == "operator" && e["detail"]["source"] == "kubernetes"));
    assert!(!page.to_string().contains("audit-secret-path-xyz"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_log_is_filtered_and_paged_newest_first_for_admins_only(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = send(
            &app,
            Method::POST,
            "/api/tokens",
            ADMIN,
            json!({"name": format!("t{i}"), "scope": "read"}),
        )
        .await;
        ids.push(t["id"].as_i64().unwrap());
    }
    send(
        &app,
        Method::DELETE,
        &format!("/api/tokens/{}", ids[2]),
        ADMIN,
        Value::Null,
    )
    .await;
    rule(&app, "r", json!({"condition": {"type": "RunFailed"}})).await;

    let created = audit(&app, "?action=token.created").await;
    let names: Vec<&str> = created["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["t4", "t3", "t2", "t1", "t0"]);
    assert_eq!(created["next_cursor"], Value::Null);

    let one = audit(&app, &format!("?target_kind=token&target_id={}", ids[2])).await;
    let actions: Vec<&str> = one["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.revoked", "token.created"]);
    assert_eq!(
        audit(&app, "?target_kind=alert_rule").await["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Pages of two, newest first, each entry once.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = audit(&app, &query).await;
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 2);
        seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");

    // Time filters.
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        audit(&app, &format!("?from={future}")).await["entries"],
        json!([])
    );
    assert_eq!(
        audit(&app, &format!("?to={future}")).await["entries"]
            .as_array()
            .unwrap()
            .len(),
        7
    );

    // Bad parameters, and callers who are not admins.
    for bad in ["?cursor=nonsense", "?from=yesterday"] {
        let r = app.get_as(&format!("/api/audit{bad}"), ADMIN).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    for bad in ["?limit=0", "?limit=501"] {
        let r = app.get_as(&format!("/api/audit{bad}"), ADMIN).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", r.text);
        assert_eq!(fields(&r.body), ["limit"]);
    }
    assert_eq!(
        app.get("/api/audit").await.status,
        StatusCode::UNAUTHORIZED,
        "even with public reads"
    );
    for scope in [Scope::Read, Scope::Operator, Scope::Ingest] {
        let token = app.token(scope).await;
        assert_eq!(
            app.get_as("/api/audit", &token).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_change_refused_is_not_recorded(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = app
        .post("/api/alert-rules", Some(ADMIN), &json!({"name": "", "spec": {}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .raw(Method::DELETE, "/api/tokens/999", Some(ADMIN), Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post("/api/alerts/999/ack", Some(ADMIN), &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(audit(&app, "").await["entries"], json!([]));
}
