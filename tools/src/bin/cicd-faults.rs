//! `make reliability` (and, shortened, `make test`): what the service survives, with numbers.
//!
//! - `db-outage`: PostgreSQL stopped during a sustained ingest load and started again;
//! - `kill`: the backend SIGKILLed under load and restarted, with notifications still to deliver;
//! - `sigterm`: SIGTERM under load drains in-flight requests and flushes the ingest writer;
//! - `slack`: Slack answering 429, 500 and hanging for a while;
//! - `soak`: a steady ingest rate with dashboard readers and stream clients, memory sampled;
//! - `pgbouncer`: the backend behind PgBouncer in transaction mode (`scripts/pgbouncer.sh`), its
//!   `LISTEN` and migrations on a direct connection (`DATABASE_DIRECT_URL`), under ingest load;
//! - `replica`: reads from a streaming replica (`DATABASE_READ_URL`, made with `pg.sh replica`)
//!   under ingest load, each run the stream announces read back at once, and the replica held a
//!   second behind for a while.
//!
//! Every scenario checks that each event acknowledged with a 2xx is in the database afterwards and
//! that notifications arrive once; the process exits non-zero when one does not. Runs its own
//! PostgreSQL cluster (`scripts/pg.sh`) so that it can stop and start it; starts the release
//! `cicd-monitor` next to this binary.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{TimeDelta, Utc};
use cicd_monitor_tools::report::write_keeping;
use cicd_monitor_tools::server::{fresh_database, Server, ADMIN};
use clap::Parser;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

#[derive(Debug, Parser)]
struct Args {
    /// Short durations for `make test`; the full run is `make reliability`.
    #[arg(long)]
    quick: bool,
    /// Scenarios to run (all when none is given).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Write the report here (Markdown).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The script that creates, starts and stops PostgreSQL clusters.
    #[arg(long, default_value = "scripts/pg.sh")]
    pg_script: PathBuf,
    /// The script that builds, starts and stops PgBouncer.
    #[arg(long, default_value = "scripts/pgbouncer.sh")]
    pgbouncer_script: PathBuf,
    /// Seconds of the soak (default 600, or 45 with --quick).
    #[arg(long)]
    soak_seconds: Option<u64>,
    /// Seconds Slack misbehaves for (default 180, or 20 with --quick).
    #[arg(long)]
    slack_outage_seconds: Option<u64>,
}

/// The backend's environment: a key to seal integration URLs with, and no log line per expected 503.
const ENV: &[(&str, &str)] = &[
    ("CICD_SECRET_KEY", "faults-secret-key-0123456789abcdefghijkl"),
    ("RUST_LOG", "warn,tower_http=off"),
];

/// A PostgreSQL cluster this process owns: stopped and removed when dropped.
struct Postgres {
    script: PathBuf,
    dir: PathBuf,
    port: u16,
    url: String,
}

impl Postgres {
    fn start(script: PathBuf) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("cicd-faults-pg.{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut pg = Postgres {
            script,
            dir,
            port,
            url: String::new(),
        };
        pg.url = pg.run("start")?;
        Ok(pg)
    }

    fn run(&self, what: &str) -> anyhow::Result<String> {
        let port = self.port.to_string();
        let mut args = vec![what, self.dir.to_str().context("path")?];
        if what == "start" {
            args.push(&port);
        }
        let out = Command::new(&self.script).args(&args).output()?;
        ensure!(
            out.status.success(),
            "pg.sh {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.run("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the load generator saw, per event id.
#[derive(Default)]
struct Outcomes {
    acked: Vec<String>,
    unavailable: u64,
    other_status: BTreeMap<u16, u64>,
    refused: u64,
    /// Ids of requests whose connection broke before an answer came.
    broken: Vec<String>,
    latencies_ms: Vec<f64>,
    first_ok_after: Option<Instant>,
}

/// Posts single events with unique ids from `clients` tasks until `stop` is set, pacing each client
/// to `per_client_rate` events/s when given.
fn ingest_load(
    base: &str,
    token: &str,
    prefix: &str,
    clients: usize,
    per_client_rate: Option<f64>,
    stop: Arc<AtomicBool>,
    mark: Arc<Mutex<Option<Instant>>>,
) -> tokio::task::JoinHandle<Outcomes> {
    let (base, token, prefix) = (base.to_owned(), token.to_owned(), prefix.to_owned());
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (http, base, token, prefix, stop, outcomes, mark) = (
                http.clone(),
                base.clone(),
                token.clone(),
                prefix.clone(),
                stop.clone(),
                outcomes.clone(),
                mark.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                let mut tick =
                    per_client_rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r)));
                while !stop.load(Ordering::Relaxed) {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let id = format!("{prefix}-{c}-{i}");
                    i += 1;
                    let sent = Instant::now();
                    let res = http
                        .post(format!("{base}/api/events"))
                        .bearer_auth(&token)
                        .json(&event(&id, &format!("fault/repo-{}", c % 8), "success"))
                        .send()
                        .await;
                    let failed = {
                        let mut o = outcomes.lock().expect("lock");
                        match res {
                            Ok(r) if r.status().is_success() => {
                                o.latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                                o.acked.push(id);
                                if o.first_ok_after.is_none() {
                                    if let Some(m) = *mark.lock().expect("lock") {
                                        if sent >= m {
                                            o.first_ok_after = Some(Instant::now());
                                        }
                                    }
                                }
                                false
                            }
                            Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                                o.unavailable += 1;
                                true
                            }
                            Ok(r) => {
                                *o.other_status.entry(r.status().as_u16()).or_default() += 1;
                                true
                            }
                            Err(e) if e.is_connect() => {
                                o.refused += 1;
                                true
                            }
                            Err(_) => {
                                o.broken.push(id);
                                true
                            }
                        }
                    };
                    if failed {
                        // A client backs off a little, as a CI system retrying would.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Arc::try_unwrap(outcomes)
            .ok()
            .expect("tasks done")
            .into_inner()
            .expect("lock")
    })
}

