//! Measuring a rule's condition for one group of runs. Groups are enumerated from the known
//! dimensions (`run_dimensions`), so each group is a set of exact (provider, repo, workflow,
//! branch) tuples, and every measure reads runs through the `(repo, workflow, run_at)` index,
//! bounded by a window or a row count — never a scan of all runs.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor_crds::{Condition, GroupKey, Span, Stat};
use sqlx::PgConnection;

use super::jobs;
use super::selector::Matcher;
use super::test_results;
use crate::db;
use crate::db::runs::DimensionRow;
use crate::domain::RunStatus;

/// The runs one incident is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's values, by `groupBy` key (`repo`, `workflow`, `branch`).
    pub labels: BTreeMap<String, String>,
    /// `repo=acme/api,workflow=ci,branch=main`: the incident's identity within its rule.
    pub key: String,
    /// `(provider, repo, workflow, branch)` of every dimension in the group.
    pub tuples: Vec<[String; 4]>,
}

fn label(d: &DimensionRow, k: GroupKey) -> (&'static str, &str) {
    match k {
        GroupKey::Repo => ("repo", &d.repo),
        GroupKey::Workflow => ("workflow", &d.workflow),
        GroupKey::Branch => ("branch", &d.branch),
    }
}

/// The groups a rule watches, from the dimensions it matches.
pub fn groups(matcher: &Matcher, group_by: &[GroupKey], dims: &[DimensionRow]) -> Vec<Group> {
    let mut keys = group_by.to_vec();
    keys.sort();
    keys.dedup();
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    for d in dims
        .iter()
        .filter(|d| matcher.matches(&d.provider, &d.repo, &d.workflow, &d.branch))
    {
        let labels: BTreeMap<String, String> = keys
            .iter()
            .map(|k| label(d, *k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let key = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        out.entry(key.clone())
            .or_insert_with(|| Group {
                labels,
                key,
                tuples: Vec::new(),
            })
            .tuples
            .push([
                d.provider.clone(),
                d.repo.clone(),
                d.workflow.clone(),
                d.branch.clone(),
            ]);
    }
    out.into_values().collect()
}

/// What a condition measured for a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub bad: bool,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// The value and threshold in words, with units.
    pub value_text: Option<String>,
    pub threshold_text: Option<String>,
    /// The runs that make it bad (newest first; for `RunFailed`, the failed run).
    pub runs: Vec<String>,
    /// The newest run considered, and its link.
    pub latest: Option<(String, Option<String>)>,
}

impl Measure {
    /// Nothing wrong (also what a group the rule no longer watches amounts to).
    pub fn good() -> Self {
        Measure {
            bad: false,
            value: None,
            threshold: None,
            value_text: None,
            threshold_text: None,
            runs: Vec::new(),
            latest: None,
        }
    }
}

/// The condition in words, for messages.
pub fn describe(c: &Condition) -> String {
    match c {
        Condition::RunFailed { only_first: false } => "a run failed".into(),
        Condition::RunFailed { only_first: true } => "a run failed after a success".into(),
        Condition::ConsecutiveFailures { threshold } => format!("{threshold} consecutive failures"),
        Condition::FailureRate {
            threshold,
            window,
            min_runs,
        } => {
            format!("failure rate ≥ {threshold}% over {window} (at least {min_runs} runs)")
        }
        Condition::Duration {
            stat,
            threshold,
            window,
        } => {
            format!("{} duration > {threshold} over {window}", stat_name(*stat))
        }
        Condition::DurationRegression {
            percent,
            window,
            baseline_window,
        } => {
            format!("p95 duration over {window} ≥ {percent}% above the {baseline_window} before")
        }
        Condition::QueueTime {
            stat,
            threshold,
            window,
        } => {
            format!("{} queue time > {threshold} over {window}", stat_name(*stat))
        }
        Condition::NoSuccessWithin { window } => format!("no success within {window}"),
        Condition::JobQueueTime {
            labels,
            stat,
            threshold,
            window,
        } => format!(
            "{} queue time of jobs on runners {} > {threshold} over {window}",
            jobs::percentile_name(*stat),
            jobs::labels_text(labels)
        ),
        Condition::QueuedJobs {
            labels,
            threshold,
            for_,
        } => format!(
            "≥ {threshold} jobs queued for runners {} for {for_}",
            jobs::labels_text(labels)
        ),
        Condition::JobFailureRate {
            job,
            threshold,
            window,
            min_runs,
        } => format!(
            "failure rate of job {} ≥ {threshold}% over {window} (at least {min_runs} runs)",
            jobs::job_name(job)
        ),
        Condition::JobDuration {
            job,
            stat,
            threshold,
            window,
        } => format!(
            "{} duration of job {} > {threshold} over {window}",
            jobs::percentile_name(*stat),
            jobs::job_name(job)
        ),
        Condition::FlakyTest { window } => {
            format!("a test flaked (passed and failed on one commit) within {window}")
        }
        Condition::TestFailureRate {
            test,
            test_match,
            threshold,
            window,
            min_runs,
        } => {
            let which = match (test, test_match) {
                (Some(t), _) => format!("test {}", test_results::test_ref_text(t)),
                (None, Some(m)) => format!("a test matching {m}"),
                (None, None) => "a test".to_owned(),
            };
            format!("failure rate of {which} ≥ {threshold}% over {window} (at least {min_runs} runs)")
        }
        Condition::DeploymentFailed { .. } => "a production deployment failed".into(),
        Condition::ChangeFailureRate {
            threshold,
            window,
            min_deployments,
            ..
        } => format!(
            "change failure rate ≥ {threshold}% over {window} (at least {min_deployments} deployments)"
        ),
        Condition::LeadTime {
            stat,
            threshold,
            window,
            ..
        } => format!(
            "{} lead time for changes > {threshold} over {window}",
            jobs::percentile_name(*stat)
        ),
    }
}

fn stat_name(s: Stat) -> &'static str {
    match s {
        Stat::Avg => "average",
        Stat::P95 => "p95",
    }
}

