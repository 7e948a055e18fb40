//! What a run adds to the pre-aggregated rollups. The writer applies `contribution(new) -
//! contribution(old)` in the same transaction as the run write, so rollups stay exact under
//! corrections; dashboard queries read rollups at a scope matching their filters.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::histogram::{bucket_of, BUCKETS};
use super::run::{seconds_between, RunState, RunStatus};

/// Which dimensions a rollup row is keyed by (the others are stored as '').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    All = 0,
    Repo = 1,
    RepoWorkflow = 2,
    Branch = 3,
    Workflow = 4,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::All,
        Scope::Repo,
        Scope::RepoWorkflow,
        Scope::Branch,
        Scope::Workflow,
    ];

    /// The rollup scope that answers exactly this combination of filters, if one exists.
    pub fn for_filters(repo: bool, workflow: bool, branch: bool) -> Option<Scope> {
        match (repo, workflow, branch) {
            (false, false, false) => Some(Scope::All),
            (true, false, false) => Some(Scope::Repo),
            (true, true, false) => Some(Scope::RepoWorkflow),
            (false, false, true) => Some(Scope::Branch),
            (false, true, false) => Some(Scope::Workflow),
            _ => None,
        }
    }
}

/// Identity of one rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    pub scope: Scope,
    pub repo: String,
    pub workflow: String,
    pub branch: String,
    pub bucket: DateTime<Utc>,
    pub status: RunStatus,
}

/// Additive counters of a rollup row (or of a change to one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub runs: i64,
    pub duration: Distribution,
    /// Queue time: started − queued, for runs that have both.
    pub queue: Distribution,
}

/// Count, exact sum (ms) and log-scale histogram of a quantity in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub count: i64,
    pub ms: i64,
    pub hist: Vec<i64>,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            count: 0,
            ms: 0,
            hist: vec![0; BUCKETS],
        }
    }
}

impl Distribution {
    fn single(seconds: Option<f64>) -> Self {
        let mut d = Distribution::default();
        if let Some(s) = seconds {
            d.count = 1;
            d.ms = seconds_to_ms(s);
            d.hist[bucket_of(s)] = 1;
        }
        d
    }

    fn add(&mut self, other: &Distribution, sign: i64) {
        self.count += sign * other.count;
        self.ms += sign * other.ms;
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a += sign * b;
        }
    }

    fn is_zero(&self) -> bool {
        self.count == 0 && self.ms == 0 && self.hist.iter().all(|&n| n == 0)
    }

    /// The mean in seconds; `None` when nothing was counted.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.ms as f64 / 1000.0 / self.count as f64)
    }

    /// The bucket the single counted value falls in (-1 when none): how one run's contribution
    /// is sent to the database.
    pub fn single_bucket(&self) -> i16 {
        self.hist.iter().position(|&n| n != 0).map_or(-1, |i| i as i16)
    }
}

impl Counters {
    /// The counters of one run with an optional duration and queue time.
    pub fn single(duration_seconds: Option<f64>, queue_seconds: Option<f64>) -> Self {
        Counters {
            runs: 1,
            duration: Distribution::single(duration_seconds),
            queue: Distribution::single(queue_seconds),
        }
    }

    pub fn add(&mut self, other: &Counters, sign: i64) {
        self.runs += sign * other.runs;
        self.duration.add(&other.duration, sign);
        self.queue.add(&other.queue, sign);
    }

    pub fn is_zero(&self) -> bool {
        self.runs == 0 && self.duration.is_zero() && self.queue.is_zero()
    }
}

/// Durations are summed in whole milliseconds so that add/subtract cycles stay exact.
pub fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// The hour a run is charted in.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// The first hour boundary at or after `t`.
pub fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let h = hour_of(t);
    if h == t {
        h
    } else {
        h + TimeDelta::hours(1)
    }
}

/// What one stored run adds to the rollups, at its finest key (repository, workflow, branch, hour
/// and status): what the writer queues and the folder spreads over the [`Scope`]s. `None` until
/// the run is finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub repo: String,
    pub workflow: String,
    pub branch: String,
    pub bucket: DateTime<Utc>,
    pub status: RunStatus,
    /// `1` for a run's state now, `-1` for the state it replaced.
    pub sign: i16,
    /// The run's counters (one run, its duration and queue time if any).
    pub counters: Counters,
}

