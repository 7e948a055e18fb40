//! The GitHub Actions API poller against a small local server that answers like GitHub's REST API:
//! pages with `Link` headers, ETags and 304s, rate-limit exhaustion, `retry-after`, and 5xx; and
//! comparisons of two commits, for the commits of deployments no push covered.

use std::collections::{HashMap, VecDeque};
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
    /// The commits of each comparison, by `base...head` (oldest first, as GitHub lists them);
    /// another one is a 404.
    compares: HashMap<String, Vec<Value>>,
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
        return scripted(s);
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

/// A commit as the compare API lists it (trimmed): written at `authored`, committed at `committed`.
fn compared_commit(sha: &str, authored: &str, committed: &str) -> Value {
    json!({"sha": sha, "node_id": "C_x", "html_url": format!("https://github.com/acme/api/commit/{sha}"),
        "commit": {"author": {"name": "Mona", "email": "mona@example.com", "date": authored},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": committed},
            "message": "a change"},
        "parents": []})
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`, with `per_page` (at most 100) and `page`.
async fn compare_endpoint(
    State(fake): State<Shared>,
    Path((owner, repo, basehead)): Path<(String, String, String)>,
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
        return scripted(s);
    }
    assert_eq!(format!("{owner}/{repo}"), "acme/api");
    let Some(commits) = f.compares.get(&basehead).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Not Found", "status": "404"})),
        )
            .into_response();
    };
    let param = |name: &str| {
        uri.query()
            .unwrap_or_default()
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    // Without pagination parameters GitHub lists at most 250 commits.
    let (per_page, page) = match (param("per_page"), param("page")) {
        (None, None) => (250, 1),
        (pp, p) => (
            pp.map_or(30, |v| v.parse::<usize>().unwrap().min(100)),
            p.map_or(1, |v| v.parse().unwrap()),
        ),
    };
    let chunk: Vec<Value> = commits
        .chunks(per_page)
        .nth(page - 1)
        .unwrap_or_default()
        .to_vec();
    let pages = commits.len().div_ceil(per_page);
    let mut res = Json(json!({
        "url": format!("https://api.github.com/repos/acme/api/compare/{basehead}"),
        "status": "ahead", "ahead_by": commits.len(), "behind_by": 0,
        "total_commits": commits.len(), "commits": chunk,
        "files": if page == 1 { json!([{"filename": "src/main.rs", "status": "modified"}]) } else { json!([]) }
    }))
    .into_response();
    let hs = res.headers_mut();
    hs.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(f.remaining.unwrap_or(4999)),
    );
    if page < pages {
        let host = headers.get("host").unwrap().to_str().unwrap();
        hs.insert(
            "link",
            HeaderValue::from_str(&format!(
                "<http://{host}{}?per_page={per_page}&page={}>; rel=\"next\"",
                uri.path(),
                page + 1
            ))
            .unwrap(),
        );
    }
    res
}

fn scripted(s: Scripted) -> Response {
    match s {
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
    }
}

async fn fake_github(fake: Shared) -> String {
    let app = Router::new()
        .route("/repos/{owner}/{repo}/actions/runs", get(runs_endpoint))
        .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare_endpoint))
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

/// A sha of 40 hex digits.
fn sha(n: u32) -> String {
    format!("{n:040x}")
}

/// A successful GitHub deployment of acme/api, delivered as a `deployment_status` webhook.
async fn github_deployment(app: &crate::support::TestApp, id: i64, sha: &str, environment: &str, at: &str) {
    let body = json!({"action": "created", "repository": {"full_name": "acme/api"},
        "deployment": {"id": id, "sha": sha, "ref": "main", "environment": environment, "created_at": at},
        "deployment_status": {"id": id, "state": "success", "created_at": at, "environment": environment}});
    let r = crate::webhooks::deliver(
        app,
        "deployment_status",
        &format!("delivery-{id}"),
        crate::support::GITHUB_SECRET,
        &body,
    )
    .await;
    assert_eq!(r.body["deployments"], 1, "{}", r.text);
}

/// acme/api's production deployments, newest first.
async fn deployments(app: &crate::support::TestApp) -> Vec<Value> {
    let r = app
        .get("/api/deployments?service=acme/api&environment=production")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["deployments"].as_array().unwrap().clone()
}

/// The comparisons asked for.
fn compares_seen(f: &Shared) -> Vec<String> {
    f.lock()
        .unwrap()
        .seen
        .iter()
        .map(|s| s.0.clone())
        .filter(|p| p.contains("/compare/"))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_commits_of_a_deployment_no_push_covered_come_from_the_compare_api(pool: PgPool) {
    let app = crate::support::TestApp::new(pool.clone()).await;
    let (s1, s2) = (sha(1), sha(2));
    github_deployment(&app, 1, &s1, "production", "2026-11-02T10:00:00Z").await;
    github_deployment(&app, 2, &s2, "production", "2026-11-03T10:00:00Z").await;
    // The first deployment of staging has nothing to compare with.
    github_deployment(&app, 3, &s2, "staging", "2026-11-03T09:00:00Z").await;
    let d = deployments(&app).await;
    assert_eq!(
        d[0]["commits"],
        json!([{"sha": s2, "committed_at": null, "merged_at": null,
        "lead_seconds": null}])
    );

    let f = fake(0, 10);
    f.lock().unwrap().compares.insert(
        format!("{s1}...{s2}"),
        vec![
            compared_commit(&sha(0xa1), "2026-11-02T22:00:00Z", "2026-11-03T05:00:00Z"),
            compared_commit(&sha(0xa2), "2026-11-03T02:00:00Z", "2026-11-03T05:00:00Z"),
            compared_commit(&s2, "2026-11-03T07:00:00Z", "2026-11-03T07:30:00Z"),
        ],
    );
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let reports = p.sync(&["acme/api".into()]).await.unwrap().unwrap();
    assert_eq!(
        (reports[0].compared, reports[0].compared_commits),
        (1, 3),
        "{reports:?}"
    );
    assert_eq!(
        compares_seen(&f),
        [format!("/repos/acme/api/compare/{s1}...{s2}?per_page=100&page=1")]
    );
    assert!(f
        .lock()
        .unwrap()
        .seen
        .iter()
        .all(|s| s.2.as_deref() == Some("Bearer ghp_test_token")));

    // Lead times from the author dates to the success at 10:00 on the 3rd: 12 h, 8 h, 3 h.
    let d = deployments(&app).await;
    assert_eq!(d[0]["commit_count"], 3);
    let leads: Vec<(String, f64)> = d[0]["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["sha"].as_str().unwrap().to_owned(),
                c["lead_seconds"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        leads,
        [
            (sha(0xa1), 12.0 * 3600.0),
            (sha(0xa2), 8.0 * 3600.0),
            (s2.clone(), 3.0 * 3600.0)
        ]
    );
    assert_eq!(d[0]["commits"][0]["merged_at"], "2026-11-03T05:00:00Z");
    assert_eq!(
        d[1]["commits"][0]["sha"],
        s1.as_str(),
        "the first keeps its own sha"
    );

    let r = app
        .get("/api/dora?service=acme/api&from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lead = &r.body["lead_time_for_changes"];
    assert_eq!(
        (
            lead["value"].as_f64(),
            lead["sample"].as_i64(),
            lead["band"].as_str()
        ),
        (Some(8.0 * 3600.0), Some(3), Some("elite")),
        "{lead}"
    );

    // Asked once: the next passes leave it alone.
    p.sync(&["acme/api".into()]).await.unwrap().unwrap();
    assert_eq!(compares_seen(&f).len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_shas_are_given_up_and_failures_and_rate_limits_are_asked_again_later(pool: PgPool) {
    let app = crate::support::TestApp::new(pool.clone()).await;
    for n in 1..=4 {
        github_deployment(
            &app,
            i64::from(n),
            &sha(n),
            "production",
            &format!("2026-11-0{n}T10:00:00Z"),
        )
        .await;
    }
    let f = fake(0, 10);
    for (base, head) in [(3, 4), (1, 2)] {
        f.lock().unwrap().compares.insert(
            format!("{}...{}", sha(base), sha(head)),
            vec![compared_commit(
                &sha(head),
                "2026-11-01T00:00:00Z",
                "2026-11-01T00:00:00Z",
            )],
        );
    }
    // The latest first: 3...4 meets a lasting outage, 2...3 is unknown (404), 1...2 is answered.
    f.lock().unwrap().script = VecDeque::from(vec![Scripted::Status(502); 4]);
    let p = poller(&pool, fake_github(f.clone()).await).await;
    let c = p.fill_commits("acme/api").await;
    assert_eq!(
        (c.deployments, c.commits, c.unknown, c.failed),
        (1, 1, 1, 1),
        "{c:?}"
    );
    let outcomes = || async {
        sqlx::query_as::<_, (String, String, i32)>(
            "select head, outcome, attempts from github_compares order by head",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        outcomes().await,
        [
            (sha(2), "filled".to_owned(), 0),
            (sha(3), "unknown".to_owned(), 0),
            (sha(4), "failed".to_owned(), 1)
        ]
    );
    assert_eq!(compares_seen(&f).len(), 6);

    // Nothing is due yet.
    let c = p.fill_commits("acme/api").await;
    assert_eq!(c, Default::default());
    assert_eq!(compares_seen(&f).len(), 6);

    // Once the failure is due, a spent rate limit pauses the repository, and the attempt is not
    // counted.
    sqlx::query("update github_compares set not_before = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let reset = chrono::Utc::now().timestamp() + 3600;
    f.lock().unwrap().script = VecDeque::from([Scripted::Exhausted { reset }]);
    let c = p.fill_commits("acme/api").await;
    assert_eq!(c.not_before.map(|t| t.timestamp()), Some(reset), "{c:?}");
    assert_eq!(outcomes().await[2].2, 1);
    assert!(p.fill_commits("acme/api").await.not_before.is_some());
    assert_eq!(compares_seen(&f).len(), 7, "no request while paused");
    let r = p.sync_repo("acme/api").await;
    assert_eq!(r.outcome, "rate_limited", "the runs wait too");

    sqlx::query("update github_sync_state set not_before = null")
        .execute(&pool)
        .await
        .unwrap();
    let c = p.fill_commits("acme/api").await;
    assert_eq!((c.deployments, c.commits), (1, 1), "{c:?}");
    assert_eq!(outcomes().await[2], (sha(4), "filled".to_owned(), 1));
}

#[sqlx::test(migrations = "../migrations")]
async fn long_comparisons_are_read_page_by_page_up_to_a_cap(pool: PgPool) {
    let app = crate::support::TestApp::new(pool.clone()).await;
    for n in 1..=3 {
        github_deployment(
            &app,
            i64::from(n),
            &sha(n),
            "production",
            &format!("2026-11-0{n}T10:00:00Z"),
        )
        .await;
    }
    let f = fake(0, 10);
    for (base, head) in [(1u32, 2u32), (2, 3)] {
        let commits = (0..250)
            .map(|i| {
                compared_commit(
                    &sha(head << 16 | i),
                    "2026-11-01T00:00:00Z",
                    "2026-11-01T00:00:00Z",
                )
            })
            .collect();
        f.lock()
            .unwrap()
            .compares
            .insert(format!("{}...{}", sha(base), sha(head)), commits);
    }
    let mut p = poller(&pool, fake_github(f.clone()).await).await;
    p.max_compares = 1;
    let c = p.fill_commits("acme/api").await;
    assert_eq!((c.deployments, c.commits), (1, 250), "{c:?}");
    let pages: Vec<String> = compares_seen(&f)
        .iter()
        .map(|p| p.rsplit_once('?').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        pages,
        [
            "per_page=100&page=1",
            "per_page=100&page=2",
            "per_page=100&page=3"
        ]
    );

    p.max_compare_pages = 2;
    let c = p.fill_commits("acme/api").await;
    assert_eq!((c.deployments, c.commits), (1, 200), "{c:?}");
    let d = deployments(&app).await;
    assert_eq!(
        (d[0]["commit_count"].as_i64(), d[1]["commit_count"].as_i64()),
        (Some(250), Some(200))
    );
}
