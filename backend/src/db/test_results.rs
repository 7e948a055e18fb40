//! Queries on test results: uploads, test names, results and their details, the daily rollups
//! and the flakes they reveal (see `migrations/20261208000001_test_results.sql`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use utoipa::ToSchema;

use crate::domain::histogram::bucket_of;
use crate::domain::job_rollup::JobCounters;
use crate::domain::test_case::{TestCase, TestCounts, TestKey, TestStatus};

/// The advisory lock class of a commit's flake check (the key is a hash of repo and commit).
const FLAKE_LOCK: i32 = 0x7465_7374; // "test"

/// Where a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Junit,
    CdEvents,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Junit => "junit",
            Source::CdEvents => "cdevents",
        }
    }
}

/// A report to store for a run.
pub struct Report<'a> {
    pub run_id: &'a str,
    /// The job that produced it, `""` when not given.
    pub job: &'a str,
    /// SHA-256 of the report as sent (uncompressed): the idempotency key with run and job.
    pub digest: [u8; 32],
    pub source: Source,
    pub cases: &'a [TestCase],
}

/// What storing a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub upload_id: i64,
    pub counts: TestCounts,
    /// The same report was stored before for this run and job: nothing was written.
    pub duplicate: bool,
    /// The run is known and the results were attached to it (else they wait for it).
    pub attached: bool,
}

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The SHA-256 of a test's identity, the key of `test_names`.
pub fn name_digest(key: &TestKey) -> Digest32 {
    let mut h = Sha256::new();
    for part in [&key.suite, &key.classname, &key.name, &key.file] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

/// Stores a report in the caller's transaction, and attaches it to its run when the run exists.
/// A report stored before for the same run and job is answered with its counts and not written
/// again.
pub async fn store(tx: &mut PgConnection, report: Report<'_>) -> sqlx::Result<Stored> {
    let mut stored = insert(tx, report).await?;
    if !stored.duplicate {
        stored.attached = attach(tx, stored.upload_id).await?;
    }
    Ok(stored)
}

/// [`store`] without attaching: the caller attaches the upload (with [`attach`], in the same
/// transaction) once it has let go of the report's cases, so that the two are not in memory at
/// once.
pub async fn insert(tx: &mut PgConnection, report: Report<'_>) -> sqlx::Result<Stored> {
    let counts = TestCounts::of(report.cases.iter().map(|c| &c.status));
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into test_uploads (run_id, job, digest, source, tests, passed, failed, skipped, flaky, errors) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         on conflict (run_id, job, digest) do nothing returning id",
    )
    .bind(report.run_id)
    .bind(report.job)
    .bind(&report.digest[..])
    .bind(report.source.as_str())
    .bind(counts.tests as i32)
    .bind(counts.passed as i32)
    .bind(counts.failed as i32)
    .bind(counts.skipped as i32)
    .bind(counts.flaky as i32)
    .bind(counts.errors as i32)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(upload_id) = inserted else {
        let row = sqlx::query(
            "select id, tests, passed, failed, skipped, flaky, errors, repo is not null as attached \
             from test_uploads where run_id = $1 and job = $2 and digest = $3",
        )
        .bind(report.run_id)
        .bind(report.job)
        .bind(&report.digest[..])
        .fetch_one(&mut *tx)
        .await?;
        let n = |i: usize| row.try_get::<i32, _>(i).map(|v| v as u64);
        return Ok(Stored {
            upload_id: row.try_get(0)?,
            counts: TestCounts {
                tests: n(1)?,
                passed: n(2)?,
                failed: n(3)?,
                skipped: n(4)?,
                flaky: n(5)?,
                errors: n(6)?,
            },
            duplicate: true,
            attached: row.try_get(7)?,
        });
    };
    let ids = name_ids(tx, report.cases).await?;
    insert_results(tx, upload_id, report.cases, &ids).await?;
    Ok(Stored {
        upload_id,
        counts,
        duplicate: false,
        attached: false,
    })
}

