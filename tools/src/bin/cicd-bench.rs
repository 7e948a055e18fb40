//! `make bench`: ingest throughput over HTTP (vs COPY and vs one row per transaction, measured in
//! the same run), `/api/metrics` latency over 1,000,000 runs, and the backend's peak memory.
//! Writes a Markdown report (docs/benchmarks.md). Needs DATABASE_URL of a role that may create
//! databases; starts the release `cicd-monitor` binary next to this one as the server under test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use cicd_monitor::demo;
use cicd_monitor_tools::capacity;
use cicd_monitor_tools::cost::{self, Cost, Meter};
use cicd_monitor_tools::latency::{self, Latency};
use cicd_monitor_tools::profile::Profile;
use cicd_monitor_tools::report::{replace_section, write_keeping};
use cicd_monitor_tools::server::{fresh_database, Server};
use cicd_monitor_tools::{dora_bench, tests_bench};
use clap::Parser;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{Connection, PgConnection, PgPool};

#[derive(Debug, Parser)]
struct Args {
    /// Where to write the report.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// Seconds of HTTP ingest load.
    #[arg(long, default_value_t = 20)]
    ingest_seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 128)]
    clients: usize,
    /// Runs loaded for the query benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    runs: usize,
    /// Where the profile of the single-event load is written (folded stacks and a flame graph).
    #[arg(long, default_value = "target/bench")]
    artifacts: PathBuf,
    /// Only the HTTP ingest measurement (for quick iterations).
    #[arg(long)]
    only_ingest: bool,
    /// Query the `bench_query` database an earlier run loaded with as many runs, instead of
    /// loading it again (for iterating on queries); the report gives that run's load figures.
    #[arg(long)]
    reuse_loaded: bool,
    /// Requests per query scenario.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Runs whose test results are stored for the test views' latency.
    #[arg(long, default_value_t = 100_000)]
    test_runs: usize,
    /// Test results per run.
    #[arg(long, default_value_t = 200)]
    tests_per_run: usize,
    /// Only the test-results benchmark (upload, memory, the test views); its section of the
    /// report replaces the one in `--out`, the rest of which is kept.
    #[arg(long)]
    only_tests: bool,
    /// Only the delivery benchmark (`GET /api/dora`); its section of the report replaces the one
    /// in `--out`, the rest of which is kept.
    #[arg(long)]
    only_delivery: bool,
}

fn event_body(client: usize, i: u64) -> String {
    let start = Utc::now() - TimeDelta::seconds(300);
    serde_json::json!({
        "id": format!("bench-{client}-{i}"), "workflow": format!("workflow-{}", i % 10),
        "status": if i.is_multiple_of(10) { "failure" } else { "success" }, "duration_seconds": 120 + (i % 240),
        "started_at": start.to_rfc3339(), "finished_at": (start + TimeDelta::seconds(120)).to_rfc3339(),
        "repo": format!("org/repo-{:02}", client % 50), "branch": "main", "triggered_by": "push",
        "meta": {"runner": "ubuntu-latest"}
    })
    .to_string()
}

/// The secret the bench's backend checks GitHub deliveries with.
const GITHUB_SECRET: &str = "bench-github-webhook-secret-0001";

/// Label sets of the GitHub mix's jobs.
const MIX_LABELS: [&[&str]; 4] = [
    &["ubuntu-latest"],
    &["ubuntu-latest"],
    &["macos-14"],
    &["self-hosted", "gpu"],
];