impl Change {
    /// The change of a run: `sign` times its contribution.
    pub fn of(run: &RunState, sign: i16) -> Option<Change> {
        if !run.status.is_terminal() {
            return None;
        }
        Some(Change {
            repo: run.repo.clone(),
            workflow: run.workflow.clone(),
            branch: run.branch.clone().unwrap_or_default(),
            bucket: hour_of(run.run_at()),
            status: run.status,
            sign,
            counters: Counters::single(
                run.duration_seconds,
                seconds_between(run.queued_at, run.started_at),
            ),
        })
    }

    /// The rollup rows the change counts in, one per scope, with the signed counters.
    pub fn spread(&self) -> impl Iterator<Item = (RollupKey, Counters)> + '_ {
        let mut counters = Counters::default();
        counters.add(&self.counters, self.sign.into());
        Scope::ALL.into_iter().map(move |scope| {
            let (repo, workflow, branch) = match scope {
                Scope::All => ("", "", ""),
                Scope::Repo => (self.repo.as_str(), "", ""),
                Scope::RepoWorkflow => (self.repo.as_str(), self.workflow.as_str(), ""),
                Scope::Branch => ("", "", self.branch.as_str()),
                Scope::Workflow => ("", self.workflow.as_str(), ""),
            };
            let key = RollupKey {
                scope,
                repo: repo.to_owned(),
                workflow: workflow.to_owned(),
                branch: branch.to_owned(),
                bucket: self.bucket,
                status: self.status,
            };
            (key, counters.clone())
        })
    }
}

/// The rollup rows one stored run counts in: none until it is finished.
pub fn contribution(run: &RunState) -> Vec<(RollupKey, Counters)> {
    Change::of(run, 1).map_or_else(Vec::new, |c| c.spread().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(status: RunStatus) -> RunState {
        RunState {
            id: "r".into(),
            provider: "generic".into(),
            repo: "org/a".into(),
            workflow: "ci".into(),
            branch: None,
            commit_sha: None,
            status,
            attempt: 1,
            run_key: None,
            duration_seconds: Some(61.5),
            queued_at: None,
            started_at: Some(Utc.with_ymd_and_hms(2025, 1, 1, 10, 59, 59).unwrap()),
            finished_at: None,
            triggered_by: None,
            url: None,
            metadata: serde_json::json!({}),
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn unfinished_runs_count_nowhere() {
        assert!(contribution(&run(RunStatus::Running)).is_empty());
        assert!(contribution(&run(RunStatus::Queued)).is_empty());
    }

    #[test]
    fn a_finished_run_counts_once_per_scope_in_its_start_hour() {
        let rows = contribution(&run(RunStatus::Failure));
        assert_eq!(rows.len(), Scope::ALL.len());
        for (key, c) in &rows {
            assert_eq!(key.bucket, Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap());
            assert_eq!(c.runs, 1);
            assert_eq!(c.duration.ms, 61_500);
            assert_eq!(c.queue.count, 0, "no queue time without queued_at");
        }
        let branch_row = rows.iter().find(|(k, _)| k.scope == Scope::Branch).unwrap();
        assert_eq!(branch_row.0.branch, "");
    }

    #[test]
    fn a_change_of_sign_minus_one_takes_away_what_the_run_added() {
        let r = run(RunStatus::Success);
        let (plus, minus) = (Change::of(&r, 1).unwrap(), Change::of(&r, -1).unwrap());
        assert_eq!(plus.spread().count(), Scope::ALL.len());
        for ((k1, c1), (k2, c2)) in plus.spread().zip(minus.spread()) {
            assert_eq!(k1, k2);
            assert_eq!(c1.runs, 1);
            let mut sum = c1.clone();
            sum.add(&c2, 1);
            assert!(sum.is_zero(), "{k1:?}");
        }
        assert!(Change::of(&run(RunStatus::Running), 1).is_none());
    }

    #[test]
    fn the_planner_has_a_scope_for_single_dimensions_only() {
        assert_eq!(Scope::for_filters(false, false, false), Some(Scope::All));
        assert_eq!(Scope::for_filters(true, true, false), Some(Scope::RepoWorkflow));
        assert_eq!(Scope::for_filters(true, false, true), None);
    }
}