fn event(id: &str, repo: &str, status: &str) -> Value {
    let start = Utc::now() - TimeDelta::seconds(90);
    json!({"id": id, "workflow": "ci", "status": status, "repo": repo, "branch": "main",
           "started_at": start.to_rfc3339(), "finished_at": (start + TimeDelta::seconds(60)).to_rfc3339(),
           "duration_seconds": 60})
}

/// How many of `ids` are in the database.
async fn found(database_url: &str, ids: &[String]) -> anyhow::Result<usize> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let mut n = 0;
    for chunk in ids.chunks(10_000) {
        let c: i64 = sqlx::query_scalar("select count(*) from pipeline_runs where id = any($1)")
            .bind(chunk)
            .fetch_one(&pool)
            .await?;
        n += usize::try_from(c)?;
    }
    pool.close().await;
    Ok(n)
}

/// Waits (up to `limit`) until `want` notifications wait in the outbox; returns how many do.
async fn pending_notifications(database_url: &str, want: usize, limit: Duration) -> anyhow::Result<usize> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let deadline = Instant::now() + limit;
    loop {
        let n: i64 = sqlx::query_scalar("select count(*) from notifications where status = 'pending'")
            .fetch_one(&pool)
            .await?;
        let n = usize::try_from(n)?;
        if n >= want || Instant::now() > deadline {
            pool.close().await;
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// A receiver that records what it acknowledges, and answers according to `mode` first.
#[derive(Clone, Default)]
struct Receiver {
    /// 0: accept; 1: 503; 2: Slack's trouble (429, 500, hang, in turn).
    mode: Arc<AtomicU64>,
    turn: Arc<AtomicU64>,
    accepted: Arc<Mutex<Vec<(String, Instant)>>>,
    refused: Arc<AtomicU64>,
}

impl Receiver {
    async fn serve(self) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let me = self.clone();
            async move { me.answer(body).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(addr)
    }

    async fn answer(&self, body: axum::body::Bytes) -> axum::response::Response {
        match self.mode.load(Ordering::SeqCst) {
            0 => {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                // Webhook bodies carry the incident and kind; Slack messages their text.
                let key = match v.get("incident_id") {
                    Some(id) => format!("{id}/{}", v["kind"]),
                    None => v["text"].as_str().unwrap_or_default().to_owned(),
                };
                self.accepted.lock().expect("lock").push((key, Instant::now()));
                (StatusCode::OK, "ok").into_response()
            }
            1 => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
            }
            _ => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                match self.turn.fetch_add(1, Ordering::Relaxed) % 3 {
                    0 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "2")],
                        "rate_limited",
                    )
                        .into_response(),
                    1 => (StatusCode::INTERNAL_SERVER_ERROR, "rollup_error").into_response(),
                    _ => {
                        // Longer than the backend's 10 s client timeout.
                        tokio::time::sleep(Duration::from_secs(12)).await;
                        (StatusCode::OK, "ok (too late)").into_response()
                    }
                }
            }
        }
    }

    /// Distinct keys accepted, and how many were accepted more than once.
    fn tally(&self) -> (usize, usize) {
        let got = self.accepted.lock().expect("lock");
        let distinct: HashSet<&String> = got.iter().map(|(k, _)| k).collect();
        (distinct.len(), got.len() - distinct.len())
    }
}

async fn admin_post(base: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or_default();
    ensure!(status.is_success(), "POST {path}: {status} {v}");
    Ok(v)
}

/// An integration of `spec` and a RunFailed rule notifying it for repos matching `repo_glob`.
async fn alerting(base: &str, name: &str, spec: Value, repo_glob: &str) -> anyhow::Result<()> {
    admin_post(base, "/api/integrations", json!({"name": name, "spec": spec})).await?;
    admin_post(
        base,
        "/api/alert-rules",
        json!({"name": format!("{name}-red"), "spec": {"match": {"repo": repo_glob},
            "condition": {"type": "RunFailed"},
            "notify": {"integrations": [{"name": name}], "groupWait": "0s"}}}),
    )
    .await?;
    Ok(())
}

