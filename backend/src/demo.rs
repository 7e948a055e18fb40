//! Demo and benchmark data: a realistic, reproducible run history.
//!
//! Several repos and workflows over N days; a success/failure/cancelled/skipped mix; log-normal
//! durations and queue times; a workflow that got slower; a branch that stayed red for a while;
//! and a few runs still in flight. Each run has its jobs, on GitHub-hosted (`ubuntu-latest`,
//! `macos-14`) and self-hosted runners (`linux,x64`, `deploy`, `gpu`); the `gpu` pool is starved:
//! its jobs wait long, and some are waiting now. The `ci` runs of the last days upload test reports:
//! hundreds of tests per repository, a few of them flaky (a red run that a re-run of the same
//! commit turned green, or a test that passed on retry), and a regression that broke a test for a
//! while.
//!
//! The delivery history (deployments, pushes, incidents) is in [`delivery`].

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use sha2::Digest;
use sqlx::PgPool;

use crate::db::test_results::{Report, Source};
use crate::domain::job_rollup::normalize_labels;
use crate::domain::test_case::{TestCase, TestKey, TestStatus};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};
use crate::{db, writer};

pub mod delivery;

/// Shape of a generated history.
#[derive(Debug, Clone)]
pub struct Spec {
    pub repos: Vec<String>,
    pub workflows: Vec<String>,
    pub days: i64,
    /// Finished runs per repo/workflow per day (on average).
    pub runs_per_day: f64,
    /// Runs left queued or running at the end.
    pub in_flight: usize,
    /// Days (before the end) whose `ci` runs upload test reports; 0 for none.
    pub test_days: i64,
    /// Days of deployments, pushes and incidents ([`delivery`]); 0 for none.
    pub delivery_days: i64,
}

impl Spec {
    /// The `demo` command's history: 5 repos × 4 workflows.
    pub fn demo(days: i64) -> Self {
        Spec {
            repos: [
                "acme/payments",
                "acme/web",
                "acme/api",
                "acme/infra",
                "acme/mobile",
            ]
            .map(String::from)
            .to_vec(),
            workflows: ["ci", "lint", "deploy", "nightly"].map(String::from).to_vec(),
            days,
            runs_per_day: 8.0,
            // Eight, so that a nightly (the starved gpu pool's workflow) is among those running.
            in_flight: 8,
            test_days: 14,
            // The DORA keys compare 30 days with the 30 before, and the Delivery view shows 90.
            delivery_days: 90,
        }
    }

    /// The benchmark's history: `repos` × `workflows` with `total` runs over `days`.
    pub fn bench(repos: usize, workflows: usize, days: i64, total: usize) -> Self {
        Spec {
            repos: (0..repos).map(|i| format!("org/repo-{i:02}")).collect(),
            workflows: (0..workflows).map(|i| format!("workflow-{i}")).collect(),
            days,
            runs_per_day: total as f64 / (repos * workflows) as f64 / days as f64,
            in_flight: 10,
            test_days: 0,
            delivery_days: 0,
        }
    }
}

const BRANCHES: [&str; 6] = ["main", "main", "main", "develop", "feature/login", "release/1.4"];
/// The repo whose `ci` gets slower in the last third of the history.
const SLOWER: &str = "acme/api";
/// The repo whose main stays red for a while.
const RED: &str = "acme/web";

