//! The tests views: figures per test over a window (`GET /api/tests`), the flaky tests and what
//! they cost (`GET /api/tests/flaky`), and one test's results over time (`GET /api/tests/history`).
//!
//! Test figures are counted by UTC day (a window covers the whole days it touches): from the daily
//! rollups, or, with a workflow or branch filter (which the rollups have no key for), from the
//! results of the runs that match, with the same rules.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use utoipa::{IntoParams, ToSchema};

use crate::dashboard::{non_empty, Error, TimeWindow};
use crate::domain::histogram::quantile;
use crate::domain::job_rollup::JobCounters;
use crate::domain::limits::MAX_PAGE;
use crate::domain::test_case::TestStatus;
use crate::domain::FieldError;

/// How `GET /api/tests` orders tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestSort {
    /// Most failures first.
    #[default]
    Failing,
    /// Most flakes (commits it flaked on) first.
    Flaky,
    /// Longest average duration first.
    Slowest,
    /// Most runs first.
    Runs,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestsParams {
    /// Start of the window (RFC 3339). Default: 7 days before `to`. Tests are counted by UTC day:
    /// the window covers the whole days it touches.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now.
    pub to: Option<DateTime<Utc>>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    /// IANA time zone; accepted for symmetry with the other views (tests are counted by UTC day).
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
    /// Only tests whose suite, class or name contains this (case-insensitive).
    #[param(max_length = 255)]
    pub q: Option<String>,
    #[param(inline)]
    pub sort: Option<TestSort>,
    /// Tests per page (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Tests to skip (for the next pages).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A test's identity.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestName {
    /// Its id, for `GET /api/tests/history` and the quarantine.
    pub test_id: i64,
    pub repo: String,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: String,
}

/// Where a test that fails now started failing: the last report where it passed, and the first
/// failing report after it (newest reports first, at most 500 looked at).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FailingSince {
    /// The commit of the first failing report (or the run key, for runs without a commit).
    pub first_failing_commit: String,
    pub first_failing_run: String,
    pub first_failing_at: DateTime<Utc>,
    /// The commit of the last report where it passed; absent when none of those looked at passed.
    pub last_passing_commit: Option<String>,
    pub last_passing_at: Option<DateTime<Utc>>,
}

/// One test's figures over the window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestStats {
    #[serde(flatten)]
    pub test: TestName,
    /// Reports it was in.
    pub runs: i64,
    /// Failed in the end (errors included).
    pub failures: i64,
    pub errors: i64,
    pub skipped: i64,
    /// Reports where it was flaky on its own (retries, flaky elements).
    pub flaky_reports: i64,
    /// Commits it flaked on: flaky in a report, or passed in one report and failed in another.
    pub flakes: i64,
    /// `failures / runs` (0 without runs).
    pub failure_rate: f64,
    /// `flakes / runs` (0 without runs).
    pub flake_rate: f64,
    pub duration_avg_seconds: Option<f64>,
    pub duration_p50_seconds: Option<f64>,
    pub duration_p95_seconds: Option<f64>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// Set when its newest report failed.
    pub failing_since: Option<FailingSince>,
    pub quarantined: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestList {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tests: Vec<TestStats>,
    /// Tests matching the filters (every page).
    pub total: i64,
}

/// The window as whole UTC days: the first day, and the day after the last.
fn days(w: &TimeWindow) -> (NaiveDate, NaiveDate) {
    let last = (w.to - TimeDelta::microseconds(1)).date_naive();
    (w.from.date_naive(), last + TimeDelta::days(1))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), Error> {
    let limit = limit.unwrap_or(50);
    let offset = offset.unwrap_or(0);
    let mut bad = Vec::new();
    if !(1..=MAX_PAGE).contains(&limit) {
        bad.push(FieldError::new("limit", format!("must be 1 to {MAX_PAGE}")));
    }
    if offset < 0 {
        bad.push(FieldError::new("offset", "must be 0 or more"));
    }
    if bad.is_empty() {
        Ok((limit, offset))
    } else {
        Err(Error::Invalid(bad))
    }
}

/// A case-insensitive "contains" pattern for `ilike`, its wildcards escaped.
fn like(q: &Option<String>) -> Option<String> {
    non_empty(q).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        )
    })
}

fn rate(n: i64, of: i64) -> f64 {
    if of > 0 {
        n as f64 / of as f64
    } else {
        0.0
    }
}