fn seconds_text(s: f64) -> String {
    Span::from_secs(s.round().max(0.0) as u64).to_string()
}

/// A run as the window conditions see it: `(id, status, duration, queue seconds)`.
type WindowRun = (String, RunStatus, Option<f64>, Option<f64>);
/// A run as the latest-run conditions see it: `(id, status, url)`.
type LatestRun = (String, RunStatus, Option<String>);

/// The newest `n` runs of the group that succeeded or failed, newest first: `(id, status, url)`.
async fn latest(pool: &mut PgConnection, g: &Group, n: i64) -> sqlx::Result<Vec<LatestRun>> {
    db::runs::group::latest(pool, &g.tuples, n).await
}

/// The group's finished runs in `[from, to)`: `(id, status, duration, queue seconds)`.
async fn window(
    pool: &mut PgConnection,
    g: &Group,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<WindowRun>> {
    db::runs::group::window(pool, &g.tuples, from, to).await
}

/// The `q` quantile (nearest rank) or the mean of some values.
fn stat(values: &mut [f64], s: Stat) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match s {
        Stat::Avg => values.iter().sum::<f64>() / values.len() as f64,
        Stat::P95 => {
            values.sort_by(f64::total_cmp);
            let rank = ((0.95 * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        }
    })
}

fn since(now: DateTime<Utc>, span: Span) -> DateTime<Utc> {
    now - TimeDelta::seconds(span.as_secs() as i64)
}

/// What measuring reads from besides the evaluation's own connection.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// For the job and runner conditions, which read the job rollups and runner pools as the jobs
    /// and runners views do.
    pub pool: &'a sqlx::PgPool,
    /// Jobs queued for longer are stale: they leave the queued counts (`CICD_STALE_JOB_HOURS`).
    pub stale_after: TimeDelta,
    /// The rule's `match`, for the test conditions, whose groups are tests rather than sets of
    /// dimensions (a flake counts when a run on its commit matches).
    pub matcher: &'a Matcher,
}

