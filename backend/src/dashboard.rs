//! The dashboard's numbers (`GET /api/metrics`): a summary, the same summary for the previous
//! period, a zero-filled time series and the most recent runs.
//!
//! Counters come from the hourly rollups when a rollup scope matches the filters (none, repo,
//! repo + workflow, branch, workflow), so the cost does not grow with the number of runs. Other
//! combinations are narrow by nature and read the runs through composite indexes. Both paths feed
//! the same aggregation, so they give identical answers.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::db::reads::{Lsn, Reads};
use crate::db::rollups::{self, Sample, ScopeKey};
use crate::db::runs::{self, RunFilter};
use crate::domain::histogram::quantile;
use crate::domain::rollup::{ceil_hour, hour_of, Counters, Scope};
use crate::domain::FieldError;
use crate::domain::{Run, RunStatus};

const DEFAULT_WINDOW_DAYS: i64 = 7;
use crate::domain::limits::{MAX_PAGE, MAX_WINDOW_DAYS};
const MAX_POINTS: i64 = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Hour,
    Day,
    Week,
}

impl Grain {
    fn step(self) -> TimeDelta {
        match self {
            Grain::Hour => TimeDelta::hours(1),
            Grain::Day => TimeDelta::days(1),
            Grain::Week => TimeDelta::weeks(1),
        }
    }

    /// Start of the period that contains `t`: the UTC hour, or the day or week (from Monday)
    /// beginning at local midnight in `tz`.
    pub fn start_of(self, t: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let date = t.with_timezone(&tz).date_naive();
        match self {
            Grain::Hour => hour_of(t),
            Grain::Day => midnight(date, tz),
            Grain::Week => midnight(
                date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday())),
                tz,
            ),
        }
    }

    /// Start of the period after the one starting at `start` (days are 23 to 25 hours long
    /// where the clocks change).
    pub fn next(self, start: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match self {
            Grain::Hour => start + TimeDelta::hours(1),
            Grain::Day | Grain::Week => self.start_of(start + self.step() + TimeDelta::hours(12), tz),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
        }
    }

    pub fn auto(span: TimeDelta) -> Self {
        if span <= TimeDelta::days(2) {
            Grain::Hour
        } else if span <= TimeDelta::days(90) {
            Grain::Day
        } else {
            Grain::Week
        }
    }
}

/// The first instant of `date` in `tz`: midnight, or the end of a clock change that skips it
/// (as PostgreSQL's `date_trunc` does).
fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..=2)
        .find_map(|h| tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?).earliest())
        .map_or_else(
            || Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()),
            |t| t.with_timezone(&Utc),
        )
}

/// Query parameters of `GET /api/metrics`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// Start of the window (RFC 3339). Default: 7 days before `to`. Rounded down to the hour.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now. Rounded up to the hour.
    pub to: Option<DateTime<Utc>>,
    /// Time-series grain; default `hour` up to 2 days, `day` up to 90 days, else `week`.
    pub group_by: Option<Grain>,
    /// Number of recent runs (default 20, at most 500; 0 for none).
    #[param(minimum = 0, maximum = 500)]
    pub limit: Option<i64>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    pub status: Option<RunStatus>,
    /// IANA time zone (`Europe/Paris`) whose local midnight starts the `day` and `week` periods;
    /// default `UTC`. Hours are UTC hours, so zones offset by a fraction of an hour have days
    /// that start up to 45 minutes off.
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
}

/// Counters of one period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodStats {
    /// Finished runs (success + failure + cancelled + skipped).
    pub total_runs: i64,
    /// success / (success + failure), from 0 to 1; null when neither happened.
    pub success_rate: Option<f64>,
    pub avg_duration_seconds: Option<f64>,
    /// Estimated from a log-scale histogram (buckets 19% wide, interpolated).
    pub p50_duration_seconds: Option<f64>,
    pub p95_duration_seconds: Option<f64>,
    /// Queue time (started − queued) of the runs that report both.
    pub avg_queue_seconds: Option<f64>,
    pub p95_queue_seconds: Option<f64>,
    pub success: i64,
    pub failure: i64,
    pub cancelled: i64,
    pub skipped: i64,
    /// Flaky runs: passing attempts after an attempt of the same run and commit failed.
    pub flaky_runs: i64,
    /// flaky_runs / (success + failure), from 0 to 1; null when neither happened.
    pub flake_rate: Option<f64>,
}