/// Failed runs in `n` repos (one incident, one notification each).
async fn failures(base: &str, token: &str, prefix: &str, n: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for k in 0..n {
        let r = http
            .post(format!("{base}/api/events"))
            .bearer_auth(token)
            .json(&event(
                &format!("{prefix}-fail-{k}"),
                &format!("{prefix}/repo-{k}"),
                "failure",
            ))
            .send()
            .await?;
        ensure!(r.status().is_success(), "failure event: {}", r.status());
    }
    Ok(())
}

async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done().then(|| started.elapsed())
}

/// One scenario's figures, as rows of the report, and whether it held.
struct Report {
    name: &'static str,
    rows: Vec<(String, String)>,
    ok: bool,
    problems: Vec<String>,
}

impl Report {
    fn new(name: &'static str) -> Self {
        Report {
            name,
            rows: Vec::new(),
            ok: true,
            problems: Vec::new(),
        }
    }
    fn row(&mut self, k: &str, v: impl std::fmt::Display) {
        self.rows.push((k.to_owned(), v.to_string()));
    }
    fn check(&mut self, cond: bool, problem: impl Into<String>) {
        if !cond {
            self.ok = false;
            self.problems.push(problem.into());
        }
    }
    fn ingest(&mut self, o: &Outcomes, in_db: usize) {
        let sent = o.acked.len() as u64
            + o.unavailable
            + o.other_status.values().sum::<u64>()
            + o.refused
            + o.broken.len() as u64;
        self.row("events sent", sent);
        self.row("acknowledged (2xx)", o.acked.len());
        self.row("acknowledged and found in the database", in_db);
        self.row("answered 503 (retryable)", o.unavailable);
        if !o.other_status.is_empty() {
            self.row("other answers", format!("{:?}", o.other_status));
        }
        self.row("connection refused (server down)", o.refused);
        self.row("connection broken before an answer", o.broken.len());
        self.check(
            in_db == o.acked.len(),
            format!("{} acknowledged events lost", o.acked.len() - in_db),
        );
        self.check(
            o.other_status.is_empty(),
            format!("unexpected answers {:?}", o.other_status),
        );
    }
}

async fn db_outage(pg: &Postgres, quick: bool) -> anyhow::Result<Report> {
    let mut r = Report::new("PostgreSQL stopped under ingest load");
    let url = fresh_database(&pg.url, "faults_db").await?;
    let server = Server::start_with(&url, ENV).await?;
    let token = server.token("ingest").await?;
    let pid = server.pid();
    let (before, down) = if quick { (5, 8) } else { (10, 20) };
    let stop = Arc::new(AtomicBool::new(false));
    let mark = Arc::new(Mutex::new(None));
    let load = ingest_load(&server.base, &token, "db", 32, None, stop.clone(), mark.clone());
    tokio::time::sleep(Duration::from_secs(before)).await;
    pg.run("stop")?;
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(down)).await;
    pg.run("start")?;
    let started = Instant::now();
    *mark.lock().expect("lock") = Some(started);
    tokio::time::sleep(Duration::from_secs(before)).await;
    stop.store(true, Ordering::Relaxed);
    let o = load.await?;
    let in_db = found(&url, &o.acked).await?;
    r.ingest(&o, in_db);
    r.row(
        "PostgreSQL down for",
        format!("{:.1} s", (started - stopped).as_secs_f64()),
    );
    let recovery = o.first_ok_after.map(|t| (t - started).as_secs_f64());
    r.row(
        "first 2xx after PostgreSQL was back",
        recovery.map_or("never".into(), |s| format!("{s:.2} s")),
    );
    r.row(
        "backend restarted",
        if server.pid() == pid {
            "no (same process)"
        } else {
            "yes"
        },
    );
    r.check(
        recovery.is_some(),
        "no event acknowledged after PostgreSQL came back",
    );
    r.check(
        o.unavailable > 0,
        "no 503 while PostgreSQL was down: the outage was not exercised",
    );
    Ok(r)
}

