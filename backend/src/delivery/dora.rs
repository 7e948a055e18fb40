//! The four DORA keys, computed from production deployments and incidents as stored.
//!
//! - **Deployment frequency**: successful deployments (not removals) per day of the period.
//! - **Lead time for changes**: per commit shipped, from its commit (or merge) to the end of the
//!   successful deployment that first shipped it; p50 (the value) and p95.
//! - **Change failure rate**: the share of deployments that failed, that the next deployment of
//!   their service to their environment rolled back, or that an incident is linked to (which of
//!   these count is the `change_failure_causes` setting).
//! - **Time to restore**: from an incident's start to its resolution, from a failed deployment
//!   (the first of a run of failures) to the next successful one, from a deployment that was rolled
//!   back to its rollback (each as its cause is counted); p50 (the value) and p95. A restoration
//!   belongs to the period its failure began in; one not over yet is not a sample.
//!
//! Each value is placed in the band of the DORA 2023 report's performance clusters
//! ([`Band::of`]).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dashboard::Grain;
use crate::domain::histogram::percentile_of;
use crate::domain::settings::ChangeFailureCause;

/// The report whose clusters the bands are.
pub const BANDS_EDITION: &str = "Accelerate State of DevOps Report 2023";

/// A DORA performance cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DoraBand)]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

/// Which key a figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    DeploymentFrequency,
    LeadTime,
    ChangeFailureRate,
    TimeToRestore,
}

impl Band {
    /// The band of `value`, by the clusters of the Accelerate State of DevOps Report 2023
    /// (deployments per day; seconds; a ratio; seconds). Where the report's medium and low
    /// clusters overlap (deployment frequency and lead time), medium is taken and low is what
    /// lies beyond it.
    pub fn of(kind: KeyKind, value: f64) -> Band {
        // Upper bounds (lower bounds for frequency) of elite, high and medium.
        let (limits, higher_is_better) = match kind {
            // On demand (daily or more); at least weekly; at least monthly.
            KeyKind::DeploymentFrequency => ([1.0, 1.0 / 7.0, 1.0 / 30.0], true),
            // Less than a day; less than a week; less than a month.
            KeyKind::LeadTime => ([DAY, 7.0 * DAY, 30.0 * DAY], false),
            // 5 %, 10 %, 15 %.
            KeyKind::ChangeFailureRate => ([0.05, 0.10, 0.15], false),
            // Less than an hour; less than a day; less than a week.
            KeyKind::TimeToRestore => ([HOUR, DAY, 7.0 * DAY], false),
        };
        let within = |limit: f64| {
            if higher_is_better {
                value >= limit
            } else if kind == KeyKind::ChangeFailureRate {
                value <= limit
            } else {
                value < limit
            }
        };
        [Band::Elite, Band::High, Band::Medium]
            .into_iter()
            .zip(limits)
            .find(|&(_, limit)| within(limit))
            .map_or(Band::Low, |(band, _)| band)
    }
}

/// A production deployment that ended, as the keys need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: i64,
    pub service: String,
    pub environment: String,
    /// Its status is `success` or `inactive`.
    pub succeeded: bool,
    /// Its status is `failure` or `error`.
    pub failed: bool,
    pub rollback: bool,
    pub finished_at: DateTime<Utc>,
    /// The lead times of the commits it shipped.
    pub leads: Leads,
}

/// Read by position (`id, service, environment, flags, finished_at, leads`, where `flags` is 1
/// for a success, 2 for a failure, plus 4 for a rollback): by name, each column of each of
/// thousands of rows would be looked up in a hash map.
impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Deployment {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let flags: i16 = row.try_get(3)?;
        Ok(Deployment {
            id: row.try_get(0)?,
            service: row.try_get(1)?,
            environment: row.try_get(2)?,
            succeeded: flags & 3 == 1,
            failed: flags & 3 == 2,
            rollback: flags & 4 != 0,
            finished_at: row.try_get(4)?,
            leads: row.try_get(5)?,
        })
    }
}

