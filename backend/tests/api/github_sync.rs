//! The GitHub Actions API poller against a small local server that answers like GitHub's REST API:
//! pages with `Link` headers, ETags and 304s, rate-limit exhaustion, `retry-after`, and 5xx.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cicd_monitor::config::GithubConfig;
use cicd_monitor::github_sync::Poller;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::config;

/// A scripted answer served before the normal ones.
#[derive(Clone)]
enum Scripted {
    Status(u16),
    RetryAfter(u16, u64),
    Exhausted { reset: i64 },
}

#[derive(Default)]
struct Fake {
    runs: Vec<Value>,
    page_size: usize,
    script: VecDeque<Scripted>,
    /// Every request: (path and query, If-None-Match, Authorization).
    seen: Vec<(String, Option<String>, Option<String>)>,
    /// `x-ratelimit-remaining` on successful pages (default 4999).
    remaining: Option<u32>,
}

type Shared = Arc<Mutex<Fake>>;

fn run(id: i64, conclusion: &str) -> Value {
    json!({
        "id": id, "name": "CI", "run_number": id, "run_attempt": 1, "path": ".github/workflows/ci.yml",
        "head_branch": "main", "head_sha": "abc", "event": "push", "status": "completed",
        "conclusion": conclusion, "created_at": "2025-08-27T06:00:00Z",
        "run_started_at": "2025-08-27T06:00:10Z", "updated_at": "2025-08-27T06:01:10Z",
        "html_url": format!("https://github.com/acme/api/actions/runs/{id}"),
        "repository": {"full_name": "acme/api"}
    })
}

async fn runs_endpoint(
    State(fake): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let mut f = fake.lock().unwrap();
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    f.seen.push((
        uri.path_and_query().unwrap().to_string(),
        h("if-none-match"),
        h("authorization"),
    ));
    if let Some(s) = f.script.pop_front() {
        return match s {
            Scripted::Status(code) => (
                StatusCode::from_u16(code).unwrap(),
                Json(json!({"message": "Server Error"})),
            )
                .into_response(),
            Scripted::RetryAfter(code, secs) => (
                StatusCode::from_u16(code).unwrap(),
                [("retry-after", secs.to_string())],
                Json(json!({"message": "You have exceeded a secondary rate limit."})),
            )
                .into_response(),
            Scripted::Exhausted { reset } => (
                StatusCode::FORBIDDEN,
                [
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset", reset.to_string()),
                ],
                Json(json!({"message": "API rate limit exceeded"})),
            )
                .into_response(),
        };
    }
    assert_eq!(format!("{owner}/{repo}"), "acme/api");
    assert!(
        uri.query().unwrap().contains("created=%3E%3D"),
        "a look-back filter is sent"
    );
    let page: usize = uri
        .query()
        .unwrap()
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .map_or(1, |p| p.parse().unwrap());
    let etag = format!("\"{}-{}\"", f.runs.len(), page);
    if page == 1 && h("if-none-match").as_deref() == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let chunk: Vec<Value> = f
        .runs
        .chunks(f.page_size)
        .nth(page - 1)
        .unwrap_or_default()
        .to_vec();
    let pages = f.runs.len().div_ceil(f.page_size);
    let mut res = Json(json!({"total_count": f.runs.len(), "workflow_runs": chunk})).into_response();
    let hs = res.headers_mut();
    hs.insert("etag", HeaderValue::from_str(&etag).unwrap());
    hs.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(f.remaining.unwrap_or(4999)),
    );
    hs.insert("x-ratelimit-reset", HeaderValue::from(4_102_444_800i64));
    if page < pages {
        // GitHub's next links keep the query and change the page.
        let query: Vec<&str> = uri
            .query()
            .unwrap()
            .split('&')
            .filter(|kv| !kv.starts_with("page="))
            .collect();
        let next = format!("{}?{}&page={}", uri.path(), query.join("&"), page + 1);
        // GitHub's next links are absolute.
        let host = headers.get("host").unwrap().to_str().unwrap();
        hs.insert(
            "link",
            HeaderValue::from_str(&format!(
                "<http://{host}{next}>; rel=\"next\", <http://{host}{}?page={pages}>; rel=\"last\"",
                uri.path()
            ))
            .unwrap(),
        );
    }
    res
}