/// Measures `condition` for `group` at `now`: reads the runs the condition looks at, then judges
/// them (one function per kind of condition). The job and runner conditions read jobs instead
/// ([`jobs::measure`]), the test conditions test results ([`test_results::measure`]).
pub async fn measure(
    pool: &mut PgConnection,
    sources: Sources<'_>,
    condition: &Condition,
    g: &Group,
    now: DateTime<Utc>,
) -> sqlx::Result<Measure> {
    Ok(match condition {
        Condition::JobQueueTime { .. }
        | Condition::QueuedJobs { .. }
        | Condition::JobFailureRate { .. }
        | Condition::JobDuration { .. } => {
            jobs::measure(sources.pool, condition, now, sources.stale_after).await?
        }
        Condition::FlakyTest { .. } | Condition::TestFailureRate { .. } => {
            test_results::measure(pool, sources.matcher, condition, g, now).await?
        }
        Condition::DeploymentFailed { .. }
        | Condition::ChangeFailureRate { .. }
        | Condition::LeadTime { .. } => super::delivery::measure(sources.pool, condition, g, now).await?,
        Condition::RunFailed { .. } => run_failed(latest(pool, g, 1).await?),
        Condition::ConsecutiveFailures { threshold } => {
            consecutive_failures(latest(pool, g, i64::from(*threshold)).await?, *threshold)
        }
        Condition::FailureRate {
            threshold,
            window: w,
            min_runs,
        } => failure_rate(
            &window(pool, g, since(now, *w), now).await?,
            *threshold,
            *min_runs,
        ),
        Condition::Duration {
            stat: s,
            threshold,
            window: w,
        } => run_time(
            &window(pool, g, since(now, *w), now).await?,
            *s,
            *threshold,
            |r| r.2,
        ),
        Condition::QueueTime {
            stat: s,
            threshold,
            window: w,
        } => run_time(
            &window(pool, g, since(now, *w), now).await?,
            *s,
            *threshold,
            |r| r.3,
        ),
        Condition::DurationRegression {
            percent,
            window: w,
            baseline_window,
        } => {
            let start = since(now, *w);
            let recent = window(pool, g, start, now).await?;
            let baseline = window(pool, g, since(start, *baseline_window), start).await?;
            regression(&recent, &baseline, *percent)
        }
        Condition::NoSuccessWithin { window: w } => {
            let last = db::runs::group::last_success(pool, &g.tuples, since(now, *w)).await?;
            let mut m = no_success_within(last, *w, now);
            m.runs = latest(pool, g, 5).await?.into_iter().map(|r| r.0).collect();
            m
        }
    })
}

/// Bad when the latest run failed.
fn run_failed(runs: Vec<LatestRun>) -> Measure {
    let mut m = Measure::good();
    if let Some((id, status, url)) = runs.into_iter().next() {
        m.bad = status == RunStatus::Failure;
        if m.bad {
            m.runs = vec![id.clone()];
        }
        m.latest = Some((id, url));
    }
    m
}

/// Bad when the latest `threshold` runs all failed.
fn consecutive_failures(runs: Vec<LatestRun>, threshold: u32) -> Measure {
    let streak = runs.iter().take_while(|r| r.1 == RunStatus::Failure).count();
    Measure {
        bad: streak as u32 >= threshold && threshold > 0,
        value: Some(streak as f64),
        threshold: Some(f64::from(threshold)),
        value_text: Some(format!("{streak} failures in a row")),
        threshold_text: Some(format!("{threshold}")),
        runs: runs.iter().take(streak).map(|r| r.0.clone()).collect(),
        latest: runs.into_iter().next().map(|(id, _, url)| (id, url)),
    }
}

/// Bad when at least `threshold` percent of the window's finished runs failed, out of at least
/// `min_runs`.
fn failure_rate(runs: &[WindowRun], threshold: f64, min_runs: u32) -> Measure {
    let mut m = Measure::good();
    let failed: Vec<&String> = runs
        .iter()
        .filter(|r| r.1 == RunStatus::Failure)
        .map(|r| &r.0)
        .collect();
    let counted = runs
        .iter()
        .filter(|r| matches!(r.1, RunStatus::Success | RunStatus::Failure))
        .count();
    if counted > 0 {
        let rate = 100.0 * failed.len() as f64 / counted as f64;
        m.value = Some(rate);
        m.value_text = Some(format!("{rate:.1}% of {counted} runs"));
        m.bad = counted as u32 >= min_runs && rate >= threshold;
    }
    m.threshold = Some(threshold);
    m.threshold_text = Some(format!("{threshold}%"));
    m.runs = failed.into_iter().take(10).cloned().collect();
    m
}