async fn kill(pg: &Postgres, quick: bool) -> anyhow::Result<Report> {
    let mut r = Report::new("backend SIGKILLed under load and restarted");
    let url = fresh_database(&pg.url, "faults_kill").await?;
    let mut server = Server::start_with(&url, ENV).await?;
    let token = server.token("ingest").await?;
    let receiver = Receiver::default();
    receiver.mode.store(1, Ordering::SeqCst);
    let addr = receiver.clone().serve().await?;
    alerting(
        &server.base,
        "hook",
        json!({"type": "Webhook", "webhook": {"url": {"value": format!("http://{addr}/hook")}}}),
        "kill/*",
    )
    .await?;
    let incidents = if quick { 10 } else { 40 };
    failures(&server.base, &token, "kill", incidents).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mark = Arc::new(Mutex::new(None));
    let load = ingest_load(&server.base, &token, "kill", 32, None, stop.clone(), mark.clone());
    tokio::time::sleep(Duration::from_secs(if quick { 4 } else { 10 })).await;
    // Every notification must be due (in the outbox, undelivered) when the backend dies.
    let pending = pending_notifications(&url, incidents, Duration::from_secs(30)).await?;
    let refused_before = receiver.refused.load(Ordering::Relaxed);
    server.signal("KILL")?;
    server.wait_exit(Duration::from_secs(10)).await?;
    let killed = Instant::now();
    server.restart().await?;
    let back = killed.elapsed();
    *mark.lock().expect("lock") = Some(Instant::now());
    receiver.mode.store(0, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(if quick { 4 } else { 10 })).await;
    stop.store(true, Ordering::Relaxed);
    let o = load.await?;
    let in_db = found(&url, &o.acked).await?;
    r.ingest(&o, in_db);
    r.row("restart to ready", format!("{:.2} s", back.as_secs_f64()));
    let delivered = wait_for(Duration::from_secs(120), || receiver.tally().0 >= incidents).await;
    let (distinct, dupes) = receiver.tally();
    r.row("notifications due when killed (receiver refusing them)", pending);
    r.row("delivery attempts refused before the kill", refused_before);
    r.row("notifications delivered after the restart", distinct);
    r.row("duplicates", dupes);
    let last = receiver
        .accepted
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, t)| *t)
        .max();
    r.row(
        "last delivered, after the restart",
        match (delivered, last) {
            (Some(_), Some(t)) => format!(
                "{:.1} s",
                t.saturating_duration_since(killed)
                    .saturating_sub(back)
                    .as_secs_f64()
            ),
            _ => "not all delivered".into(),
        },
    );
    r.check(
        distinct == incidents,
        format!("{} of {incidents} notifications delivered", distinct),
    );
    r.check(dupes == 0, format!("{dupes} duplicate notifications"));
    r.check(
        pending == incidents,
        format!("only {pending} of {incidents} notifications were due at the kill"),
    );
    Ok(r)
}

async fn sigterm(pg: &Postgres, quick: bool) -> anyhow::Result<Report> {
    let mut r = Report::new("SIGTERM under load");
    let url = fresh_database(&pg.url, "faults_term").await?;
    let mut server = Server::start_with(&url, ENV).await?;
    let token = server.token("ingest").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let load = ingest_load(
        &server.base,
        &token,
        "term",
        64,
        None,
        stop.clone(),
        Arc::default(),
    );
    tokio::time::sleep(Duration::from_secs(if quick { 4 } else { 10 })).await;
    let signalled = Instant::now();
    server.signal("TERM")?;
    let code = server.wait_exit(Duration::from_secs(30)).await?;
    let drained = signalled.elapsed();
    // Clients see refused connections from here on; give them a moment, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let o = load.await?;
    let in_db = found(&url, &o.acked).await?;
    r.ingest(&o, in_db);
    r.row("SIGTERM to exit", format!("{:.2} s", drained.as_secs_f64()));
    r.row(
        "exit code",
        code.map_or("killed by a signal".into(), |c| c.to_string()),
    );
    r.check(code == Some(0), format!("exit code {code:?}"));
    // A request sent on a kept-alive connection just as the server closes it is never read: the
    // client sees the connection close and may retry. One the server did read must be answered.
    let cut = found(&url, &o.broken).await?;
    r.row("of those, written but not answered (cut mid-flight)", cut);
    r.check(cut == 0, format!("{cut} requests written but not answered"));
    Ok(r)
}

/// PgBouncer in front of `pg`, stopped (and its directory removed) when dropped.
struct Bouncer {
    script: PathBuf,
    dir: PathBuf,
    url: String,
}