impl PeriodStats {
    fn with_flaky(mut self, flaky: i64) -> Self {
        self.flaky_runs = flaky;
        self.flake_rate =
            (self.success + self.failure > 0).then(|| flaky as f64 / (self.success + self.failure) as f64);
        self
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    #[serde(flatten)]
    pub stats: PeriodStats,
    pub last_updated: DateTime<Utc>,
    /// Failed runs in the last 24 hours (whole hours), whatever the window.
    pub failed_last_24h: i64,
    /// Failed runs in the 24 hours before those.
    pub failed_previous_24h: i64,
    /// Runs queued or running now.
    pub running: i64,
}

#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub timestamp: DateTime<Utc>,
    pub success: i64,
    pub failure: i64,
    pub cancelled: i64,
    pub skipped: i64,
    pub avg_duration: Option<f64>,
    pub p95_duration: Option<f64>,
    pub avg_queue: Option<f64>,
    pub p95_queue: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: Grain,
    /// The time zone of the `day` and `week` periods.
    pub tz: String,
    /// `rollups` or `runs`: where the counters were read from.
    pub source: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsResponse {
    pub summary: Summary,
    /// The same counters for the period of equal length just before `from`.
    pub previous: PeriodStats,
    pub time_series: Vec<Point>,
    pub recent_runs: Vec<Run>,
    pub window: Window,
}

/// Running totals of samples.
#[derive(Debug, Clone, Default)]
struct Acc {
    by_status: [i64; 4],
    counters: Counters,
}

impl Acc {
    fn add(&mut self, s: &Sample) {
        if let Some(i) = RunStatus::TERMINAL.iter().position(|t| *t == s.status) {
            self.by_status[i] += s.counters.runs;
            self.counters.add(&s.counters, 1);
        }
    }

    fn stats(&self) -> PeriodStats {
        let [success, failure, cancelled, skipped] = self.by_status;
        PeriodStats {
            total_runs: success + failure + cancelled + skipped,
            success_rate: (success + failure > 0).then(|| success as f64 / (success + failure) as f64),
            avg_duration_seconds: self.counters.duration.mean(),
            p50_duration_seconds: quantile(&self.counters.duration.hist, 0.5),
            p95_duration_seconds: quantile(&self.counters.duration.hist, 0.95),
            avg_queue_seconds: self.counters.queue.mean(),
            p95_queue_seconds: quantile(&self.counters.queue.hist, 0.95),
            success,
            failure,
            cancelled,
            skipped,
            flaky_runs: 0,
            flake_rate: None,
        }
    }

