//! The test-results part of `make bench`: a 20,000-case JUnit report (about 5 MB) uploaded over
//! HTTP (time, and test cases per second against `COPY` of the same result rows), the backend's
//! peak memory while 8 such uploads run at once, and the test views' latency over
//! `runs × tests` stored results, with the storage each result takes.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::db::test_results::{self, Report, Source};
use cicd_monitor::domain::test_case::{TestCase, TestKey, TestStatus};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::server::{fresh_database, Server};

/// Test cases in the uploaded report.
pub const UPLOAD_CASES: usize = 20_000;
/// Repositories the stored results are spread over (each with its own tests).
const REPOS: usize = 20;
/// Every how many runs of a repository one is a re-run of the repository's run before it.
const RERUN_EVERY: usize = 20;

/// Whether run `i` re-runs run `i - REPOS` (the same repository's run before it): every
/// [`RERUN_EVERY`]th run of each repository, staggered across them. `load_results`' SQL says
/// the same.
fn is_rerun(i: usize) -> bool {
    i >= REPOS && (i / REPOS + i % REPOS).is_multiple_of(RERUN_EVERY)
}

/// What the test benchmark measured.
pub struct TestsReport {
    pub file_bytes: usize,
    /// Seconds of each sequential upload of the report (to a run that exists).
    pub upload_secs: Vec<f64>,
    /// `COPY` of the report's result rows into a table shaped like `test_results`, rows/s.
    pub copy_rate: f64,
    /// Seconds for 8 uploads at once, and the backend's peak RSS meanwhile (MiB).
    pub parallel_secs: f64,
    pub parallel_rss_mib: f64,
    pub runs: usize,
    pub tests_per_run: usize,
    pub results: i64,
    pub load_secs: f64,
    /// Bytes per stored result: the result row with its indexes, and everything (names,
    /// reports, details, daily figures, flakes) divided by the results.
    pub result_bytes: f64,
    pub all_bytes: f64,
    pub name_bytes: f64,
    pub names: i64,
    pub latency: Vec<crate::latency::Latency>,
    pub query_rss_mib: f64,
}

/// A JUnit report of `cases` test cases as a Java build writes it (Surefire's shape: suites of 100
/// cases with a `file`), 2% failing with a message and a stack trace.
pub fn junit_report(cases: usize) -> String {
    let mut xml = String::with_capacity(cases * 260);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"bench\">\n");
    for suite in 0..cases.div_ceil(100) {
        let class = format!("com.acme.billing.pkg{:03}.InvoiceServiceTest", suite);
        let _ = writeln!(
            xml,
            "<testsuite name=\"{class}\" tests=\"100\" timestamp=\"2026-12-01T10:00:00\">"
        );
        for i in suite * 100..((suite + 1) * 100).min(cases) {
            let file = format!("src/test/java/com/acme/billing/pkg{suite:03}/InvoiceServiceTest.java");
            let _ = write!(
                xml,
                "  <testcase classname=\"{class}\" name=\"test_{i:05}_calculates_totals_with_discounts\" file=\"{file}\" time=\"0.{:03}\"",
                i % 1000
            );
            if i % 50 == 7 {
                let _ = writeln!(
                    xml,
                    "><failure message=\"expected: &lt;42.00&gt; but was: &lt;41.99&gt;\" type=\"org.opentest4j.AssertionFailedError\">\
                     org.opentest4j.AssertionFailedError: expected: &lt;42.00&gt; but was: &lt;41.99&gt;\n\
                     \tat com.acme.billing.InvoiceService.total(InvoiceService.java:{i})</failure></testcase>"
                );
            } else {
                xml.push_str("/>\n");
            }
        }
        xml.push_str("</testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Runs `n` POSTs of runs `{prefix}{i}` so that uploads attach to them.
async fn create_runs(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<()> {
    let events: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("{prefix}{i}"), "workflow": "ci", "repo": "org/upload", "status": "success",
                "commit_sha": format!("{prefix}{i}"), "duration_seconds": 600})
        })
        .collect();
    client
        .post(format!("{}/api/events/batch", server.base))
        .bearer_auth(token)
        .json(&events)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn upload(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    run: &str,
    xml: &str,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let res = client
        .post(format!("{}/api/runs/{run}/tests", server.base))
        .bearer_auth(token)
        .header("content-type", "application/xml")
        .body(xml.to_owned())
        .send()
        .await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await?;
    let secs = t.elapsed().as_secs_f64();
    if status.as_u16() != 201
        || body["tests"].as_u64() != Some(UPLOAD_CASES as u64)
        || body["attached"] != true
    {
        bail!("upload to {run}: {status} {body}");
    }
    Ok(secs)
}