/// Bad when the window's `stat` of a run time (duration or queue time, as `seconds` reads it) is
/// over `threshold`.
fn run_time(runs: &[WindowRun], s: Stat, threshold: Span, seconds: fn(&WindowRun) -> Option<f64>) -> Measure {
    let mut m = Measure::good();
    let mut values: Vec<f64> = runs.iter().filter_map(seconds).collect();
    let limit = threshold.as_secs() as f64;
    if let Some(v) = stat(&mut values, s) {
        m.value = Some(v);
        m.value_text = Some(seconds_text(v));
        m.bad = v > limit;
    }
    m.threshold = Some(limit);
    m.threshold_text = Some(threshold.to_string());
    m.runs = runs.iter().take(10).map(|r| r.0.clone()).collect();
    m
}

/// Bad when the recent p95 duration is at least `percent` above the baseline's.
fn regression(recent: &[WindowRun], baseline: &[WindowRun], percent: f64) -> Measure {
    let mut m = Measure::good();
    let mut r: Vec<f64> = recent.iter().filter_map(|x| x.2).collect();
    let mut b: Vec<f64> = baseline.iter().filter_map(|x| x.2).collect();
    if let (Some(now_p95), Some(base_p95)) = (stat(&mut r, Stat::P95), stat(&mut b, Stat::P95)) {
        if base_p95 > 0.0 {
            let change = 100.0 * (now_p95 - base_p95) / base_p95;
            m.value = Some(change);
            m.value_text = Some(format!(
                "{change:+.0}% (p95 {} vs {})",
                seconds_text(now_p95),
                seconds_text(base_p95)
            ));
            m.bad = change >= percent;
        }
    }
    m.threshold = Some(percent);
    m.threshold_text = Some(format!("+{percent}%"));
    m.runs = recent.iter().take(10).map(|x| x.0.clone()).collect();
    m
}

/// Bad when no run succeeded within the window (`last` is the latest success in it).
fn no_success_within(last: Option<DateTime<Utc>>, w: Span, now: DateTime<Utc>) -> Measure {
    Measure {
        bad: last.is_none(),
        threshold: Some(w.as_secs() as f64),
        threshold_text: Some(w.to_string()),
        value_text: Some(match last {
            Some(t) => format!(
                "last success {} ago",
                seconds_text((now - t).num_seconds() as f64)
            ),
            None => format!("no success in the last {w}"),
        }),
        ..Measure::good()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(p: &str, r: &str, w: &str, b: &str) -> DimensionRow {
        DimensionRow {
            provider: p.into(),
            repo: r.into(),
            workflow: w.into(),
            branch: b.into(),
        }
    }

    #[test]
    fn groups_follow_group_by_and_the_selector() {
        let dims = [
            dim("github", "acme/api", "ci", "main"),
            dim("github", "acme/api", "ci", "dev"),
            dim("github", "acme/web", "ci", "main"),
            dim("gitlab", "acme/api", "deploy", "main"),
        ];
        let m =
            Matcher::new(&serde_json::from_value(serde_json::json!({"workflows": ["ci"]})).unwrap()).unwrap();
        let by_repo = groups(&m, &[GroupKey::Repo], &dims);
        assert_eq!(by_repo.len(), 2);
        assert_eq!(by_repo[0].key, "repo=acme/api");
        assert_eq!(by_repo[0].tuples.len(), 2, "both branches of acme/api ci");
        let all = groups(&m, &[GroupKey::Branch, GroupKey::Repo, GroupKey::Workflow], &dims);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].key, "branch=dev,repo=acme/api,workflow=ci");
        assert_eq!(groups(&m, &[], &dims).len(), 1, "no groupBy: one group");
    }

    #[test]
    fn stats_use_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(stat(&mut v, Stat::P95), Some(95.0));
        assert_eq!(stat(&mut v, Stat::Avg), Some(50.5));
        assert_eq!(stat(&mut [], Stat::P95), None);
    }
}