    fn point(&self, timestamp: DateTime<Utc>) -> Point {
        let [success, failure, cancelled, skipped] = self.by_status;
        Point {
            timestamp,
            success,
            failure,
            cancelled,
            skipped,
            avg_duration: self.counters.duration.mean(),
            p95_duration: quantile(&self.counters.duration.hist, 0.95),
            avg_queue: self.counters.queue.mean(),
            p95_queue: quantile(&self.counters.queue.hist, 0.95),
        }
    }
}

pub fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Where the counters for a set of filters come from.
enum Source {
    Rollup(ScopeKey),
    Runs(RunFilter),
}

impl Source {
    fn plan(filter: &RunFilter) -> Self {
        match Scope::for_filters(
            filter.repo.is_some(),
            filter.workflow.is_some(),
            filter.branch.is_some(),
        ) {
            Some(scope) => Source::Rollup(ScopeKey {
                scope,
                repo: filter.repo.clone().unwrap_or_default(),
                workflow: filter.workflow.clone().unwrap_or_default(),
                branch: filter.branch.clone().unwrap_or_default(),
            }),
            None => Source::Runs(filter.clone()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Source::Rollup(_) => "rollups",
            Source::Runs(_) => "runs",
        }
    }

    /// Counters in `[from, to)` per `grain` period (in `tz`) and status, split at `current_from`.
    async fn samples(
        &self,
        pool: &PgPool,
        status: Option<RunStatus>,
        (grain, tz): (Grain, Tz),
        current_from: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Sample>> {
        match self {
            Source::Rollup(key) => {
                rollups::samples(
                    pool,
                    key,
                    status,
                    (grain.as_str(), tz.name()),
                    current_from,
                    from,
                    to,
                )
                .await
            }
            Source::Runs(filter) => {
                let filter = RunFilter {
                    status,
                    from: Some(from),
                    to: Some(to),
                    ..filter.clone()
                };
                let mut groups: BTreeMap<(DateTime<Utc>, RunStatus, bool), Counters> = BTreeMap::new();
                for (at, status, duration, queue) in runs::finished(pool, &filter).await? {
                    let key = (
                        grain.start_of(hour_of(at), tz),
                        status,
                        hour_of(at) >= current_from,
                    );
                    groups
                        .entry(key)
                        .or_default()
                        .add(&Counters::single(duration, queue), 1);
                }
                Ok(groups
                    .into_iter()
                    .map(|((period, status, current), counters)| Sample {
                        period,
                        status,
                        current,
                        counters,
                    })
                    .collect())
            }
        }
    }
}

/// Why a dashboard cannot be computed: fields of the query at fault (the caller's `422`), or the
/// database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the query has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// PostgreSQL's time zone data can be older than the backend's (chrono-tz): a zone only the backend
/// knows is the caller's fault on `tz`, not a database error.
pub fn zone_unknown_to_database(e: sqlx::Error, tz: Tz) -> Error {
    match &e {
        sqlx::Error::Database(db)
            if db.code().as_deref() == Some("22023") && db.message().contains("time zone") =>
        {
            Error::Invalid(vec![FieldError::new(
                "tz",
                format!(
                    "{} is not in the database's time zone data; choose another zone",
                    tz.name()
                ),
            )])
        }
        _ => Error::Database(e),
    }
}

/// A window of whole hours and the zone its days start in.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow {
    pub tz: Tz,
    /// The window's first hour.
    pub from: DateTime<Utc>,
    /// The hour after the window's last one.
    pub to: DateTime<Utc>,
}

impl TimeWindow {
    /// Checks a window's parameters; the window defaults to the 7 days before `now`.
    pub fn parse(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        tz: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let invalid = |field: &str, message: String| Error::Invalid(vec![FieldError::new(field, message)]);
        let tz: Tz = match tz.map(str::trim).filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                invalid(
                    "tz",
                    "must be an IANA time zone such as Europe/Paris or UTC".into(),
                )
            })?,
        };
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - TimeDelta::days(DEFAULT_WINDOW_DAYS));
        if from >= to {
            return Err(invalid("from", "must be before to".into()));
        }
        if to - from > TimeDelta::days(MAX_WINDOW_DAYS) {
            return Err(invalid(
                "from",
                format!("the window may span at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        Ok(TimeWindow {
            tz,
            from: hour_of(from),
            to: ceil_hour(to),
        })
    }
}

/// A [`MetricsParams`] read and checked: the window in whole hours, its grain and zone, the filters.
#[derive(Debug, Clone)]
pub struct MetricsQuery {
    /// Repository, workflow and branch (trimmed, empty ones dropped).
    pub filter: RunFilter,
    pub status: Option<RunStatus>,
    pub tz: Tz,
    /// The window's first hour.
    pub from: DateTime<Utc>,
    /// The hour after the window's last one.
    pub to: DateTime<Utc>,
    pub grain: Grain,
    /// Recent runs to list.
    pub limit: i64,
}

