//! The native webhook receivers, end to end through the router against a real database.

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;

use crate::support::{TestApp, ADMIN, GITHUB_OLD_SECRET, GITHUB_SECRET};

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn workflow_run(run_id: i64, attempt: i64, status: &str, conclusion: Value) -> Value {
    json!({
        "action": if status == "completed" { "completed" } else { status },
        "workflow_run": {
            "id": run_id, "name": "CI", "run_number": 7, "run_attempt": attempt,
            "path": ".github/workflows/ci.yml", "head_branch": "main", "head_sha": "abc123",
            "event": "push", "status": status, "conclusion": conclusion,
            "created_at": "2025-08-27T06:00:00Z", "run_started_at": "2025-08-27T06:00:30Z",
            "updated_at": "2025-08-27T06:05:30Z",
            "html_url": format!("https://github.com/acme/api/actions/runs/{run_id}")
        },
        "workflow": {"name": "CI"},
        "repository": {"full_name": "acme/api"},
        "sender": {"login": "octocat"}
    })
}

pub async fn deliver(
    app: &TestApp,
    event: &str,
    delivery: &str,
    secret: &str,
    payload: &Value,
) -> crate::support::Reply {
    let body = payload.to_string();
    let sig = sign(secret, body.as_bytes());
    app.send(
        "/api/webhooks/github",
        &[
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", &sig),
        ],
        body,
    )
    .await
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn github_runs_are_recorded_through_their_lifecycle(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let r = deliver(
        &app,
        "workflow_run",
        "d-1",
        GITHUB_SECRET,
        &workflow_run(42, 1, "queued", Value::Null),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "recorded");
    assert_eq!(r.body["runs"][0]["id"], "github:acme/api:42:1");
    assert_eq!(r.body["runs"][0]["outcome"], "created");

    let done = workflow_run(42, 1, "completed", json!("failure"));
    let r = deliver(&app, "workflow_run", "d-2", GITHUB_SECRET, &done).await;
    assert_eq!(r.body["runs"][0]["outcome"], "updated");

    let run = app.get("/api/runs/github:acme%2Fapi:42:1").await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "failure");
    assert_eq!(run.body["provider"], "github");
    assert_eq!(run.body["workflow"], "CI");
    assert_eq!(run.body["duration_seconds"], 300.0);
    assert_eq!(run.body["queued_at"], "2025-08-27T06:00:00Z");
    assert_eq!(run.body["metadata"]["workflow_run"]["conclusion"], "failure");
    assert_eq!(run.body["metadata"]["webhook_source"], "env");

    // A late "in_progress" delivery does not reopen the run.
    let late = workflow_run(42, 1, "in_progress", Value::Null);
    let r = deliver(&app, "workflow_run", "d-3", GITHUB_SECRET, &late).await;
    assert_eq!(r.body["runs"][0]["outcome"], "ignored_stale");
    assert_eq!(
        app.get("/api/runs/github:acme%2Fapi:42:1").await.body["status"],
        "failure"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn signatures_are_required_and_checked(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let payload = workflow_run(1, 1, "queued", Value::Null);
    let body = payload.to_string();

    // The previous secret still works while rotating.
    let r = deliver(&app, "workflow_run", "old", GITHUB_OLD_SECRET, &payload).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let wrong = deliver(&app, "workflow_run", "w", "not-the-secret", &payload).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["code"], "invalid_signature");

    let missing = app
        .send(
            "/api/webhooks/github",
            &[("x-github-event", "workflow_run")],
            body.clone(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Hub-Signature-256"));

    // A signature over other bytes (the body was altered on the way) is refused.
    let sig = sign(GITHUB_SECRET, body.as_bytes());
    let altered = body.replace("queued", "success");
    let r = app
        .send(
            "/api/webhooks/github",
            &[("x-github-event", "workflow_run"), ("x-hub-signature-256", &sig)],
            altered,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        count(&pool, "pipeline_runs").await,
        1,
        "only the delivery signed with a known secret"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn form_encoded_deliveries_ping_and_other_events(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let payload = workflow_run(5, 1, "completed", json!("success")).to_string();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let sig = sign(GITHUB_SECRET, body.as_bytes());
    let r = app
        .send(
            "/api/webhooks/github",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-github-event", "workflow_run"),
                ("x-hub-signature-256", &sig),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["runs"][0]["status"], "success");

    let ping = deliver(
        &app,
        "ping",
        "p",
        GITHUB_SECRET,
        &json!({"zen": "Design for failure.", "hook_id": 1}),
    )
    .await;
    assert_eq!(ping.status, StatusCode::OK);
    assert_eq!(ping.body["status"], "ignored");

    let push = deliver(
        &app,
        "push",
        "q",
        GITHUB_SECRET,
        &json!({"ref": "refs/heads/main"}),
    )
    .await;
    assert_eq!(push.status, StatusCode::OK);
    assert_eq!(push.body["status"], "ignored");
    assert!(push.body["reason"].as_str().unwrap().contains("push"));

    let sig = sign(GITHUB_SECRET, b"{not json");
    let bad = app
        .send(
            "/api/webhooks/github",
            &[("x-github-event", "workflow_run"), ("x-hub-signature-256", &sig)],
            "{not json",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&pool, "pipeline_runs").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_redelivery_is_dropped(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let payload = workflow_run(9, 1, "completed", json!("success"));
    let first = deliver(&app, "workflow_run", "guid-1", GITHUB_SECRET, &payload).await;
    assert_eq!(first.body["status"], "recorded");
    let again = deliver(&app, "workflow_run", "guid-1", GITHUB_SECRET, &payload).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(count(&pool, "webhook_deliveries").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_delivery_sent_twice_at_once_is_recorded_once(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let payload = workflow_run(10, 1, "completed", json!("failure"));
    let (a, b) = tokio::join!(
        deliver(&app, "workflow_run", "guid-2", GITHUB_SECRET, &payload),
        deliver(&app, "workflow_run", "guid-2", GITHUB_SECRET, &payload),
    );
    let mut statuses = [a.body["status"].clone(), b.body["status"].clone()];
    statuses.sort_by_key(|s| s.to_string());
    assert_eq!(statuses, [json!("duplicate"), json!("recorded")]);
    assert_eq!(count(&pool, "webhook_deliveries").await, 1);
    assert_eq!(count(&pool, "pipeline_runs").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn jobs_attach_to_their_run_attempt(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    deliver(
        &app,
        "workflow_run",
        "r",
        GITHUB_SECRET,
        &workflow_run(77, 2, "in_progress", Value::Null),
    )
    .await;
    let job = |status: &str, conclusion: Value, completed: Value| {
        json!({
            "action": status,
            "workflow_job": {
                "id": 555, "run_id": 77, "run_attempt": 2, "name": "test", "workflow_name": "CI",
                "status": status, "conclusion": conclusion,
                "created_at": "2025-08-27T06:00:30Z", "started_at": "2025-08-27T06:01:30Z",
                "completed_at": completed, "labels": ["ubuntu-latest"], "runner_name": "runner-1",
                "runner_group_name": "Default",
                "steps": [{"name": "checkout", "status": "completed", "conclusion": "success", "number": 1,
                           "started_at": "2025-08-27T06:01:30Z", "completed_at": "2025-08-27T06:01:35Z"}]
            },
            "repository": {"full_name": "acme/api"}
        })
    };
    let r = deliver(
        &app,
        "workflow_job",
        "j1",
        GITHUB_SECRET,
        &job("in_progress", Value::Null, Value::Null),
    )
    .await;
    assert_eq!(r.body["jobs"], 1, "{}", r.text);
    deliver(
        &app,
        "workflow_job",
        "j2",
        GITHUB_SECRET,
        &job("completed", json!("success"), json!("2025-08-27T06:03:30Z")),
    )
    .await;
    // A late queued delivery does not move the job back.
    deliver(
        &app,
        "workflow_job",
        "j3",
        GITHUB_SECRET,
        &job("queued", Value::Null, Value::Null),
    )
    .await;

    let run = app.get("/api/runs/github:acme%2Fapi:77:2").await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let jobs = run.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "success");
    assert_eq!(jobs[0]["queue_seconds"], 60.0);
    assert_eq!(jobs[0]["duration_seconds"], 120.0);
    assert_eq!(jobs[0]["runner_name"], "runner-1");
    assert_eq!(jobs[0]["labels"], json!(["ubuntu-latest"]));
    assert_eq!(jobs[0]["steps"][0]["name"], "checkout");
    assert_eq!(jobs[0]["steps"][0]["status"], "success");
}

#[sqlx::test(migrations = "../migrations")]
async fn sources_stored_in_the_database_accept_their_organisation(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let org_secret = "acme-org-webhook-secret-0001";
    let created = app
        .post(
            "/api/webhook-sources",
            Some(ADMIN),
            &json!({"provider": "github", "name": "acme-org", "secret": org_secret}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert!(created.body.get("secret").is_none());
    let id = created.body["id"].as_i64().unwrap();

    // Sealed at rest: the secret's bytes are nowhere in the row.
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from webhook_sources")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!sealed
        .windows(org_secret.len())
        .any(|w| w == org_secret.as_bytes()));

    let r = deliver(
        &app,
        "workflow_run",
        "o1",
        org_secret,
        &workflow_run(3, 1, "queued", Value::Null),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let run = app.get("/api/runs/github:acme%2Fapi:3:1").await;
    assert_eq!(run.body["metadata"]["webhook_source"], "acme-org");

    let listed = app.get_as("/api/webhook-sources", ADMIN).await;
    assert_eq!(listed.body[0]["name"], "acme-org");
    assert!(listed.body[0].get("secret").is_none());

    let weak = app
        .post(
            "/api/webhook-sources",
            Some(ADMIN),
            &json!({"provider": "github", "name": "x", "secret": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let dup = app
        .post(
            "/api/webhook-sources",
            Some(ADMIN),
            &json!({"provider": "github", "name": "acme-org", "secret": org_secret}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let ingest_only = app
        .post("/api/webhook-sources", Some(&app.ingest), &json!({}))
        .await;
    assert_eq!(ingest_only.status, StatusCode::FORBIDDEN);

    let deleted = app
        .raw(
            axum::http::Method::DELETE,
            &format!("/api/webhook-sources/{id}"),
            Some(ADMIN),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let r = deliver(
        &app,
        "workflow_run",
        "o2",
        org_secret,
        &workflow_run(4, 1, "queued", Value::Null),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn bodies_over_the_limit_are_refused(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let sig = sign(GITHUB_SECRET, big.as_bytes());
    let r = app
        .send(
            "/api/webhooks/github",
            &[("x-github-event", "workflow_run"), ("x-hub-signature-256", &sig)],
            big,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failure_fixed_by_a_rerun_shows_both_attempts(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    deliver(
        &app,
        "workflow_run",
        "a1",
        GITHUB_SECRET,
        &workflow_run(88, 1, "completed", json!("failure")),
    )
    .await;
    deliver(
        &app,
        "workflow_run",
        "a2",
        GITHUB_SECRET,
        &workflow_run(88, 2, "completed", json!("success")),
    )
    .await;
    let second = app.get("/api/runs/github:acme%2Fapi:88:2").await;
    assert_eq!(second.body["run_key"], "github:acme/api:88");
    assert_eq!(second.body["attempt"], 2);
    let attempts = second.body["attempts"].as_array().unwrap();
    let summary: Vec<(i64, &str)> = attempts
        .iter()
        .map(|a| (a["attempt"].as_i64().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [(1, "failure"), (2, "success")]);
    let first = app.get("/api/runs/github:acme%2Fapi:88:1").await;
    assert_eq!(first.body["attempts"], second.body["attempts"]);
}

fn gitlab_pipeline(status: &str, finished: Value) -> Value {
    json!({
        "object_kind": "pipeline",
        "object_attributes": {
            "id": 31, "iid": 3, "name": null, "ref": "main", "tag": false,
            "sha": "bcbb5ec396a2c0f828686f14fac9b80b780504f2", "source": "push", "status": status,
            "detailed_status": status, "stages": ["build", "test"],
            "created_at": "2016-08-12 15:23:28 UTC", "finished_at": finished,
            "duration": 63, "queued_duration": 12,
            "url": "https://gitlab.example.com/gitlab-org/gitlab-test/-/pipelines/31"
        },
        "user": {"username": "root", "email": "admin@example.com"},
        "project": {"path_with_namespace": "gitlab-org/gitlab-test",
                    "web_url": "https://gitlab.example.com/gitlab-org/gitlab-test"},
        "builds": [
            {"id": 380, "stage": "test", "name": "rspec", "status": status,
             "created_at": "2016-08-12 15:23:28 UTC", "started_at": "2016-08-12 15:23:40 UTC",
             "finished_at": finished, "duration": 50.5, "queued_duration": 12.0, "failure_reason": null,
             "runner": {"id": 380987, "description": "shared-runners-manager-6", "active": true,
                        "is_shared": true, "tags": ["linux", "docker"]}}
        ]
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn gitlab_pipelines_and_their_builds_are_recorded(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let send = |body: Value, token: &'static str, key: &'static str| {
        let app = app.clone();
        async move {
            app.send(
                "/api/webhooks/gitlab",
                &[
                    ("content-type", "application/json"),
                    ("x-gitlab-event", "Pipeline Hook"),
                    ("x-gitlab-token", token),
                    ("idempotency-key", key),
                ],
                body.to_string(),
            )
            .await
        }
    };
    let r = send(
        gitlab_pipeline("running", Value::Null),
        crate::support::GITLAB_TOKEN,
        "k1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["runs"][0]["id"], "gitlab:gitlab-org/gitlab-test:31");
    assert_eq!(r.body["jobs"], 1);
    let done = gitlab_pipeline("failed", json!("2016-08-12 15:24:43 UTC"));
    let r = send(done.clone(), crate::support::GITLAB_TOKEN, "k2").await;
    assert_eq!(r.body["runs"][0]["status"], "failure");
    let again = send(done, crate::support::GITLAB_TOKEN, "k2").await;
    assert_eq!(again.body["status"], "duplicate");

    let run = app.get("/api/runs/gitlab:gitlab-org%2Fgitlab-test:31").await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["provider"], "gitlab");
    assert_eq!(run.body["branch"], "main");
    assert_eq!(run.body["queued_at"], "2016-08-12T15:23:28Z");
    assert_eq!(run.body["queue_seconds"], 12.0);
    let job = &run.body["jobs"][0];
    assert_eq!(job["name"], "rspec");
    assert_eq!(job["stage"], "test");
    assert_eq!(job["status"], "failure");
    assert_eq!(
        job["labels"],
        json!(["docker", "linux"]),
        "labels are a sorted set"
    );
    assert_eq!(job["runner_name"], "shared-runners-manager-6");

    let wrong = send(gitlab_pipeline("running", Value::Null), "not-the-token", "k3").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["code"], "invalid_signature");
    let push = app
        .send(
            "/api/webhooks/gitlab",
            &[
                ("x-gitlab-event", "Push Hook"),
                ("x-gitlab-token", crate::support::GITLAB_TOKEN),
            ],
            json!({"object_kind": "push"}).to_string(),
        )
        .await;
    assert_eq!(push.status, StatusCode::OK);
    assert_eq!(push.body["status"], "ignored");
}

fn jenkins(phase: &str, status: Option<&str>, timestamp: i64, duration: i64) -> Value {
    let mut build = json!({
        "full_url": "https://ci.example.com/job/acme/job/api/42/", "number": 42, "queue_id": 7,
        "phase": phase, "timestamp": timestamp, "duration": duration,
        "scm": {"url": "https://github.com/acme/api.git", "branch": "origin/main", "commit": "deadbeef"}
    });
    if let Some(s) = status {
        build["status"] = json!(s);
    }
    json!({"name": "api", "display_name": "api", "url": "job/acme/job/api/", "build": build})
}

#[sqlx::test(migrations = "../migrations")]
async fn jenkins_notifications_take_an_ingest_token_in_the_header_or_the_query(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let started = 1_756_274_400_000i64; // 2025-08-27T06:00:00Z
    let header = format!("Bearer {}", app.ingest);
    let r = app
        .send(
            "/api/webhooks/jenkins",
            &[("content-type", "application/json"), ("authorization", &header)],
            jenkins("STARTED", None, started, 0).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["runs"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["runs"][0]["status"], "running");

    let uri = format!("/api/webhooks/jenkins?token={}", app.ingest);
    let done = jenkins("FINALIZED", Some("UNSTABLE"), started + 90_000, 90_000);
    let r = app
        .send(&uri, &[("content-type", "application/json")], done.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["runs"][0]["status"], "failure");

    let run = app.get(&format!("/api/runs/{}", id.replace('/', "%2F"))).await;
    assert_eq!(run.body["repo"], "acme/api");
    assert_eq!(run.body["branch"], "main");
    assert_eq!(run.body["duration_seconds"], 90.0);
    assert_eq!(run.body["started_at"], "2025-08-27T06:00:00Z");

    let none = app
        .send(
            "/api/webhooks/jenkins",
            &[],
            jenkins("STARTED", None, started, 0).to_string(),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let read = app.token(cicd_monitor::auth::Scope::Read).await;
    let wrong_scope = app
        .send(
            &format!("/api/webhooks/jenkins?token={read}"),
            &[],
            jenkins("STARTED", None, started, 0).to_string(),
        )
        .await;
    assert_eq!(wrong_scope.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn cdevents_arrive_in_every_cloudevents_mode(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let auth = format!("Bearer {}", app.ingest);
    let cdevent = |kind: &str, outcome: Option<&str>, at: &str| {
        let mut content = json!({"pipelineName": "release", "uri": "https://ci.example.com/runs/9"});
        if let Some(o) = outcome {
            content["outcome"] = json!(o);
        }
        json!({
            "context": {"specversion": "0.5.0", "id": format!("ev-{kind}"), "source": "/tekton/acme",
                        "type": format!("dev.cdevents.pipelinerun.{kind}.0.3.0"), "timestamp": at},
            "subject": {"id": "run-9", "source": "/tekton/acme", "content": content},
            "customData": {"repo": "acme/api"}
        })
    };
    // Binary mode.
    let started = cdevent("started", None, "2025-08-27T06:00:00Z");
    let r = app
        .send(
            "/api/webhooks/cdevents",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("ce-specversion", "1.0"),
                ("ce-id", "ev-started"),
                ("ce-source", "/tekton/acme"),
                ("ce-type", "dev.cdevents.pipelinerun.started.0.3.0"),
            ],
            started.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["runs"][0]["status"], "running");
    let id = r.body["runs"][0]["id"].as_str().unwrap().to_owned();

    // Structured mode.
    let finished = cdevent("finished", Some("success"), "2025-08-27T06:04:00Z");
    let structured = json!({"specversion": "1.0", "id": "ev-finished", "source": "/tekton/acme",
        "type": "dev.cdevents.pipelinerun.finished.0.3.0", "time": "2025-08-27T06:04:00Z", "data": finished});
    let r = app
        .send(
            "/api/webhooks/cdevents",
            &[
                ("authorization", &auth),
                ("content-type", "application/cloudevents+json"),
            ],
            structured.to_string(),
        )
        .await;
    assert_eq!(r.body["runs"][0]["status"], "success", "{}", r.text);
    let run = app.get(&format!("/api/runs/{}", id.replace('/', "%2F"))).await;
    assert_eq!(run.body["repo"], "acme/api");
    assert_eq!(run.body["workflow"], "release");
    assert_eq!(run.body["duration_seconds"], 240.0);

    // Batch mode: a pipeline run and an event type that is not tracked.
    let batch = json!([
        {"specversion": "1.0", "id": "b1", "source": "/tekton/acme", "type": "dev.cdevents.pipelinerun.queued.0.3.0",
         "data": cdevent("queued", None, "2025-08-27T07:00:00Z")
            .as_object().cloned().map(|mut o| { o["subject"]["id"] = json!("run-10"); Value::Object(o) }).unwrap()},
        {"specversion": "1.0", "id": "b2", "source": "/x", "type": "com.example.other", "data": {}}
    ]);
    let r = app
        .send(
            "/api/webhooks/cdevents",
            &[
                ("authorization", &auth),
                ("content-type", "application/cloudevents-batch+json"),
            ],
            batch.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["runs"][0]["status"], "queued");
    assert_eq!(count(&pool, "pipeline_runs").await, 2);

    let unauthenticated = app
        .send(
            "/api/webhooks/cdevents",
            &[("content-type", "application/cloudevents+json")],
            structured.to_string(),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let not_json = app
        .send(
            "/api/webhooks/cdevents",
            &[("authorization", &auth), ("content-type", "application/json")],
            "nope",
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_receivers_list_every_providers_path_and_credential_without_secrets(pool: PgPool) {
    let mut cfg = crate::support::config(true, "/nonexistent".into());
    cfg.webhooks.gitlab_webhook_token = None;
    let app = TestApp::with_config(pool, cfg).await;
    assert_eq!(
        app.get("/api/webhook-receivers").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get_as("/api/webhook-receivers", ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let by = |provider: &str| -> Value {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["provider"] == provider)
            .cloned()
            .unwrap_or_else(|| panic!("no {provider} in {}", r.text))
    };
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    let github = by("github");
    assert_eq!(github["path"], "/api/webhooks/github");
    assert_eq!(github["credential"], "shared_secret");
    assert_eq!(github["environment_secret"], true);
    assert_eq!(by("gitlab")["environment_secret"], false);
    assert_eq!(by("jenkins")["credential"], "ingest_token");
    assert_eq!(by("generic")["path"], "/api/events");
    assert!(!r.text.contains(GITHUB_SECRET), "never a secret");
}
