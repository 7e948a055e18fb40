//! The jobs, runners and usage views: figures per job, per runner label set and per repository,
//! workflow or label set, each beside the same figures for the period before.
//!
//! Figures come from the job rollups, read at the fewest rows that tile the window (weeks, days,
//! hours; see [`tiles`]). A branch filter, which the rollups have no scope for, reads the counts
//! stored with the jobs of that branch instead: both paths add the same contributions, so they give
//! the same answers.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::dashboard::{non_empty, Error, Grain as Period, TimeWindow};
use crate::db::job_rollups::{self, KeyFilter, Read, RowKey};
use crate::domain::histogram::quantile;
use crate::domain::job_rollup::{labels_of, normalize_labels, tiles, Grain, JobCount, JobCounters, JobScope};
use crate::domain::limits::MAX_PAGE;
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

    /// Tiles of the window (`true`) and of the period before it (`false`).
    fn tiles(&self) -> Vec<(Grain, DateTime<Utc>, bool)> {
        let w = &self.window;
        let mut out: Vec<_> = tiles(w.from, w.to, self.open)
            .into_iter()
            .map(|(g, b)| (g, b, true))
            .collect();
        out.extend(
            tiles(self.previous_from(), w.from, false)
                .into_iter()
                .map(|(g, b)| (g, b, false)),
        );
        out
    }

    /// Whether a job charted in `hour` is in the window (`Some(true)`), the one before
    /// (`Some(false)`) or neither.
    fn period_of(&self, hour: DateTime<Utc>) -> Option<bool> {
        let w = &self.window;
        if hour >= w.from && (self.open || hour < w.to) {
            Some(true)
        } else if hour >= self.previous_from() && hour < w.from {
            Some(false)
        } else {
            None
        }
    }
}

/// Counters of one period, with the minutes each label set ran (its price applies to them).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub counters: JobCounters,
    pub priced_ms: BTreeMap<String, i64>,
}

impl Totals {
    fn add(&mut self, labels: &str, c: &JobCounters) {
        self.counters.add(c, 1);
        *self.priced_ms.entry(labels.to_owned()).or_default() += c.priced_ms;
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
        let q = |h: &BTreeMap<i16, i64>, p: f64| quantile(&JobCounters::dense(h), p);
        let success = c.jobs - c.failures - c.cancelled - c.skipped;
        Figures {
            runs: c.jobs,
            failures: c.failures,
            failure_rate: (success + c.failures > 0)
                .then(|| c.failures as f64 / (success + c.failures) as f64),
            duration_p50_seconds: q(&c.duration_hist, 0.5),
            duration_p95_seconds: q(&c.duration_hist, 0.95),
            queue_p50_seconds: q(&c.queue_hist, 0.5),
            queue_p95_seconds: q(&c.queue_hist, 0.95),
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

/// Sort orders of `GET /api/jobs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobSort {
    /// Highest duration p95 first.
    #[default]
    Slowest,
    /// Highest failure rate first.
    Failing,
    /// Highest queue-time p95 first.
    Queue,
    /// Most billable minutes first.
    Minutes,
    /// Most runs first.
    Runs,
    /// By repository, workflow and job name.
    Name,
}

/// Query parameters of `GET /api/jobs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsParams {
    /// Start of the window (RFC 3339). Default: 7 days before `to`. Rounded down to the hour.
    pub from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339). Default: now. Rounded up to the hour.
    pub to: Option<DateTime<Utc>>,
    #[param(max_length = 255)]
    pub repo: Option<String>,
    #[param(max_length = 255)]
    pub workflow: Option<String>,
    #[param(max_length = 255)]
    pub branch: Option<String>,
    /// IANA time zone; accepted for symmetry with the other views (jobs are counted by the hour).
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
    #[param(inline)]
    pub sort: Option<JobSort>,
    /// Jobs per page (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Jobs to skip (for the next pages).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// One job: a job name in a repository's workflow.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobStats {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    /// The runner label sets it ran on.
    pub labels: Vec<Vec<String>>,
    #[serde(flatten)]
    pub figures: Figures,
    /// The same figures over the period before the window.
    pub previous: Figures,
}

