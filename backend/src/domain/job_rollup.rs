//! What a finished job adds to the job rollups and the runner pools' busy time, GitHub's billing
//! rule, and how a window is tiled by hour, day and week rows.
//!
//! The folder ([`crate::fold`]) stores each job's [`JobCount`] with the job and moves rollups by
//! `count(new) - count(old)`, so they stay exact under replays, re-runs and out-of-order events.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::histogram::bucket_of;
use super::rollup::{ceil_hour, hour_of};
use super::run::RunStatus;

/// The separator of a label set's labels in its one-text form (no label contains it: labels are
/// split on it when normalised).
pub const LABEL_SEPARATOR: char = ',';

/// A job's runner labels as a label set: split on commas, trimmed, lower-cased, empty ones
/// dropped, without duplicates, sorted.
pub fn normalize_labels(labels: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = labels
        .into_iter()
        .flat_map(|l| {
            l.split(LABEL_SEPARATOR)
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A normalised label set as stored in rollups (`"linux,self-hosted"`; `""` for none).
pub fn label_key(labels: &[String]) -> String {
    labels.join(&LABEL_SEPARATOR.to_string())
}

/// The labels of a stored label set.
pub fn labels_of(key: &str) -> Vec<String> {
    key.split(LABEL_SEPARATOR)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What is known of a stored job when it is counted.
#[derive(Debug, Clone)]
pub struct JobFacts {
    pub provider: String,
    pub repo: String,
    pub workflow: String,
    pub name: String,
    pub labels: Vec<String>,
    pub runner_group: Option<String>,
    pub status: RunStatus,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the job was first recorded: its time when its events carry none.
    pub created_at: DateTime<Utc>,
}

/// What one finished job adds to the rollups: stored with the job (`run_jobs.counted`) so that a
/// later change subtracts exactly what was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCount {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    /// The label set (see [`label_key`]).
    pub labels: String,
    /// The hour the job is charted in: of its start, else of its queueing, else of its record.
    pub hour: DateTime<Utc>,
    pub status: RunStatus,
    pub duration_ms: Option<i64>,
    pub queue_ms: Option<i64>,
    pub billable_ms: i64,
    pub priced_ms: i64,
    /// The span it ran, for the pool's busy time.
    pub busy: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The longest span counted as busy: a job reported running for longer is cut (its runner was
/// surely gone long before).
pub const MAX_BUSY: TimeDelta = TimeDelta::days(3);

fn millis(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    let (from, to) = (from?, to?);
    (to >= from).then(|| (to - from).num_milliseconds())
}

/// GitHub's multiplier for a hosted runner's operating system, `None` for a self-hosted one.
/// Hosted runners are those of the `GitHub Actions` runner group, or — when the event names no
/// group — those asked for by a hosted image label (`ubuntu-*`, `windows-*`, `macos-*`) without
/// `self-hosted`.
pub fn github_multiplier(labels: &[String], runner_group: Option<&str>) -> Option<i64> {
    let self_hosted = labels.iter().any(|l| l == "self-hosted");
    let image = |prefix: &str| labels.iter().any(|l| l.starts_with(prefix));
    let hosted = match runner_group {
        Some(g) => g.eq_ignore_ascii_case("GitHub Actions"),
        None => !self_hosted && (image("ubuntu") || image("windows") || image("macos")),
    };
    hosted.then(|| {
        if image("macos") {
            10
        } else if image("windows") {
            2
        } else {
            1
        }
    })
}

/// `(billable, priced)` milliseconds of a job that ran `ms`: on GitHub each job is rounded up
/// to a whole minute, and a hosted runner's minutes are multiplied by its OS's factor (prices
/// per label apply to the minutes before that factor); elsewhere, the wall time.
pub fn billing(provider: &str, labels: &[String], runner_group: Option<&str>, ms: i64) -> (i64, i64) {
    if provider != "github" {
        return (ms, ms);
    }
    let rounded = (ms.max(0) + 59_999) / 60_000 * 60_000;
    (
        rounded * github_multiplier(labels, runner_group).unwrap_or(1),
        rounded,
    )
}

/// What a job counts: nothing until it is finished.
pub fn count(job: &JobFacts) -> Option<JobCount> {
    if !job.status.is_terminal() {
        return None;
    }
    let at = job.started_at.or(job.queued_at).unwrap_or(job.created_at);
    let ran = job.status != RunStatus::Skipped;
    let duration_ms = millis(job.started_at, job.finished_at).filter(|_| ran);
    let (billable_ms, priced_ms) = billing(
        &job.provider,
        &job.labels,
        job.runner_group.as_deref(),
        duration_ms.unwrap_or(0),
    );
    Some(JobCount {
        repo: job.repo.clone(),
        workflow: job.workflow.clone(),
        job: job.name.clone(),
        labels: label_key(&job.labels),
        hour: hour_of(at),
        status: job.status,
        duration_ms,
        queue_ms: millis(job.queued_at, job.started_at).filter(|_| ran),
        billable_ms,
        priced_ms,
        busy: match (job.started_at, job.finished_at) {
            (Some(s), Some(f)) if f > s && ran => Some((s, f.min(s + MAX_BUSY))),
            _ => None,
        },
    })
}

/// The rows a count is added to (see the `job_rollups` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(i16)]
pub enum JobScope {
    Job = 0,
    Labels = 1,
    RepoLabels = 2,
    WorkflowLabels = 3,
}

impl JobScope {
    pub const ALL: [JobScope; 4] = [
        JobScope::Job,
        JobScope::Labels,
        JobScope::RepoLabels,
        JobScope::WorkflowLabels,
    ];
}

/// Rollup row grains. Weeks start on Monday, days at midnight, both UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
pub enum Grain {
    Hour = 0,
    Day = 1,
    Week = 2,
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Hour, Grain::Day, Grain::Week];

    pub fn start_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Grain::Hour => hour_of(t),
            Grain::Day => t.duration_trunc(TimeDelta::days(1)).unwrap_or(t),
            Grain::Week => {
                let day = Grain::Day.start_of(t);
                day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
            }
        }
    }

    pub fn step(self) -> TimeDelta {
        match self {
            Grain::Hour => TimeDelta::hours(1),
            Grain::Day => TimeDelta::days(1),
            Grain::Week => TimeDelta::weeks(1),
        }
    }
}

/// Identity of one job rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub grain: Grain,
    pub bucket: DateTime<Utc>,
    pub scope: JobScope,
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub labels: String,
}

/// Additive counters of a job rollup row; histograms are sparse (bucket → count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounters {
    pub jobs: i64,
    pub failures: i64,
    pub cancelled: i64,
    pub skipped: i64,
    pub duration_count: i64,
    pub duration_ms: i64,
    pub queue_count: i64,
    pub queue_ms: i64,
    pub billable_ms: i64,
    pub priced_ms: i64,
    pub duration_hist: BTreeMap<i16, i64>,
    pub queue_hist: BTreeMap<i16, i64>,
}

