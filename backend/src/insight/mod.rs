//! The jobs, runners and usage views: figures per job, per runner label set and per repository,
//! workflow or label set, each beside the same figures for the period before.
//!
//! Figures come from the job rollups, read at the fewest rows that tile the window (weeks, days,
//! hours; see [`tiles`]) and added up by the database per period and key; without a key filter,
//! the sums of settled tiles come from [`TileCache`] while their versions are unchanged. A branch
//! filter, which the rollups have no scope for, reads the counts stored with the jobs of that
//! branch instead: both paths add the same contributions, so they give the same answers.

mod branches;
mod cache;
mod jobs;
mod runners;
mod test_stats;
mod usage;

pub use branches::{branch_health, BranchHealth, BranchHealthList, BranchHealthParams};
pub use cache::TileCache;

pub use jobs::{job_series, jobs, JobExecution, JobList, JobSeries, JobSort, JobStats, JobsParams};
pub use runners::{runner_series, runners, RunnerPool, RunnerSeries, Runners, RunnersParams, WaitingJob};
pub use test_stats::{
    flaky, history, tests, FailingSince, FlakyList, FlakyParams, FlakyTest, History, HistoryEntry,
    HistoryParams, TestIdentity, TestList, TestName, TestSort, TestStats, TestsParams,
};
pub use usage::{usage, usage_csv, Usage, UsageDay, UsageFigures, UsageGroup, UsageParams, UsageRow};

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::dashboard::{non_empty, Error, Grain as Period, TimeWindow};
use crate::db::job_rollups::{self, KeyFilter, Read, RowKey, Sum, TileTag};
use crate::domain::histogram::{quantile, BUCKETS};
use crate::domain::job_rollup::{
    labels_of, normalize_labels, tiles, Grain, JobCount, JobCounters, JobScope, Tile,
};
use crate::domain::limits::MAX_PAGE;
use crate::domain::rollup::ceil_hour;
use crate::domain::settings::Settings;
use crate::domain::FieldError;
/// A window and the one of the same length before it.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub window: TimeWindow,
    /// The window ends now: nothing is charted after it, so its last tile may reach past it.
    pub open: bool,
}

impl Span {
    pub fn new(window: TimeWindow, now: DateTime<Utc>) -> Self {
        Span {
            window,
            open: window.to >= now,
        }
    }

    fn length(&self) -> TimeDelta {
        self.window.to - self.window.from
    }

    fn previous_from(&self) -> DateTime<Utc> {
        self.window.from - self.length()
    }

    /// Tiles of the window (tagged [`CURRENT`]) and of the period before it ([`PREVIOUS`]).
    fn tiles(&self) -> Vec<TileTag> {
        let w = &self.window;
        let mut out = tagged(tiles(w.from, w.to, self.open), CURRENT);
        out.extend(tagged(tiles(self.previous_from(), w.from, false), PREVIOUS));
        out
    }

    /// Whether a job charted in `hour` is in the window ([`CURRENT`]), the one before
    /// ([`PREVIOUS`]) or neither.
    fn period_of(&self, hour: DateTime<Utc>) -> Option<u32> {
        let w = &self.window;
        if hour >= w.from && (self.open || hour < w.to) {
            Some(CURRENT)
        } else if hour >= self.previous_from() && hour < w.from {
            Some(PREVIOUS)
        } else {
            None
        }
    }
}

/// The tag of rows read for the window.
const CURRENT: u32 = 1;
/// The tag of rows read for the period before it.
const PREVIOUS: u32 = 0;

/// Tiles to read, each with `tag`.
fn tagged(tiles: Vec<Tile>, tag: u32) -> Vec<TileTag> {
    tiles.into_iter().map(|(g, b, sign)| (g, b, sign, tag)).collect()
}

/// Counters of one period, with the minutes each label set ran (its price applies to them).
/// Histograms are summed dense: views add up thousands of rows.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Every counter but the histograms.
    pub counters: JobCounters,
    duration_hist: Vec<i64>,
    queue_hist: Vec<i64>,
    pub priced_ms: BTreeMap<String, i64>,
}

fn add_dense(into: &mut Vec<i64>, from: &BTreeMap<i16, i64>, sign: i64) {
    if from.is_empty() {
        return;
    }
    if into.is_empty() {
        into.resize(BUCKETS, 0);
    }
    for (&b, &n) in from {
        if let Some(slot) = into.get_mut(b as usize) {
            *slot += sign * n;
        }
    }
}