/// Generates the history ending at `now`, oldest first.
pub fn generate(spec: &Spec, seed: u64, now: DateTime<Utc>) -> Vec<RunEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = now - TimeDelta::days(spec.days);
    let span_s = (spec.days * 86_400) as f64;
    let queue: LogNormal<f64> = LogNormal::new(2.5, 1.0).expect("valid distribution");
    let mut events = Vec::new();
    for (ri, repo) in spec.repos.iter().enumerate() {
        for (wi, workflow) in spec.workflows.iter().enumerate() {
            // Each workflow has its own typical duration: from about a minute to half an hour.
            let median_s = 60.0 * (1.0 + ((ri * 7 + wi * 13) % 30) as f64);
            let n = (spec.runs_per_day * spec.days as f64).round() as usize;
            for k in 0..n {
                let offset = rng.gen::<f64>() * span_s;
                let started = start + TimeDelta::milliseconds((offset * 1000.0) as i64);
                let progress = offset / span_s;
                let slower = repo == SLOWER && workflow == "ci" && progress > 0.66;
                let dist = LogNormal::new((median_s * if slower { 1.8 } else { 1.0 }).ln(), 0.35)
                    .expect("valid distribution");
                let duration = dist.sample(&mut rng).min(6.0 * 3600.0);
                let branch = BRANCHES[rng.gen_range(0..BRANCHES.len())];
                let red = repo == RED && branch == "main" && (0.40..0.47).contains(&progress);
                let roll: f64 = rng.gen();
                let status = if red || roll < 0.09 {
                    RunStatus::Failure
                } else if roll < 0.13 {
                    RunStatus::Cancelled
                } else if roll < 0.14 {
                    RunStatus::Skipped
                } else {
                    RunStatus::Success
                };
                let finished = started + TimeDelta::milliseconds((duration * 1000.0) as i64);
                if finished > now {
                    continue;
                }
                let queued =
                    started - TimeDelta::milliseconds((queue.sample(&mut rng).min(1800.0) * 1000.0) as i64);
                events.push(event(
                    repo,
                    workflow,
                    k,
                    branch,
                    status,
                    queued,
                    Some(started),
                    Some(finished),
                    Some(duration),
                ));
            }
        }
    }
    events.sort_by_key(|e| e.started_at);
    for i in 0..spec.in_flight {
        let repo = &spec.repos[i % spec.repos.len()];
        let workflow = &spec.workflows[i % spec.workflows.len()];
        let queued = now - TimeDelta::seconds(rng.gen_range(30..600));
        let (status, started) = if i % 3 == 0 {
            (RunStatus::Queued, None)
        } else {
            (
                RunStatus::Running,
                Some(queued + TimeDelta::seconds(rng.gen_range(1..30))),
            )
        };
        events.push(event(
            repo,
            workflow,
            1_000_000 + i,
            "main",
            status,
            queued,
            started,
            None,
            None,
        ));
    }
    events
}

#[allow(clippy::too_many_arguments)]
fn event(
    repo: &str,
    workflow: &str,
    k: usize,
    branch: &str,
    status: RunStatus,
    queued: DateTime<Utc>,
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    duration: Option<f64>,
) -> RunEvent {
    RunEvent {
        id: format!("demo-{repo}-{workflow}-{k}"),
        provider: Provider::Github.as_str().into(),
        repo: repo.to_owned(),
        workflow: workflow.to_owned(),
        branch: Some(branch.to_owned()),
        commit_sha: Some({
            // 40 hex digits that differ from the first (short SHAs show the first 7).
            let h = (k as u128 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
            format!("{h:032x}{:08x}", (h >> 96) as u32 ^ k as u32)
        }),
        status,
        attempt: Some(1),
        run_key: None,
        duration_seconds: duration.map(|d| (d * 10.0).round() / 10.0),
        queued_at: Some(queued),
        started_at: started,
        finished_at: finished,
        triggered_by: Some(if workflow == "nightly" { "schedule" } else { "push" }.to_owned()),
        // example.com: the demo's links must not lead to somebody's real project.
        url: Some(format!("https://ci.example.com/{repo}/{workflow}/{k}")),
        metadata: serde_json::json!({"runner": "ubuntu-latest", "demo": true}),
    }
}

/// One job of a workflow's plan: it runs after the first job (or is the first), on `labels`,
/// for `share` of the time left.
struct PlannedJob {
    name: &'static str,
    labels: &'static str,
    share: f64,
}

const fn planned(name: &'static str, labels: &'static str, share: f64) -> PlannedJob {
    PlannedJob { name, labels, share }
}

/// The jobs of a workflow: the first, then the others in parallel.
fn plan(workflow: &str) -> &'static [PlannedJob] {
    const CI: &[PlannedJob] = &[
        planned("build", "ubuntu-latest", 0.3),
        planned("test (linux)", "ubuntu-latest", 0.9),
        planned("test (macos)", "macos-14", 1.0),
        planned("integration", "self-hosted,linux,x64", 0.7),
        planned("docs", "ubuntu-latest", 0.2),
    ];
    const LINT: &[PlannedJob] = &[planned("lint", "ubuntu-latest", 1.0)];
    const DEPLOY: &[PlannedJob] = &[
        planned("package", "ubuntu-latest", 0.4),
        planned("deploy", "self-hosted,linux,deploy", 1.0),
    ];
    const NIGHTLY: &[PlannedJob] = &[
        planned("build", "ubuntu-latest", 0.2),
        planned("train", "self-hosted,linux,gpu", 1.0),
        planned("benchmark", "self-hosted,linux,gpu", 0.6),
    ];
    match workflow {
        "lint" => LINT,
        "deploy" => DEPLOY,
        "nightly" => NIGHTLY,
        _ => CI,
    }
}