fn add_hist(into: &mut BTreeMap<i16, i64>, from: &BTreeMap<i16, i64>, sign: i64) {
    for (&b, &n) in from {
        let v = into.entry(b).or_default();
        *v += sign * n;
        if *v == 0 {
            into.remove(&b);
        }
    }
}

impl JobCounters {
    pub fn of(c: &JobCount) -> Self {
        let mut out = JobCounters {
            jobs: 1,
            failures: i64::from(c.status == RunStatus::Failure),
            cancelled: i64::from(c.status == RunStatus::Cancelled),
            skipped: i64::from(c.status == RunStatus::Skipped),
            billable_ms: c.billable_ms,
            priced_ms: c.priced_ms,
            ..Default::default()
        };
        if let Some(ms) = c.duration_ms {
            out.duration_count = 1;
            out.duration_ms = ms;
            out.duration_hist.insert(bucket_of(ms as f64 / 1000.0) as i16, 1);
        }
        if let Some(ms) = c.queue_ms {
            out.queue_count = 1;
            out.queue_ms = ms;
            out.queue_hist.insert(bucket_of(ms as f64 / 1000.0) as i16, 1);
        }
        out
    }

    pub fn add(&mut self, o: &JobCounters, sign: i64) {
        self.jobs += sign * o.jobs;
        self.failures += sign * o.failures;
        self.cancelled += sign * o.cancelled;
        self.skipped += sign * o.skipped;
        self.duration_count += sign * o.duration_count;
        self.duration_ms += sign * o.duration_ms;
        self.queue_count += sign * o.queue_count;
        self.queue_ms += sign * o.queue_ms;
        self.billable_ms += sign * o.billable_ms;
        self.priced_ms += sign * o.priced_ms;
        add_hist(&mut self.duration_hist, &o.duration_hist, sign);
        add_hist(&mut self.queue_hist, &o.queue_hist, sign);
    }