/// The `i`th delivery of client `client` in a GitHub mix: per run a `workflow_run` and six
/// `workflow_job` deliveries (two jobs, each queued, in progress and completed), signed.
fn github_delivery(client: usize, i: u64) -> Request {
    use serde_json::{json, Value};
    let (run, step) = (i / 7, i % 7);
    let run_id = client as u64 * 1_000_000_000 + run;
    let at = Utc::now() - TimeDelta::seconds(120);
    let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let repo = json!({"full_name": format!("org/repo-{:02}", client % 50)});
    let workflow = format!("workflow-{}", run % 10);
    let (event, payload) = if step == 0 {
        let run = json!({
            "id": run_id, "name": workflow, "run_number": run, "run_attempt": 1,
            "head_branch": "main", "head_sha": "0123abcd", "event": "push",
            "status": "in_progress", "conclusion": null,
            "created_at": ts(at), "run_started_at": ts(at), "updated_at": ts(at),
        });
        (
            "workflow_run",
            json!({"action": "in_progress", "workflow_run": run, "repository": repo}),
        )
    } else {
        // Job 0 queued and in progress, job 1 queued, job 0 completed, job 1 in progress and completed.
        const STEPS: [(u64, &str); 6] = [
            (0, "queued"),
            (0, "in_progress"),
            (1, "queued"),
            (0, "completed"),
            (1, "in_progress"),
            (1, "completed"),
        ];
        let (job, action) = STEPS[step as usize - 1];
        let labels = MIX_LABELS[((run + job) % MIX_LABELS.len() as u64) as usize];
        let started = at + TimeDelta::seconds(5 + 20 * job as i64);
        let done = action == "completed";
        let job = json!({
            "id": run_id * 2 + job, "run_id": run_id, "run_attempt": 1, "name": format!("job-{job}"),
            "workflow_name": workflow, "head_branch": "main", "status": action,
            "conclusion": if done { json!("success") } else { Value::Null },
            "created_at": ts(at), "started_at": ts(if action == "queued" { at } else { started }),
            "completed_at": if done { json!(ts(started + TimeDelta::seconds(61))) } else { Value::Null },
            "labels": labels,
            "runner_name": if action == "queued" { Value::Null } else { json!("runner-1") },
            "runner_group_name": Value::Null, "steps": [],
        });
        (
            "workflow_job",
            json!({"action": action, "workflow_job": job, "repository": repo}),
        )
    };
    let body = payload.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    Request {
        body,
        events: 1,
        headers: vec![
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", format!("bench-{client}-{i}")),
            ("x-hub-signature-256", signature),
        ],
    }
}

