//! `GET /api/jobs` and `GET /api/jobs/timeseries`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::*;

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
    /// Flaky executions in the window: it passed in a re-run after failing in an earlier attempt
    /// of the same run and commit.
    pub flaky: i64,
    /// flaky / runs; null without runs.
    pub flake_rate: Option<f64>,
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

/// `GET /api/jobs`.
pub async fn jobs(
    pool: &PgPool,
    cache: &TileCache,
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
        cache,
        &span,
        JobScope::Job,
        &filter,
        non_empty(&params.branch).as_deref(),
        now,
    )
    .await?;
    type Key = (String, String, String);
    // Per job: the window's totals, the previous period's, and jobs per label set.
    let mut by_job: BTreeMap<Key, (Totals, Totals, BTreeMap<String, i64>)> = BTreeMap::new();
    for (tag, k, counters) in rows {
        let entry = by_job.entry((k.repo, k.workflow, k.job)).or_default();
        if tag == CURRENT {
            entry.0.add(&k.labels, &counters, 1);
            *entry.2.entry(k.labels).or_default() += counters.jobs;
        } else {
            entry.1.add(&k.labels, &counters, 1);
        }
    }
    let mut items: Vec<JobStats> = by_job
        .into_iter()
        .filter(|(_, (cur, _, _))| cur.counters.jobs > 0)
        .map(|((repo, workflow, job), (cur, prev, labels))| JobStats {
            repo,
            workflow,
            job,
            labels: labels
                .iter()
                .filter(|(_, jobs)| **jobs > 0)
                .map(|(l, _)| labels_of(l))
                .collect(),
            figures: cur.figures(settings),
            flaky: 0,
            flake_rate: None,
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
    let mut items: Vec<JobStats> = items
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    let flaky = flaky_jobs(pool, &items, &window, non_empty(&params.branch).as_deref()).await?;
    for (item, n) in items.iter_mut().zip(flaky) {
        item.flaky = n;
        item.flake_rate = (item.figures.runs > 0).then(|| n as f64 / item.figures.runs as f64);
    }
    Ok(JobList {
        from: window.from,
        to: window.to,
        total,
        currency: settings.currency.clone(),
        items,
    })
}

/// For each job, its flaky executions in the window: it passed in a re-run (an attempt after the
/// first) whose run failed that job in an earlier attempt on the same commit. Read from the few
/// re-runs, not from every run of the job.
async fn flaky_jobs(
    pool: &PgPool,
    items: &[JobStats],
    window: &crate::dashboard::TimeWindow,
    branch: Option<&str>,
) -> sqlx::Result<Vec<i64>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: fn(&JobStats) -> &String| items.iter().map(|i| f(i).as_str()).collect::<Vec<_>>();
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "select k.i, count(distinct r.id) from unnest($1::text[], $2::text[], $3::text[]) with ordinality k(repo, workflow, job, i) \
         join pipeline_runs r on r.repo = k.repo and r.workflow = k.workflow and r.attempt > 1 \
             and r.run_key is not null and r.run_at >= $4 and r.run_at < $5 \
             and ($6::text is null or r.branch = $6) \
         join run_jobs j on j.run_id = r.id and j.name = k.job and j.status = 'success' \
         where exists (select 1 from pipeline_runs r0 join run_jobs j0 on j0.run_id = r0.id \
             where r0.run_key = r.run_key and r0.attempt < r.attempt \
                 and r0.commit_sha is not distinct from r.commit_sha and j0.name = k.job and j0.status = 'failure') \
         group by k.i",
    )
    .bind(col(|i| &i.repo))
    .bind(col(|i| &i.workflow))
    .bind(col(|i| &i.job))
    .bind(window.from)
    .bind(window.to)
    .bind(branch)
    .fetch_all(pool)
    .await?;
    let mut out = vec![0; items.len()];
    for (i, n) in counts {
        if let Some(slot) = out.get_mut(i as usize - 1) {
            *slot = n;
        }
    }
    Ok(out)
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
