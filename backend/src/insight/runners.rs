//! `GET /api/runners` and `GET /api/runners/timeseries`: runner pools (label sets), live and over the window.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::*;

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
    cache: &TileCache,
    params: &RunnersParams,
    settings: &Settings,
    stale_after: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Runners, Error> {
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let span = Span::new(window, now);
    let current: Vec<_> = span.tiles().into_iter().filter(|t| t.3 == CURRENT).collect();
    let rows = sums_of(
        pool,
        cache,
        JobScope::Labels,
        &current,
        &KeyFilter::default(),
        Sum::WithHistograms,
        now,
    )
    .await?;
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    for (_, key, counters) in rows {
        totals
            .entry(key.labels.clone())
            .or_default()
            .add(&key.labels, &counters, 1);
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