/// The `flags` column of [`Deployment`], in SQL, of a row of `deployments` named `d`.
pub const FLAGS_SQL: &str = "(case when d.status in ('success', 'inactive') then 1 \
     when d.status in ('failure', 'error') then 2 else 0 end \
     + case when d.kind = 'rollback' then 4 else 0 end)::int2";

/// Lead times in seconds, in order, packed as the database keeps them on a deployment: each a
/// big-endian float8 (`float8send`), so that thousands of deployments are read as bytes rather than
/// decoded element by element.
#[derive(Debug, Clone, Default, PartialEq, sqlx::Type)]
#[sqlx(transparent)]
pub struct Leads(Vec<u8>);

impl Leads {
    pub fn pack(seconds: &[f64]) -> Leads {
        Leads(seconds.iter().flat_map(|l| l.to_be_bytes()).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.0
            .chunks_exact(8)
            .map(|b| f64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
}

/// The first deployment of a service to an environment after the window, and its first
/// successful one: they end what the window's last deployments began.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct After {
    pub service: String,
    pub environment: String,
    pub kind: String,
    pub finished_at: DateTime<Utc>,
    pub success_at: Option<DateTime<Utc>>,
}

/// A production incident.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Incident {
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub deployment_id: Option<i64>,
}

/// What the keys are computed from: the deployments that ended in the window and the period
/// before it (grouped by service and environment, each group in order of end and id), what
/// followed them, and the incidents that started since the previous period began.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub deployments: Vec<Deployment>,
    pub after: Vec<After>,
    pub incidents: Vec<Incident>,
}

/// Samples, each with the time it belongs to, in runs that are each in time order (one per
/// service and environment): a period's samples are found by binary search in each run, and the
/// runs are never merged.
#[derive(Debug)]
struct Runs<T>(Vec<Vec<(DateTime<Utc>, T)>>);

impl<T> Default for Runs<T> {
    fn default() -> Self {
        Runs(Vec::new())
    }
}

impl<T: Copy> Runs<T> {
    /// The samples in `[from, to)`.
    fn in_range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = T> + '_ {
        self.0.iter().flat_map(move |run| {
            let start = run.partition_point(|(at, _)| *at < from);
            let end = run.partition_point(|(at, _)| *at < to).max(start);
            run[start..end].iter().map(|(_, v)| *v)
        })
    }

    fn count(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        self.0
            .iter()
            .map(|run| {
                run.partition_point(|(at, _)| *at < to)
                    .saturating_sub(run.partition_point(|(at, _)| *at < from))
            })
            .sum()
    }

    /// Starts the run of the next service and environment.
    fn next_run(&mut self) {
        self.0.push(Vec::new());
    }

    fn push(&mut self, at: DateTime<Utc>, v: T) {
        self.0.last_mut().expect("a run").push((at, v));
    }
}

/// The samples of each key.
#[derive(Debug, Default)]
struct Samples {
    /// Successful deployments (at their end).
    deployments: Runs<()>,
    /// Lead times (at the end of their deployment).
    leads: Runs<f64>,
    /// Whether each deployment was a failed change (at its end).
    changes: Runs<bool>,
    /// Times to restore (at the start of their failure).
    restores: Runs<f64>,
}

