//! `GET /api/stream`: runs and incident changes reach every replica's clients through PostgreSQL
//! LISTEN/NOTIFY, within a second of their commit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use cicd_monitor::auth::Scope;
use cicd_monitor::live::{Live, LiveEvent};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::time::{timeout_at, Instant};
use tower::ServiceExt;

use crate::alerting::{finished, rule, slack_integration};
use crate::db_faults::Proxy;
use crate::support::{event, TestApp, ADMIN};

const SECOND: Duration = Duration::from_secs(1);

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    event: String,
    data: String,
    retry: Option<String>,
}

/// Checks an event against the OpenAPI document's `StreamEvent`: its name is one of the union's, and
/// its data is valid against the `contentSchema` that name's branch gives it (formats included).
fn assert_documented(e: &Sse) {
    static SCHEMAS: LazyLock<HashMap<String, jsonschema::Validator>> = LazyLock::new(|| {
        let doc = serde_json::to_value(cicd_monitor::http::openapi::document()).unwrap();
        let branches = doc["components"]["schemas"]["StreamEvent"]["oneOf"]
            .as_array()
            .unwrap();
        branches
            .iter()
            .map(|branch| {
                let name = branch["properties"]["event"]["enum"][0].as_str().unwrap();
                // The document is the root, so that the data's `$ref`s to components resolve.
                let mut root = json!({"components": doc["components"]});
                root["$ref"] = branch["properties"]["data"]["contentSchema"]["$ref"].clone();
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("the {name} event's schema: {e}"));
                (name.to_owned(), validator)
            })
            .collect()
    });
    let schema = SCHEMAS
        .get(&e.event)
        .unwrap_or_else(|| panic!("an event the document does not name: {e:?}"));
    let data: Value = serde_json::from_str(&e.data).expect("an event's data is JSON");
    if let Err(error) = schema.validate(&data) {
        panic!("the {} event is not as documented: {error}\n{}", e.event, e.data);
    }
}

/// The client end of a stream.
struct Stream {
    body: Body,
    buf: String,
}

impl Stream {
    /// Opens `uri` on `router` and reads its `hello`.
    async fn open(router: &Router, uri: &str, token: Option<&str>) -> (Stream, Sse) {
        let mut req = Request::builder().method(Method::GET).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        assert_eq!(res.headers()["x-accel-buffering"], "no");
        let mut s = Stream {
            body: res.into_body(),
            buf: String::new(),
        };
        let hello = s.next(SECOND).await.expect("a hello at once");
        assert_eq!(hello.event, "hello", "{hello:?}");
        (s, hello)
    }

    /// The next event (comments skipped) within `within`; `None` if none came or the stream ended.
    async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse {
                    event: "message".into(),
                    data: String::new(),
                    retry: None,
                };
                let mut fields = 0;
                for line in block.lines() {
                    let (k, v) = line.split_once(':').unwrap_or((line, ""));
                    let v = v.strip_prefix(' ').unwrap_or(v).to_owned();
                    match k {
                        "event" => e.event = v,
                        "data" => e.data = v,
                        "retry" => e.retry = Some(v),
                        _ => continue, // a comment (keep-alive)
                    }
                    fields += 1;
                }
                if fields > 0 {
                    assert_documented(&e);
                    return Some(e);
                }
            }
            let frame = timeout_at(deadline, self.body.frame()).await.ok()??.unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// The data of the next `name` event within `within`, skipping others.
    async fn expect(&mut self, name: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(e) if e.event == name => return serde_json::from_str(&e.data).unwrap(),
                Some(e) => skipped.push(e),
                None => panic!("no {name} event within {within:?}; got {skipped:?}"),
            }
        }
    }

    /// The `run` event of run `id` within a second (other runs' events are skipped).
    async fn run(&mut self, id: &str) -> Value {
        let deadline = Instant::now() + SECOND;
        loop {
            let run = self.expect("run", deadline - Instant::now()).await;
            if run["id"] == id {
                return run;
            }
        }
    }
}

/// A TestApp whose listener is running (as `serve` starts it).
async fn live_app(pool: PgPool, public_read: bool) -> TestApp {
    let app = TestApp::with(pool, public_read, PathBuf::from("/nonexistent")).await;
    app.state.live.spawn();
    tokio::time::timeout(5 * SECOND, app.state.live.listening())
        .await
        .expect("the listener connects");
    app
}