impl Totals {
    fn add(&mut self, labels: &str, c: &JobCounters, sign: i64) {
        self.counters.add_scalars(c, sign);
        add_dense(&mut self.duration_hist, &c.duration_hist, sign);
        add_dense(&mut self.queue_hist, &c.queue_hist, sign);
        match self.priced_ms.get_mut(labels) {
            Some(ms) => *ms += sign * c.priced_ms,
            None => {
                self.priced_ms.insert(labels.to_owned(), sign * c.priced_ms);
            }
        }
    }

    fn cost(&self, prices: &Settings) -> f64 {
        self.priced_ms
            .iter()
            .map(|(labels, ms)| *ms as f64 / 60_000.0 * prices.price_of(&labels_of(labels)))
            .sum::<f64>()
            // A sum of nothing is -0.0.
            + 0.0
    }

    fn figures(&self, prices: &Settings) -> Figures {
        let c = &self.counters;
        let q = |h: &[i64], p: f64| quantile(h, p);
        let success = c.jobs - c.failures - c.cancelled - c.skipped;
        Figures {
            runs: c.jobs,
            failures: c.failures,
            failure_rate: (success + c.failures > 0)
                .then(|| c.failures as f64 / (success + c.failures) as f64),
            duration_p50_seconds: q(&self.duration_hist, 0.5),
            duration_p95_seconds: q(&self.duration_hist, 0.95),
            queue_p50_seconds: q(&self.queue_hist, 0.5),
            queue_p95_seconds: q(&self.queue_hist, 0.95),
            billable_minutes: c.billable_ms as f64 / 60_000.0,
            cost: self.cost(prices),
        }
    }
}

/// A job's (or any group's) figures over one period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// Finished executions of the job.
    pub runs: i64,
    pub failures: i64,
    /// failures / (successes + failures); null when neither happened.
    pub failure_rate: Option<f64>,
    /// Estimated from a log-scale histogram (buckets 19% wide, interpolated).
    pub duration_p50_seconds: Option<f64>,
    pub duration_p95_seconds: Option<f64>,
    /// Queue time: started − queued.
    pub queue_p50_seconds: Option<f64>,
    pub queue_p95_seconds: Option<f64>,
    /// GitHub: each job rounded up to a minute, times the hosted runner's OS multiplier; wall
    /// minutes elsewhere.
    pub billable_minutes: f64,
    /// Minutes times the price per minute of the job's labels (settings' `runner_prices`).
    pub cost: f64,
}

fn check_filters<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Option<String>)>) -> Result<(), Error> {
    let too_long = crate::domain::limits::filter_errors(fields);
    if too_long.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(too_long))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![FieldError::new(field, message)])
}

/// The counters of `scope` over the span per period tag ([`CURRENT`], [`PREVIOUS`]) and row key,
/// from the rollups, or — with a branch — from the counts stored with the jobs of that branch.
async fn rows_of(
    pool: &PgPool,
    cache: &TileCache,
    span: &Span,
    scope: JobScope,
    filter: &KeyFilter,
    branch: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<(u32, RowKey, JobCounters)>, Error> {
    let Some(branch) = branch else {
        return sums_of(
            pool,
            cache,
            scope,
            &span.tiles(),
            filter,
            Sum::WithHistograms,
            now,
        )
        .await;
    };
    let counted: Vec<Json<JobCount>> = sqlx::query_scalar(
        "select counted from run_jobs where branch = $1 and counted is not null \
             and (started_at is null or started_at >= $2) \
             and ($3::text is null or repo = $3) and ($4::text is null or workflow = $4)",
    )
    .bind(branch)
    .bind(span.previous_from() - TimeDelta::hours(1))
    .bind(&filter.repo)
    .bind(&filter.workflow)
    .fetch_all(pool)
    .await?;
    Ok(counted
        .into_iter()
        .filter_map(|Json(c)| {
            let tag = span.period_of(c.hour)?;
            if filter.job.as_ref().is_some_and(|j| *j != c.job)
                || filter.labels.as_ref().is_some_and(|l| *l != c.labels)
            {
                return None;
            }
            let key = match scope {
                JobScope::Job => RowKey {
                    repo: c.repo.clone(),
                    workflow: c.workflow.clone(),
                    job: c.job.clone(),
                    labels: c.labels.clone(),
                },
                JobScope::Labels => RowKey {
                    repo: String::new(),
                    workflow: String::new(),
                    job: String::new(),
                    labels: c.labels.clone(),
                },
                JobScope::RepoLabels => RowKey {
                    repo: c.repo.clone(),
                    workflow: String::new(),
                    job: String::new(),
                    labels: c.labels.clone(),
                },
                JobScope::WorkflowLabels => RowKey {
                    repo: c.repo.clone(),
                    workflow: c.workflow.clone(),
                    job: String::new(),
                    labels: c.labels.clone(),
                },
            };
            Some((tag, key, JobCounters::of(&c)))
        })
        .collect())
}

/// [`job_rollups::sums`], through the cache when nothing is filtered out (filtered views read few
/// rows).
async fn sums_of(
    pool: &PgPool,
    cache: &TileCache,
    scope: JobScope,
    tiles: &[TileTag],
    filter: &KeyFilter,
    sum: Sum,
    now: DateTime<Utc>,
) -> Result<Vec<(u32, RowKey, JobCounters)>, Error> {
    Ok(if filter.is_empty() {
        cache.sums(pool, scope, tiles, sum, now).await?
    } else {
        job_rollups::sums(pool, scope, tiles, filter, sum).await?
    })
}

/// Query parameters of the time series of one job or one label set.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Point grain; default `hour` up to 2 days, `day` up to 90 days, else `week`.
    pub group_by: Option<Period>,
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
    /// The job's repository (with `workflow` and `job`, for `/api/jobs/timeseries`).
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    #[param(max_length = 255)]
    pub job: Option<String>,
    /// A label set, labels separated by commas (for `/api/runners/timeseries`).
    #[param(max_length = 4000, example = "linux,self-hosted")]
    pub labels: Option<String>,
}

