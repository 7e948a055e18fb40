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
        self.add_scalars(o, sign);
        add_hist(&mut self.duration_hist, &o.duration_hist, sign);
        add_hist(&mut self.queue_hist, &o.queue_hist, sign);
    }

    /// Adds every counter but the histograms.
    pub fn add_scalars(&mut self, o: &JobCounters, sign: i64) {
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
    }

    pub fn is_zero(&self) -> bool {
        *self == JobCounters::default()
    }

    /// A sparse histogram as stored: `[bucket, count, bucket, count, …]`, each a big-endian
    /// 32-bit integer.
    pub fn encode(hist: &BTreeMap<i16, i64>) -> Vec<u8> {
        hist.iter()
            .flat_map(|(&b, &n)| [i32::from(b), n as i32])
            .flat_map(i32::to_be_bytes)
            .collect()
    }

    /// Adds `sign` times every pair of `stored` (one or more encoded histograms one after the
    /// other) into `hist`, dropping buckets that fall to zero.
    pub fn add_encoded(hist: &mut BTreeMap<i16, i64>, stored: &[u8], sign: i64) {
        for pair in stored.chunks_exact(8) {
            let word = |at: usize| i32::from_be_bytes([pair[at], pair[at + 1], pair[at + 2], pair[at + 3]]);
            let n = sign * i64::from(word(4));
            if n != 0 {
                let slot = hist.entry(word(0) as i16).or_default();
                *slot += n;
                if *slot == 0 {
                    hist.remove(&(word(0) as i16));
                }
            }
        }
    }

    pub fn decode(stored: &[u8]) -> BTreeMap<i16, i64> {
        let mut hist = BTreeMap::new();
        Self::add_encoded(&mut hist, stored, 1);
        hist
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

/// A rollup row to read, and whether its counters are added (`1`) or taken away (`-1`).
pub type Tile = (Grain, DateTime<Utc>, i64);

/// The fewest rollup rows whose signed sum is exactly `[from, to)`: whole weeks and days where
/// they fit, and at a ragged edge the shorter of the finer rows up to the boundary or the
/// enclosing coarse row less the finer rows outside the range (a window from 02:00 reads a day
/// less two hours, not 22 hours). An hour row belongs to the range its start falls in, so ranges
/// cut at a half hour (a day in Asia/Kolkata) share no row. When `open` (the window ends now,
/// and nothing is charted later) the last tile may reach past `to`.
pub fn tiles(from: DateTime<Utc>, to: DateTime<Utc>, open: bool) -> Vec<Tile> {
    let (a, b) = (ceil_hour(from), ceil_hour(to));
    if a >= b {
        return Vec::new();
    }
    cover(a, b, open, Grain::Week)
}

fn finer(g: Grain) -> Grain {
    match g {
        Grain::Week => Grain::Day,
        _ => Grain::Hour,
    }
}

fn negated(tiles: Vec<Tile>) -> impl Iterator<Item = Tile> {
    tiles.into_iter().map(|(g, t, sign)| (g, t, -sign))
}

fn shorter(a: Vec<Tile>, b: Vec<Tile>) -> Vec<Tile> {
    if b.len() < a.len() {
        b
    } else {
        a
    }
}

/// `g`'s row at `start`, less the finer rows of `[start, a)` and (unless open) of `[b, end)`.
fn coarse_less(g: Grain, start: DateTime<Utc>, a: DateTime<Utc>, b: DateTime<Utc>, open: bool) -> Vec<Tile> {
    let end = start + g.step();
    let mut out = vec![(g, start, 1)];
    if start < a {
        out.extend(negated(cover(start, a, false, finer(g))));
    }
    if !open && b < end {
        out.extend(negated(cover(b, end, false, finer(g))));
    }
    out
}

/// Signed rows of grain `g` or finer covering the hours `[a, b)` (hour-aligned, `a < b`).
fn cover(a: DateTime<Utc>, b: DateTime<Utc>, open: bool, g: Grain) -> Vec<Tile> {
    if g == Grain::Hour {
        let mut out = Vec::new();
        let mut t = a;
        while t < b {
            out.push((Grain::Hour, t, 1));
            t += Grain::Hour.step();
        }
        return out;
    }
    let f = finer(g);
    let first = g.start_of(a);
    let ca = if first == a { a } else { first + g.step() };
    let fb = g.start_of(b);
    if ca > fb {
        // Inside one row of grain g, touching neither of its ends.
        return shorter(cover(a, b, open, f), coarse_less(g, first, a, b, open));
    }
    let mut out = Vec::new();
    if a < ca {
        out.extend(shorter(
            cover(a, ca, false, f),
            coarse_less(g, first, a, ca, false),
        ));
    }
    let mut t = ca;
    while t < fb {
        out.push((g, t, 1));
        t += g.step();
    }
    if fb < b {
        out.extend(shorter(cover(fb, b, open, f), coarse_less(g, fb, fb, b, open)));
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
        // 2026-03-02 is a Monday. From Sunday 22:00: two hours, a week, a day, three hours.
        let t = tiles(at(1, 22, 0, 0), at(10, 3, 0, 0), false);
        let grains: Vec<Grain> = t.iter().map(|(g, _, _)| *g).collect();
        let mut expected = vec![Grain::Hour, Grain::Hour, Grain::Week, Grain::Day];
        expected.extend([Grain::Hour; 3]);
        assert_eq!(grains, expected);
        assert_eq!(t[2], (Grain::Week, at(2, 0, 0, 0), 1));
        // From 02:00: the day less two hours, not 22 hours.
        let t = tiles(at(3, 2, 0, 0), at(5, 0, 0, 0), false);
        assert_eq!(
            t,
            vec![
                (Grain::Day, at(3, 0, 0, 0), 1),
                (Grain::Hour, at(3, 0, 0, 0), -1),
                (Grain::Hour, at(3, 1, 0, 0), -1),
                (Grain::Day, at(4, 0, 0, 0), 1),
            ]
        );
        // An open window ends with one coarse tile.
        let open = tiles(at(2, 0, 0, 0), at(4, 5, 0, 0), true);
        assert_eq!(open, vec![(Grain::Week, at(2, 0, 0, 0), 1)]);
        // Ranges cut at a half hour share no hour row.
        let before = tiles(at(2, 10, 0, 0), at(2, 12, 30, 0), false);
        let after = tiles(at(2, 12, 30, 0), at(2, 14, 0, 0), false);
        assert_eq!(before.last(), Some(&(Grain::Hour, at(2, 12, 0, 0), 1)));
        assert_eq!(after.first(), Some(&(Grain::Hour, at(2, 13, 0, 0), 1)));
    }

    /// How many times each hour of March 2026 is counted by `tiles`.
    fn coverage(tiles: &[Tile]) -> BTreeMap<DateTime<Utc>, i64> {
        let mut out = BTreeMap::new();
        for &(g, start, sign) in tiles {
            let mut t = start;
            while t < start + g.step() {
                *out.entry(t).or_default() += sign;
                t += TimeDelta::hours(1);
            }
        }
        out
    }

    #[test]
    fn signed_tiles_count_every_hour_of_the_range_once_and_no_other() {
        let base = at(1, 0, 0, 0);
        // Every range of up to 23 days starting in the first 9 days of March, by steps of 7 hours
        // and 30 minutes, closed and open.
        for start in (0..9 * 24 * 2).step_by(7) {
            for len in (1..23 * 24 * 2).step_by(13) {
                let from = base + TimeDelta::minutes(30 * start);
                let to = from + TimeDelta::minutes(30 * len);
                for open in [false, true] {
                    let t = tiles(from, to, open);
                    let cov = coverage(&t);
                    let (a, b) = (ceil_hour(from), ceil_hour(to));
                    for (hour, n) in &cov {
                        let want = i64::from(*hour >= a && *hour < b);
                        if open && *hour >= b {
                            assert!(*n == 0 || *n == 1, "{from} {to} {hour}: {n}");
                        } else {
                            assert_eq!(*n, want, "{from}..{to} open={open} at {hour}: {t:?}");
                        }
                    }
                    let mut h = a;
                    while h < b {
                        assert_eq!(cov.get(&h), Some(&1), "{from}..{to} misses {h}");
                        h += TimeDelta::hours(1);
                    }
                    // Never more rows than whole hours, days and weeks forward would take.
                    assert!(t.len() <= forward_len(a, b), "{from}..{to}: {}", t.len());
                }
            }
        }
    }

    /// The number of rows of a positive-only tiling (weeks, days, then hours, coarsest first).
    fn forward_len(a: DateTime<Utc>, b: DateTime<Utc>) -> usize {
        let (mut t, mut n) = (a, 0);
        while t < b {
            let g = [Grain::Week, Grain::Day, Grain::Hour]
                .into_iter()
                .find(|g| g.start_of(t) == t && t + g.step() <= b)
                .unwrap_or(Grain::Hour);
            t += g.step();
            n += 1;
        }
        n
    }
}