async fn fake_github(fake: Shared) -> String {
    let app = Router::new()
        .route("/repos/{owner}/{repo}/actions/runs", get(runs_endpoint))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn poller(pool: &PgPool, api: String) -> Poller {
    let cfg = config(true, "/nonexistent".into());
    let state = cicd_monitor::state(pool.clone(), &cfg).unwrap();
    let gh = GithubConfig {
        github_api_url: api,
        ..GithubConfig::default()
    };
    let mut p = Poller::new(
        &gh,
        "ghp_test_token".to_owned().into(),
        pool.clone(),
        state.writer.clone(),
    )
    .unwrap();
    p.retry_base = Duration::from_millis(10);
    p.max_wait = Duration::from_secs(2);
    p
}

fn fake(runs: usize, page_size: usize) -> Shared {
    Arc::new(Mutex::new(Fake {
        runs: (1..=runs as i64)
            .map(|i| run(i, if i % 3 == 0 { "failure" } else { "success" }))
            .collect(),
        page_size,
        ..Fake::default()
    }))
}

async fn stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from pipeline_runs where provider = 'github'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_are_followed_and_an_unchanged_first_page_costs_a_304(pool: PgPool) {
    let f = fake(5, 2);
    let p = poller(&pool, fake_github(f.clone()).await).await;

    let r = p.sync_repo("acme/api").await;
    assert_eq!((r.outcome, r.pages, r.runs), ("synced", 3, 5), "{r:?}");
    assert_eq!(stored(&pool).await, 5);
    let failed: i64 = sqlx::query_scalar("select count(*) from pipeline_runs where status = 'failure'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(failed, 1);

    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "not_modified", "{r:?}");
    let seen = f.lock().unwrap().seen.clone();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].1, None, "no ETag yet on the first sync");
    assert_eq!(seen[3].1.as_deref(), Some("\"5-1\""), "the stored ETag is sent");
    assert_eq!(seen[0].2.as_deref(), Some("Bearer ghp_test_token"));

    // A new run changes the first page: it is fetched and written.
    f.lock().unwrap().runs.insert(0, run(6, "success"));
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "synced");
    assert_eq!(stored(&pool).await, 6);
}