/// A page of `GET /api/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobList {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Jobs in the window, on every page.
    pub total: usize,
    pub currency: String,
    pub items: Vec<JobStats>,
}

fn check_filters(fields: [(&str, &Option<String>); 3]) -> Result<(), Error> {
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

/// Reads every row of `scope` over the span, or — with a branch — the counts stored with the
/// jobs of that branch, as `(row key, in the window?, grain, bucket, counters)`.
async fn rows_of(
    pool: &PgPool,
    span: &Span,
    scope: JobScope,
    filter: &KeyFilter,
    branch: Option<&str>,
) -> Result<Vec<Read>, Error> {
    let Some(branch) = branch else {
        return Ok(job_rollups::read(pool, scope, &span.tiles(), filter).await?);
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
            let current = span.period_of(c.hour)?;
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
            Some(Read {
                current,
                grain: Grain::Hour,
                bucket: c.hour,
                key,
                counters: JobCounters::of(&c),
            })
        })
        .collect())
}

/// `GET /api/jobs`.
pub async fn jobs(
    pool: &PgPool,
    params: &JobsParams,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<JobList, Error> {
    check_filters([
        ("repo", &params.repo),
        ("workflow", &params.workflow),
        ("branch", &params.branch),
    ])?;
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let offset = params.offset.unwrap_or(0);
    if offset < 0 {
        return Err(invalid("offset", "must not be negative"));
    }
    let span = Span::new(window, now);
    let filter = KeyFilter {
        repo: non_empty(&params.repo),
        workflow: non_empty(&params.workflow),
        ..KeyFilter::default()
    };
    let rows = rows_of(
        pool,
        &span,
        JobScope::Job,
        &filter,
        non_empty(&params.branch).as_deref(),
    )
    .await?;
    type Key = (String, String, String);
    let mut by_job: BTreeMap<Key, (Totals, Totals, BTreeSet<String>)> = BTreeMap::new();
    for r in rows {
        let k = r.key;
        let entry = by_job.entry((k.repo, k.workflow, k.job)).or_default();
        if r.current {
            entry.0.add(&k.labels, &r.counters);
            entry.2.insert(k.labels);
        } else {
            entry.1.add(&k.labels, &r.counters);
        }
    }
    let mut items: Vec<JobStats> = by_job
        .into_iter()
        .filter(|(_, (cur, _, _))| cur.counters.jobs > 0)
        .map(|((repo, workflow, job), (cur, prev, labels))| JobStats {
            repo,
            workflow,
            job,
            labels: labels.iter().map(|l| labels_of(l)).collect(),
            figures: cur.figures(settings),
            previous: prev.figures(settings),
        })
        .collect();
    let sort = params.sort.unwrap_or_default();
    let key = |s: &JobStats| -> f64 {
        let f = &s.figures;
        match sort {
            JobSort::Slowest => f.duration_p95_seconds.unwrap_or(-1.0),
            JobSort::Failing => f.failure_rate.unwrap_or(-1.0),
            JobSort::Queue => f.queue_p95_seconds.unwrap_or(-1.0),
            JobSort::Minutes => f.billable_minutes,
            JobSort::Runs => f.runs as f64,
            JobSort::Name => 0.0,
        }
    };
    // Descending by the figure, then by name, so pages are stable.
    items.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| (&a.repo, &a.workflow, &a.job).cmp(&(&b.repo, &b.workflow, &b.job)))
    });
    let total = items.len();
    let items = items
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(JobList {
        from: window.from,
        to: window.to,
        total,
        currency: settings.currency.clone(),
        items,
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
        totals.entry(p).or_default().add(&r.key.labels, &r.counters);
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

/// One job over time.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobSeries {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub group_by: Period,
    pub points: Vec<JobPoint>,
    /// Its slowest executions in the window, slowest first.
    pub slowest: Vec<JobExecution>,
}

/// One execution of a job.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct JobExecution {
    pub run_id: String,
    pub job_id: String,
    pub status: crate::domain::RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub queue_seconds: Option<f64>,
    pub branch: Option<String>,
    pub url: Option<String>,
}