/// `GET /api/tests`.
///
/// The views' queries are planned for each request's own parameters (`persistent(false)`): a
/// prepared statement's generic plan guesses a few dozen tests in a window and sorts tens of
/// thousands of rollup rows on disk instead of hashing them (three times slower, measured with
/// `make bench`).
pub async fn tests(pool: &PgPool, p: &TestsParams, now: DateTime<Utc>) -> Result<TestList, Error> {
    let window = TimeWindow::parse(p.from, p.to, p.tz.as_deref(), now)?;
    let (limit, offset) = page(p.limit, p.offset)?;
    let (first, end) = days(&window);
    super::check_filters([
        ("repo", &p.repo),
        ("workflow", &p.workflow),
        ("branch", &p.branch),
        ("q", &p.q),
    ])?;
    let (repo, workflow, branch) = (non_empty(&p.repo), non_empty(&p.workflow), non_empty(&p.branch));
    let q = like(&p.q);
    let order = match p.sort.unwrap_or_default() {
        TestSort::Failing => "failures desc, runs desc",
        TestSort::Flaky => "flakes desc, flaky_reports desc, failures desc",
        TestSort::Slowest => "(duration_ms::float8 / nullif(duration_count, 0)) desc nulls last",
        TestSort::Runs => "runs desc",
    };
    // Per test: sums over the window, from the rollups or (workflow, branch) from the results.
    let figures = if workflow.is_none() && branch.is_none() {
        "select repo, test_id, sum(runs)::int8 runs, sum(failures)::int8 failures, sum(errors)::int8 errors, \
             sum(skipped)::int8 skipped, sum(flaky)::int8 flaky_reports, sum(duration_count)::int8 duration_count, \
             sum(duration_ms)::int8 duration_ms, max(last_failure_at) last_failure_at \
         from test_rollups where day >= $1 and day < $2 and ($3::text is null or repo = $3) \
         group by repo, test_id"
    } else {
        "select u.repo, r.test_id, count(*) runs, count(*) filter (where r.status in (0, 1)) failures, \
             count(*) filter (where r.status = 1) errors, count(*) filter (where r.status = 3) skipped, \
             count(*) filter (where r.status = 2) flaky_reports, \
             count(r.duration_ms) filter (where r.status <> 3) duration_count, \
             coalesce(sum(r.duration_ms) filter (where r.status <> 3), 0)::int8 duration_ms, \
             max(u.run_at) filter (where r.status in (0, 1)) last_failure_at \
         from test_uploads u join test_results r on r.upload_id = u.id \
         where u.repo is not null and u.run_at >= $6 and u.run_at < $7 and ($3::text is null or u.repo = $3) \
             and ($4::text is null or u.workflow = $4) and ($5::text is null or u.branch = $5) \
         group by u.repo, r.test_id"
    };
    // Names and the quarantine are read for the page only (unless `q` searches the names).
    let sql = format!(
        "with f as ({figures}), \
         fl as (select repo, test_id, count(*) flakes from test_flakes \
                where last_seen >= $6 and first_seen < $7 and ($3::text is null or repo = $3) group by repo, test_id), \
         t as (select f.*, coalesce(fl.flakes, 0)::int8 flakes from f \
               left join fl on fl.repo = f.repo and fl.test_id = f.test_id \
               where $8::text is null or exists (select 1 from test_names n where n.id = f.test_id \
                   and (n.name ilike $8 or n.classname ilike $8 or n.suite ilike $8))), \
         page as (select *, count(*) over () total from t order by {order}, repo, test_id limit $9 offset $10) \
         select page.*, n.suite, n.classname, n.name, n.file, \
             exists (select 1 from test_quarantine q where q.repo = page.repo and q.test_id = page.test_id) quarantined \
         from page join test_names n on n.id = page.test_id order by {order}, repo, test_id"
    );
    let rows = sqlx::query(&sql)
        .persistent(false)
        .bind(first)
        .bind(end)
        .bind(&repo)
        .bind(&workflow)
        .bind(&branch)
        .bind(start_of(first))
        .bind(start_of(end))
        .bind(&q)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let mut total = 0;
    let mut tests = Vec::with_capacity(rows.len());
    for row in &rows {
        total = row.try_get("total")?;
        tests.push(stats_of(row)?);
    }
    // The page's duration histograms: from the rollups, or (filtered) from the results.
    let hists = if workflow.is_some() || branch.is_some() {
        durations(pool, &tests, start_of(first), start_of(end), &workflow, &branch).await?
    } else {
        rollup_hists(pool, &tests, first, end).await?
    };
    for (t, hist) in tests.iter_mut().zip(hists) {
        let dense = JobCounters::dense(&hist);
        t.duration_p50_seconds = quantile(&dense, 0.5);
        t.duration_p95_seconds = quantile(&dense, 0.95);
    }
    let failing: Vec<(&str, i64)> = tests
        .iter()
        .filter(|t| t.failures > 0)
        .map(|t| (t.test.repo.as_str(), t.test.test_id))
        .collect();
    let mut since = failing_since(pool, &failing).await?;
    for t in &mut tests {
        t.failing_since = since.remove(&(t.test.repo.clone(), t.test.test_id));
    }
    Ok(TestList {
        from: start_of(first),
        to: start_of(end),
        tests,
        total,
    })
}