/// One request of a load: its body (empty: a GET), the events it carries and extra headers.
struct Request {
    body: String,
    events: u64,
    headers: Vec<(&'static str, String)>,
}

impl Request {
    fn of(body: String, events: u64) -> Self {
        Request {
            body,
            events,
            headers: Vec::new(),
        }
    }
}

struct IngestResult {
    batch_mean: f64,
    txn_ms: f64,
    events: u64,
    errors: u64,
    seconds: f64,
    batch_rate: f64,
    /// Signed GitHub deliveries per second (one `workflow_run` and six `workflow_job` per run).
    github_rate: f64,
    github_errors: u64,
    health_rate: f64,
    rss_mib: f64,
    /// Where the machine's CPU went during the single-event load (Markdown), when profiled.
    profile: Option<String>,
    /// The statements that took the most time during the single-event load (Markdown).
    single_statements: String,
    /// Per-event costs of the single-event, batch and GitHub loads.
    single_cost: Cost,
    batch_cost: Cost,
    github_cost: Cost,
    health_cost: Cost,
}

async fn ingest(url: &str, args: &Args) -> anyhow::Result<IngestResult> {
    let server = Server::start_with(url, &[("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)]).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = server.token("ingest").await?;
    let mut meter = Meter::new(url, server.pid()).await?;
    let before = meter.settle().await?;
    meter.reset_statements().await?;
    let profile = Profile::start(
        &args.artifacts,
        "ingest-single-event",
        args.ingest_seconds,
        server.pid(),
    );
    let started = Instant::now();
    let single = load(
        &client,
        &format!("{}/api/events", server.base),
        &token,
        args.clients,
        args.ingest_seconds,
        |c, i| Request::of(event_body(c, i), 1),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let profile = profile.finish().await;
    let after_single = meter.settle().await?;
    let single_statements = meter.statements(8, single.0).await?;
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await?
        .text()
        .await?;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    let batches = value("cicd_ingest_batch_size_count");
    let batch_mean = value("cicd_ingest_batch_size_sum") / batches;
    let txn_ms = 1000.0 * value("cicd_ingest_transaction_duration_seconds_sum") / batches;
    // Peers in the same run: the same events 100 to a request, and the cheapest request there is.
    let batch = load(
        &client,
        &format!("{}/api/events/batch", server.base),
        &token,
        16,
        args.ingest_seconds,
        |c, i| {
            let events: Vec<String> = (0..100).map(|k| event_body(1000 + c, i * 100 + k)).collect();
            Request::of(format!("[{}]", events.join(",")), 100)
        },
    )
    .await;
    let after_batch = meter.settle().await?;
    let github = load(
        &client,
        &format!("{}/api/webhooks/github", server.base),
        "",
        args.clients,
        args.ingest_seconds,
        github_delivery,
    )
    .await;
    let after_github = meter.settle().await?;
    let health = load(
        &client,
        &format!("{}/health", server.base),
        "",
        args.clients,
        5,
        |_, _| Request::of(String::new(), 1),
    )
    .await;
    let after_health = meter.settle().await?;
    Ok(IngestResult {
        batch_mean,
        txn_ms,
        events: single.0,
        errors: single.1,
        seconds,
        batch_rate: batch.0 as f64 / batch.2,
        github_rate: github.0 as f64 / github.2,
        github_errors: github.1,
        health_rate: health.0 as f64 / health.2,
        rss_mib: server.rss_mib(true),
        profile,
        single_statements,
        single_cost: meter.cost(&before, &after_single, single.0),
        batch_cost: meter.cost(&after_single, &after_batch, batch.0),
        github_cost: meter.cost(&after_batch, &after_github, github.0),
        health_cost: meter.cost(&after_github, &after_health, health.0),
    })
}

/// `clients` tasks sending requests for `seconds`; `body(client, i)` gives a request body and
/// what it carries. Returns (events ok, failed requests, s).
async fn load(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    clients: usize,
    seconds: u64,
    body: impl Fn(usize, u64) -> Request + Send + Sync + Copy + 'static,
) -> (u64, u64, f64) {
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, token, url, ok, errors) = (
            client.clone(),
            token.to_owned(),
            url.to_owned(),
            ok.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let request = body(c, i);
                let mut req = if request.body.is_empty() {
                    client.get(&url)
                } else {
                    client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(request.body)
                };
                if !token.is_empty() {
                    req = req.bearer_auth(&token);
                }
                for (name, value) in request.headers {
                    req = req.header(name, value);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => ok.fetch_add(request.events, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
                i += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        ok.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

/// COPY of `rows` rows into a table shaped like pipeline_runs (same indexes), split over
/// `connections` concurrent connections (one per core measures what the machine can store).
/// With a `meter`, also returns what each row cost.
async fn copy_rows(
    url: &str,
    rows: u64,
    connections: u64,
    meter: Option<&mut Meter>,
) -> anyhow::Result<(f64, Option<Cost>)> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query("drop table if exists copy_bench")
        .execute(&mut conn)
        .await?;
    sqlx::query("create table copy_bench (like pipeline_runs including all)")
        .execute(&mut conn)
        .await?;
    let start = Utc::now() - TimeDelta::seconds(300);
    let per = rows / connections;
    let mut parts = Vec::new();
    for c in 0..connections {
        let mut data = String::new();
        for i in c * per..(c + 1) * per {
            data.push_str(&format!(
                "copy-{i}\tgeneric\tworkflow-{}\torg/repo-{:02}\tmain\t\\N\tsuccess\t1\t{}\t\\N\t{}\t{}\tpush\t\\N\t{{\"runner\": \"ubuntu-latest\"}}\t{}\t{}\n",
                i % 10, i % 50, 120 + i % 240, start.to_rfc3339(), (start + TimeDelta::seconds(120)).to_rfc3339(),
                Utc::now().to_rfc3339(), Utc::now().to_rfc3339()
            ));
        }
        parts.push((PgConnection::connect(url).await?, data));
    }
    let mut meter = meter;
    let before = match meter.as_mut() {
        Some(m) => Some(m.settle().await?),
        None => None,
    };
    let t = Instant::now();
    let tasks: Vec<_> = parts
        .into_iter()
        .map(|(mut conn, data)| {
            tokio::spawn(async move {
                let mut copy = conn
                    .copy_in_raw(
                        "copy copy_bench (id, provider, workflow, repo, branch, commit_sha, status, attempt, \
                         duration_seconds, queued_at, started_at, finished_at, triggered_by, url, metadata, \
                         created_at, updated_at) from stdin",
                    )
                    .await?;
                copy.send(data.as_bytes()).await?;
                copy.finish().await?;
                // Closed, so that its statistics are reported before they are read.
                conn.close().await?;
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let secs = t.elapsed().as_secs_f64();
    let cost = match (meter, before) {
        (Some(m), Some(before)) => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let after = m.snapshot().await?;
            Some(m.cost(&before, &after, per * connections))
        }
        _ => None,
    };
    sqlx::query("drop table copy_bench").execute(&mut conn).await?;
    Ok(((per * connections) as f64 / secs, cost))
}

/// One upsert per transaction from 32 connections: the naive design the group commit replaces.
async fn row_per_transaction(url: &str, rows: u64) -> anyhow::Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(32)
        .connect(url)
        .await?;
    sqlx::query("drop table if exists naive_bench")
        .execute(&pool)
        .await?;
    // The naive design's table: unpartitioned, its id the primary key, the same other indexes.
    sqlx::query("create table naive_bench (like pipeline_runs including all)")
        .execute(&pool)
        .await?;
    sqlx::query(
        "alter table naive_bench drop constraint naive_bench_id_created_at_key, add primary key (id)",
    )
    .execute(&pool)
    .await?;
    let next = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (pool, next) = (pool.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= rows {
                    return Ok::<_, sqlx::Error>(());
                }
                sqlx::query(
                    "insert into naive_bench (id, workflow, repo, branch, status, duration_seconds, started_at, metadata) \
                     values ($1, 'ci', 'org/repo', 'main', 'success', 120, now(), '{}') \
                     on conflict (id) do update set status = excluded.status, updated_at = now()",
                )
                .bind(format!("naive-{i}"))
                .execute(&pool)
                .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = rows as f64 / t.elapsed().as_secs_f64();
    sqlx::query("drop table naive_bench").execute(&pool).await?;
    Ok(rate)
}

/// The naive design served as ingest is: the same backend with group commit off (each event its
/// own transaction, rollups included, 32 writers on 32 connections), loaded as the single-event
/// run is, with other ids. Events per second.
async fn event_per_transaction(url: &str, args: &Args) -> anyhow::Result<f64> {
    let server = Server::start_with(
        url,
        &[
            ("CICD_INGEST_MAX_BATCH", "1"),
            ("CICD_INGEST_WRITERS", "32"),
            ("CICD_DB_MAX_CONNECTIONS", "40"),
        ],
    )
    .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let token = server.token("ingest").await?;
    let seconds = args.ingest_seconds.div_ceil(2);
    let (ok, errors, elapsed) = load(
        &client,
        &format!("{}/api/events", server.base),
        &token,
        args.clients,
        seconds,
        |c, i| Request::of(event_body(c + 1_000, i), 1),
    )
    .await;
    anyhow::ensure!(
        errors == 0,
        "{errors} requests failed with one event per transaction"
    );
    Ok(ok as f64 / elapsed)
}

/// Bytes on disk per row of the tables that grow with runs and jobs, in the query database: the
/// heap (with its TOAST), the indexes, and both per row (Markdown); and the total bytes per run
/// and per job.
async fn storage(url: &str) -> anyhow::Result<(String, f64, f64)> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query("vacuum analyze pipeline_runs, run_jobs, run_rollups, job_rollups")
        .execute(&mut conn)
        .await?;
    let mut md = String::from(
        "| table | rows | heap MiB | index MiB | heap bytes per row | index bytes per row | total bytes per row |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut per_row = Vec::new();
    for table in ["pipeline_runs", "run_jobs", "run_rollups", "job_rollups"] {
        let (rows, heap, index): (i64, i64, i64) = sqlx::query_as(&format!(
            "select (select count(*) from {table}), \
                 coalesce(sum(pg_table_size(relid))::int8, pg_table_size('{table}')), \
                 coalesce(sum(pg_indexes_size(relid))::int8, pg_indexes_size('{table}')) \
             from pg_partition_tree('{table}')"
        ))
        .fetch_one(&mut conn)
        .await?;
        let per = |b: i64| b as f64 / rows.max(1) as f64;
        md.push_str(&format!(
            "| `{table}` | {rows} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |\n",
            heap as f64 / 1048576.0,
            index as f64 / 1048576.0,
            per(heap),
            per(index),
            per(heap + index),
        ));
        per_row.push(per(heap + index));
    }
    Ok((md, per_row[0], per_row[1]))
}

/// The load figures kept in the query database, for `--reuse-loaded`.
const LOADED_TABLE: &str = "create table if not exists bench_loaded (requested int8, runs int8, \
     jobs int8, runs_secs float8, jobs_secs float8, fold_secs float8, loaded_at timestamptz default now())";

/// Loads the query database, or (with `--reuse-loaded`) finds what an earlier run loaded there
/// and when.
async fn load_queries(
    admin_url: &str,
    args: &Args,
) -> anyhow::Result<(String, demo::Loaded, Option<chrono::DateTime<Utc>>)> {
    if args.reuse_loaded {
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("DATABASE_URL has no database name")?;
        let url = format!("{base}/bench_query");
        let pool = PgPool::connect(&url).await?;
        cicd_monitor::db::migrate(&pool).await?;
        let row: Option<(i64, i64, f64, f64, f64, chrono::DateTime<Utc>)> = sqlx::query_as(
            "select runs, jobs, runs_secs, jobs_secs, fold_secs, loaded_at from bench_loaded where requested = $1 \
             order by loaded_at desc limit 1",
        )
        .bind(args.runs as i64)
        .fetch_optional(&pool)
        .await
        .ok()
        .flatten();
        let (runs, jobs, runs_secs, jobs_secs, fold_secs, loaded_at) =
            row.context("no bench_query database loaded with as many runs to reuse")?;
        let loaded = demo::Loaded {
            runs: runs as usize,
            jobs: jobs as usize,
            runs_secs,
            jobs_secs,
            fold_secs,
            ..demo::Loaded::default()
        };
        return Ok((url, loaded, Some(loaded_at)));
    }
    let url = fresh_database(admin_url, "bench_query").await?;
    let pool = PgPool::connect(&url).await?;
    cicd_monitor::db::migrate(&pool).await?;
    let spec = demo::Spec::bench(50, 10, 30, args.runs);
    let loaded = demo::load(&pool, &spec, 1, Utc::now()).await?;
    eprintln!(
        "  loaded {} runs in {:.0} s, {} jobs in {:.0} s, folded in {:.0} s",
        loaded.runs, loaded.runs_secs, loaded.jobs, loaded.jobs_secs, loaded.fold_secs
    );
    sqlx::query(LOADED_TABLE).execute(&pool).await?;
    sqlx::query(
        "insert into bench_loaded (requested, runs, jobs, runs_secs, jobs_secs, fold_secs) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(args.runs as i64)
    .bind(loaded.runs as i64)
    .bind(loaded.jobs as i64)
    .bind(loaded.runs_secs)
    .bind(loaded.jobs_secs)
    .bind(loaded.fold_secs)
    .execute(&pool)
    .await?;
    sqlx::query("vacuum analyze").execute(&pool).await?;
    Ok((url, loaded, None))
}

async fn queries(url: &str, args: &Args) -> anyhow::Result<(Vec<Latency>, f64)> {
    let server = Server::start_with(url, &[]).await?;
    let metrics = "/summary/total_runs";
    // (name, route and query, a JSON pointer into the answer that must not be zero).
    let scenarios: Vec<(&'static str, String, &str)> = vec![
        (
            "30 days by day, unfiltered",
            "metrics?from={d30}&group_by=day".into(),
            metrics,
        ),
        (
            "30 days by day, repo",
            "metrics?from={d30}&group_by=day&repo=org/repo-07".into(),
            metrics,
        ),
        (
            "30 days by day, repo + workflow",
            "metrics?from={d30}&group_by=day&repo=org/repo-07&workflow=workflow-3".into(),
            metrics,
        ),
        (
            "24 hours by hour, unfiltered",
            "metrics?from={d1}&group_by=hour".into(),
            metrics,
        ),
        (
            "30 days by day, repo + branch (runs path)",
            "metrics?from={d30}&group_by=day&repo=org/repo-07&branch=main".into(),
            metrics,
        ),
        ("jobs, 30 days, unfiltered", "jobs?from={d30}".into(), "/total"),
        (
            "jobs, 30 days, repo",
            "jobs?from={d30}&repo=org/repo-07".into(),
            "/total",
        ),
        ("runners, 30 days", "runners?from={d30}".into(), "/items/0/jobs"),
        (
            "usage by repo, 30 days",
            "usage?from={d30}&group_by=repo".into(),
            "/total/jobs",
        ),
        (
            "usage by labels, 30 days",
            "usage?from={d30}&group_by=labels".into(),
            "/total/jobs",
        ),
    ];
    let out = latency::measure(&server, &scenarios, args.requests).await?;
    Ok((out, server.rss_mib(true)))
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let admin_url = std::env::var("DATABASE_URL").context("DATABASE_URL is required (make bench sets it)")?;
    let delivery_md = if args.only_ingest || args.only_tests {
        String::new()
    } else {
        eprintln!("delivery: {} deployments …", dora_bench::DEPLOYMENTS);
        let md = dora_bench::markdown(&dora_bench::run(&admin_url, args.requests).await?);
        eprintln!("{md}");
        md
    };
    if args.only_delivery {
        let kept = std::fs::read_to_string(&args.out).unwrap_or_default();
        write_keeping(&args.out, &replace_section(&kept, "## Delivery", &delivery_md))?;
        return Ok(());
    }
    let (tests_md, result_bytes) = if args.only_ingest {
        (String::new(), None)
    } else {
        eprintln!(
            "tests: uploads, then {} runs × {} results …",
            args.test_runs, args.tests_per_run
        );
        let r = tests_bench::run(&admin_url, args.test_runs, args.tests_per_run, args.requests).await?;
        let md = tests_bench::markdown(&r);
        eprintln!("{md}");
        (md, Some(r.all_bytes))
    };
    if args.only_tests {
        let kept = std::fs::read_to_string(&args.out).unwrap_or_default();
        write_keeping(&args.out, &replace_section(&kept, "## Test results", &tests_md))?;
        return Ok(());
    }

    eprintln!("ingest: {} clients for {} s …", args.clients, args.ingest_seconds);
    let ingest_url = fresh_database(&admin_url, "bench_ingest").await?;
    let ing = ingest(&ingest_url, &args).await?;
    let http_rate = ing.events as f64 / ing.seconds;
    eprintln!(
        "  {http_rate:.0} events/s ({} events, {} errors; {:.0} events per transaction, {:.1} ms each)",
        ing.events, ing.errors, ing.batch_mean, ing.txn_ms
    );
    eprintln!(
        "  batch endpoint {:.0} events/s; GET /health {:.0} requests/s; backend peak RSS {:.1} MiB",
        ing.batch_rate, ing.health_rate, ing.rss_mib
    );
    eprintln!(
        "  signed GitHub mix {:.0} deliveries/s ({} failed requests), {:.2}x single events",
        ing.github_rate,
        ing.github_errors,
        ing.github_rate / http_rate
    );
    let mut meter = Meter::new(&ingest_url, 0).await?;
    let (copy_rate, copy_cost) = copy_rows(&ingest_url, ing.events.max(10_000), 1, Some(&mut meter)).await?;
    let cores: u64 = command_output("nproc", &[]).parse().unwrap_or(2);
    let (copy_all, _) = copy_rows(&ingest_url, ing.events.max(10_000), cores, None).await?;
    // Every event costs at least a /health request's share of the machine (HTTP and load
    // generator) plus a COPY'd row's share (storing it with its indexes, all cores storing):
    // no implementation on this machine reaches more than this.
    let ceiling = 1.0 / (1.0 / ing.health_rate + 1.0 / copy_all);
    eprintln!("  COPY {copy_rate:.0} rows/s on 1 connection, {copy_all:.0} on {cores}; ceiling {ceiling:.0} events/s");
    let naive_rate = row_per_transaction(&ingest_url, 20_000).await?;
    eprintln!("  one row per transaction {naive_rate:.0} rows/s");
    let naive_served = event_per_transaction(&ingest_url, &args).await?;
    eprintln!("  the backend with one event per transaction {naive_served:.0} events/s");
    let costs_md = cost::markdown(
        &[
            (
                format!("`POST /api/events`, {} clients", args.clients),
                ing.single_cost.clone(),
            ),
            (
                "`POST /api/events/batch`, 100 events per request".to_owned(),
                ing.batch_cost.clone(),
            ),
            (
                "`POST /api/webhooks/github`, signed mix, per delivery".to_owned(),
                ing.github_cost.clone(),
            ),
            ("`GET /health` (no database)".to_owned(), ing.health_cost.clone()),
            (
                "`COPY` of the same runs, one connection".to_owned(),
                copy_cost.clone().unwrap_or_default(),
            ),
        ],
        copy_cost.as_ref(),
    );
    eprintln!("{costs_md}");
    eprintln!("{}", ing.single_statements);
    if let Some(p) = &ing.profile {
        eprintln!("{p}");
    }
    let mut ingest_md = String::new();
    ingest_md.push_str("## Ingest throughput (`POST /api/events`, new ids, durable commits)\n\n");
    ingest_md.push_str(&format!(
        "Measured at {} ({} cores).\n\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        command_output("nproc", &[])
    ));
    ingest_md.push_str("| measure | rows/s | vs HTTP ingest |\n|---|---:|---:|\n");
    ingest_md.push_str(&format!(
        "| HTTP ingest, {} clients, {} s (target ≥ 15,000) | {http_rate:.0} | 1.00 |\n",
        args.clients, args.ingest_seconds
    ));
    ingest_md.push_str(&format!(
        "| `POST /api/events/batch`, 100 events per request, 16 clients | {:.0} | {:.2} |\n",
        ing.batch_rate,
        ing.batch_rate / http_rate
    ));
    ingest_md.push_str(&format!(
        "| `POST /api/webhooks/github`, signed, one `workflow_run` and six `workflow_job` deliveries per run, {} clients ({} failed requests) | {:.0} | {:.2} |\n",
        args.clients,
        ing.github_errors,
        ing.github_rate,
        ing.github_rate / http_rate
    ));
    ingest_md.push_str(&format!(
        "| `GET /health`, {} clients: the HTTP ceiling (no body, no database), requests/s | {:.0} | {:.2} |\n",
        args.clients,
        ing.health_rate,
        ing.health_rate / http_rate
    ));
    ingest_md.push_str(&format!(
        "| `COPY` of as many rows into a table with the same indexes | {copy_rate:.0} | {:.2} |\n",
        copy_rate / http_rate
    ));
    ingest_md.push_str(&format!(
        "| `COPY` as above, split over {cores} connections (one per core) | {copy_all:.0} | {:.2} |\n",
        copy_all / http_rate
    ));
    ingest_md.push_str(&format!(
        "| one upsert per transaction, 32 connections | {naive_rate:.0} | {:.2} |\n",
        naive_rate / http_rate
    ));
    ingest_md.push_str(&format!(
        "| the same backend with one event per transaction (group commit off: 32 writers, one event each), 128 clients, {} s | {naive_served:.0} | {:.2} |\n",
        args.ingest_seconds.div_ceil(2),
        naive_served / http_rate
    ));
    ingest_md.push_str(&format!(
        "| ceiling for single-event ingest on this machine, `1 / (1/health + 1/COPY on {cores})` | {ceiling:.0} | {:.2} |\n\n",
        ceiling / http_rate
    ));
    ingest_md.push_str(&format!(
        "The ceiling: each event needs at least what a `GET /health` request costs the machine (HTTP on both \
         sides; the load generator shares the machine) plus what storing one row with the table's indexes \
         costs (`COPY`, every core storing), so no implementation on this machine ingests more single \
         events per second than {ceiling:.0}; the 15,000 target is **{:.2}×** that ceiling. HTTP ingest \
         reached **{:.0}%** of the ceiling.\n\n",
        15_000.0 / ceiling,
        100.0 * http_rate / ceiling
    ));
    let wal = |c: &Cost| copy_cost.as_ref().map_or(f64::NAN, |r| c.wal_bytes / r.wal_bytes);
    ingest_md.push_str(&format!(
        "| goal | measured | target |\n|---|---:|---:|\n\
         | single events vs the ceiling | **{:.2}×** | ≥ 0.5× |\n\
         | single events vs one upsert per transaction (a database loop, no HTTP) | **{:.2}×** | ≥ 2× |\n\
         | single events vs the same backend with one event per transaction | **{:.2}×** | ≥ 2× |\n\
         | batch endpoint vs `COPY` on one connection per core | **{:.2}×** | ≥ 0.7× |\n\
         | WAL per new run vs `COPY` of its row: single events, batch | **{:.2}×**, **{:.2}×** | ≤ 3× |\n\
         | GitHub mix vs the ceiling, deliveries/s ({:.0} runs/s); its WAL per delivery vs a `COPY`'d row | **{:.2}×**; {:.2}× | ≥ 0.5×; ≤ 3× |\n\n",
        http_rate / ceiling,
        http_rate / naive_rate,
        http_rate / naive_served,
        ing.batch_rate / copy_all,
        wal(&ing.single_cost),
        wal(&ing.batch_cost),
        ing.github_rate / 7.0,
        ing.github_rate / ceiling,
        wal(&ing.github_cost),
    ));
    ingest_md.push_str(&format!(
        "{} single events acknowledged, {} failed requests; group commit averaged {:.0} events per transaction, {:.1} ms each. Backend peak RSS during the ingest runs: **{:.1} MiB**.\n\n",
        ing.events, ing.errors, ing.batch_mean, ing.txn_ms, ing.rss_mib
    ));
    ingest_md.push_str(&format!(
        "### Cost per event\n\nMeasured around each load above (after 11 s idle, so that every PostgreSQL backend has reported its statistics): CPU time of the backend, of every PostgreSQL process and of the load generator (`/proc/<pid>/stat`); statements (`pg_stat_statements`), commits and rows written (`pg_stat_database`); shared buffers touched; WAL bytes (`pg_current_wal_lsn()`), records and full-page images (`pg_stat_wal`). A GitHub delivery is one seventh of a run.\n\n{costs_md}\n"
    ));
    if !ing.single_statements.is_empty() {
        ingest_md.push_str(&format!(
            "The statements that took the most of PostgreSQL's time during the single-event load (`pg_stat_statements`, execution and planning):\n\n{}\n",
            ing.single_statements
        ));
    }
    if let Some(profile) = &ing.profile {
        ingest_md.push_str(&format!(
            "Where the machine's CPU went during the single-event load (`perf record -a`, 199 Hz, DWARF call graphs; flame graph and folded stacks in `{}/`; idle is the kernel's idle task):\n\n{profile}\n",
            args.artifacts.display()
        ));
    }
    if args.only_ingest {
        let kept = std::fs::read_to_string(&args.out).unwrap_or_default();
        write_keeping(
            &args.out,
            &replace_section(&kept, "## Ingest throughput", &ingest_md),
        )?;
        return Ok(());
    }
    eprintln!("query: loading {} runs …", args.runs);
    let (query_url, loaded, reused) = load_queries(&admin_url, &args).await?;
    let (lat, query_rss) = queries(&query_url, &args).await?;
    let (storage_md, run_bytes, job_bytes) = storage(&query_url).await?;
    eprintln!("{storage_md}");
    let capacity_md = capacity::markdown(&capacity::Inputs {
        github: ing.github_cost.clone(),
        single: ing.single_cost.clone(),
        batch: ing.batch_cost.clone(),
        run_bytes,
        job_bytes,
        result_bytes,
    });
    eprintln!("{capacity_md}");
    for l in &lat {
        eprintln!("  {}: p50 {:.1} ms, p95 {:.1} ms", l.name, l.p50, l.p95);
    }

    let pg_version = {
        let mut c = PgConnection::connect(&admin_url).await?;
        sqlx::query_scalar::<_, String>("show server_version")
            .fetch_one(&mut c)
            .await?
    };
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str("Produced by `make bench` (`scripts/with-postgres.sh target/release/cicd-bench --out docs/benchmarks.md`): ");
    md.push_str("the release backend as a separate process, PostgreSQL (fsync and synchronous commit on) and the load ");
    md.push_str("generator on one machine. Figures are from the last run; rerun to reproduce.\n\n");
    md.push_str(&format!(
        "Machine: {} cores, {}; PostgreSQL {pg_version}; run at {}.\n\n",
        command_output("nproc", &[]),
        command_output("sh", &["-c", "free -h | awk '/Mem:/ {print $2\" RAM\"}'"]),
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    ));
    md.push_str(&ingest_md);
    md.push_str(&format!(
        "## Query latency over {} runs and {} jobs\n\n50 repos × 10 workflows over 30 days, loaded through the normal write paths: runs in {:.0} s ({:.0}/s, 1,000 per transaction), then their jobs in {:.0} s ({:.0}/s, 2,000 per statement), folded into the job rollups in {:.0} s ({:.0} jobs/s). {} sequential requests per scenario after 10 warm-up requests, over HTTP.\n\n",
        loaded.runs, loaded.jobs, loaded.runs_secs, loaded.runs as f64 / loaded.runs_secs,
        loaded.jobs_secs, loaded.jobs as f64 / loaded.jobs_secs,
        loaded.fold_secs, loaded.jobs as f64 / loaded.fold_secs, args.requests
    ));
    if let Some(at) = reused {
        md.push_str(&format!(
            "That database was loaded (and those load figures measured) by an earlier run, at {}; this run measured the queries.\n\n",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    md.push_str("| scenario | p50 ms | p95 ms | max ms | p95 vs 50 ms target |\n|---|---:|---:|---:|---:|\n");
    for l in &lat {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} |\n",
            l.name,
            l.p50,
            l.p95,
            l.max,
            l.p95 / 50.0
        ));
    }
    md.push_str(&format!(
        "\nBackend peak RSS during the query benchmark: **{query_rss:.1} MiB** (target ≤ 100 MB). For reference, the original Python backend took about 41 s for its cold 30-day metrics at 1M rows.\n"
    ));
    md.push_str(&format!(
        "\nStorage of that database (after `vacuum`; heap includes TOAST, so a run's metadata):\n\n{storage_md}"
    ));
    md.push_str("\nQueries: ");
    md.push_str(
        &lat.iter()
            .map(|l| format!("`/api/{}`", l.query))
            .collect::<Vec<_>>()
            .join(", "),
    );
    md.push('\n');
    md.push('\n');
    md.push_str(&format!("## Capacity\n\n{capacity_md}\n"));
    md.push_str(&tests_md);
    md.push_str(&delivery_md);
    // What follows the marker (the cold build and test times, measured by hand) is kept.
    write_keeping(&args.out, &md)?;
    println!("{md}");
    Ok(())
}
