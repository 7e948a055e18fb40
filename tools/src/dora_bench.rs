//! The delivery benchmark: `GET /api/dora` over a year of 100,000 deployments (half of them to
//! production) of 50 services, pushing 1,000,000 commits, with about 2,000 incidents.
//!
//! The history is written by SQL in bulk, in the shape the write path leaves it (a deployment's
//! sorted lead times packed on it, its commits in `deployment_commits`, the commits in `commits`), so
//! that loading takes seconds rather than the hours 100,000 deployments take one by one.

use std::fmt::Write as _;
use std::time::Instant;

use sqlx::PgPool;

use crate::latency::{self, Latency};
use crate::server::{fresh_database, Server};

pub const DEPLOYMENTS: i64 = 100_000;
pub const SERVICES: i64 = 50;

/// What the delivery benchmark measured.
pub struct DoraReport {
    pub load_secs: f64,
    pub commits: i64,
    pub incidents: i64,
    pub latencies: Vec<Latency>,
    pub rss_mib: f64,
}

/// The history: deployment `g` (1 to [`DEPLOYMENTS`]) of service `g % SERVICES` ends
/// `g / DEPLOYMENTS` of a year ago, to production and staging in turn; about 1 in 11 fails, 1 in
/// 53 errs, 1 in 97 is a rollback; each ships 10 commits written 0 to 3 days before it ended; one
/// in 50 (by hash) has an incident, resolved after 1 to 7 hours. A failed deployment's 10 commits
/// are pushed but not shipped by it.
const LOAD: [&str; 4] = [
    "insert into deployments (id, source, external_id, repo, service, environment, sha, kind, status, \
         created_at, finished_at, leads) \
     select ((extract(epoch from t)::bigint) << 20) | g, 'generic', 'd' || g, 'org/' || s, s, \
         case when (g / $2) % 2 = 0 then 'production' else 'staging' end, md5(g::text), \
         case when g % 97 = 0 then 'rollback' else 'deploy' end, \
         case when g % 11 = 0 then 'failure' when g % 53 = 0 then 'error' else 'success' end, \
         t - interval '5 minutes', t, \
         case when g % 11 = 0 or g % 53 = 0 then null else \
             (select string_agg(float8send(l), ''::bytea order by l) \
              from generate_series(1, 10) k, lateral (select bench_lead(g, k) as l) x) end \
     from generate_series(1, $1::int) g, \
         lateral (select now() - ($1 - g) * (interval '365 days' / $1) as t, \
                         'svc-' || lpad((g % $2)::text, 2, '0') as s) x",
    "insert into deployment_commits (deployment_id, repo, sha, lead_seconds) \
     select d.id, d.repo, md5(d.external_id || '-' || k), bench_lead((d.id & 1048575)::int, k) \
     from deployments d, generate_series(1, 10) k where d.leads is not null",
    "insert into commits (repo, sha, committed_at, merged_at) \
     select d.repo, md5(d.external_id || '-' || k), t, t + interval '10 minutes' \
     from deployments d, generate_series(1, 10) k, \
         lateral (select d.finished_at - case when d.leads is null then k * 3600 \
             else bench_lead((d.id & 1048575)::int, k) end * interval '1 second' as t) x",
    "insert into incidents (source, external_id, service, environment, deployment_id, link, started_at, resolved_at) \
     select 'generic', 'INC-' || d.external_id, d.service, d.environment, d.id, 'named', \
         d.finished_at + interval '10 minutes', \
         d.finished_at + interval '10 minutes' + (substr(d.external_id, 2)::int % 7 + 1) * interval '1 hour' \
     from deployments d where abs(hashint4(substr(d.external_id, 2)::int)) % 50 = 0",
];

pub async fn run(admin_url: &str, requests: usize) -> anyhow::Result<DoraReport> {
    let url = fresh_database(admin_url, "bench_dora").await?;
    let pool = PgPool::connect(&url).await?;
    cicd_monitor::db::migrate(&pool).await?;
    let t = Instant::now();
    // Commit `k` of deployment `g` was written 0 to 3 days before the deployment ended.
    sqlx::query(
        "create function bench_lead(g int, k int) returns float8 immutable language sql \
         as 'select (hashint4(g * 16 + k) & 1048575)::float8 / 1048575 * 259200'",
    )
    .execute(&pool)
    .await?;
    for sql in LOAD {
        sqlx::query(sql)
            .bind(DEPLOYMENTS)
            .bind(SERVICES)
            .execute(&pool)
            .await?;
    }
    sqlx::query("vacuum analyze").execute(&pool).await?;
    let load_secs = t.elapsed().as_secs_f64();
    let count = |table: &str| format!("select count(*) from {table}");
    let commits: i64 = sqlx::query_scalar(&count("commits")).fetch_one(&pool).await?;
    let incidents: i64 = sqlx::query_scalar(&count("incidents")).fetch_one(&pool).await?;
    eprintln!("  loaded {DEPLOYMENTS} deployments and {commits} commits in {load_secs:.0} s");
    pool.close().await;
    let server = Server::start_with(&url, &[]).await?;
    let sample = "/deployment_frequency/sample";
    let scenarios: Vec<(&'static str, String, &'static str)> = vec![
        ("one service, 30 days", "dora?service=svc-07".into(), sample),
        (
            "one service, 90 days",
            "dora?service=svc-07&from={d90}".into(),
            sample,
        ),
        (
            "one service, 365 days",
            "dora?service=svc-07&from={d365}".into(),
            sample,
        ),
        ("every service, 30 days", "dora".into(), sample),
        ("every service, 90 days", "dora?from={d90}".into(), sample),
        (
            "deployments list, production, first page",
            "deployments?production=true".into(),
            "/deployments/0/commit_count",
        ),
    ];
    let latencies = latency::measure(&server, &scenarios, requests).await?;
    Ok(DoraReport {
        load_secs,
        commits,
        incidents,
        latencies,
        rss_mib: server.rss_mib(true),
    })
}

/// The report's section.
pub fn markdown(r: &DoraReport) -> String {
    let mut md = String::from("## Delivery (`GET /api/dora`)\n\n");
    let _ = write!(
        md,
        "A year of {DEPLOYMENTS} deployments of {SERVICES} services (half to production; 1 in 11 \
         failed, 1 in 53 errored, 1 in 97 a rollback) pushing {} commits, with {} incidents, \
         written by SQL in bulk in the shape the write path leaves (in {:.0} s). Sequential requests \
         after 10 warm-up requests, over HTTP.\n\n\
         | scenario | p50 ms | p95 ms | max ms | p95 vs target |\n|---|---:|---:|---:|---:|\n",
        r.commits, r.incidents, r.load_secs
    );
    for l in &r.latencies {
        let target = if l.name.starts_with("every service") {
            100.0
        } else {
            50.0
        };
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} of {target:.0} ms |",
            l.name,
            l.p50,
            l.p95,
            l.max,
            l.p95 / target
        );
    }
    let _ = write!(
        md,
        "\nBackend peak RSS during the delivery benchmark: **{:.1} MiB**. Queries: {}.\n\n",
        r.rss_mib,
        r.latencies
            .iter()
            .map(|l| format!("`/api/{}`", l.query))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}