fn stats_of(row: &PgRow) -> sqlx::Result<TestStats> {
    let runs: i64 = row.try_get("runs")?;
    let failures: i64 = row.try_get("failures")?;
    let flakes: i64 = row.try_get("flakes")?;
    let duration_count: i64 = row.try_get("duration_count")?;
    let duration_ms: i64 = row.try_get("duration_ms")?;
    Ok(TestStats {
        test: TestName {
            test_id: row.try_get("test_id")?,
            repo: row.try_get("repo")?,
            suite: row.try_get("suite")?,
            classname: row.try_get("classname")?,
            name: row.try_get("name")?,
            file: row.try_get("file")?,
        },
        runs,
        failures,
        errors: row.try_get("errors")?,
        skipped: row.try_get("skipped")?,
        flaky_reports: row.try_get("flaky_reports")?,
        flakes,
        failure_rate: rate(failures, runs),
        flake_rate: rate(flakes, runs),
        duration_avg_seconds: (duration_count > 0)
            .then(|| duration_ms as f64 / duration_count as f64 / 1000.0),
        duration_p50_seconds: None,
        duration_p95_seconds: None,
        last_failure_at: row.try_get("last_failure_at")?,
        failing_since: None,
        quarantined: row.try_get("quarantined")?,
    })
}

/// Duration histograms of some tests over whole days, from the rollups.
async fn rollup_hists(
    pool: &PgPool,
    tests: &[TestStats],
    first: NaiveDate,
    end: NaiveDate,
) -> sqlx::Result<Vec<BTreeMap<i16, i64>>> {
    let ids: Vec<i64> = tests.iter().map(|t| t.test.test_id).collect();
    let repos: Vec<&str> = tests.iter().map(|t| t.test.repo.as_str()).collect();
    let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
        "select k.repo, k.test_id, string_agg(t.duration_hist, ''::bytea) \
         from unnest($1::text[], $2::int8[]) k(repo, test_id) \
         join test_rollups t on t.repo = k.repo and t.test_id = k.test_id and t.day >= $3 and t.day < $4 \
         group by k.repo, k.test_id",
    )
    .bind(&repos)
    .bind(&ids)
    .bind(first)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut by_test: BTreeMap<(String, i64), Vec<u8>> =
        rows.into_iter().map(|(repo, id, h)| ((repo, id), h)).collect();
    Ok(tests
        .iter()
        .map(|t| {
            by_test
                .remove(&(t.test.repo.clone(), t.test.test_id))
                .map(|h| JobCounters::decode(&h))
                .unwrap_or_default()
        })
        .collect())
}

/// Duration histograms of some tests' results in a window, for the filtered path.
async fn durations(
    pool: &PgPool,
    tests: &[TestStats],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    workflow: &Option<String>,
    branch: &Option<String>,
) -> sqlx::Result<Vec<BTreeMap<i16, i64>>> {
    let ids: Vec<i64> = tests.iter().map(|t| t.test.test_id).collect();
    let repos: Vec<&str> = tests.iter().map(|t| t.test.repo.as_str()).collect();
    let rows: Vec<(String, i64, i32)> = sqlx::query_as(
        "select u.repo, r.test_id, r.duration_ms from unnest($1::text[], $2::int8[]) k(repo, test_id) \
         join test_results r on r.test_id = k.test_id \
         join test_uploads u on u.id = r.upload_id and u.repo = k.repo \
         where u.run_at >= $3 and u.run_at < $4 and r.status <> 3 and r.duration_ms is not null \
             and ($5::text is null or u.workflow = $5) and ($6::text is null or u.branch = $6)",
    )
    .bind(&repos)
    .bind(&ids)
    .bind(from)
    .bind(to)
    .bind(workflow)
    .bind(branch)
    .fetch_all(pool)
    .await?;
    let mut by_test: BTreeMap<(String, i64), BTreeMap<i16, i64>> = BTreeMap::new();
    for (repo, id, ms) in rows {
        let bucket = crate::domain::histogram::bucket_of(f64::from(ms) / 1000.0) as i16;
        *by_test.entry((repo, id)).or_default().entry(bucket).or_default() += 1;
    }
    Ok(tests
        .iter()
        .map(|t| {
            by_test
                .remove(&(t.test.repo.clone(), t.test.test_id))
                .unwrap_or_default()
        })
        .collect())
}