/// `GET /api/jobs/timeseries`.
pub async fn job_series(
    pool: &PgPool,
    params: &SeriesParams,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<JobSeries, Error> {
    check_filters([
        ("repo", &params.repo),
        ("workflow", &params.workflow),
        ("job", &params.job),
    ])?;
    let (window, grain) = series_window(params, now)?;
    let (Some(repo), Some(workflow), Some(job)) = (
        non_empty(&params.repo),
        non_empty(&params.workflow),
        non_empty(&params.job),
    ) else {
        return Err(Error::Invalid(
            [
                ("repo", &params.repo),
                ("workflow", &params.workflow),
                ("job", &params.job),
            ]
            .into_iter()
            .filter(|(_, v)| non_empty(v).is_none())
            .map(|(f, _)| FieldError::new(f, "is required: a job is named by its repo, workflow and job"))
            .collect(),
        ));
    };
    let hours: Vec<_> = tiles_by_hour(&window);
    let filter = KeyFilter {
        repo: Some(repo.clone()),
        workflow: Some(workflow.clone()),
        job: Some(job.clone()),
        labels: None,
    };
    let rows = job_rollups::read(pool, JobScope::Job, &hours, &filter).await?;
    let slowest: Vec<JobExecution> = sqlx::query_as(
        "select run_id, id as job_id, status, started_at, \
             extract(epoch from finished_at - started_at)::float8 as duration_seconds, \
             extract(epoch from started_at - queued_at)::float8 as queue_seconds, branch, url \
         from run_jobs where repo = $1 and workflow = $2 and name = $3 \
             and started_at >= $4 and started_at < $5 and finished_at is not null \
         order by finished_at - started_at desc limit 10",
    )
    .bind(&repo)
    .bind(&workflow)
    .bind(&job)
    .bind(window.from)
    .bind(window.to)
    .fetch_all(pool)
    .await?;
    Ok(JobSeries {
        points: series(rows, &window, grain, settings, None),
        repo,
        workflow,
        job,
        group_by: grain,
        slowest,
    })
}

/// Every hour row of a window (for series, which are cut at period boundaries in any zone).
fn tiles_by_hour(window: &TimeWindow) -> Vec<(Grain, DateTime<Utc>, bool)> {
    let mut out = Vec::new();
    let mut t = window.from;
    while t < window.to {
        out.push((Grain::Hour, t, true));
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

/// A job waiting for a runner.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct WaitingJob {
    pub run_id: String,
    pub job_id: String,
    pub name: String,
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub waiting_seconds: f64,
    pub url: Option<String>,
}

/// One runner pool: the jobs asking for one label set.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunnerPool {
    /// The label set (sorted, lower case); empty for jobs that named none.
    pub labels: Vec<String>,
    /// Jobs queued now (for less than the stale limit).
    pub queued: i64,
    /// Jobs running now (for less than the stale limit).
    pub running: i64,
    /// Jobs reported queued or running for longer than the stale limit: left out of the counts
    /// above (their completion was surely lost).
    pub stale: i64,
    /// Finished jobs in the window.
    pub jobs: i64,
    pub queue_p50_seconds: Option<f64>,
    pub queue_p95_seconds: Option<f64>,
    /// Average number of jobs running over the window.
    pub busy_avg: f64,
    /// The highest per-minute average of jobs running in the window.
    pub busy_max: f64,
    pub billable_minutes: f64,
    pub cost: f64,
    /// The job queued longest, if any is queued.
    pub oldest_queued: Option<WaitingJob>,
}

/// `GET /api/runners`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Runners {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Hours after which a queued or running job counts as stale.
    pub stale_after_hours: i64,
    pub currency: String,
    /// Label sets with jobs now or in the window, most queued first.
    pub items: Vec<RunnerPool>,
}

/// Query parameters of `GET /api/runners`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunnersParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Live {
    labels: String,
    queued: i64,
    running: i64,
    stale: i64,
}