impl MetricsQuery {
    /// Checks `params`, whose window defaults to the 7 days before `now`.
    pub fn parse(params: &MetricsParams, now: DateTime<Utc>) -> Result<Self, Error> {
        let invalid = |field: &str, message: String| Error::Invalid(vec![FieldError::new(field, message)]);
        let too_long = crate::domain::limits::filter_errors([
            ("repo", &params.repo),
            ("workflow", &params.workflow),
            ("branch", &params.branch),
        ]);
        if !too_long.is_empty() {
            return Err(Error::Invalid(too_long));
        }
        let TimeWindow { tz, from, to } =
            TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
        let grain = params.group_by.unwrap_or_else(|| Grain::auto(to - from));
        if (to - from).num_seconds() / grain.step().num_seconds() > MAX_POINTS {
            return Err(invalid(
                "group_by",
                format!("would give more than {MAX_POINTS} points; choose a coarser grain"),
            ));
        }
        let limit = params.limit.unwrap_or(20);
        if !(0..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", format!("must be between 0 and {MAX_PAGE}")));
        }
        Ok(MetricsQuery {
            filter: RunFilter {
                repo: non_empty(&params.repo),
                workflow: non_empty(&params.workflow),
                branch: non_empty(&params.branch),
                ..Default::default()
            },
            status: params.status,
            tz,
            from,
            to,
            grain,
            limit,
        })
    }
}