/// `COPY` of `rows` result rows into a table shaped like `test_results` (its keys and index).
async fn copy_results(url: &str, rows: usize) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query("create table copy_results (like test_results including all)")
        .execute(&mut conn)
        .await?;
    let mut data = String::with_capacity(rows * 24);
    for i in 0..rows {
        let _ = writeln!(
            data,
            "1\t{}\t{}\t1\t{}",
            i + 1,
            if i % 50 == 7 { 0 } else { 4 },
            i % 1000
        );
    }
    let t = Instant::now();
    let mut copy = conn
        .copy_in_raw("copy copy_results (upload_id, test_id, status, attempts, duration_ms) from stdin")
        .await?;
    copy.send(data.as_bytes()).await?;
    copy.finish().await?;
    let secs = t.elapsed().as_secs_f64();
    sqlx::query("drop table copy_results").execute(&mut conn).await?;
    Ok(rows as f64 / secs)
}

/// The status of test `t` of a repository in run `i`: five flaky tests fail one run in ten
/// (their re-runs pass), two break for a few days, 2% of the rest are skipped.
fn status(t: usize, i: usize, day: i64, rerun: bool) -> TestStatus {
    let h = (t * 7919 + i * 104_729) % 1000;
    match t {
        0..=4 if !rerun && h < 100 => TestStatus::Failed,
        5 | 6 if (10..13).contains(&day) => TestStatus::Failed,
        _ if h < 20 => TestStatus::Skipped,
        _ => TestStatus::Passed,
    }
}

/// Stores `runs` runs of `tests` tests each through the backend's own write path (4 at a time):
/// runs first, in one statement, then each run's report.
async fn load_results(url: &str, runs: usize, tests: usize, now: DateTime<Utc>) -> anyhow::Result<f64> {
    let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
    let start = now - TimeDelta::days(30);
    let span = 30.0 * 86_400.0 / runs as f64;
    let at = |i: usize| start + TimeDelta::milliseconds((i as f64 * span * 1000.0) as i64);
    let t = Instant::now();
    // A re-run (`is_rerun`) has the commit and run key of the run it re-runs.
    sqlx::query(
        "insert into pipeline_runs (id, provider, workflow, repo, branch, commit_sha, status, attempt, run_key, \
             duration_seconds, started_at, finished_at) \
         select 'bench-t-' || i, 'generic', 'ci', 'org/repo-' || lpad((i % $2)::text, 2, '0'), 'main', \
             'c' || case when r then i - $2 else i end, 'success', case when r then 2 else 1 end, \
             'k' || case when r then i - $2 else i end, 300 + i % 600, \
             $4 + make_interval(secs => i * $5), $4 + make_interval(secs => i * $5 + 300) \
         from generate_series(0, $1 - 1) i, lateral (select i >= $2 and (i / $2 + i % $2) % $3 = 0) x(r)",
    )
    .bind(runs as i64)
    .bind(REPOS as i64)
    .bind(RERUN_EVERY as i64)
    .bind(start)
    .bind(span)
    .execute(&pool)
    .await?;
    let pool = Arc::new(pool);
    let gate = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::with_capacity(runs);
    for i in 0..runs {
        let permit = gate.clone().acquire_owned().await?;
        let pool = pool.clone();
        let day = (at(i) - start).num_days();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let rerun = is_rerun(i);
            let repo = i % REPOS;
            let cases: Vec<TestCase> = (0..tests)
                .map(|t| {
                    let status = status(t, i, day, rerun);
                    TestCase {
                        key: TestKey {
                            suite: format!("repo{repo:02}.suite{}", t / 50),
                            classname: format!("tests.repo{repo:02}.module{}", t / 10),
                            name: format!("test_{t:03}_handles_the_case"),
                            file: String::new(),
                        },
                        status,
                        attempts: 1,
                        duration_seconds: Some(0.05 + (t % 40) as f64 * 0.1),
                        started_at: None,
                        message: status
                            .is_failure()
                            .then(|| "assert response.status == 200".to_owned()),
                        output: status
                            .is_failure()
                            .then(|| "Traceback (most recent call last):\n  …".to_owned()),
                    }
                })
                .collect();
            let mut tx = pool.begin().await?;
            let run_id = format!("bench-t-{i}");
            test_results::store(
                &mut tx,
                Report {
                    run_id: &run_id,
                    job: "test",
                    digest: [(i % 251) as u8; 32],
                    source: Source::Junit,
                    cases: &cases,
                },
            )
            .await?;
            tx.commit().await?;
            anyhow::Ok(())
        }));
        if tasks.len() >= 256 {
            for task in tasks.drain(..) {
                task.await??;
            }
        }
    }
    for task in tasks {
        task.await??;
    }
    // Runs that failed a test are failures (what the flaky view's red runs count).
    sqlx::query(
        "update pipeline_runs p set status = 'failure' from test_uploads u \
         where u.run_id = p.id and u.failed > 0",
    )
    .execute(&*pool)
    .await?;
    Ok(t.elapsed().as_secs_f64())
}