/// Whether a label set is the starved pool.
fn starved(labels: &str) -> bool {
    labels.contains("gpu")
}

/// The jobs of the generated runs: finished runs get finished jobs laid out within the run (the
/// first job, then the others in parallel, each after its wait for a runner); a failed or
/// cancelled run ends with one failed or cancelled job; runs in flight have jobs queued or running.
pub fn jobs(runs: &[RunEvent], seed: u64, now: DateTime<Utc>) -> Vec<JobEvent> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6a6f_6273);
    let mut out = Vec::new();
    for run in runs {
        let plan = plan(&run.workflow);
        let job = |i: usize, status, queued, started, finished| JobEvent {
            run_id: run.id.clone(),
            id: format!("{}-{i}", run.id),
            provider: run.provider.clone(),
            name: plan[i].name.to_owned(),
            stage: None,
            status,
            queued_at: Some(queued),
            started_at: started,
            finished_at: finished,
            runner_name: started.map(|_| format!("{}-{}", plan[i].labels.replace(',', "-"), i % 3)),
            runner_group: None,
            labels: normalize_labels([plan[i].labels.to_owned()]),
            steps: Vec::new(),
            url: run.url.as_ref().map(|u| format!("{u}/job/{i}")),
            failure_reason: None,
        };
        let Some(started) = run.started_at else {
            // Queued: its first job waits.
            out.push(job(
                0,
                RunStatus::Queued,
                run.queued_at.unwrap_or(now),
                None,
                None,
            ));
            continue;
        };
        let Some(finished) = run.finished_at else {
            // Running: its first job is done, the others wait or run (the starved pool waits).
            let first_end = started + (now - started) / 3;
            out.push(job(
                0,
                RunStatus::Success,
                started,
                Some(started),
                Some(first_end),
            ));
            for (i, p) in plan.iter().enumerate().skip(1) {
                if starved(p.labels) {
                    let queued = now - TimeDelta::seconds(rng.gen_range(600..2400));
                    out.push(job(i, RunStatus::Queued, queued, None, None));
                } else {
                    out.push(job(i, RunStatus::Running, first_end, Some(first_end), None));
                }
            }
            continue;
        };
        if run.status == RunStatus::Skipped {
            continue;
        }
        let span = (finished - started).num_milliseconds().max(1000) as f64;
        let first = span * plan[0].share.min(0.99);
        let first_end = started + TimeDelta::milliseconds(first as i64);
        out.push(job(
            0,
            RunStatus::Success,
            started,
            Some(started),
            Some(first_end),
        ));
        let rest = span - first;
        for (i, p) in plan.iter().enumerate().skip(1) {
            let wait = rest
                * if starved(p.labels) {
                    rng.gen_range(0.3..0.6)
                } else {
                    rng.gen_range(0.0..0.08)
                };
            let start = first_end + TimeDelta::milliseconds(wait as i64);
            let end =
                start + TimeDelta::milliseconds(((rest - wait) * p.share * rng.gen_range(0.7..1.0)) as i64);
            let last = i + 1 == plan.len();
            let status = match run.status {
                RunStatus::Failure if last => RunStatus::Failure,
                RunStatus::Cancelled if last => RunStatus::Cancelled,
                _ => RunStatus::Success,
            };
            out.push(job(i, status, first_end, Some(start), Some(end.min(finished))));
        }
    }
    out
}

/// Tests per repository in the demo's reports.
const TESTS: usize = 420;
/// Of them, the flaky ones (the first few) and the one a regression broke for a while.
const FLAKY: usize = 3;
const BROKEN: usize = 17;

/// The demo test of index `t` in a repository.
fn test_key(repo: &str, t: usize) -> TestKey {
    let short = repo.rsplit('/').next().unwrap_or(repo);
    let area = [
        "checkout", "auth", "billing", "search", "profile", "orders", "api",
    ][t % 7];
    TestKey {
        suite: format!("{short}.{area}"),
        classname: format!("tests.{area}.test_{area}_{}", t / 30),
        name: format!(
            "test_{area}_{}_{t:03}",
            [
                "handles_empty_input",
                "retries_on_timeout",
                "renders",
                "rejects_bad_token",
                "rounds_totals"
            ][t % 5]
        ),
        file: format!("tests/{area}/test_{area}_{}.py", t / 30),
    }
}