/// Computes the dashboard for `query` at time `now`.
pub async fn metrics(
    reads: &Reads,
    after: Option<Lsn>,
    query: &MetricsQuery,
    now: DateTime<Utc>,
) -> Result<MetricsResponse, Error> {
    let MetricsQuery {
        filter,
        status,
        tz,
        from: from_h,
        to: to_h,
        grain,
        limit,
    } = query.clone();
    let span = to_h - from_h;
    let source = Source::plan(&filter);
    let mut after = after;
    if matches!(source, Source::Rollup(_)) {
        // Changes committed before this request are counted in the rollups it reads (once, before
        // the reads below run side by side), on the primary; a replica serves the reads once it
        // has replayed the fold.
        rollups::fold_all(reads.primary()).await?;
        if reads.has_replica() {
            after = after.max(Some(reads.primary_position().await?));
        }
    }
    let pool = reads.pool(after).await;
    let prev_from = from_h - span;
    let day_ago = hour_of(now - TimeDelta::hours(24));
    let failed_status = if status.is_none_or(|s| s == RunStatus::Failure) {
        Some(RunStatus::Failure)
    } else {
        None
    };
    let recent_filter = RunFilter {
        status,
        from: Some(from_h),
        to: Some(to_h),
        ..filter.clone()
    };
    let active_filter = RunFilter {
        status: None,
        ..filter.clone()
    };

    let flaky_filter = RunFilter {
        status: None,
        from: Some(prev_from),
        to: Some(to_h),
        ..filter.clone()
    };
    let (samples, last_day, running, recent, (flaky_before, flaky_now)) = tokio::try_join!(
        source.samples(pool, status, (grain, tz), from_h, prev_from, to_h),
        async {
            match failed_status {
                Some(st) => {
                    let two_days_ago = day_ago - TimeDelta::hours(24);
                    source
                        .samples(
                            pool,
                            Some(st),
                            (Grain::Hour, tz),
                            day_ago,
                            two_days_ago,
                            ceil_hour(now),
                        )
                        .await
                }
                None => Ok(Vec::new()),
            }
        },
        runs::count_active(pool, &active_filter),
        async {
            match limit {
                0 => Ok(Vec::new()),
                _ => runs::list(pool, &recent_filter, runs::RunSort::Newest, None, limit).await,
            }
        },
        async {
            match status {
                Some(s) if s != RunStatus::Success => Ok((0, 0)),
                _ => runs::count_flaky(pool, &flaky_filter, from_h).await,
            }
        },
    )
    .map_err(|e| zone_unknown_to_database(e, tz))?;

    let mut current = Acc::default();
    let mut previous = Acc::default();
    let mut series: BTreeMap<DateTime<Utc>, Acc> = BTreeMap::new();
    let mut t = grain.start_of(from_h, tz);
    while t < to_h {
        series.insert(t, Acc::default());
        t = grain.next(t, tz);
    }
    for s in &samples {
        if s.current {
            current.add(s);
            series.entry(s.period).or_default().add(s);
        } else {
            previous.add(s);
        }
    }
    let running = if status.is_some_and(RunStatus::is_terminal) {
        0
    } else {
        running
    };

    Ok(MetricsResponse {
        summary: Summary {
            stats: current.stats().with_flaky(flaky_now),
            last_updated: now,
            failed_last_24h: last_day
                .iter()
                .filter(|s| s.current)
                .map(|s| s.counters.runs)
                .sum(),
            failed_previous_24h: last_day
                .iter()
                .filter(|s| !s.current)
                .map(|s| s.counters.runs)
                .sum(),
            running,
        },
        previous: previous.stats().with_flaky(flaky_before),
        time_series: series.iter().map(|(t, acc)| acc.point(*t)).collect(),
        recent_runs: recent
            .into_iter()
            .map(|(row, _)| Run {
                metadata: None,
                ..row.into_run()
            })
            .collect(),
        window: Window {
            from: from_h,
            to: to_h,
            group_by: grain,
            tz: tz.name().to_owned(),
            source: source.name(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn weeks_start_on_monday_in_utc() {
        let utc = Tz::UTC;
        let thu = Utc.with_ymd_and_hms(2025, 8, 28, 15, 30, 0).unwrap();
        assert_eq!(
            Grain::Week.start_of(thu, utc),
            Utc.with_ymd_and_hms(2025, 8, 25, 0, 0, 0).unwrap()
        );
        assert_eq!(
            Grain::Day.start_of(thu, utc),
            Utc.with_ymd_and_hms(2025, 8, 28, 0, 0, 0).unwrap()
        );
        assert_eq!(
            Grain::Hour.start_of(thu, utc),
            Utc.with_ymd_and_hms(2025, 8, 28, 15, 0, 0).unwrap()
        );
    }

    #[test]
    fn local_weeks_start_on_monday_midnight_and_follow_clock_changes() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Sunday 1 November 2026, 03:00 UTC, is still Saturday evening in New York (UTC-4).
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 0).unwrap();
        let week = Grain::Week.start_of(t, ny);
        assert_eq!(week, Utc.with_ymd_and_hms(2026, 10, 26, 4, 0, 0).unwrap());
        // The clocks go back that Sunday: the next Monday starts at 05:00 UTC.
        assert_eq!(
            Grain::Week.next(week, ny),
            Utc.with_ymd_and_hms(2026, 11, 2, 5, 0, 0).unwrap()
        );
        let sunday = Grain::Day.start_of(Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(), ny);
        assert_eq!(Grain::Day.next(sunday, ny) - sunday, TimeDelta::hours(25));
    }

    #[test]
    fn the_grain_follows_the_window_length() {
        assert_eq!(Grain::auto(TimeDelta::hours(24)), Grain::Hour);
        assert_eq!(Grain::auto(TimeDelta::days(30)), Grain::Day);
        assert_eq!(Grain::auto(TimeDelta::days(180)), Grain::Week);
    }

    #[test]
    fn hours_round_up_only_when_needed() {
        let on = Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap();
        assert_eq!(ceil_hour(on), on);
        assert_eq!(ceil_hour(on + TimeDelta::seconds(1)), on + TimeDelta::hours(1));
    }

    #[test]
    fn success_rate_ignores_cancelled_and_skipped() {
        let acc = Acc {
            by_status: [3, 1, 5, 2],
            ..Default::default()
        };
        let stats = acc.stats();
        assert_eq!(stats.total_runs, 11);
        assert_eq!(stats.success_rate, Some(0.75));
        assert_eq!(Acc::default().stats().success_rate, None);
    }
}