async fn bytes_per_result(pool: &PgPool, results: i64) -> anyhow::Result<(f64, f64, f64, i64)> {
    let size = |t: &'static str| async move {
        // A partitioned table's size is its partitions'.
        sqlx::query_scalar::<_, i64>(
            "select coalesce(sum(pg_total_relation_size(relid))::int8, pg_total_relation_size($1::regclass)) \
             from pg_partition_tree($1::regclass)",
        )
        .bind(t)
        .fetch_one(pool)
        .await
    };
    let result = size("test_results").await? as f64;
    let mut all = 0.0;
    for t in [
        "test_results",
        "test_result_details",
        "test_names",
        "test_uploads",
        "test_rollups",
        "test_flakes",
    ] {
        all += size(t).await? as f64;
    }
    let names: i64 = sqlx::query_scalar("select count(*) from test_names")
        .fetch_one(pool)
        .await?;
    let n = results.max(1) as f64;
    Ok((
        result / n,
        all / n,
        size("test_names").await? as f64 / names.max(1) as f64,
        names,
    ))
}

/// The whole test benchmark.
pub async fn run(
    admin_url: &str,
    runs: usize,
    tests_per_run: usize,
    requests: usize,
) -> anyhow::Result<TestsReport> {
    // Uploads, one at a time and 8 at once.
    let url = fresh_database(admin_url, "bench_tests_upload").await?;
    let server = Server::start_with(&url, &[]).await?;
    let token = server.token("ingest").await?;
    let client = reqwest::Client::new();
    let xml = junit_report(UPLOAD_CASES);
    create_runs(&client, &server, &token, "upload-", 13).await?;
    let mut upload_secs = Vec::new();
    for i in 0..5 {
        upload_secs.push(upload(&client, &server, &token, &format!("upload-{i}"), &xml).await?);
    }
    let copy_rate = copy_results(&url, UPLOAD_CASES).await?;
    let t = Instant::now();
    let parallel: Vec<_> = (5..13)
        .map(|i| {
            let (client, xml, token) = (client.clone(), xml.clone(), token.clone());
            let base = server.base.clone();
            tokio::spawn(async move {
                let res = client
                    .post(format!("{base}/api/runs/upload-{i}/tests"))
                    .bearer_auth(token)
                    .header("content-type", "application/xml")
                    .body(xml)
                    .send()
                    .await?;
                anyhow::ensure!(res.status().as_u16() == 201, "parallel upload: {}", res.status());
                anyhow::Ok(())
            })
        })
        .collect();
    for p in parallel {
        p.await??;
    }
    let parallel_secs = t.elapsed().as_secs_f64();
    let parallel_rss_mib = server.rss_mib(true);
    drop(server);

    // Stored results and the views over them.
    let url = fresh_database(admin_url, "bench_tests").await?;
    let pool = PgPool::connect(&url).await?;
    cicd_monitor::db::migrate(&pool).await?;
    let now = Utc::now();
    eprintln!("  storing {runs} runs × {tests_per_run} test results …");
    let load_secs = load_results(&url, runs, tests_per_run, now).await?;
    sqlx::query("vacuum analyze").execute(&pool).await?;
    let results: i64 = sqlx::query_scalar("select count(*) from test_results")
        .fetch_one(&pool)
        .await?;
    let (result_bytes, all_bytes, name_bytes, names) = bytes_per_result(&pool, results).await?;
    let test_id: i64 = sqlx::query_scalar("select min(test_id) from test_flakes")
        .fetch_optional(&pool)
        .await?
        .flatten()
        .context("no flaky test was stored")?;
    let server = Server::start_with(&url, &[]).await?;
    let scenarios: Vec<(&'static str, String, &'static str)> = vec![
        ("tests, 30 days, unfiltered", "tests?from={d30}".into(), "/total"),
        (
            "tests, 30 days, repo",
            "tests?from={d30}&repo=org/repo-07".into(),
            "/total",
        ),
        (
            "tests, 30 days, slowest",
            "tests?from={d30}&sort=slowest".into(),
            "/total",
        ),
        ("flaky tests, 30 days", "tests/flaky?from={d30}".into(), "/total"),
        (
            "flaky tests, 30 days, repo",
            "tests/flaky?from={d30}&repo=org/repo-07".into(),
            "/total",
        ),
        (
            "a run's tests",
            format!("runs/bench-t-{}/tests", runs / 2),
            "/summary/tests",
        ),
        (
            "a test's history",
            format!("tests/history?test_id={test_id}"),
            "/results/0/attempts",
        ),
    ];
    let latency = crate::latency::measure(&server, &scenarios, requests).await?;
    let query_rss_mib = server.rss_mib(true);
    Ok(TestsReport {
        file_bytes: xml.len(),
        upload_secs,
        copy_rate,
        parallel_secs,
        parallel_rss_mib,
        runs,
        tests_per_run,
        results,
        load_secs,
        result_bytes,
        all_bytes,
        name_bytes,
        names,
        latency,
        query_rss_mib,
    })
}