/// For each test (of a repository) whose newest result failed: where its current failure streak
/// started (the first failure after its last pass, or its first failure ever).
async fn failing_since(
    pool: &PgPool,
    tests: &[(&str, i64)],
) -> sqlx::Result<BTreeMap<(String, i64), FailingSince>> {
    if tests.is_empty() {
        return Ok(BTreeMap::new());
    }
    // Each lookup walks the test's results newest first (its index) and reads each one's report
    // by key, so that it stops at the first match instead of joining every report.
    let rows = sqlx::query(
        "select k.repo, k.id, f.commit_ref, f.run_id, f.run_at, p.commit_ref, p.run_at \
         from unnest($1::text[], $2::int8[]) k(repo, id) \
         cross join lateral ( \
             select r.status from test_results r where r.test_id = k.id and r.status <> 3 \
                 and (select u.repo from test_uploads u where u.id = r.upload_id) = k.repo \
             order by r.upload_id desc limit 1) newest \
         left join lateral ( \
             select r.upload_id from test_results r where r.test_id = k.id and r.status in (2, 4) \
                 and (select u.repo from test_uploads u where u.id = r.upload_id) = k.repo \
             order by r.upload_id desc limit 1) pass on true \
         left join test_uploads p on p.id = pass.upload_id \
         cross join lateral ( \
             select u.commit_ref, u.run_id, u.run_at from test_results r \
             join test_uploads u on u.id = r.upload_id and u.repo = k.repo \
             where r.test_id = k.id and r.status in (0, 1) and r.upload_id > coalesce(pass.upload_id, 0) \
             order by r.upload_id limit 1) f \
         where newest.status in (0, 1)",
    )
    .bind(tests.iter().map(|t| t.0).collect::<Vec<_>>())
    .bind(tests.iter().map(|t| t.1).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                (row.try_get(0)?, row.try_get(1)?),
                FailingSince {
                    first_failing_commit: row.try_get(2)?,
                    first_failing_run: row.try_get(3)?,
                    first_failing_at: row.try_get(4)?,
                    last_passing_commit: row.try_get(5)?,
                    last_passing_at: row.try_get(6)?,
                },
            ))
        })
        .collect()
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlakyParams {
    /// Start of the window (RFC 3339). Default: 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now.
    pub to: Option<DateTime<Utc>>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    /// Only flakes on commits that a run of this workflow tested.
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    /// Only flakes on commits tested on this branch.
    #[param(max_length = 255)]
    pub branch: Option<String>,
    /// IANA time zone; accepted for symmetry with the other views.
    #[param(max_length = 64)]
    pub tz: Option<String>,
    /// Only tests whose suite, class or name contains this (case-insensitive).
    #[param(max_length = 255)]
    pub q: Option<String>,
    /// Tests per page (default 50, at most 500), by impact: minutes of red runs, then red runs,
    /// then flakes.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A flaky test and what it cost over the window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlakyTest {
    #[serde(flatten)]
    pub test: TestName,
    /// When it first and last flaked (ever, by the time of the runs).
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Commits it flaked on in the window.
    pub flakes: i64,
    /// Reports it was in, in the window.
    pub runs: i64,
    /// `flakes / runs`.
    pub flake_rate: f64,
    /// Failed runs in which it failed on a commit it flaked on: the runs it made red.
    pub red_runs: i64,
    /// The minutes of those runs, which had to be run again.
    pub red_minutes: f64,
    pub quarantined: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlakyList {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tests: Vec<FlakyTest>,
    pub total: i64,
}

/// `GET /api/tests/flaky`.
pub async fn flaky(pool: &PgPool, p: &FlakyParams, now: DateTime<Utc>) -> Result<FlakyList, Error> {
    let to = p.to.unwrap_or(now);
    let from = p.from.or(Some(to - TimeDelta::days(30)));
    let window = TimeWindow::parse(from, Some(to), p.tz.as_deref(), now)?;
    let (limit, offset) = page(p.limit, p.offset)?;
    let (first, end) = days(&window);
    let (from, to) = (start_of(first), start_of(end));
    super::check_filters([
        ("repo", &p.repo),
        ("workflow", &p.workflow),
        ("branch", &p.branch),
        ("q", &p.q),
    ])?;
    let repo = non_empty(&p.repo);
    // A commit's reports are looked up by its index, one commit at a time (`offset 0` keeps the
    // planner from hashing every report instead: it cannot count how many commits `unnest` gives),
    // and a report's result for the test by both keys (as a join, the planner probed the report's
    // partition by its id alone and filtered its 200 rows by test).
    let rows = sqlx::query(
        "with fl as ( \
             select f.repo, f.test_id, count(*) flakes, array_agg(f.commit_ref) commits from test_flakes f \
             join test_names n on n.id = f.test_id \
             where f.last_seen >= $1 and f.first_seen < $2 and ($3::text is null or f.repo = $3) \
                 and ($8::text is null or n.name ilike $8 or n.classname ilike $8 or n.suite ilike $8) \
                 and ($9::text is null and $10::text is null or exists ( \
                     select 1 from test_uploads u where u.repo = f.repo and u.commit_ref = f.commit_ref \
                         and ($9::text is null or u.workflow = $9) and ($10::text is null or u.branch = $10))) \
             group by f.repo, f.test_id), \
         red as ( \
             select fl.repo, fl.test_id, count(distinct p.id) red_runs, \
                 coalesce(sum(p.duration_seconds), 0)::float8 / 60 red_minutes \
             from fl cross join lateral unnest(fl.commits) c(commit_ref) \
             cross join lateral ( \
                 select u.id, u.run_id from test_uploads u \
                 where u.repo = fl.repo and u.commit_ref = c.commit_ref and u.repo is not null \
                 offset 0) u \
             cross join lateral (select from test_results r where r.upload_id = u.id \
                 and r.test_id = fl.test_id and r.status in (0, 1) limit 1) r \
             join pipeline_runs p on p.id = u.run_id and p.status = 'failure' \
             group by fl.repo, fl.test_id), \
         runs as ( \
             select repo, test_id, sum(runs)::int8 runs from test_rollups \
             where day >= $4 and day < $5 and (repo, test_id) in (select repo, test_id from fl) group by repo, test_id), \
         ever as ( \
             select f.repo, f.test_id, min(f.first_seen) first_seen, max(f.last_seen) last_seen from test_flakes f \
             where (f.repo, f.test_id) in (select repo, test_id from fl) group by f.repo, f.test_id) \
         select fl.repo, fl.test_id, fl.flakes, coalesce(runs.runs, 0) runs, \
             coalesce(red.red_runs, 0) red_runs, coalesce(red.red_minutes, 0) red_minutes, \
             ever.first_seen, ever.last_seen, n.suite, n.classname, n.name, n.file, \
             exists (select 1 from test_quarantine q where q.repo = fl.repo and q.test_id = fl.test_id) quarantined, \
             count(*) over () total \
         from fl join ever using (repo, test_id) join test_names n on n.id = fl.test_id \
         left join red using (repo, test_id) left join runs using (repo, test_id) \
         order by red_minutes desc, red_runs desc, fl.flakes desc, ever.last_seen desc, fl.repo, fl.test_id \
         limit $6 offset $7",
    )
    .persistent(false)
    .bind(from)
    .bind(to)
    .bind(&repo)
    .bind(first)
    .bind(end)
    .bind(limit)
    .bind(offset)
    .bind(like(&p.q))
    .bind(non_empty(&p.workflow))
    .bind(non_empty(&p.branch))
    .fetch_all(pool)
    .await?;
    let mut total = 0;
    let mut tests = Vec::with_capacity(rows.len());
    for row in rows {
        total = row.try_get("total")?;
        let flakes: i64 = row.try_get("flakes")?;
        let runs: i64 = row.try_get("runs")?;
        tests.push(FlakyTest {
            test: TestName {
                test_id: row.try_get("test_id")?,
                repo: row.try_get("repo")?,
                suite: row.try_get("suite")?,
                classname: row.try_get("classname")?,
                name: row.try_get("name")?,
                file: row.try_get("file")?,
            },
            first_seen: row.try_get("first_seen")?,
            last_seen: row.try_get("last_seen")?,
            flakes,
            runs,
            flake_rate: rate(flakes, runs),
            red_runs: row.try_get("red_runs")?,
            red_minutes: row.try_get("red_minutes")?,
            quarantined: row.try_get("quarantined")?,
        });
    }
    Ok(FlakyList {
        from,
        to,
        tests,
        total,
    })
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// The test (`test_id` of the other test views).
    pub test_id: i64,
    /// Only its results in this repository.
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    /// Results per page (default 100, at most 500), newest first.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_before` of the previous page.
    pub before: Option<i64>,
}

/// One result of a test.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub run_id: String,
    pub repo: String,
    pub workflow: Option<String>,
    pub branch: Option<String>,
    /// The run's commit (or its run key, for runs without one).
    pub commit: String,
    pub run_at: DateTime<Utc>,
    pub job: String,
    pub status: TestStatus,
    pub attempts: i16,
    pub duration_seconds: Option<f64>,
    pub message: Option<String>,
    /// It flaked on this commit.
    pub flaky_commit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct History {
    pub test: TestIdentity,
    /// The repositories whose quarantine holds this test.
    pub quarantined_in: Vec<String>,
    /// Newest first.
    pub results: Vec<HistoryEntry>,
    /// Pass as `before` for older results; absent on the last page.
    pub next_before: Option<i64>,
}

/// A test's identity without a repository (a name is shared by every repository that runs it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestIdentity {
    pub test_id: i64,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: String,
}