/// Jobs queued and running now per label set, and the oldest queued job of each.
async fn live(
    pool: &PgPool,
    now: DateTime<Utc>,
    stale_after: TimeDelta,
) -> Result<(Vec<Live>, BTreeMap<String, WaitingJob>), Error> {
    let cut = now - stale_after;
    let live: Vec<Live> = sqlx::query_as(
        "select array_to_string(labels, ',') as labels, \
             count(*) filter (where status = 'queued' and coalesce(queued_at, created_at) >= $1) as queued, \
             count(*) filter (where status = 'running' and coalesce(started_at, queued_at, created_at) >= $1) as running, \
             count(*) filter (where coalesce(started_at, queued_at, created_at) < $1) as stale \
         from run_jobs where status in ('queued', 'running') group by labels",
    )
    .bind(cut)
    .fetch_all(pool)
    .await?;
    let oldest: Vec<(String, WaitingJob)> = sqlx::query_as::<_, (String, String, String, String, Option<String>, Option<String>, DateTime<Utc>, Option<String>)>(
        "select distinct on (j.labels) array_to_string(j.labels, ','), j.run_id, j.id, j.name, \
             coalesce(j.repo, r.repo), coalesce(j.workflow, r.workflow), coalesce(j.queued_at, j.created_at), j.url \
         from run_jobs j left join pipeline_runs r on r.id = j.run_id \
         where j.status = 'queued' and coalesce(j.queued_at, j.created_at) >= $1 \
         order by j.labels, coalesce(j.queued_at, j.created_at)",
    )
    .bind(cut)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(labels, run_id, job_id, name, repo, workflow, queued_at, url)| {
        (
            labels,
            WaitingJob {
                run_id,
                job_id,
                name,
                repo,
                workflow,
                queued_at,
                waiting_seconds: (now - queued_at).num_milliseconds().max(0) as f64 / 1000.0,
                url,
            },
        )
    })
    .collect();
    Ok((live, oldest.into_iter().collect()))
}

/// `GET /api/runners`.
pub async fn runners(
    pool: &PgPool,
    params: &RunnersParams,
    settings: &Settings,
    stale_after: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Runners, Error> {
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let span = Span::new(window, now);
    let current: Vec<_> = span.tiles().into_iter().filter(|t| t.2).collect();
    let rows = job_rollups::read(pool, JobScope::Labels, &current, &KeyFilter::default()).await?;
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    for r in rows {
        totals
            .entry(r.key.labels.clone())
            .or_default()
            .add(&r.key.labels, &r.counters);
    }
    let mut busy: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (labels, _, ms, peak) in job_rollups::busy_hours(pool, None, window.from, window.to).await? {
        let e = busy.entry(labels).or_default();
        e.0 += ms;
        e.1 = e.1.max(peak);
    }
    let (live, mut oldest) = live(pool, now, stale_after).await?;
    let live: BTreeMap<String, Live> = live.into_iter().map(|l| (l.labels.clone(), l)).collect();
    let keys: BTreeSet<&String> = totals.keys().chain(live.keys()).chain(busy.keys()).collect();
    let elapsed = (window.to.min(now.max(window.from)) - window.from)
        .num_milliseconds()
        .max(1) as f64;
    let mut items: Vec<RunnerPool> = keys
        .into_iter()
        .map(|labels| {
            let t = totals.get(labels).cloned().unwrap_or_default();
            let f = t.figures(settings);
            let (busy_ms, peak_ms) = busy.get(labels).copied().unwrap_or_default();
            let l = live.get(labels);
            RunnerPool {
                labels: labels_of(labels),
                queued: l.map_or(0, |l| l.queued),
                running: l.map_or(0, |l| l.running),
                stale: l.map_or(0, |l| l.stale),
                jobs: f.runs,
                queue_p50_seconds: f.queue_p50_seconds,
                queue_p95_seconds: f.queue_p95_seconds,
                busy_avg: busy_ms as f64 / elapsed,
                busy_max: peak_ms as f64 / 60_000.0,
                billable_minutes: f.billable_minutes,
                cost: f.cost,
                oldest_queued: oldest.remove(labels),
            }
        })
        .collect();
    items.sort_by(|a, b| {
        (b.queued, b.running, b.jobs)
            .cmp(&(a.queued, a.running, a.jobs))
            .then_with(|| a.labels.cmp(&b.labels))
    });
    Ok(Runners {
        from: window.from,
        to: window.to,
        stale_after_hours: stale_after.num_hours(),
        currency: settings.currency.clone(),
        items,
    })
}

/// One label set over time.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunnerSeries {
    pub labels: Vec<String>,
    pub group_by: Period,
    pub points: Vec<JobPoint>,
}