/// One point of a time series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobPoint {
    /// Start of the period.
    pub t: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: Figures,
    /// Average number of jobs running over the period (label sets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_avg: Option<f64>,
    /// The highest per-minute average of jobs running in the period (label sets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_max: Option<f64>,
}

/// The periods of a series, zero-filled.
fn periods(window: &TimeWindow, grain: Period) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = grain.start_of(window.from, window.tz);
    while t < window.to {
        out.push(t);
        t = grain.next(t, window.tz);
    }
    out
}

/// A series over hour rows: counters per period.
fn series(
    rows: Vec<Read>,
    window: &TimeWindow,
    grain: Period,
    settings: &Settings,
    busy: Option<&BTreeMap<DateTime<Utc>, (i64, i64)>>,
) -> Vec<JobPoint> {
    let starts = periods(window, grain);
    let mut totals: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
    for r in rows {
        let p = grain.start_of(r.bucket, window.tz);
        totals
            .entry(p)
            .or_default()
            .add(&r.key.labels, &r.counters, r.sign);
    }
    let mut busy_per: BTreeMap<DateTime<Utc>, (i64, i64)> = BTreeMap::new();
    for (hour, (ms, peak)) in busy.into_iter().flatten() {
        let e = busy_per.entry(grain.start_of(*hour, window.tz)).or_default();
        e.0 += ms;
        e.1 = e.1.max(*peak);
    }
    starts
        .iter()
        .map(|&t| {
            let end = grain.next(t, window.tz).min(window.to);
            let b = busy_per.get(&t).copied().unwrap_or_default();
            JobPoint {
                t,
                figures: totals.get(&t).cloned().unwrap_or_default().figures(settings),
                busy_avg: busy
                    .map(|_| b.0 as f64 / (end - t.max(window.from)).num_milliseconds().max(1) as f64),
                busy_max: busy.map(|_| b.1 as f64 / 60_000.0),
            }
        })
        .collect()
}

fn series_window(params: &SeriesParams, now: DateTime<Utc>) -> Result<(TimeWindow, Period), Error> {
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let grain = params
        .group_by
        .unwrap_or_else(|| Period::auto(window.to - window.from));
    if periods(&window, grain).len() > 2000 {
        return Err(invalid(
            "group_by",
            "would give more than 2000 points; choose a coarser grain",
        ));
    }
    Ok((window, grain))
}

/// Every hour row of a window (for series, which are cut at period boundaries in any zone).
fn tiles_by_hour(window: &TimeWindow) -> Vec<TileTag> {
    let mut out = Vec::new();
    let mut t = ceil_hour(window.from);
    while t < window.to {
        out.push((Grain::Hour, t, 1, CURRENT));
        t += TimeDelta::hours(1);
    }
    out
}

/// The longest `labels` parameter.
const MAX_LABEL_PARAM: usize = 4000;

/// A label set from a query parameter (normalised as jobs' labels are).
pub fn label_param(labels: &Option<String>) -> Option<String> {
    labels
        .as_ref()
        .map(|l| crate::domain::job_rollup::label_key(&normalize_labels([l.clone()])))
}