/// The test reports of the `ci` runs that finished in the last `spec.test_days` days, and the
/// re-runs (attempt 2, same commit, green) of the runs a flaky test made red.
pub fn test_reports(
    spec: &Spec,
    runs: &[RunEvent],
    seed: u64,
    now: DateTime<Utc>,
) -> (Vec<RunEvent>, Vec<(String, Vec<TestCase>)>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7e57);
    let since = now - TimeDelta::days(spec.test_days);
    let (mut reruns, mut reports) = (Vec::new(), Vec::new());
    for run in runs
        .iter()
        .filter(|r| r.workflow == "ci" && r.started_at.is_some_and(|s| s >= since))
    {
        if !matches!(run.status, RunStatus::Success | RunStatus::Failure) {
            continue;
        }
        let progress =
            (run.started_at.unwrap_or(now) - since).num_seconds() as f64 / (spec.test_days * 86_400) as f64;
        // A red run: a flaky test (fixed by a re-run) or the broken one while it is broken.
        let broken = (0.3..0.45).contains(&progress);
        let flaky_red = run.status == RunStatus::Failure && !broken && rng.gen_bool(0.6);
        let culprit = if flaky_red {
            rng.gen_range(0..FLAKY)
        } else {
            BROKEN
        };
        let case = |t: usize, status: TestStatus, attempts: u32, rng: &mut StdRng| {
            TestCase {
            key: test_key(&run.repo, t),
            status,
            attempts,
            duration_seconds: Some((0.02 + (t % 13) as f64 * 0.15) * rng.gen_range(0.8..1.25)),
            started_at: None,
            message: matches!(status, TestStatus::Failed | TestStatus::Flaky).then(|| {
                if t < FLAKY { "TimeoutError: the page did not load within 5000 ms" } else { "AssertionError: assert 41.99 == 42.0" }.to_owned()
            }),
            output: matches!(status, TestStatus::Failed | TestStatus::Flaky).then(|| {
                format!("Traceback (most recent call last):\n  File \"tests/{}.py\", line {}, in test\n    assert …\n", t, 10 + t % 90)
            }),
        }
        };
        let cases: Vec<TestCase> = (0..TESTS)
            .map(|t| {
                let status = if run.status == RunStatus::Failure && (t == culprit || (broken && t == BROKEN))
                {
                    TestStatus::Failed
                } else if t < FLAKY && rng.gen_bool(0.05) {
                    TestStatus::Flaky
                } else if t % 97 == 5 {
                    TestStatus::Skipped
                } else {
                    TestStatus::Passed
                };
                let attempts = if status == TestStatus::Flaky { 2 } else { 1 };
                case(t, status, attempts, &mut rng)
            })
            .collect();
        reports.push((run.id.clone(), cases));
        if flaky_red {
            if let (Some(finished), Some(duration)) = (run.finished_at, run.duration_seconds) {
                let started = finished + TimeDelta::seconds(rng.gen_range(60..600));
                let end = started + TimeDelta::milliseconds((duration * 1000.0) as i64);
                if end <= now {
                    let mut rerun = run.clone();
                    rerun.id = format!("{}:2", run.id);
                    rerun.attempt = Some(2);
                    rerun.run_key = Some(run.id.clone());
                    rerun.status = RunStatus::Success;
                    rerun.queued_at = Some(started);
                    rerun.started_at = Some(started);
                    rerun.finished_at = Some(end);
                    let passing = (0..TESTS)
                        .map(|t| {
                            case(
                                t,
                                if t % 97 == 5 {
                                    TestStatus::Skipped
                                } else {
                                    TestStatus::Passed
                                },
                                1,
                                &mut rng,
                            )
                        })
                        .collect();
                    reports.push((rerun.id.clone(), passing));
                    reruns.push(rerun);
                }
            }
        }
    }
    (reruns, reports)
}

/// What [`load`] wrote, and how long each phase took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    pub runs: usize,
    pub jobs: usize,
    /// Test reports, and test results in them.
    pub reports: usize,
    pub test_results: usize,
    /// Deployment statuses, pushes and incidents ([`delivery::load`]).
    pub delivery: delivery::Written,
    pub runs_secs: f64,
    pub jobs_secs: f64,
    pub fold_secs: f64,
}