/// The `test_names` ids of the cases' identities, in the cases' order; names not stored yet are
/// inserted (most reports name the same tests as the run before: they are only read).
async fn name_ids(tx: &mut PgConnection, cases: &[TestCase]) -> sqlx::Result<Vec<i64>> {
    let digests: Vec<Digest32> = cases.iter().map(|c| name_digest(&c.key)).collect();
    let mut by_digest = stored_names(tx, &digests).await?;
    let missing: Vec<usize> = (0..cases.len())
        .filter(|&i| !by_digest.contains_key(&digests[i]))
        .collect();
    if !missing.is_empty() {
        let column = |f: fn(&TestKey) -> &String| {
            missing
                .iter()
                .map(|&i| f(&cases[i].key).as_str())
                .collect::<Vec<_>>()
        };
        let new: Vec<Digest32> = missing.iter().map(|&i| digests[i]).collect();
        // In digest order, so that two reports inserting the same new names cannot deadlock;
        // a name another report inserted meanwhile is not returned, and is read below.
        let inserted: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "insert into test_names (digest, suite, classname, name, file) \
             select * from unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[]) \
             order by 1 on conflict (digest) do nothing returning digest, id",
        )
        .bind(new.iter().map(|d| &d[..]).collect::<Vec<&[u8]>>())
        .bind(column(|k| &k.suite))
        .bind(column(|k| &k.classname))
        .bind(column(|k| &k.name))
        .bind(column(|k| &k.file))
        .fetch_all(&mut *tx)
        .await?;
        by_digest.extend(keyed(inserted));
        let raced: Vec<Digest32> = new.into_iter().filter(|d| !by_digest.contains_key(d)).collect();
        if !raced.is_empty() {
            by_digest.extend(stored_names(tx, &raced).await?);
        }
    }
    digests
        .iter()
        .map(|d| by_digest.get(d).copied().ok_or(sqlx::Error::RowNotFound))
        .collect()
}

async fn stored_names(tx: &mut PgConnection, digests: &[Digest32]) -> sqlx::Result<HashMap<Digest32, i64>> {
    let found: Vec<(Vec<u8>, i64)> =
        sqlx::query_as("select digest, id from test_names where digest = any($1)")
            .bind(digests.iter().map(|d| &d[..]).collect::<Vec<&[u8]>>())
            .fetch_all(&mut *tx)
            .await?;
    Ok(keyed(found).collect())
}

/// `(digest, id)` rows by digest (a stored digest is always 32 bytes).
fn keyed(rows: Vec<(Vec<u8>, i64)>) -> impl Iterator<Item = (Digest32, i64)> {
    rows.into_iter()
        .filter_map(|(d, id)| Some((Digest32::try_from(d).ok()?, id)))
}