/// The report's section.
pub fn markdown(r: &TestsReport) -> String {
    let mut sorted = r.upload_secs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let rate = UPLOAD_CASES as f64 / median;
    let mut md = String::new();
    md.push_str("## Test results\n\n");
    let _ = write!(
        md,
        "A {UPLOAD_CASES}-case JUnit report ({:.1} MB, Surefire's shape, 2% failing) uploaded to \
         `POST /api/runs/{{run_id}}/tests` of a run that exists, so that it is parsed, stored and \
         attached (daily figures, flake check) before the answer; {} uploads one after the other.\n\n",
        r.file_bytes as f64 / 1e6,
        r.upload_secs.len()
    );
    md.push_str("| measure | value | vs target |\n|---|---:|---:|\n");
    let _ = writeln!(
        md,
        "| upload, median (target ≤ 1 s) | {:.0} ms | {:.2} |",
        median * 1000.0,
        median
    );
    let _ = writeln!(
        md,
        "| upload, slowest | {:.0} ms | |",
        sorted[sorted.len() - 1] * 1000.0
    );
    let _ = writeln!(
        md,
        "| test cases per second, median upload | {rate:.0} | {:.2}× `COPY` (target ≥ 0.5×) |",
        rate / r.copy_rate
    );
    let _ = writeln!(
        md,
        "| `COPY` of the same {UPLOAD_CASES} result rows, rows/s | {:.0} | |",
        r.copy_rate
    );
    let _ = writeln!(
        md,
        "| 8 uploads at once: time, backend peak RSS (target ≤ 100 MB) | {:.1} s, {:.1} MiB | {:.2} |\n",
        r.parallel_secs,
        r.parallel_rss_mib,
        r.parallel_rss_mib * 1.048_576 / 100.0
    );
    let _ = write!(
        md,
        "### Test views over {} stored results\n\n{} runs × {} tests over 30 days in {REPOS} repositories (every \
         {RERUN_EVERY}th run of a repository a re-run of its run before; five tests per repository flaky), stored through the \
         backend's own write path, 4 reports at a time, in {:.0} s ({:.0} results/s).\n\n",
        r.results,
        r.runs,
        r.tests_per_run,
        r.load_secs,
        r.results as f64 / r.load_secs
    );
    md.push_str("| scenario | p50 ms | p95 ms | max ms | p95 vs target |\n|---|---:|---:|---:|---:|\n");
    for l in &r.latency {
        let target = if l.name == "a run's tests" { 20.0 } else { 100.0 };
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} (≤ {target:.0} ms) |",
            l.name,
            l.p50,
            l.p95,
            l.max,
            l.p95 / target
        );
    }
    let _ = write!(
        md,
        "\nStorage: **{:.0} bytes per result** (the row and its two indexes); {:.0} bytes per result counting \
         everything kept for tests (names, reports, messages and output of failures, daily figures, flakes). \
         Names are stored once: {} distinct tests, {:.0} bytes each. Backend peak RSS during these queries: \
         {:.1} MiB.\n\nQueries: {}\n\n",
        r.result_bytes,
        r.all_bytes,
        r.names,
        r.name_bytes,
        r.query_rss_mib,
        r.latency.iter().map(|l| format!("`/api/{}`", l.query)).collect::<Vec<_>>().join(", ")
    );
    md
}