#[sqlx::test(migrations = "../migrations")]
async fn server_errors_are_retried_with_backoff(pool: PgPool) {
    let f = fake(2, 10);
    f.lock().unwrap().script = VecDeque::from([Scripted::Status(500), Scripted::Status(502)]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/api").await;
    assert_eq!((r.outcome, r.runs), ("synced", 2), "{r:?}");
    assert_eq!(f.lock().unwrap().seen.len(), 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_persistent_outage_fails_the_repository_and_is_recorded(pool: PgPool) {
    let f = fake(2, 10);
    f.lock().unwrap().script = VecDeque::from(vec![Scripted::Status(503); 10]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "failed");
    assert!(r.error.as_deref().unwrap().contains("503"), "{r:?}");
    let last_error: Option<String> =
        sqlx::query_scalar("select last_error from github_sync_state where repo = 'acme/api'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(last_error.unwrap().contains("503"));
    assert_eq!(stored(&pool).await, 0);

    // A 404 (no access, wrong name) is not retried.
    let f = fake(2, 10);
    f.lock().unwrap().script = VecDeque::from([Scripted::Status(404)]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "failed");
    assert_eq!(f.lock().unwrap().seen.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_short_retry_after_is_waited_out(pool: PgPool) {
    let f = fake(1, 10);
    f.lock().unwrap().script = VecDeque::from([Scripted::RetryAfter(429, 1)]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let started = std::time::Instant::now();
    let r = p.sync_repo("acme/api").await;
    assert_eq!((r.outcome, r.runs), ("synced", 1), "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was honoured"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_exhausted_rate_limit_pauses_the_repository_until_reset(pool: PgPool) {
    let reset = chrono::Utc::now().timestamp() + 3600;
    let f = fake(3, 10);
    f.lock().unwrap().script = VecDeque::from([Scripted::Exhausted { reset }]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "rate_limited");
    assert_eq!(r.not_before.unwrap().timestamp(), reset);

    // Until the reset, no request is made at all.
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "rate_limited");
    assert_eq!(f.lock().unwrap().seen.len(), 1);

    // A long retry-after is not waited in place either.
    let f = fake(3, 10);
    f.lock().unwrap().script = VecDeque::from([Scripted::RetryAfter(403, 600)]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/other").await;
    assert_eq!(r.outcome, "rate_limited", "{r:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn paging_stops_when_the_last_request_is_spent(pool: PgPool) {
    let f = fake(4, 2);
    f.lock().unwrap().remaining = Some(0);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let r = p.sync_repo("acme/api").await;
    assert_eq!((r.outcome, r.pages, r.runs), ("rate_limited", 1, 2), "{r:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn only_one_replica_syncs_at_a_time(pool: PgPool) {
    let f = fake(1, 10);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let mut other = pool.acquire().await.unwrap();
    sqlx::query("select pg_advisory_lock(113698311597667)")
        .execute(&mut *other)
        .await
        .unwrap();
    assert!(p.sync(&["acme/api".into()]).await.unwrap().is_none());
    assert!(f.lock().unwrap().seen.is_empty());
    sqlx::query("select pg_advisory_unlock(113698311597667)")
        .execute(&mut *other)
        .await
        .unwrap();
    let reports = p.sync(&["acme/api".into()]).await.unwrap().unwrap();
    assert_eq!(reports[0].outcome, "synced");
}

#[sqlx::test(migrations = "../migrations")]
async fn polled_runs_and_webhook_runs_are_the_same_runs(pool: PgPool) {
    let app = crate::support::TestApp::new(pool.clone()).await;
    let payload = json!({"action": "completed", "workflow_run": run(1, "success"),
        "repository": {"full_name": "acme/api"}});
    let body = payload.to_string();
    let sig = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(crate::support::GITHUB_SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let r = app
        .send(
            "/api/webhooks/github",
            &[("x-github-event", "workflow_run"), ("x-hub-signature-256", &sig)],
            body,
        )
        .await;
    assert_eq!(r.body["runs"][0]["outcome"], "created", "{}", r.text);

    let f = fake(1, 10);
    let p = poller(&pool, fake_github(f).await).await;
    assert_eq!(p.sync_repo("acme/api").await.runs, 1);
    assert_eq!(
        stored(&pool).await,
        1,
        "the poller found the run the webhook delivered"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sync_cut_short_keeps_no_etag_so_the_next_one_reads_every_page(pool: PgPool) {
    let f = fake(4, 2);
    f.lock().unwrap().remaining = Some(0);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    assert_eq!(p.sync_repo("acme/api").await.outcome, "rate_limited");
    let etag: Option<String> =
        sqlx::query_scalar("select etag from github_sync_state where repo = 'acme/api'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(etag, None);
    // Once the limit resets, the next sync starts over rather than trusting the first page's ETag.
    sqlx::query("update github_sync_state set not_before = null")
        .execute(&pool)
        .await
        .unwrap();
    f.lock().unwrap().remaining = None;
    let r = p.sync_repo("acme/api").await;
    assert_eq!((r.outcome, r.pages, r.runs), ("synced", 2, 4), "{r:?}");
    assert_eq!(stored(&pool).await, 4);
}