impl Samples {
    fn from(input: &Input, causes: &[ChangeFailureCause]) -> Samples {
        let counts = |c| causes.contains(&c);
        let linked: HashSet<i64> = input.incidents.iter().filter_map(|i| i.deployment_id).collect();
        let mut s = Samples::default();
        let deps = &input.deployments;
        let mut i = 0;
        while i < deps.len() {
            // One service and environment at a time.
            let pair = (&deps[i].service, &deps[i].environment);
            let end = deps[i..]
                .iter()
                .position(|d| (&d.service, &d.environment) != pair)
                .map_or(deps.len(), |n| i + n);
            let after = input.after.iter().find(|a| (&a.service, &a.environment) == pair);
            let group = &deps[i..end];
            s.deployments.next_run();
            s.leads.next_run();
            s.changes.next_run();
            s.restores.next_run();
            for (k, d) in group.iter().enumerate() {
                let rolled_back = match group.get(k + 1) {
                    Some(n) => n.rollback,
                    None => after.is_some_and(|a| a.kind == "rollback"),
                };
                if d.succeeded {
                    s.deployments.push(d.finished_at, ());
                    for l in d.leads.iter() {
                        s.leads.push(d.finished_at, l.max(0.0));
                    }
                }
                let failed_itself = counts(ChangeFailureCause::FailedDeployment) && d.failed;
                let rolled = counts(ChangeFailureCause::Rollback) && rolled_back && d.succeeded;
                let incident = counts(ChangeFailureCause::Incident) && linked.contains(&d.id);
                s.changes.push(d.finished_at, failed_itself || rolled || incident);
                // Restored by the next success: from the first of a run of failures, or from a
                // deployment that was rolled back.
                let starts_failure = failed_itself && !(k > 0 && group[k - 1].failed);
                if starts_failure || rolled {
                    let restored = group[k + 1..]
                        .iter()
                        .find(|n| n.succeeded)
                        .map(|n| n.finished_at)
                        .or_else(|| after.and_then(|a| a.success_at));
                    if let Some(at) = restored {
                        s.restores.push(d.finished_at, secs(at - d.finished_at));
                    }
                }
            }
            i = end;
        }
        if counts(ChangeFailureCause::Incident) {
            let mut incidents: Vec<(DateTime<Utc>, f64)> = input
                .incidents
                .iter()
                .filter_map(|i| Some((i.started_at, secs(i.resolved_at? - i.started_at))))
                .collect();
            incidents.sort_by_key(|x| x.0);
            s.restores.0.push(incidents);
        }
        s
    }
}

fn secs(d: TimeDelta) -> f64 {
    (d.num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// A key over one period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(as = DoraFigure)]
pub struct Figure {
    /// Deployments per day; the p50 in seconds; a ratio from 0 to 1; the p50 in seconds. Null
    /// when the period has no sample.
    pub value: Option<f64>,
    pub band: Option<Band>,
    /// How many samples it is computed from: deployments, commits, deployments, restorations.
    pub sample: i64,
}

/// A key over one period of the series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(as = DoraPoint)]
pub struct Point {
    /// The period's first instant (local midnight in `tz`).
    pub start: DateTime<Utc>,
    pub value: Option<f64>,
    pub sample: i64,
}

/// One of the four keys.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = DoraKey)]
pub struct Key {
    /// `deployments_per_day`, `seconds` or `ratio`.
    pub unit: &'static str,
    #[serde(flatten)]
    pub figure: Figure,
    /// The p95 (lead time, time to restore).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    /// Deployments per week (deployment frequency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_week: Option<f64>,
    /// The same key over the period of the same length before.
    pub previous: Figure,
    /// value / previous − 1; null when either is missing or the previous one is 0.
    pub change: Option<f64>,
    /// Per day or week of the window.
    pub series: Vec<Point>,
}

/// The four keys of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Keys {
    pub deployment_frequency: Key,
    pub lead_time_for_changes: Key,
    pub change_failure_rate: Key,
    pub time_to_restore: Key,
}

/// The window, its previous period and its series.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub grain: Grain,
    pub tz: Tz,
}

impl Window {
    pub fn previous_from(&self) -> DateTime<Utc> {
        self.from - (self.to - self.from)
    }

    fn periods(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        let mut t = self.grain.start_of(self.from, self.tz);
        while t < self.to {
            let next = self.grain.next(t, self.tz);
            out.push((t, next));
            t = next;
        }
        out
    }
}