/// `GET /api/runners/timeseries`.
pub async fn runner_series(
    pool: &PgPool,
    params: &SeriesParams,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<RunnerSeries, Error> {
    let (window, grain) = series_window(params, now)?;
    if params
        .labels
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_PARAM)
    {
        return Err(invalid(
            "labels",
            format!("may be at most {MAX_LABEL_PARAM} characters long"),
        ));
    }
    let Some(labels) = label_param(&params.labels) else {
        return Err(invalid(
            "labels",
            "is required: the label set, labels separated by commas",
        ));
    };
    let filter = KeyFilter {
        labels: Some(labels.clone()),
        ..KeyFilter::default()
    };
    let rows = job_rollups::read(pool, JobScope::Labels, &tiles_by_hour(&window), &filter).await?;
    let busy: BTreeMap<DateTime<Utc>, (i64, i64)> =
        job_rollups::busy_hours(pool, Some(&labels), window.from, window.to)
            .await?
            .into_iter()
            .map(|(_, h, ms, peak)| (h, (ms, peak)))
            .collect();
    Ok(RunnerSeries {
        labels: labels_of(&labels),
        group_by: grain,
        points: series(rows, &window, grain, settings, Some(&busy)),
    })
}

/// What `GET /api/usage` groups by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    #[default]
    Repo,
    Workflow,
    Labels,
}

/// Query parameters of `GET /api/usage`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// IANA time zone whose local midnight starts each day; default `UTC`.
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
    #[param(inline)]
    pub group_by: Option<UsageGroup>,
    /// Only this repository (any grouping).
    #[param(max_length = 255)]
    pub repo: Option<String>,
}

/// Minutes and cost of a group or of everything, over a period or a day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct UsageFigures {
    /// Finished jobs.
    pub jobs: i64,
    pub billable_minutes: f64,
    /// The minutes prices apply to (billable minutes before GitHub's OS multiplier).
    pub minutes: f64,
    pub cost: f64,
}