async fn insert_results(
    tx: &mut PgConnection,
    upload_id: i64,
    cases: &[TestCase],
    ids: &[i64],
) -> sqlx::Result<()> {
    let ms = |c: &TestCase| {
        c.duration_seconds
            .map(|s| (s * 1000.0).round().min(f64::from(i32::MAX)) as i32)
    };
    // COPY: the rows are fixed-width numbers, and a report has up to 200,000 of them.
    let mut rows = String::with_capacity(cases.len() * 32);
    for (id, c) in ids.iter().zip(cases) {
        let attempts = c.attempts.min(i16::MAX as u32);
        let _ = match ms(c) {
            Some(ms) => writeln!(rows, "{upload_id}\t{id}\t{}\t{attempts}\t{ms}", c.status.code()),
            None => writeln!(rows, "{upload_id}\t{id}\t{}\t{attempts}\t\\N", c.status.code()),
        };
    }
    let mut copy = tx
        .copy_in_raw("copy test_results (upload_id, test_id, status, attempts, duration_ms) from stdin")
        .await?;
    copy.send(rows.into_bytes()).await?;
    copy.finish().await?;
    let detailed: Vec<(i64, &TestCase)> = ids
        .iter()
        .zip(cases)
        .filter(|(_, c)| {
            c.status != TestStatus::Passed
                && (c.message.is_some() || c.output.is_some() || c.started_at.is_some())
        })
        .map(|(id, c)| (*id, c))
        .collect();
    if detailed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into test_result_details (upload_id, test_id, started_at, message, output) \
         select $1, * from unnest($2::int8[], $3::timestamptz[], $4::text[], $5::text[])",
    )
    .bind(upload_id)
    .bind(detailed.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(detailed.iter().map(|(_, c)| c.started_at).collect::<Vec<_>>())
    .bind(
        detailed
            .iter()
            .map(|(_, c)| c.message.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        detailed
            .iter()
            .map(|(_, c)| c.output.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Attaches an upload to its run if the run exists and the upload is not attached yet: copies
/// the run's repository, workflow, branch, commit and time onto it, adds its results to the daily
/// rollups and records the flakes it reveals on its commit. Returns whether it attached.
pub async fn attach(tx: &mut PgConnection, upload_id: i64) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "update test_uploads u set repo = r.repo, workflow = r.workflow, branch = r.branch, \
             commit_ref = coalesce(r.commit_sha, r.run_key, r.id), run_at = r.run_at \
         from pipeline_runs r where u.id = $1 and r.id = u.run_id and u.repo is null \
         returning u.repo, u.commit_ref, u.run_at, u.run_id",
    )
    .bind(upload_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let repo: String = row.try_get(0)?;
    let commit_ref: String = row.try_get(1)?;
    let run_at: DateTime<Utc> = row.try_get(2)?;
    let run_id: String = row.try_get(3)?;
    add_to_rollups(tx, upload_id, &repo, run_at).await?;
    let flaked = record_flakes(tx, upload_id, &repo, &commit_ref).await?;
    let change = serde_json::to_string(&super::notify::TestsChange {
        run_id,
        repo: repo.clone(),
    })
    .map_err(|e| sqlx::Error::Encode(e.into()))?;
    super::notify::send(&mut *tx, super::notify::TESTS, &change).await?;
    if !flaked.is_empty() {
        if let Some(rule) = super::settings::load(&mut *tx).await?.auto_quarantine {
            super::quarantine::apply_rule(tx, rule, &repo, &flaked, run_at).await?;
        }
    }
    Ok(true)
}

/// Attaches up to `limit` uploads whose run has arrived since they were stored, each in its own
/// transaction; returns how many it found ready (another replica may have attached some first).
pub async fn attach_pending(pool: &PgPool, limit: i64) -> sqlx::Result<usize> {
    let ready: Vec<i64> = sqlx::query_scalar(
        "select u.id from test_uploads u join pipeline_runs r on r.id = u.run_id \
         where u.repo is null order by u.id limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for &id in &ready {
        let mut tx = pool.begin().await?;
        attach(&mut tx, id).await?;
        tx.commit().await?;
    }
    Ok(ready.len())
}

/// One day's figures of one test, as the rollup keeps them.
#[derive(Debug, Default, Clone, PartialEq)]
struct DayFigures {
    runs: i32,
    failures: i32,
    errors: i32,
    flaky: i32,
    skipped: i32,
    duration_count: i32,
    duration_ms: i64,
    hist: BTreeMap<i16, i64>,
    last_failure_at: Option<DateTime<Utc>>,
}

/// Adds an upload's results to its day's rollup rows. The rows are read and written in test id
/// order under a row lock, so that two uploads of one day merge their histograms without losing
/// either, and never deadlock.
async fn add_to_rollups(
    tx: &mut PgConnection,
    upload_id: i64,
    repo: &str,
    run_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let day: NaiveDate = run_at.date_naive();
    let results: Vec<(i64, i16, Option<i32>)> = sqlx::query_as(
        "select test_id, status, duration_ms from test_results where upload_id = $1 order by test_id",
    )
    .bind(upload_id)
    .fetch_all(&mut *tx)
    .await?;
    if results.is_empty() {
        return Ok(());
    }
    // In chunks of test ids (ascending, so the row locks are still taken in one order): the
    // memory an upload of 200,000 tests takes here stays that of one chunk.
    for chunk in results.chunks(ROLLUP_CHUNK) {
        add_chunk(tx, day, repo, run_at, chunk).await?;
    }
    Ok(())
}

/// The most tests whose rollup rows are read and rewritten at once.
const ROLLUP_CHUNK: usize = 2_000;

async fn add_chunk(
    tx: &mut PgConnection,
    day: NaiveDate,
    repo: &str,
    run_at: DateTime<Utc>,
    results: &[(i64, i16, Option<i32>)],
) -> sqlx::Result<()> {
    let ids: Vec<i64> = results.iter().map(|r| r.0).collect();
    let stored = sqlx::query(
        // One key lookup per test, in test id order (`offset 0` keeps the subquery from becoming a
        // join, which a table without statistics yet, after its first reports, turns into a
        // scan of the whole day for each test).
        "select t.test_id, t.runs, t.failures, t.errors, t.flaky, t.skipped, t.duration_count, t.duration_ms, \
             t.duration_hist, t.last_failure_at \
         from unnest($3::int8[]) k(test_id) \
         cross join lateral (select * from test_rollups t \
             where t.day = $1 and t.repo = $2 and t.test_id = k.test_id offset 0 for update) t",
    )
    .bind(day)
    .bind(repo)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut figures: BTreeMap<i64, DayFigures> = BTreeMap::new();
    for row in stored {
        let hist: Vec<u8> = row.try_get(8)?;
        figures.insert(
            row.try_get(0)?,
            DayFigures {
                runs: row.try_get(1)?,
                failures: row.try_get(2)?,
                errors: row.try_get(3)?,
                flaky: row.try_get(4)?,
                skipped: row.try_get(5)?,
                duration_count: row.try_get(6)?,
                duration_ms: row.try_get(7)?,
                hist: JobCounters::decode(&hist),
                last_failure_at: row.try_get(9)?,
            },
        );
    }
    for (test_id, status, ms) in results {
        let f = figures.entry(*test_id).or_default();
        let status = TestStatus::from_code(*status).unwrap_or(TestStatus::Passed);
        f.runs += 1;
        match status {
            TestStatus::Failed | TestStatus::Error => {
                f.failures += 1;
                f.last_failure_at = f.last_failure_at.max(Some(run_at));
                if status == TestStatus::Error {
                    f.errors += 1;
                }
            }
            TestStatus::Flaky => f.flaky += 1,
            TestStatus::Skipped => f.skipped += 1,
            TestStatus::Passed => {}
        }
        if let (Some(ms), false) = (ms, status == TestStatus::Skipped) {
            f.duration_count += 1;
            f.duration_ms += i64::from(*ms);
            *f.hist
                .entry(bucket_of(f64::from(*ms) / 1000.0) as i16)
                .or_default() += 1;
        }
    }
    let col = |get: fn(&DayFigures) -> i32| figures.values().map(get).collect::<Vec<_>>();
    sqlx::query(
        "insert into test_rollups as t (day, repo, test_id, runs, failures, errors, flaky, skipped, \
             duration_count, duration_ms, duration_hist, last_failure_at) \
         select $1, $2, * from unnest($3::int8[], $4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[], \
             $9::int4[], $10::int8[], $11::bytea[], $12::timestamptz[]) \
         on conflict (day, repo, test_id) do update set runs = excluded.runs, failures = excluded.failures, \
             errors = excluded.errors, flaky = excluded.flaky, skipped = excluded.skipped, \
             duration_count = excluded.duration_count, duration_ms = excluded.duration_ms, \
             duration_hist = excluded.duration_hist, last_failure_at = excluded.last_failure_at",
    )
    .bind(day)
    .bind(repo)
    .bind(figures.keys().copied().collect::<Vec<_>>())
    .bind(col(|f| f.runs))
    .bind(col(|f| f.failures))
    .bind(col(|f| f.errors))
    .bind(col(|f| f.flaky))
    .bind(col(|f| f.skipped))
    .bind(col(|f| f.duration_count))
    .bind(figures.values().map(|f| f.duration_ms).collect::<Vec<_>>())
    .bind(figures.values().map(|f| JobCounters::encode(&f.hist)).collect::<Vec<_>>())
    .bind(figures.values().map(|f| f.last_failure_at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records the tests of an upload that flaked on its commit: flaky within a report, or passed in
/// one report of the commit and failed in another; returns their ids. Commits are checked one at
/// a time (an advisory lock per repository and commit), so that two reports of one commit
/// attached at the same moment still see each other.
async fn record_flakes(
    tx: &mut PgConnection,
    upload_id: i64,
    repo: &str,
    commit_ref: &str,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query("select pg_advisory_xact_lock($1, hashtext($2 || ' ' || $3))")
        .bind(FLAKE_LOCK)
        .bind(repo)
        .bind(commit_ref)
        .execute(&mut *tx)
        .await?;
    let others: bool = sqlx::query_scalar(
        "select exists (select 1 from test_uploads where repo = $2 and commit_ref = $3 and id <> $1)",
    )
    .bind(upload_id)
    .bind(repo)
    .bind(commit_ref)
    .fetch_one(&mut *tx)
    .await?;
    // The commit's first report: only what it says itself (flaky results) can be a flake.
    let seen = if others {
        "seen as ( \
             select r.test_id, min(u.run_at) first_seen, max(u.run_at) last_seen from test_uploads u \
             join test_results r on r.upload_id = u.id and r.test_id in (select test_id from mine) \
             where u.repo = $2 and u.commit_ref = $3 and r.status <> 3 \
             group by r.test_id \
             having bool_or(r.status = 2) or (bool_or(r.status = 4) and bool_or(r.status in (0, 1))))"
    } else {
        "seen as ( \
             select r.test_id, u.run_at first_seen, u.run_at last_seen from test_results r \
             join test_uploads u on u.id = r.upload_id where r.upload_id = $1 and r.status = 2)"
    };
    sqlx::query_scalar(&format!(
        "with mine as (select test_id from test_results where upload_id = $1 and status <> 3), \
         {seen} \
         insert into test_flakes as f (repo, test_id, commit_ref, first_seen, last_seen) \
         select $2, test_id, $3, first_seen, last_seen from seen order by test_id \
         on conflict (repo, test_id, commit_ref) do update \
             set first_seen = least(f.first_seen, excluded.first_seen), \
                 last_seen = greatest(f.last_seen, excluded.last_seen) \
         returning test_id"
    ))
    .bind(upload_id)
    .bind(repo)
    .bind(commit_ref)
    .fetch_all(&mut *tx)
    .await
}

/// A run's test results, as `GET /api/runs/{run_id}/tests` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunTests {
    /// The counts of every report of the run (a test in two reports counts in both).
    pub summary: TestCounts,
    /// Reports stored for the run.
    pub reports: i64,
    /// Failed first, then errors, flaky, skipped and passed; by suite, class and name within.
    pub cases: Vec<RunTestCase>,
    /// More cases matched than `limit`.
    pub truncated: bool,
}

/// One test case of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunTestCase {
    /// The test's id, for `GET /api/tests/history?test_id=…`.
    pub test_id: i64,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: String,
    /// The job that uploaded it (`""` when not given).
    pub job: String,
    pub status: TestStatus,
    pub attempts: i16,
    pub duration_seconds: Option<f64>,
    pub started_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub output: Option<String>,
}

/// The test results of a run (`None` when it has neither a run nor a report).
pub async fn run_tests(
    pool: &PgPool,
    run_id: &str,
    status: Option<TestStatus>,
    limit: i64,
) -> sqlx::Result<Option<RunTests>> {
    let head = sqlx::query(
        "select count(*), coalesce(sum(tests), 0)::int8, coalesce(sum(passed), 0)::int8, coalesce(sum(failed), 0)::int8, \
             coalesce(sum(skipped), 0)::int8, coalesce(sum(flaky), 0)::int8, coalesce(sum(errors), 0)::int8, \
             exists (select 1 from pipeline_runs where id = $1) \
         from test_uploads where run_id = $1",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?;
    let reports: i64 = head.try_get(0)?;
    if reports == 0 && !head.try_get::<bool, _>(7)? {
        return Ok(None);
    }
    let n = |i: usize| head.try_get::<i64, _>(i).map(|v| v as u64);
    let summary = TestCounts {
        tests: n(1)?,
        passed: n(2)?,
        failed: n(3)?,
        skipped: n(4)?,
        flaky: n(5)?,
        errors: n(6)?,
    };
    let mut cases = sqlx::query(
        "select n.id, n.suite, n.classname, n.name, n.file, u.job, r.status, r.attempts, r.duration_ms, \
             d.started_at, d.message, d.output \
         from test_uploads u \
         join test_results r on r.upload_id = u.id \
         join test_names n on n.id = r.test_id \
         left join test_result_details d on d.upload_id = r.upload_id and d.test_id = r.test_id \
         where u.run_id = $1 and ($2::int2 is null or r.status = $2) \
         order by r.status, n.suite, n.classname, n.name, u.job \
         limit $3",
    )
    .bind(run_id)
    .bind(status.map(TestStatus::code))
    .bind(limit + 1)
    .try_map(|row: PgRow| {
        let status: i16 = row.try_get(6)?;
        let ms: Option<i32> = row.try_get(8)?;
        Ok(RunTestCase {
            test_id: row.try_get(0)?,
            suite: row.try_get(1)?,
            classname: row.try_get(2)?,
            name: row.try_get(3)?,
            file: row.try_get(4)?,
            job: row.try_get(5)?,
            status: TestStatus::from_code(status).unwrap_or(TestStatus::Passed),
            attempts: row.try_get(7)?,
            duration_seconds: ms.map(|ms| f64::from(ms) / 1000.0),
            started_at: row.try_get(9)?,
            message: row.try_get(10)?,
            output: row.try_get(11)?,
        })
    })
    .fetch_all(pool)
    .await?;
    let truncated = cases.len() as i64 > limit;
    cases.truncate(limit as usize);
    Ok(Some(RunTests {
        summary,
        reports,
        cases,
        truncated,
    }))
}
