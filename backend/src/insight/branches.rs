//! `GET /api/branches/health`: how long branches stay red, and how long they take to turn green.
//!
//! A branch is red while the latest finished run (success or failure) of any of its workflows
//! failed; a red spell runs from the first failure to the run that turns the last failing workflow
//! green. Cancelled and skipped runs say nothing about the code and are left out. The state at the
//! start of the window is read from the runs of the period just before it (as long as the window,
//! at most [`LOOKBACK_DAYS`] days).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::{check_filters, invalid, non_empty, Error, TimeWindow};
use crate::domain::histogram::percentile;

/// How far before the window runs are read to know whether a branch was red when it began.
pub const LOOKBACK_DAYS: i64 = 7;

/// Query parameters of `GET /api/branches/health`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BranchHealthParams {
    /// Start of the window (RFC 3339). Default: 7 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now.
    pub to: Option<DateTime<Utc>>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    /// Only default branches (`true`), or only the others (`false`).
    pub default: Option<bool>,
    /// Most branches listed (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One branch's health over the window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BranchHealth {
    pub repo: String,
    pub branch: String,
    /// The repository's default branch (as its pushes report it; `main` or `master` when no
    /// push was received).
    pub default: bool,
    /// Finished runs (success or failure) in the window.
    pub runs: i64,
    pub failures: i64,
    /// Red spells that ended (turned green) in the window.
    pub recoveries: i64,
    /// Time to green of those spells, from the first failure to the next success.
    pub time_to_green_p50_seconds: Option<f64>,
    pub time_to_green_p95_seconds: Option<f64>,
    /// The share of the window (up to now) the branch was red, from 0 to 1.
    pub red_share: f64,
    /// The longest time it was red without a break, within the window.
    pub longest_red_seconds: Option<f64>,
    /// Red at the end of the window, since this instant.
    pub red_since: Option<DateTime<Utc>>,
}

/// `GET /api/branches/health`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BranchHealthList {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Default branches first, then the longest red.
    pub branches: Vec<BranchHealth>,
}

/// A finished run as branch health reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outcome {
    pub repo: String,
    pub branch: String,
    pub workflow: String,
    pub failed: bool,
    pub at: DateTime<Utc>,
    pub default_branch: Option<String>,
}