    pub fn is_zero(&self) -> bool {
        *self == JobCounters::default()
    }

    /// A sparse histogram as stored: `[bucket, count, bucket, count, …]`.
    pub fn encode(hist: &BTreeMap<i16, i64>) -> Vec<i32> {
        hist.iter()
            .flat_map(|(&b, &n)| [i32::from(b), n as i32])
            .collect()
    }

    pub fn decode(stored: &[i32]) -> BTreeMap<i16, i64> {
        stored
            .chunks_exact(2)
            .filter(|p| p[1] != 0)
            .map(|p| (p[0] as i16, i64::from(p[1])))
            .collect()
    }

    /// A dense histogram for [`super::histogram::quantile`].
    pub fn dense(hist: &BTreeMap<i16, i64>) -> Vec<i64> {
        let mut out = vec![0; super::histogram::BUCKETS];
        for (&b, &n) in hist {
            if let Some(slot) = out.get_mut(b as usize) {
                *slot += n;
            }
        }
        out
    }
}

/// The rollup rows (every grain and scope) a count is added to.
pub fn rows(c: &JobCount) -> Vec<JobKey> {
    let mut out = Vec::with_capacity(Grain::ALL.len() * JobScope::ALL.len());
    for grain in Grain::ALL {
        for scope in JobScope::ALL {
            let (repo, workflow, job) = match scope {
                JobScope::Job => (c.repo.as_str(), c.workflow.as_str(), c.job.as_str()),
                JobScope::Labels => ("", "", ""),
                JobScope::RepoLabels => (c.repo.as_str(), "", ""),
                JobScope::WorkflowLabels => (c.repo.as_str(), c.workflow.as_str(), ""),
            };
            out.push(JobKey {
                grain,
                bucket: grain.start_of(c.hour),
                scope,
                repo: repo.to_owned(),
                workflow: workflow.to_owned(),
                job: job.to_owned(),
                labels: c.labels.clone(),
            });
        }
    }
    out
}

/// The busy milliseconds a span adds to each minute it overlaps.
pub fn busy_minutes(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, i64)> {
    let mut out = Vec::new();
    let mut minute = from.duration_trunc(TimeDelta::minutes(1)).unwrap_or(from);
    while minute < to {
        let next = minute + TimeDelta::minutes(1);
        let ms = (to.min(next) - from.max(minute)).num_milliseconds();
        if ms > 0 {
            out.push((minute, ms));
        }
        minute = next;
    }
    out
}