/// `GET /api/tests/history` (`None` when the test is unknown).
pub async fn history(pool: &PgPool, p: &HistoryParams) -> Result<Option<History>, Error> {
    super::check_filters([("repo", &p.repo), ("branch", &p.branch)])?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::Invalid(vec![FieldError::new(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        )]));
    }
    let test: Option<(String, String, String, String)> =
        sqlx::query_as("select suite, classname, name, file from test_names where id = $1")
            .bind(p.test_id)
            .fetch_optional(pool)
            .await?;
    let Some((suite, classname, name, file)) = test else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "select r.upload_id, u.run_id, u.repo, u.workflow, u.branch, u.commit_ref, u.run_at, u.job, r.status, \
             r.attempts, r.duration_ms, d.message, \
             exists (select 1 from test_flakes f where f.repo = u.repo and f.test_id = r.test_id \
                     and f.commit_ref = u.commit_ref) flaky_commit \
         from test_results r join test_uploads u on u.id = r.upload_id \
         left join test_result_details d on d.upload_id = r.upload_id and d.test_id = r.test_id \
         where r.test_id = $1 and u.repo is not null and ($2::int8 is null or r.upload_id < $2) \
             and ($3::text is null or u.repo = $3) and ($4::text is null or u.branch = $4) \
         order by r.upload_id desc limit $5",
    )
    .bind(p.test_id)
    .bind(p.before)
    .bind(non_empty(&p.repo))
    .bind(non_empty(&p.branch))
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let mut results = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.iter().take(limit as usize) {
        last = Some(row.try_get::<i64, _>(0)?);
        let ms: Option<i32> = row.try_get(10)?;
        results.push(HistoryEntry {
            run_id: row.try_get(1)?,
            repo: row.try_get(2)?,
            workflow: row.try_get(3)?,
            branch: row.try_get(4)?,
            commit: row.try_get(5)?,
            run_at: row.try_get(6)?,
            job: row.try_get(7)?,
            status: TestStatus::from_code(row.try_get(8)?).unwrap_or(TestStatus::Passed),
            attempts: row.try_get(9)?,
            duration_seconds: ms.map(|ms| f64::from(ms) / 1000.0),
            message: row.try_get(11)?,
            flaky_commit: row.try_get(12)?,
        });
    }
    let quarantined_in: Vec<String> =
        sqlx::query_scalar("select repo from test_quarantine where test_id = $1 order by repo")
            .bind(p.test_id)
            .fetch_all(pool)
            .await?;
    Ok(Some(History {
        quarantined_in,
        test: TestIdentity {
            test_id: p.test_id,
            suite,
            classname,
            name,
            file,
        },
        results,
        next_before: if rows.len() as i64 > limit { last } else { None },
    }))
}