/// Writes the generated history through the normal write paths (runs and rollups, 1,000 per
/// commit; then their jobs, 2,000 per statement, folded into the job rollups; then test reports,
/// and the delivery history).
pub async fn load(pool: &PgPool, spec: &Spec, seed: u64, now: DateTime<Utc>) -> anyhow::Result<Loaded> {
    let mut events = generate(spec, seed, now);
    let jobs = jobs(&events, seed, now);
    let (reruns, reports) = test_reports(spec, &events, seed, now);
    events.extend(reruns);
    let mut loaded = Loaded {
        runs: events.len(),
        jobs: jobs.len(),
        reports: reports.len(),
        test_results: reports.iter().map(|(_, cases)| cases.len()).sum(),
        ..Loaded::default()
    };
    let t = std::time::Instant::now();
    let mut conn = pool.acquire().await?;
    for chunk in events.chunks(1000) {
        writer::write_batch(&mut conn, chunk, Utc::now()).await?;
    }
    drop(conn);
    db::rollups::fold_all(pool).await?;
    loaded.runs_secs = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    for chunk in jobs.chunks(2000) {
        db::jobs::upsert(&mut *pool.acquire().await?, chunk.to_vec()).await?;
    }
    loaded.jobs_secs = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    while crate::fold::drain(pool).await? > 0 {}
    loaded.fold_secs = t.elapsed().as_secs_f64();
    for (run_id, cases) in &reports {
        let mut tx = pool.begin().await?;
        let report = Report {
            run_id,
            job: "test",
            digest: sha2::Sha256::digest(run_id.as_bytes()).into(),
            source: Source::Junit,
            cases,
        };
        db::test_results::store(&mut tx, report).await?;
        tx.commit().await?;
    }
    if spec.delivery_days > 0 {
        loaded.delivery = delivery::load(pool, spec.delivery_days, seed, now).await?;
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let now = Utc::now();
        let a = generate(&Spec::demo(3), 7, now);
        let b = generate(&Spec::demo(3), 7, now);
        assert_eq!(a, b);
        assert!(a.iter().any(|e| e.status == RunStatus::Running));
        assert!(a.iter().any(|e| e.status == RunStatus::Failure));
        assert!(a.iter().all(|e| e.finished_at.is_none_or(|f| f <= now)));
    }

    #[test]
    fn runs_have_jobs_within_them_and_the_gpu_pool_waits() {
        let now = Utc::now();
        let runs = generate(&Spec::demo(3), 7, now);
        let jobs = jobs(&runs, 7, now);
        assert_eq!(jobs, super::jobs(&runs, 7, now), "reproducible");
        for j in &jobs {
            let run = runs.iter().find(|r| r.id == j.run_id).unwrap();
            if let (Some(rs), Some(rf), Some(js), Some(jf)) =
                (run.started_at, run.finished_at, j.started_at, j.finished_at)
            {
                assert!(rs <= js && js <= jf && jf <= rf, "{j:?} outside {run:?}");
            }
        }
        let gpu_waiting = jobs
            .iter()
            .filter(|j| j.status == RunStatus::Queued && j.labels.contains(&"gpu".to_owned()))
            .count();
        assert!(gpu_waiting > 0, "the starved pool has jobs waiting now");
        for labels in ["macos-14", "ubuntu-latest", "deploy"] {
            assert!(
                jobs.iter().any(|j| j.labels.iter().any(|l| l == labels)),
                "{labels}"
            );
        }
    }

    #[test]
    fn flaky_tests_turn_red_runs_green_on_re_run() {
        let now = Utc::now();
        let spec = Spec::demo(20);
        let runs = generate(&spec, 7, now);
        let (reruns, reports) = test_reports(&spec, &runs, 7, now);
        assert!(reports.len() > 100, "{}", reports.len());
        assert!(!reruns.is_empty());
        for rerun in &reruns {
            let first = runs
                .iter()
                .find(|r| Some(&r.id) == rerun.run_key.as_ref())
                .unwrap();
            assert_eq!(
                (first.status, rerun.status),
                (RunStatus::Failure, RunStatus::Success)
            );
            assert_eq!(first.commit_sha, rerun.commit_sha);
            let red = &reports.iter().find(|(id, _)| id == &first.id).unwrap().1;
            let flaky: Vec<TestKey> = (0..FLAKY).map(|t| test_key(&first.repo, t)).collect();
            assert!(
                red.iter()
                    .any(|c| c.status == TestStatus::Failed && flaky.contains(&c.key)),
                "{}",
                first.id
            );
        }
        // Every red run has a failing test, no green one does.
        for (id, cases) in &reports {
            let run = runs.iter().chain(&reruns).find(|r| &r.id == id).unwrap();
            let failed = cases.iter().any(|c| c.status.is_failure());
            assert_eq!(failed, run.status == RunStatus::Failure, "{id}");
        }
    }

    #[test]
    fn the_bench_spec_has_the_asked_number_of_runs() {
        let spec = Spec::bench(5, 2, 10, 1000);
        let n = generate(&spec, 1, Utc::now()).len();
        assert!((900..=1010).contains(&n), "{n}");
    }
}