fn secs(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// The health of one branch from its outcomes (in time order) over `[from, end)`, where `end` is
/// the window's end or now, whichever is earlier.
pub fn health(outcomes: &[Outcome], from: DateTime<Utc>, end: DateTime<Utc>) -> Option<BranchHealth> {
    let first = outcomes.first()?;
    let mut failing: BTreeMap<&str, bool> = BTreeMap::new();
    let mut red_since: Option<DateTime<Utc>> = None;
    let (mut runs, mut failures) = (0, 0);
    let mut greens = Vec::new();
    let mut red = TimeDelta::zero();
    let mut longest: Option<TimeDelta> = None;
    let mut close = |start: DateTime<Utc>, stop: DateTime<Utc>| {
        let within = stop.min(end) - start.max(from);
        if within > TimeDelta::zero() {
            red += within;
            longest = Some(longest.map_or(within, |l| l.max(within)));
        }
    };
    for o in outcomes {
        if o.at >= from && o.at < end {
            runs += 1;
            failures += i64::from(o.failed);
        }
        failing.insert(&o.workflow, o.failed);
        let now_red = failing.values().any(|&f| f);
        match (red_since, now_red) {
            (None, true) => red_since = Some(o.at),
            (Some(start), false) => {
                close(start, o.at);
                if o.at >= from && o.at < end {
                    greens.push(secs(o.at - start));
                }
                red_since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = red_since {
        close(start, end);
    }
    if runs == 0 && red_since.is_none() {
        return None;
    }
    greens.sort_by(f64::total_cmp);
    let span = secs(end - from);
    Some(BranchHealth {
        repo: first.repo.clone(),
        branch: first.branch.clone(),
        default: match &first.default_branch {
            Some(d) => *d == first.branch,
            None => matches!(first.branch.as_str(), "main" | "master"),
        },
        runs,
        failures,
        recoveries: greens.len() as i64,
        time_to_green_p50_seconds: percentile(&greens, 0.5),
        time_to_green_p95_seconds: percentile(&greens, 0.95),
        red_share: if span > 0.0 {
            (secs(red) / span).min(1.0)
        } else {
            0.0
        },
        longest_red_seconds: longest.map(secs),
        red_since,
    })
}

/// `GET /api/branches/health`.
pub async fn branch_health(
    pool: &PgPool,
    params: &BranchHealthParams,
    now: DateTime<Utc>,
) -> Result<BranchHealthList, Error> {
    check_filters([("repo", &params.repo), ("branch", &params.branch)])?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=crate::domain::limits::MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 500"));
    }
    let window = TimeWindow::parse(params.from, params.to, None, now)?;
    let lookback = (window.to - window.from).min(TimeDelta::days(LOOKBACK_DAYS));
    let outcomes: Vec<Outcome> = sqlx::query_as(
        "select r.repo, r.branch, r.workflow, r.status = 'failure' as failed, \
             coalesce(r.finished_at, r.run_at) as at, p.default_branch \
         from pipeline_runs r left join repositories p on p.repo = r.repo \
         where r.run_at >= $1 and r.run_at < $2 and r.branch is not null \
             and r.status in ('success', 'failure') \
             and ($3::text is null or r.repo = $3) and ($4::text is null or r.branch = $4) \
         order by r.repo, r.branch, at, r.id",
    )
    .bind(window.from - lookback)
    .bind(window.to)
    .bind(non_empty(&params.repo))
    .bind(non_empty(&params.branch))
    .fetch_all(pool)
    .await?;
    let end = window.to.min(now).max(window.from);
    let mut branches: Vec<BranchHealth> = outcomes
        .chunk_by(|a, b| (&a.repo, &a.branch) == (&b.repo, &b.branch))
        .filter_map(|o| health(o, window.from, end))
        .filter(|b| params.default.is_none_or(|d| b.default == d))
        .collect();
    branches.sort_by(|a, b| {
        b.default
            .cmp(&a.default)
            .then(b.red_share.total_cmp(&a.red_share))
            .then(b.runs.cmp(&a.runs))
            .then((&a.repo, &a.branch).cmp(&(&b.repo, &b.branch)))
    });
    branches.truncate(limit as usize);
    Ok(BranchHealthList {
        from: window.from,
        to: window.to,
        branches,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + TimeDelta::hours(h)
    }

    fn o(workflow: &str, failed: bool, h: i64) -> Outcome {
        Outcome {
            repo: "org/api".into(),
            branch: "main".into(),
            workflow: workflow.into(),
            failed,
            at: t(h),
            default_branch: None,
        }
    }

    #[test]
    fn a_branch_is_red_while_any_workflow_last_failed() {
        // Red from 2 (ci fails) through lint failing at 3 and ci green at 4, to lint green at 6:
        // one spell of 4 h. Red again from 10 to the end (12): 2 h. Before the window (from 1),
        // a spell from −2 to 0 does not count.
        let runs = [
            o("ci", true, -2),
            o("ci", false, 0),
            o("ci", true, 2),
            o("lint", true, 3),
            o("ci", false, 4),
            o("lint", false, 6),
            o("ci", true, 10),
        ];
        let h = health(&runs, t(1), t(12)).unwrap();
        assert_eq!((h.runs, h.failures, h.recoveries), (5, 3, 1));
        assert_eq!(h.time_to_green_p50_seconds, Some(4.0 * 3600.0));
        assert_eq!(h.longest_red_seconds, Some(4.0 * 3600.0));
        assert!((h.red_share - 6.0 / 11.0).abs() < 1e-12, "{}", h.red_share);
        assert_eq!(h.red_since, Some(t(10)));
        assert!(h.default, "main, when no push said otherwise");
    }

    #[test]
    fn a_spell_that_began_before_the_window_counts_from_the_window_and_whole_for_time_to_green() {
        let runs = [o("ci", true, -5), o("ci", false, 3)];
        let h = health(&runs, t(0), t(10)).unwrap();
        assert_eq!(h.time_to_green_p50_seconds, Some(8.0 * 3600.0));
        assert_eq!(h.longest_red_seconds, Some(3.0 * 3600.0));
        assert!((h.red_share - 0.3).abs() < 1e-12);
        // Nothing in the window and green throughout: not listed.
        assert_eq!(health(&[o("ci", false, -3)], t(0), t(10)), None);
        // Red throughout, without a run in the window: listed.
        assert_eq!(health(&[o("ci", true, -3)], t(0), t(10)).unwrap().red_share, 1.0);
    }
}