impl Samples {
    /// The value, p95 and sample count of `kind` over `[from, to)`.
    fn figure(
        &self,
        kind: KeyKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> (Option<f64>, Option<f64>, i64) {
        match kind {
            KeyKind::DeploymentFrequency => {
                let n = self.deployments.count(from, to) as i64;
                let days = secs(to - from) / DAY;
                (Some(n as f64 / days), None, n)
            }
            KeyKind::ChangeFailureRate => {
                let (mut n, mut failed) = (0, 0);
                for f in self.changes.in_range(from, to) {
                    n += 1;
                    failed += i64::from(f);
                }
                ((n > 0).then(|| failed as f64 / n as f64), None, n)
            }
            KeyKind::LeadTime | KeyKind::TimeToRestore => {
                let all = if kind == KeyKind::LeadTime {
                    &self.leads
                } else {
                    &self.restores
                };
                let mut v: Vec<f64> = all.in_range(from, to).collect();
                let (p50, p95) = (percentile_of(&mut v, 0.5), percentile_of(&mut v, 0.95));
                (p50, p95, v.len() as i64)
            }
        }
    }

    fn key(&self, kind: KeyKind, w: &Window) -> Key {
        let figure = |(value, _, sample): (Option<f64>, Option<f64>, i64)| Figure {
            value,
            band: value.map(|v| Band::of(kind, v)),
            sample,
        };
        let now = self.figure(kind, w.from, w.to);
        let current = figure(now);
        let previous = figure(self.figure(kind, w.previous_from(), w.from));
        let change = match (current.value, previous.value) {
            (Some(v), Some(p)) if p != 0.0 => Some(v / p - 1.0),
            _ => None,
        };
        Key {
            unit: match kind {
                KeyKind::DeploymentFrequency => "deployments_per_day",
                KeyKind::ChangeFailureRate => "ratio",
                KeyKind::LeadTime | KeyKind::TimeToRestore => "seconds",
            },
            figure: current,
            p95: now.1,
            per_week: (kind == KeyKind::DeploymentFrequency)
                .then_some(current.value.map(|v| v * 7.0))
                .flatten(),
            previous,
            change,
            series: w
                .periods()
                .into_iter()
                .map(|(start, end)| {
                    // The first and last periods count only the part inside the window.
                    let (value, _, sample) = self.figure(kind, start.max(w.from), end.min(w.to));
                    Point { start, value, sample }
                })
                .collect(),
        }
    }
}

/// One key over `[from, to)` from `input`: its value, p95 (lead time, time to restore) and
/// sample count.
pub fn figure(
    input: &Input,
    causes: &[ChangeFailureCause],
    kind: KeyKind,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Option<f64>, Option<f64>, i64) {
    Samples::from(input, causes).figure(kind, from, to)
}

/// The four keys over `window` (and the period before it) from `input`.
pub fn keys(input: &Input, window: &Window, causes: &[ChangeFailureCause]) -> Keys {
    let s = Samples::from(input, causes);
    Keys {
        deployment_frequency: s.key(KeyKind::DeploymentFrequency, window),
        lead_time_for_changes: s.key(KeyKind::LeadTime, window),
        change_failure_rate: s.key(KeyKind::ChangeFailureRate, window),
        time_to_restore: s.key(KeyKind::TimeToRestore, window),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + TimeDelta::hours(h)
    }

    fn dep(id: i64, h: i64, status: &str, kind: &str, leads: &[f64]) -> Deployment {
        Deployment {
            id,
            service: "api".into(),
            environment: "production".into(),
            succeeded: matches!(status, "success" | "inactive"),
            failed: matches!(status, "failure" | "error"),
            rollback: kind == "rollback",
            finished_at: t(h),
            leads: Leads::pack(leads),
        }
    }

    #[test]
    fn bands_follow_the_2023_clusters() {
        use Band::*;
        use KeyKind::*;
        for (kind, value, band) in [
            (DeploymentFrequency, 3.0, Elite),
            (DeploymentFrequency, 1.0, Elite),
            (DeploymentFrequency, 0.5, High),
            (DeploymentFrequency, 1.0 / 7.0, High),
            (DeploymentFrequency, 0.1, Medium),
            (DeploymentFrequency, 0.01, Low),
            (LeadTime, 3600.0, Elite),
            (LeadTime, DAY, High),
            (LeadTime, 8.0 * DAY, Medium),
            (LeadTime, 31.0 * DAY, Low),
            (ChangeFailureRate, 0.0, Elite),
            (ChangeFailureRate, 0.05, Elite),
            (ChangeFailureRate, 0.08, High),
            (ChangeFailureRate, 0.15, Medium),
            (ChangeFailureRate, 0.5, Low),
            (TimeToRestore, 600.0, Elite),
            (TimeToRestore, 2.0 * HOUR, High),
            (TimeToRestore, 2.0 * DAY, Medium),
            (TimeToRestore, 8.0 * DAY, Low),
        ] {
            assert_eq!(Band::of(kind, value), band, "{kind:?} {value}");
        }
    }

    #[test]
    fn a_failure_run_restores_at_the_next_success_and_a_rollback_fails_the_change_before_it() {
        let input = Input {
            deployments: vec![
                dep(1, 1, "success", "deploy", &[600.0, 3600.0]),
                dep(2, 3, "failure", "deploy", &[]),
                dep(3, 4, "error", "deploy", &[]),
                dep(4, 6, "success", "deploy", &[7200.0]),
                dep(5, 8, "success", "rollback", &[]),
            ],
            after: vec![],
            incidents: vec![Incident {
                started_at: t(9),
                resolved_at: Some(t(9) + TimeDelta::minutes(30)),
                deployment_id: Some(5),
            }],
        };
        let w = Window {
            from: t(0),
            to: t(24),
            grain: Grain::Day,
            tz: Tz::UTC,
        };
        let all = keys(&input, &w, &ChangeFailureCause::ALL);
        // 3 successes in one day.
        assert_eq!(all.deployment_frequency.figure.value, Some(3.0));
        assert_eq!(all.deployment_frequency.per_week, Some(21.0));
        // 600, 3600, 7200: p50 3600.
        assert_eq!(all.lead_time_for_changes.figure.value, Some(3600.0));
        assert_eq!(all.lead_time_for_changes.figure.sample, 3);
        // Failed: 2, 3 (themselves), 4 (rolled back), 5 (incident) of 5.
        assert_eq!(all.change_failure_rate.figure.value, Some(0.8));
        assert_eq!(all.change_failure_rate.figure.band, Some(Band::Low));
        // Restores: 3 h (2 → 4), 2 h (4 → its rollback 5), 0.5 h (the incident).
        assert_eq!(all.time_to_restore.figure.sample, 3);
        assert_eq!(all.time_to_restore.figure.value, Some(2.0 * HOUR));
        let only_incidents = keys(&input, &w, &[ChangeFailureCause::Incident]);
        assert_eq!(only_incidents.change_failure_rate.figure.value, Some(0.2));
        assert_eq!(only_incidents.time_to_restore.figure.value, Some(0.5 * HOUR));
        // Nothing in the period before.
        assert_eq!(all.change_failure_rate.previous.sample, 0);
        assert_eq!(all.change_failure_rate.change, None);
    }

    #[test]
    fn what_follows_the_window_ends_what_its_last_deployment_began() {
        let input = Input {
            deployments: vec![dep(1, 20, "failure", "deploy", &[])],
            after: vec![After {
                service: "api".into(),
                environment: "production".into(),
                kind: "rollback".into(),
                finished_at: t(30),
                success_at: Some(t(30)),
            }],
            incidents: vec![],
        };
        let w = Window {
            from: t(0),
            to: t(24),
            grain: Grain::Day,
            tz: Tz::UTC,
        };
        let k = keys(&input, &w, &ChangeFailureCause::ALL);
        assert_eq!(k.time_to_restore.figure.value, Some(10.0 * HOUR));
        assert_eq!(k.change_failure_rate.figure.value, Some(1.0));
        assert_eq!(k.deployment_frequency.figure.value, Some(0.0));
        assert_eq!(k.deployment_frequency.figure.band, Some(Band::Low));
    }
}