#[sqlx::test(migrations = "../migrations")]
async fn a_recorded_run_reaches_the_stream_within_a_second(pool: PgPool) {
    let app = live_app(pool, true).await;
    let (mut stream, hello) = Stream::open(&app.router, "/api/stream", None).await;
    assert_eq!(hello.retry.as_deref(), Some("3000"));
    assert_eq!(
        serde_json::from_str::<Value>(&hello.data).unwrap(),
        json!({"live": true})
    );

    let created = app
        .event(&event(
            json!({"id": "r1", "status": "running", "finished_at": null}),
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let run = stream.run("r1").await;
    assert_eq!(run["status"], "running");
    assert_eq!(run["repo"], "org/repo");
    assert!(run.get("metadata").is_none(), "the list shape: no metadata");
    let mut listed = created.body.clone();
    for key in ["metadata", "outcome"] {
        listed.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(run, listed, "the run the POST answered, less its metadata");

    // An update of an existing run, then a replay that changes nothing.
    let done = event(json!({"id": "r1"}));
    assert_eq!(app.event(&done).await.status, StatusCode::OK);
    assert_eq!(stream.run("r1").await["status"], "success");
    assert_eq!(app.event(&done).await.status, StatusCode::OK);
    let quiet = stream.next(Duration::from_millis(300)).await;
    assert!(quiet.is_none(), "a replay announces nothing: {quiet:?}");

    // At shutdown every stream ends.
    app.state.live.close();
    assert!(stream.next(SECOND).await.is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn test_results_attached_to_their_run_reach_the_stream(pool: PgPool) {
    let app = live_app(pool, true).await;
    let (mut stream, _) = Stream::open(&app.router, "/api/stream", None).await;
    let xml = crate::test_results::junit(&[("adds", "pass")]);
    let auth = format!("Bearer {}", app.ingest);
    let upload = app
        .send("/api/runs/r1/tests", &[("authorization", &auth)], xml)
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.text);
    // Not attached yet: nothing to announce until the run arrives and the report is attached.
    assert_eq!(
        app.event(&event(json!({"id": "r1"}))).await.status,
        StatusCode::CREATED
    );
    app.state.folder.run_once().await.unwrap();
    let change = stream.expect("tests", SECOND).await;
    assert_eq!(change, json!({"run_id": "r1", "repo": "org/repo"}));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_too_large_for_one_notification_arrives_whole(pool: PgPool) {
    let app = live_app(pool, true).await;
    let (mut stream, _) = Stream::open(&app.router, "/api/stream", None).await;
    let mut batch: Vec<Value> = (0..40)
        .map(|i| event(json!({"id": format!("b{i:02}"), "url": format!("https://ci.example.com/{}", "x".repeat(400))})))
        .collect();
    // Alone larger than a notification may be (names at their limit of 255 characters, each of four
    // bytes in UTF-8): announced by id, read back by the listener.
    let huge_url = format!("https://ci.example.com/{}", "y".repeat(2000));
    let wide = "\u{1F680}".repeat(255);
    batch.push(event(json!({
        "id": "huge", "url": huge_url, "repo": wide, "workflow": wide, "branch": wide,
        "commit_sha": wide, "triggered_by": wide,
    })));
    let r = app
        .post(
            "/api/events/batch",
            Some(&app.ingest.clone()),
            &Value::Array(batch),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 41 {
        let run = stream.expect("run", SECOND).await;
        seen.insert(run["id"].as_str().unwrap().to_owned(), run);
    }
    assert_eq!(seen["huge"]["url"], huge_url.as_str());
    assert_eq!(seen["huge"]["status"], "success");
    assert!(seen.keys().take(40).all(|id| id.starts_with('b')));
}

#[sqlx::test(migrations = "../migrations")]
async fn incident_changes_reach_the_stream(pool: PgPool) {
    let app = live_app(pool, true).await;
    slack_integration(&app, "slack", "https://hooks.slack.com/services/a").await;
    rule(
        &app,
        "any-failure",
        json!({"condition": {"type": "RunFailed"}, "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let (mut stream, _) = Stream::open(&app.router, "/api/stream", None).await;
    finished(&app, "r1", "failure", 5).await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    let opened = stream.expect("incident", SECOND).await;
    let id = opened["id"].as_i64().unwrap();
    assert!(opened["rule_id"].is_i64());
    assert_eq!(opened["state"], "firing");
    assert_eq!(opened["change"], "opened");

    let ack = |path: &'static str| {
        let app = app.clone();
        async move {
            app.raw(
                Method::POST,
                &format!("/api/alerts/{id}/{path}"),
                Some(ADMIN),
                Body::empty(),
            )
            .await
            .status
        }
    };
    assert_eq!(ack("ack").await, StatusCode::OK);
    let acked = stream.expect("incident", SECOND).await;
    assert_eq!(
        acked,
        json!({"id": id, "rule_id": opened["rule_id"], "state": "firing", "change": "acknowledged"})
    );
    // Acknowledging again changes nothing and says nothing: the next change is the mute.
    assert_eq!(ack("ack").await, StatusCode::OK);
    let muted = app
        .post(
            &format!("/api/alerts/{id}/mute"),
            Some(ADMIN),
            &json!({"for": "1h"}),
        )
        .await;
    assert_eq!(muted.status, StatusCode::OK, "{}", muted.text);
    assert_eq!(stream.expect("incident", SECOND).await["change"], "muted");

    finished(&app, "r2", "success", 1).await;
    app.state.alerts.tick(Utc::now()).await.unwrap();
    let resolved = stream.expect("incident", SECOND).await;
    assert_eq!(
        (resolved["id"].as_i64(), &resolved["state"]),
        (Some(id), &json!("resolved"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_stream_needs_a_read_token_unless_reads_are_public(pool: PgPool) {
    let app = live_app(pool, false).await;
    let read = app.token(Scope::Read).await;
    let r = app.get("/api/stream").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "unauthorized");
    let r = app.get_as("/api/stream", &app.ingest).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["error"]["code"], "forbidden");
    assert_eq!(
        app.get("/api/stream?token=cicd_bogus").await.status,
        StatusCode::UNAUTHORIZED
    );

    // In a header, or in the query for EventSource (which cannot set headers).
    let (mut by_header, _) = Stream::open(&app.router, "/api/stream", Some(&read)).await;
    let (mut by_query, _) = Stream::open(&app.router, &format!("/api/stream?token={read}"), None).await;
    app.event(&event(json!({"id": "seen"}))).await;
    by_header.run("seen").await;
    by_query.run("seen").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn two_replicas_sharing_a_database_both_stream_a_run_written_through_one(pool: PgPool) {
    let other = PgPoolOptions::new()
        .max_connections(4)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let a = live_app(pool, true).await;
    let b = live_app(other, true).await;
    let (mut on_a, _) = Stream::open(&a.router, "/api/stream", None).await;
    let (mut on_b, _) = Stream::open(&b.router, "/api/stream", None).await;
    assert_eq!(
        a.event(&event(json!({"id": "via-a"}))).await.status,
        StatusCode::CREATED
    );
    assert_eq!(on_b.run("via-a").await["status"], "success");
    assert_eq!(on_a.run("via-a").await["status"], "success");
    assert_eq!(
        b.event(&event(json!({"id": "via-b", "status": "failure"})))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(on_a.run("via-b").await["status"], "failure");
    assert_eq!(on_b.run("via-b").await["status"], "failure");
    // The test's own pool is closed by #[sqlx::test]; this one must be too before the database
    // can be dropped.
    b.pool.close().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn after_losing_its_connection_the_listener_comes_back_and_clients_resync(pool: PgPool) {
    let app = live_app(pool.clone(), true).await;
    let (mut stream, _) = Stream::open(&app.router, "/api/stream", None).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and query ilike 'listen%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listener connection");
    assert_eq!(
        stream.expect("resync", 5 * SECOND).await,
        json!({"reason": "reconnected"})
    );
    assert!(app.state.live.is_listening());
    app.event(&event(json!({"id": "after"}))).await;
    stream.run("after").await;
}

#[sqlx::test(migrations = "../migrations")]
async fn while_the_database_is_away_the_stream_stays_open_and_resyncs_when_it_is_back(direct: PgPool) {
    let opts = direct.connect_options();
    let proxy = Proxy::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    let pool = PgPoolOptions::new()
        .acquire_timeout(SECOND)
        .max_connections(4)
        .connect_lazy_with((*opts).clone().host("127.0.0.1").port(proxy.port));
    let app = live_app(pool, true).await;
    let (mut stream, _) = Stream::open(&app.router, "/api/stream", None).await;

    proxy.cut();
    tokio::time::timeout(2 * SECOND, async {
        while app.state.live.is_listening() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the listener notices the cut");
    // A few failed reconnections, then the database is back.
    tokio::time::sleep(SECOND).await;
    let (mut meanwhile, hello) = Stream::open(&app.router, "/api/stream", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&hello.data).unwrap(),
        json!({"live": false})
    );
    proxy.restore();
    for s in [&mut stream, &mut meanwhile] {
        assert_eq!(
            s.expect("resync", 5 * SECOND).await,
            json!({"reason": "reconnected"})
        );
    }
    assert_eq!(
        app.event(&event(json!({"id": "back"}))).await.status,
        StatusCode::CREATED
    );
    stream.run("back").await;
    meanwhile.run("back").await;
    app.pool.close().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_that_falls_behind_is_told_to_resync(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let state = cicd_monitor::http::AppState::new(cicd_monitor::http::Shared {
        live: Arc::new(Live::with_capacity(pool, 2)),
        ..(*app.state).clone()
    });
    let router = cicd_monitor::http::router(state.clone(), &PathBuf::from("/nonexistent"));
    let (mut stream, hello) = Stream::open(&router, "/api/stream", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&hello.data).unwrap(),
        json!({"live": false})
    );
    for i in 0..5 {
        let now = Utc::now();
        let run = cicd_monitor::domain::Run {
            id: format!("r{i}"),
            provider: "generic".into(),
            workflow: "build".into(),
            repo: "org/repo".into(),
            branch: None,
            commit_sha: None,
            status: cicd_monitor::domain::RunStatus::Success,
            attempt: 1,
            run_key: None,
            duration_seconds: Some(1.0),
            queue_seconds: None,
            queued_at: None,
            started_at: Some(now),
            finished_at: Some(now),
            triggered_by: None,
            url: None,
            metadata: None,
            created_at: now,
            updated_at: now,
        };
        let json = serde_json::to_string(&run).unwrap();
        state.live.publish(LiveEvent::Run(json.into(), None));
    }
    assert_eq!(stream.expect("resync", SECOND).await, json!({"reason": "lagged"}));
    // What is still queued follows.
    assert_eq!(stream.expect("run", SECOND).await["id"], "r3");
    assert_eq!(stream.expect("run", SECOND).await["id"], "r4");
}