/// The rollup rows that tile `[from, to)`, fewest first: weeks, then days, then hours. An hour
/// row belongs to the range its start falls in, so ranges cut at a half hour (a day in
/// Asia/Kolkata) share no row. When `open` (the window ends now, and nothing is charted later)
/// the last tile may reach past `to`.
pub fn tiles(from: DateTime<Utc>, to: DateTime<Utc>, open: bool) -> Vec<(Grain, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut t = ceil_hour(from);
    while t < to {
        let grain = [Grain::Week, Grain::Day, Grain::Hour]
            .into_iter()
            .find(|g| g.start_of(t) == t && (open || t + g.step() <= to))
            .unwrap_or(Grain::Hour);
        out.push((grain, t));
        t += grain.step();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, s).unwrap()
    }

    fn facts(provider: &str, labels: &[&str], group: Option<&str>) -> JobFacts {
        JobFacts {
            provider: provider.into(),
            repo: "org/a".into(),
            workflow: "ci".into(),
            name: "test".into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            runner_group: group.map(str::to_owned),
            status: RunStatus::Success,
            queued_at: Some(at(2, 9, 58, 0)),
            started_at: Some(at(2, 10, 0, 0)),
            finished_at: Some(at(2, 10, 2, 1)),
            created_at: at(2, 9, 58, 0),
        }
    }

    #[test]
    fn labels_are_a_sorted_set() {
        let l = normalize_labels([
            "Self-Hosted ".into(),
            "gpu".into(),
            "linux,GPU".into(),
            " ".into(),
        ]);
        assert_eq!(l, ["gpu", "linux", "self-hosted"]);
        assert_eq!(label_key(&l), "gpu,linux,self-hosted");
        assert_eq!(labels_of(&label_key(&l)), l);
        assert!(labels_of("").is_empty());
    }

    #[test]
    fn github_rounds_each_job_up_and_multiplies_hosted_minutes() {
        // 2 min 1 s → 3 minutes.
        let c = count(&facts("github", &["ubuntu-latest"], None)).unwrap();
        assert_eq!((c.billable_ms, c.priced_ms), (180_000, 180_000));
        let c = count(&facts("github", &["macos-14"], Some("GitHub Actions"))).unwrap();
        assert_eq!((c.billable_ms, c.priced_ms), (1_800_000, 180_000));
        let c = count(&facts("github", &["windows-latest"], None)).unwrap();
        assert_eq!(c.billable_ms, 360_000);
        let c = count(&facts("github", &["macos-14", "self-hosted"], None)).unwrap();
        assert_eq!(c.billable_ms, 180_000, "self-hosted: rounded, no multiplier");
        let c = count(&facts("gitlab", &["docker"], None)).unwrap();
        assert_eq!(
            (c.billable_ms, c.priced_ms),
            (121_000, 121_000),
            "wall time elsewhere"
        );
    }

    #[test]
    fn only_finished_jobs_count_and_skipped_ones_take_no_time() {
        let mut f = facts("github", &[], None);
        f.status = RunStatus::Running;
        assert!(count(&f).is_none());
        f.status = RunStatus::Skipped;
        let c = count(&f).unwrap();
        assert_eq!(
            (c.duration_ms, c.queue_ms, c.billable_ms, c.busy),
            (None, None, 0, None)
        );
        f.status = RunStatus::Failure;
        let c = count(&f).unwrap();
        assert_eq!(c.queue_ms, Some(120_000));
        assert_eq!(c.hour, at(2, 10, 0, 0));
        let counters = JobCounters::of(&c);
        assert_eq!((counters.jobs, counters.failures), (1, 1));
    }

    #[test]
    fn counters_cancel_out() {
        let c = JobCounters::of(&count(&facts("github", &["x"], None)).unwrap());
        let mut sum = c.clone();
        sum.add(&c, -1);
        assert!(sum.is_zero());
        assert_eq!(
            JobCounters::decode(&JobCounters::encode(&c.duration_hist)),
            c.duration_hist
        );
    }

    #[test]
    fn busy_time_is_split_by_minute() {
        let b = busy_minutes(at(2, 10, 0, 30), at(2, 10, 2, 15));
        assert_eq!(
            b,
            vec![
                (at(2, 10, 0, 0), 30_000),
                (at(2, 10, 1, 0), 60_000),
                (at(2, 10, 2, 0), 15_000)
            ]
        );
        assert!(busy_minutes(at(2, 10, 0, 0), at(2, 10, 0, 0)).is_empty());
    }

    #[test]
    fn windows_are_tiled_by_the_fewest_rows() {
        // 2026-03-02 is a Monday.
        let t = tiles(at(1, 22, 0, 0), at(10, 3, 0, 0), false);
        let grains: Vec<Grain> = t.iter().map(|(g, _)| *g).collect();
        let mut expected = vec![Grain::Hour, Grain::Hour, Grain::Week, Grain::Day];
        expected.extend([Grain::Hour; 3]);
        assert_eq!(grains, expected);
        assert_eq!(t[2].1, at(2, 0, 0, 0));
        // Tiles cover the window exactly.
        let covered: TimeDelta = t.iter().map(|(g, _)| g.step()).sum();
        assert_eq!(covered, at(10, 3, 0, 0) - at(1, 22, 0, 0));
        // An open window ends with one coarse tile.
        let open = tiles(at(2, 0, 0, 0), at(4, 5, 0, 0), true);
        assert_eq!(open, vec![(Grain::Week, at(2, 0, 0, 0))]);
        // Ranges cut at a half hour share no hour row.
        let before = tiles(at(2, 10, 0, 0), at(2, 12, 30, 0), false);
        let after = tiles(at(2, 12, 30, 0), at(2, 14, 0, 0), false);
        assert_eq!(before.last(), Some(&(Grain::Hour, at(2, 12, 0, 0))));
        assert_eq!(after.first(), Some(&(Grain::Hour, at(2, 13, 0, 0))));
    }
}