impl Bouncer {
    /// Starts PgBouncer (transaction pooling) in front of the database `direct` names.
    fn start(script: &std::path::Path, direct: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("cicd-faults-pgbouncer.{}", std::process::id()));
        let out = std::process::Command::new(script)
            .arg("start")
            .arg(&dir)
            .arg(direct)
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        ensure!(
            out.status.success(),
            "{} start failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Bouncer {
            script: script.to_owned(),
            dir,
            url: String::from_utf8(out.stdout)?.trim().to_owned(),
        })
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn pgbouncer(pg: &Postgres, script: &std::path::Path, quick: bool) -> anyhow::Result<Report> {
    let mut r = Report::new("Behind PgBouncer in transaction mode");
    let direct = fresh_database(&pg.url, "faults_pgbouncer").await?;
    let bouncer = Bouncer::start(script, &direct)?;
    let env: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .chain([("DATABASE_DIRECT_URL", direct.as_str()), ("CICD_ALERT_TICK", "1")])
        .collect();
    // Everything but LISTEN and the migrations goes through PgBouncer.
    let server = Server::start_with(&bouncer.url, &env).await?;
    let token = server.token("ingest").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let streams = stream_clients(&server.base, 2, &stop);
    let load = ingest_load(
        &server.base,
        &token,
        "pgb",
        32,
        None,
        stop.clone(),
        Arc::default(),
    );
    tokio::time::sleep(Duration::from_secs(if quick { 6 } else { 30 })).await;
    stop.store(true, Ordering::Relaxed);
    let o = load.await?;
    let in_db = found(&direct, &o.acked).await?;
    r.ingest(&o, in_db);
    r.check(!o.acked.is_empty(), "no event was acknowledged");
    // The figures count every acknowledged run (the request folds what is queued first).
    let metrics: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/metrics?from={}",
            server.base,
            (Utc::now() - TimeDelta::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
        .bearer_auth(ADMIN)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let total = metrics["summary"]["total_runs"].as_u64().unwrap_or(0);
    r.row("runs in the figures", total);
    r.check(
        total == o.acked.len() as u64,
        format!(
            "the figures count {total} runs, {} were acknowledged",
            o.acked.len()
        ),
    );
    for t in streams.tasks {
        let _ = t.await;
    }
    let streamed = streams.run_events.load(Ordering::Relaxed);
    r.row(
        "run events on 2 streams (LISTEN on the direct connection)",
        streamed,
    );
    r.check(streamed > 0, "the stream announced no run");
    r.row(
        "stream connections dropped",
        streams.drops.load(Ordering::Relaxed),
    );
    drop(server);
    drop(bouncer);
    Ok(r)
}

/// A streaming replica of `pg` (`pg.sh replica`), stopped and removed when dropped.
struct Replica {
    script: PathBuf,
    dir: PathBuf,
    url: String,
}

impl Replica {
    fn start(pg: &Postgres) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("cicd-faults-replica.{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let out = Command::new(&pg.script)
            .arg("replica")
            .arg(&dir)
            .arg(&pg.dir)
            .output()?;
        ensure!(
            out.status.success(),
            "pg.sh replica: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Replica {
            script: pg.script.clone(),
            dir,
            url: String::from_utf8(out.stdout)?.trim().to_owned(),
        })
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stream clients that read each announced run back at once (`GET /api/runs/{id}`, with the
/// event's WAL position as `CICD-Read-After`, as the dashboard does); counts the reads that found
/// the announced change, and those that did not (the run missing, or an older state of it).
fn announced_readers(
    base: &str,
    n: usize,
    stop: &Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (read, missed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let tasks = (0..n)
        .map(|_| {
            let (base, stop, read, missed) = (base.to_owned(), stop.clone(), read.clone(), missed.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let Ok(mut res) = http
                    .get(format!("{base}/api/stream"))
                    .bearer_auth(ADMIN)
                    .send()
                    .await
                else {
                    return;
                };
                let mut buf = String::new();
                let permits = Arc::new(tokio::sync::Semaphore::new(4));
                let mut reads = tokio::task::JoinSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let chunk = match tokio::time::timeout(Duration::from_millis(200), res.chunk()).await {
                        Ok(Ok(Some(bytes))) => bytes,
                        Ok(_) => break,
                        Err(_) => continue,
                    };
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let block: String = buf.drain(..end + 2).collect();
                        let field = |name: &str| {
                            block
                                .lines()
                                .find_map(|l| l.strip_prefix(name))
                                .map(str::to_owned)
                        };
                        if field("event: ").as_deref() != Some("run") {
                            continue;
                        }
                        let run = field("data: ")
                            .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                            .unwrap_or_default();
                        let (Some(id), Some(changed), Some(lsn)) =
                            (run["id"].as_str(), updated_at(&run), field("id: "))
                        else {
                            missed.fetch_add(1, Ordering::Relaxed);
                            continue;
                        };
                        // Read at once, a few at a time: a reader that queued its reads would
                        // look for runs long after they were announced, when even a lagging
                        // replica has them.
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            continue;
                        };
                        let (http, read, missed) = (http.clone(), read.clone(), missed.clone());
                        let mut url = reqwest::Url::parse(&format!("{base}/api/runs/")).expect("url");
                        url.path_segments_mut().expect("base").pop_if_empty().push(id);
                        reads.spawn(async move {
                            let _permit = permit;
                            // Found, and as announced or newer (not an older state of it).
                            let read_back = match http
                                .get(url)
                                .bearer_auth(ADMIN)
                                .header("CICD-Read-After", lsn)
                                .send()
                                .await
                            {
                                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                                _ => None,
                            };
                            let current = read_back
                                .as_ref()
                                .and_then(updated_at)
                                .is_some_and(|at| at >= changed);
                            let counter = if current { &read } else { &missed };
                            counter.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                }
                while reads.join_next().await.is_some() {}
            })
        })
        .collect();
    (tasks, read, missed)
}

/// A run's `updated_at`.
fn updated_at(run: &Value) -> Option<chrono::DateTime<Utc>> {
    run["updated_at"].as_str()?.parse().ok()
}

/// The value of `cicd_db_reads_total{database="…"}` on the backend's `/metrics`.
async fn reads_served(base: &str, database: &str) -> anyhow::Result<u64> {
    let text = reqwest::get(format!("{base}/metrics")).await?.text().await?;
    let prefix = format!("cicd_db_reads_total{{database=\"{database}\"}} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

async fn replica(pg: &Postgres, quick: bool) -> anyhow::Result<Report> {
    let mut r = Report::new("Reads from a streaming replica");
    let primary = fresh_database(&pg.url, "faults_replica").await?;
    // Made after the database: its creation and everything since streams to the replica.
    let standby = Replica::start(pg)?;
    let read_url = format!(
        "{}/faults_replica",
        standby.url.rsplit_once('/').context("url")?.0
    );
    let env: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .chain([
            ("DATABASE_READ_URL", read_url.as_str()),
            ("CICD_READ_MAX_WAIT_MS", "200"),
        ])
        .collect();
    let server = Server::start_with(&primary, &env).await?;
    let token = server.token("ingest").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let (readers, read, missed) = announced_readers(&server.base, 2, &stop);
    let load = ingest_load(
        &server.base,
        &token,
        "rep",
        32,
        None,
        stop.clone(),
        Arc::default(),
    );
    let half = Duration::from_secs(if quick { 3 } else { 15 });
    tokio::time::sleep(half).await;
    // The replica falls a second behind for a while: reads must not miss what was announced.
    let mut standby_conn = PgConnection::connect(&read_url).await?;
    for delay in ["'1s'", "default"] {
        sqlx::query(&format!("alter system set recovery_min_apply_delay = {delay}"))
            .execute(&mut standby_conn)
            .await?;
        sqlx::query("select pg_reload_conf()")
            .execute(&mut standby_conn)
            .await?;
        if delay != "default" {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }
    tokio::time::sleep(half).await;
    stop.store(true, Ordering::Relaxed);
    let o = load.await?;
    for t in readers {
        let _ = t.await;
    }
    let in_db = found(&primary, &o.acked).await?;
    r.ingest(&o, in_db);
    r.check(!o.acked.is_empty(), "no event was acknowledged");
    let (read, missed) = (read.load(Ordering::Relaxed), missed.load(Ordering::Relaxed));
    r.row("announced run changes read back at once", read);
    r.row("announced run changes not found (or found older)", missed);
    r.check(read > 0, "no announced run was read back");
    r.check(
        missed == 0,
        format!("{missed} announced run changes were not found"),
    );
    let (on_replica, on_primary) = (
        reads_served(&server.base, "replica").await?,
        reads_served(&server.base, "primary").await?,
    );
    r.row(
        "reads served by the replica / by the primary",
        format!("{on_replica} / {on_primary}"),
    );
    r.check(on_replica > 0, "the replica served no read");
    r.check(
        on_primary > 0,
        "no read fell back to the primary while replay was paused",
    );
    drop(server);
    drop(standby);
    Ok(r)
}

async fn slack(pg: &Postgres, outage: u64) -> anyhow::Result<Report> {
    let mut r = Report::new("Slack answering 429, 500 and timing out");
    let url = fresh_database(&pg.url, "faults_slack").await?;
    let server = Server::start_with(&url, ENV).await?;
    let token = server.token("ingest").await?;
    let receiver = Receiver::default();
    receiver.mode.store(2, Ordering::SeqCst);
    let addr = receiver.clone().serve().await?;
    alerting(
        &server.base,
        "slack-flaky",
        json!({"type": "Slack", "slack": {"webhookUrl": {"value": format!("http://{addr}/services/T0/B0/x")}}}),
        "slack/*",
    )
    .await?;
    let incidents = 10;
    failures(&server.base, &token, "slack", incidents).await?;
    tokio::time::sleep(Duration::from_secs(outage)).await;
    receiver.mode.store(0, Ordering::SeqCst);
    let healed = Instant::now();
    // The backoff after minutes of failures can be long: 12 attempts, at most 10 minutes apart.
    let delivered = wait_for(Duration::from_secs(900), || receiver.tally().0 >= incidents).await;
    let (distinct, dupes) = receiver.tally();
    let times: Vec<f64> = receiver
        .accepted
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, t)| t.saturating_duration_since(healed).as_secs_f64())
        .collect();
    r.row(
        "Slack misbehaving for",
        format!("{outage} s (429 with Retry-After 2, 500, 12 s hang, in turn)"),
    );
    r.row(
        "requests refused or timed out",
        receiver.refused.load(Ordering::Relaxed),
    );
    r.row("notifications due", incidents);
    r.row("delivered", distinct);
    r.row("duplicates", dupes);
    r.row(
        "first / last delivered after Slack recovered",
        format!(
            "{:.1} s / {:.1} s",
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max)
        ),
    );
    r.check(
        delivered.is_some() && distinct == incidents,
        format!("{distinct} of {incidents} delivered"),
    );
    r.check(dupes == 0, format!("{dupes} duplicates"));
    Ok(r)
}

async fn soak(pg: &Postgres, seconds: u64) -> anyhow::Result<Report> {
    let mut r = Report::new("soak: steady ingest with dashboard readers and stream clients");
    let url = fresh_database(&pg.url, "faults_soak").await?;
    let server = Server::start_with(&url, ENV).await?;
    let token = server.token("ingest").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let (clients, per_client) = (8, 25.0);
    let load = ingest_load(
        &server.base,
        &token,
        "soak",
        clients,
        Some(per_client),
        stop.clone(),
        Arc::default(),
    );
    let readers = dashboard_readers(&server.base, 4, &stop);
    let streams = stream_clients(&server.base, STREAM_CLIENTS, &stop);
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        samples.push(server.rss_mib(false));
    }
    stop.store(true, Ordering::Relaxed);
    let mut o = load.await?;
    for t in readers.tasks.into_iter().chain(streams.tasks) {
        let _ = t.await;
    }
    let in_db = found(&url, &o.acked).await?;
    r.ingest(&o, in_db);
    let rate = o.acked.len() as f64 / started.elapsed().as_secs_f64();
    r.row(
        "duration",
        format!("{seconds} s at {:.0} events/s ({clients} clients)", rate),
    );
    // The first samples include warm-up (pools, caches); memory is compared from the first minute on.
    let skip = samples.len().min(12) / 2;
    let (first, last) = (
        samples.get(skip).copied().unwrap_or(f64::NAN),
        samples.last().copied().unwrap_or(f64::NAN),
    );
    let max = samples.iter().copied().fold(0.0, f64::max);
    r.row(
        "backend RSS after warm-up / at the end / max",
        format!("{first:.1} / {last:.1} / {max:.1} MiB"),
    );
    r.row(
        "ingest latency p50 / p99 / max",
        format!(
            "{:.1} / {:.1} / {:.1} ms",
            pct(&mut o.latencies_ms, 0.5),
            pct(&mut o.latencies_ms, 0.99),
            pct(&mut o.latencies_ms, 1.0)
        ),
    );
    let mut reads = std::mem::take(&mut *readers.latencies_ms.lock().expect("lock"));
    r.row(
        "dashboard reads, p50 / p99 (count)",
        format!(
            "{:.1} / {:.1} ms ({})",
            pct(&mut reads, 0.5),
            pct(&mut reads, 0.99),
            reads.len()
        ),
    );
    let read_errors = readers.errors.load(Ordering::Relaxed);
    r.row("read errors", read_errors);
    let per_stream = streams.run_events.load(Ordering::Relaxed) as f64 / STREAM_CLIENTS as f64;
    r.row(
        "run events per stream client (of runs acknowledged)",
        format!("{per_stream:.0} of {}", o.acked.len()),
    );
    r.row("stream disconnects", streams.drops.load(Ordering::Relaxed));
    r.check(
        o.unavailable == 0 && o.refused == 0 && o.broken.is_empty(),
        "ingest errors during the soak",
    );
    r.check(read_errors == 0, "read errors during the soak");
    // Flat: the end within 25% (and 8 MiB) of the level after warm-up.
    r.check(
        last <= first * 1.25 + 8.0,
        format!("memory grew from {first:.1} to {last:.1} MiB"),
    );
    // Every acknowledged run reaches every stream client (a client told to resync would refetch).
    r.check(
        per_stream >= o.acked.len() as f64 * 0.99,
        "stream clients missed runs",
    );
    Ok(r)
}

/// Live stream clients in the soak.
const STREAM_CLIENTS: usize = 10;

/// Dashboard readers: each cycles through the dashboard's queries every 500 ms until `stop`.
struct Readers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    errors: Arc<AtomicU64>,
    latencies_ms: Arc<Mutex<Vec<f64>>>,
}

fn dashboard_readers(base: &str, n: usize, stop: &Arc<AtomicBool>) -> Readers {
    let errors = Arc::new(AtomicU64::new(0));
    let latencies_ms = Arc::new(Mutex::new(Vec::new()));
    let tasks = (0..n)
        .map(|k| {
            let (base, stop, errors, lat) = (
                base.to_owned(),
                stop.clone(),
                errors.clone(),
                latencies_ms.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let paths = [
                    "/api/metrics?group_by=hour",
                    "/api/runs?limit=50",
                    "/api/metrics?group_by=day&repo=fault/repo-1",
                    "/api/alerts",
                ];
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    match http
                        .get(format!("{base}{}", paths[i % paths.len()]))
                        .bearer_auth(ADMIN)
                        .send()
                        .await
                    {
                        Ok(res) if res.status().is_success() => {
                            let _ = res.bytes().await;
                            lat.lock()
                                .expect("lock")
                                .push(sent.elapsed().as_secs_f64() * 1000.0);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    Readers {
        tasks,
        errors,
        latencies_ms,
    }
}

/// Clients of the live stream, reconnecting until `stop`: the run events they received, and how
/// often a stream ended that was not asked to.
struct StreamClients {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    run_events: Arc<AtomicU64>,
    drops: Arc<AtomicU64>,
}

fn stream_clients(base: &str, n: usize, stop: &Arc<AtomicBool>) -> StreamClients {
    let run_events = Arc::new(AtomicU64::new(0));
    let drops = Arc::new(AtomicU64::new(0));
    let tasks = (0..n)
        .map(|_| {
            let (base, stop, streamed, drops) =
                (base.to_owned(), stop.clone(), run_events.clone(), drops.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut res) = http
                        .get(format!("{base}/api/stream"))
                        .bearer_auth(ADMIN)
                        .send()
                        .await
                    else {
                        drops.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    };
                    loop {
                        tokio::select! {
                            chunk = res.chunk() => match chunk {
                                Ok(Some(bytes)) => {
                                    let n = bytes.windows(10).filter(|w| w == b"event: run").count();
                                    streamed.fetch_add(n as u64, Ordering::Relaxed);
                                }
                                _ => {
                                    if !stop.load(Ordering::Relaxed) {
                                        drops.fetch_add(1, Ordering::Relaxed);
                                    }
                                    break;
                                }
                            },
                            () = tokio::time::sleep(Duration::from_millis(200)) => {
                                if stop.load(Ordering::Relaxed) { return; }
                            }
                        }
                    }
                }
            })
        })
        .collect();
    StreamClients {
        tasks,
        run_events,
        drops,
    }
}

fn markdown(reports: &[Report], args: &Args) -> String {
    let mut md = String::from("# Reliability\n\n");
    md.push_str(&format!(
        "Produced by `make reliability` (`cicd-faults{}`), which starts its own PostgreSQL cluster and the release \
         backend; `make test` runs the same scenarios shortened (`--quick`) and fails when one does not hold. \
         Figures are from the last run ({}; {} cores; load average {} at the end, other work included). \
         Rerun one scenario with `cicd-faults --only NAME` (`db-outage`, `kill`, `sigterm`, `slack`, `pgbouncer`, `replica`, `soak`).\n\n",
        if args.quick { " --quick" } else { "" },
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
    ));
    for rep in reports {
        md.push_str(&format!("## {}\n\n| measure | value |\n|---|---:|\n", rep.name));
        for (k, v) in &rep.rows {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str(&format!(
            "\n**{}**{}\n\n",
            if rep.ok { "Held." } else { "Did not hold:" },
            if rep.ok {
                String::new()
            } else {
                format!(" {}", rep.problems.join("; "))
            }
        ));
    }
    md
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    const SCENARIOS: [&str; 7] = [
        "db-outage",
        "kill",
        "sigterm",
        "slack",
        "pgbouncer",
        "replica",
        "soak",
    ];
    let unknown: Vec<&String> = args
        .only
        .iter()
        .filter(|o| !SCENARIOS.contains(&o.as_str()))
        .collect();
    ensure!(
        unknown.is_empty(),
        "unknown scenarios {unknown:?}; choose from {SCENARIOS:?}"
    );
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let pg = Postgres::start(args.pg_script.clone())?;
    let mut reports = Vec::new();
    for name in SCENARIOS {
        if !wanted(name) {
            continue;
        }
        eprintln!("cicd-faults: {name} …");
        let report = match name {
            "db-outage" => db_outage(&pg, args.quick).await,
            "kill" => kill(&pg, args.quick).await,
            "sigterm" => sigterm(&pg, args.quick).await,
            "pgbouncer" => pgbouncer(&pg, &args.pgbouncer_script, args.quick).await,
            "replica" => replica(&pg, args.quick).await,
            "slack" => {
                slack(
                    &pg,
                    args.slack_outage_seconds
                        .unwrap_or(if args.quick { 20 } else { 180 }),
                )
                .await
            }
            _ => {
                soak(
                    &pg,
                    args.soak_seconds.unwrap_or(if args.quick { 45 } else { 600 }),
                )
                .await
            }
        }
        .with_context(|| format!("scenario {name}"))?;
        for (k, v) in &report.rows {
            eprintln!("  {k}: {v}");
        }
        eprintln!(
            "  → {}",
            if report.ok {
                "held".to_owned()
            } else {
                format!("FAILED: {}", report.problems.join("; "))
            }
        );
        reports.push(report);
    }
    let md = markdown(&reports, &args);
    if let Some(out) = &args.out {
        // What follows the marker (bad input and security, measured by other commands) is kept.
        write_keeping(out, &md)?;
    }
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    ensure!(failed.is_empty(), "did not hold: {}", failed.join(", "));
    Ok(())
}