impl UsageFigures {
    fn of(t: &Totals, settings: &Settings) -> Self {
        UsageFigures {
            jobs: t.counters.jobs,
            billable_minutes: t.counters.billable_ms as f64 / 60_000.0,
            minutes: t.counters.priced_ms as f64 / 60_000.0,
            cost: t.cost(settings),
        }
    }
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageDay {
    /// The day's first instant (local midnight in `tz`).
    pub day: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageRow {
    /// The repository (`repo`, `workflow` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The workflow (`workflow` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The label set (`labels` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(flatten)]
    pub figures: UsageFigures,
    /// The same figures over the period before the window.
    pub previous: UsageFigures,
    /// Per day of the window, zero-filled.
    pub days: Vec<UsageDay>,
}

/// `GET /api/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Usage {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: UsageGroup,
    pub currency: String,
    pub total: UsageFigures,
    pub previous: UsageFigures,
    pub days: Vec<UsageDay>,
    /// Most billable minutes first.
    pub groups: Vec<UsageRow>,
}

/// `GET /api/usage`.
pub async fn usage(
    pool: &PgPool,
    params: &UsageParams,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Usage, Error> {
    check_filters([("repo", &params.repo), ("workflow", &None), ("branch", &None)])?;
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let span = Span::new(window, now);
    let group_by = params.group_by.unwrap_or_default();
    let scope = match group_by {
        UsageGroup::Repo => JobScope::RepoLabels,
        UsageGroup::Workflow => JobScope::WorkflowLabels,
        UsageGroup::Labels => JobScope::Labels,
    };
    let repo = non_empty(&params.repo);
    if repo.is_some() && group_by == UsageGroup::Labels {
        return Err(invalid(
            "repo",
            "cannot filter usage grouped by labels; group by repo or workflow",
        ));
    }
    // Each local day is tiled on its own, so every row falls in one day.
    let days = periods(&window, Period::Day);
    let mut tiles_all = Vec::new();
    for (i, &d) in days.iter().enumerate() {
        let end = Period::Day.next(d, window.tz).min(window.to);
        let last = i + 1 == days.len();
        tiles_all.extend(
            tiles(d.max(window.from), end, span.open && last)
                .into_iter()
                .map(|(g, b)| (g, b, true)),
        );
    }
    tiles_all.extend(
        tiles(span.previous_from(), window.from, false)
            .into_iter()
            .map(|(g, b)| (g, b, false)),
    );
    let filter = KeyFilter {
        repo,
        ..KeyFilter::default()
    };
    let rows = job_rollups::read(pool, scope, &tiles_all, &filter).await?;
    type Group = (String, String, String);
    type Days = BTreeMap<DateTime<Utc>, Totals>;
    let mut groups: BTreeMap<Group, (Totals, Totals, Days)> = BTreeMap::new();
    let (mut total, mut previous) = (Totals::default(), Totals::default());
    let mut per_day: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
    for r in rows {
        let k = &r.key;
        let group = match group_by {
            UsageGroup::Repo => (k.repo.clone(), String::new(), String::new()),
            UsageGroup::Workflow => (k.repo.clone(), k.workflow.clone(), String::new()),
            UsageGroup::Labels => (String::new(), String::new(), k.labels.clone()),
        };
        let g = groups.entry(group).or_default();
        if r.current {
            let day = Period::Day.start_of(r.bucket.max(window.from), window.tz);
            g.0.add(&k.labels, &r.counters);
            g.2.entry(day).or_default().add(&k.labels, &r.counters);
            total.add(&k.labels, &r.counters);
            per_day.entry(day).or_default().add(&k.labels, &r.counters);
        } else {
            g.1.add(&k.labels, &r.counters);
            previous.add(&k.labels, &r.counters);
        }
    }
    let day_list = |m: &BTreeMap<DateTime<Utc>, Totals>| -> Vec<UsageDay> {
        days.iter()
            .map(|d| UsageDay {
                day: *d,
                figures: m
                    .get(d)
                    .map(|t| UsageFigures::of(t, settings))
                    .unwrap_or_default(),
            })
            .collect()
    };
    let mut rows: Vec<UsageRow> = groups
        .into_iter()
        .filter(|(_, (cur, _, _))| cur.counters.jobs > 0)
        .map(|((repo, workflow, labels), (cur, prev, by_day))| UsageRow {
            repo: (group_by != UsageGroup::Labels).then_some(repo),
            workflow: (group_by == UsageGroup::Workflow).then_some(workflow),
            labels: (group_by == UsageGroup::Labels).then(|| labels_of(&labels)),
            figures: UsageFigures::of(&cur, settings),
            previous: UsageFigures::of(&prev, settings),
            days: day_list(&by_day),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.figures
            .billable_minutes
            .total_cmp(&a.figures.billable_minutes)
            .then_with(|| (&a.repo, &a.workflow, &a.labels).cmp(&(&b.repo, &b.workflow, &b.labels)))
    });
    Ok(Usage {
        from: window.from,
        to: window.to,
        group_by,
        currency: settings.currency.clone(),
        total: UsageFigures::of(&total, settings),
        previous: UsageFigures::of(&previous, settings),
        days: day_list(&per_day),
        groups: rows,
    })
}

/// Usage as CSV: one line per group and day (`day,repo,workflow,labels,jobs,billable_minutes,minutes,cost,currency`).
pub fn usage_csv(u: &Usage) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("day,repo,workflow,labels,jobs,billable_minutes,minutes,cost,currency\n");
    for g in &u.groups {
        for d in &g.days {
            out.push_str(&format!(
                "{},{},{},{},{},{:.2},{:.2},{:.4},{}\n",
                d.day.to_rfc3339(),
                field(g.repo.as_deref().unwrap_or("")),
                field(g.workflow.as_deref().unwrap_or("")),
                field(&g.labels.as_ref().map(|l| l.join(" ")).unwrap_or_default()),
                d.figures.jobs,
                d.figures.billable_minutes,
                d.figures.minutes,
                d.figures.cost,
                field(&u.currency),
            ));
        }
    }
    out
}
