//! The job and runner conditions (`JobQueueTime`, `QueuedJobs`, `JobFailureRate`,
//! `JobDuration`): each watches one runner label set or one job, so a rule of these types has one
//! group, named by the label set or by the job (repo, workflow, job) as the jobs API names them.
//!
//! Figures over a window are read from the job rollups, as `GET /api/jobs` and `GET /api/runners`
//! read them (the same estimated percentiles), at the fewest rows that tile the window from the
//! start of its first hour. The number of jobs queued now is the one `GET /api/runners` gives.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor_crds::{Condition, JobRef, Percentile, Span};
use sqlx::PgPool;

use super::evaluate::{Group, Measure};
use crate::db::job_rollups::{self, KeyFilter, Sum};
use crate::domain::histogram::quantile;
use crate::domain::job_rollup::{label_key, labels_of, normalize_labels, tiles, JobCounters, JobScope};
use crate::domain::rollup::hour_of;
use crate::domain::settings::Settings;
use crate::insight::{self, RunnersParams};

/// A label set as stored in the rollups and named by `GET /api/runners` (`gpu,self-hosted`).
pub fn label_set(labels: &[String]) -> String {
    label_key(&normalize_labels(labels.iter().cloned()))
}

/// The one group of a job or runner condition (`None` for the conditions on groups of runs).
pub fn group(c: &Condition) -> Option<Group> {
    let labels: BTreeMap<String, String> = match c {
        Condition::JobQueueTime { labels, .. } | Condition::QueuedJobs { labels, .. } => {
            BTreeMap::from([("labels".to_owned(), label_set(labels))])
        }
        Condition::JobFailureRate { job, .. } | Condition::JobDuration { job, .. } => BTreeMap::from([
            ("repo".to_owned(), job.repo.trim().to_owned()),
            ("workflow".to_owned(), job.workflow.trim().to_owned()),
            ("job".to_owned(), job.name.trim().to_owned()),
        ]),
        _ => return None,
    };
    let key = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Some(Group {
        labels,
        key,
        tuples: Vec::new(),
    })
}

/// The dashboard view of a job or runner condition's group (the dashboard's URL scheme): its path
/// and query parameters in the order they are written, the runner pool's view
/// (`runners?labels=…`) or the job's trend (`jobs?job_repo=…&job_workflow=…&job=…`).
pub fn dashboard_view(
    c: &Condition,
    labels: &BTreeMap<String, String>,
) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let (path, params): (&str, &[(&str, &str)]) = match c {
        Condition::JobQueueTime { .. } | Condition::QueuedJobs { .. } => ("runners", &[("labels", "labels")]),
        Condition::JobFailureRate { .. } | Condition::JobDuration { .. } => (
            "jobs",
            &[("job_repo", "repo"), ("job_workflow", "workflow"), ("job", "job")],
        ),
        _ => return None,
    };
    let query = params
        .iter()
        .filter_map(|(param, key)| labels.get(*key).map(|v| (*param, v.clone())))
        .collect();
    Some((path, query))
}

/// `acme/api · ci · test`.
pub fn job_name(job: &JobRef) -> String {
    format!("{} · {} · {}", job.repo, job.workflow, job.name)
}

/// `[gpu, self-hosted]`, as the label set is shown (`[]` for jobs that named no label).
pub fn labels_text(labels: &[String]) -> String {
    format!("[{}]", labels_of(&label_set(labels)).join(", "))
}

pub fn percentile_name(p: Percentile) -> &'static str {
    match p {
        Percentile::P50 => "p50",
        Percentile::P95 => "p95",
    }
}

fn quantile_of(p: Percentile) -> f64 {
    match p {
        Percentile::P50 => 0.5,
        Percentile::P95 => 0.95,
    }
}

fn seconds_text(s: f64) -> String {
    Span::from_secs(s.round().max(0.0) as u64).to_string()
}

/// The counters of the rows of `scope` matching `filter` over the `window` before `now`, from the
/// start of its first hour (jobs are counted in the hour they started).
async fn totals(
    pool: &PgPool,
    scope: JobScope,
    filter: &KeyFilter,
    window: Span,
    now: DateTime<Utc>,
) -> sqlx::Result<JobCounters> {
    let from = hour_of(now - TimeDelta::seconds(window.as_secs() as i64));
    let tiles: Vec<_> = tiles(from, now, true)
        .into_iter()
        .map(|(g, b, sign)| (g, b, sign, 0))
        .collect();
    let mut sum = JobCounters::default();
    for (_, _, counters) in job_rollups::sums(pool, scope, &tiles, filter, Sum::WithHistograms).await? {
        sum.add(&counters, 1);
    }
    Ok(sum)
}

fn job_filter(job: &JobRef) -> KeyFilter {
    KeyFilter {
        repo: Some(job.repo.trim().to_owned()),
        workflow: Some(job.workflow.trim().to_owned()),
        job: Some(job.name.trim().to_owned()),
        labels: None,
    }
}

/// Measures a job or runner condition at `now`; `stale_after` is the runners view's limit past
/// which a queued job no longer counts.
pub async fn measure(
    pool: &PgPool,
    c: &Condition,
    now: DateTime<Utc>,
    stale_after: TimeDelta,
) -> sqlx::Result<Measure> {
    Ok(match c {
        Condition::JobQueueTime {
            labels,
            stat,
            threshold,
            window,
        } => {
            let filter = KeyFilter {
                labels: Some(label_set(labels)),
                ..KeyFilter::default()
            };
            let t = totals(pool, JobScope::Labels, &filter, *window, now).await?;
            percentile_over(&t.queue_hist, t.queue_count, *stat, *threshold, "queue time")
        }
        Condition::JobDuration {
            job,
            stat,
            threshold,
            window,
        } => {
            let t = totals(pool, JobScope::Job, &job_filter(job), *window, now).await?;
            let mut m = percentile_over(&t.duration_hist, t.duration_count, *stat, *threshold, "duration");
            (m.runs, m.latest) = executions(pool, job, *window, now, false).await?;
            m
        }
        Condition::JobFailureRate {
            job,
            threshold,
            window,
            min_runs,
        } => {
            let t = totals(pool, JobScope::Job, &job_filter(job), *window, now).await?;
            let mut m = job_failure_rate(&t, *threshold, *min_runs);
            (m.runs, m.latest) = executions(pool, job, *window, now, true).await?;
            m
        }
        Condition::QueuedJobs {
            labels,
            threshold,
            for_,
        } => {
            let (queued, oldest) = queued_now(pool, &label_set(labels), now, stale_after).await?;
            queued_jobs(queued, oldest, *threshold, *for_)
        }
        _ => Measure::good(),
    })
}

/// Bad when the `stat` percentile of a histogram of seconds is above `threshold`.
fn percentile_over(
    hist: &BTreeMap<i16, i64>,
    count: i64,
    stat: Percentile,
    threshold: Span,
    what: &str,
) -> Measure {
    let mut m = Measure::good();
    let limit = threshold.as_secs() as f64;
    if let Some(v) = quantile(&JobCounters::dense(hist), quantile_of(stat)) {
        m.value = Some(v);
        m.value_text = Some(format!(
            "{} {what} {} ({count} job{})",
            percentile_name(stat),
            seconds_text(v),
            if count == 1 { "" } else { "s" }
        ));
        m.bad = v > limit;
    }
    m.threshold = Some(limit);
    m.threshold_text = Some(threshold.to_string());
    m
}

/// Bad when at least `threshold` percent of the job's executions that succeeded or failed
/// failed, out of at least `min_runs`.
fn job_failure_rate(t: &JobCounters, threshold: f64, min_runs: u32) -> Measure {
    let mut m = Measure::good();
    let success = t.jobs - t.failures - t.cancelled - t.skipped;
    let counted = success + t.failures;
    if counted > 0 {
        let rate = 100.0 * t.failures as f64 / counted as f64;
        m.value = Some(rate);
        m.value_text = Some(format!(
            "{rate:.1}% of {counted} run{}",
            if counted == 1 { "" } else { "s" }
        ));
        m.bad = counted >= i64::from(min_runs) && rate >= threshold;
    }
    m.threshold = Some(threshold);
    m.threshold_text = Some(format!("{threshold}% (at least {min_runs} runs)"));
    m
}

/// Bad when at least `threshold` jobs are queued; the incident's pending time makes it last
/// `for` before it fires.
fn queued_jobs(queued: i64, oldest: Option<f64>, threshold: u32, for_: Span) -> Measure {
    let jobs = |n: i64| format!("{n} job{}", if n == 1 { "" } else { "s" });
    Measure {
        bad: queued >= i64::from(threshold),
        value: Some(queued as f64),
        threshold: Some(f64::from(threshold)),
        value_text: Some(match oldest {
            Some(wait) if queued > 0 => {
                format!("{} queued (the oldest for {})", jobs(queued), seconds_text(wait))
            }
            _ => format!("{} queued", jobs(queued)),
        }),
        threshold_text: Some(format!("{} queued for {for_}", jobs(i64::from(threshold)))),
        ..Measure::good()
    }
}

/// Jobs queued now for a label set, and how long the oldest has waited: the figures of
/// `GET /api/runners`.
async fn queued_now(
    pool: &PgPool,
    labels: &str,
    now: DateTime<Utc>,
    stale_after: TimeDelta,
) -> sqlx::Result<(i64, Option<f64>)> {
    let params = RunnersParams {
        from: Some(now - TimeDelta::hours(1)),
        to: Some(now),
        tz: None,
    };
    // An hour's tiles are all recent: nothing would be cached.
    let cache = insight::TileCache::default();
    let runners = match insight::runners(pool, &cache, &params, &Settings::default(), stale_after, now).await
    {
        Ok(r) => r,
        Err(crate::dashboard::Error::Database(e)) => return Err(e),
        Err(e) => return Err(sqlx::Error::Protocol(format!("runner pools: {e}"))),
    };
    let wanted = labels_of(labels);
    Ok(runners
        .items
        .into_iter()
        .find(|p| p.labels == wanted)
        .map_or((0, None), |p| {
            (p.queued, p.oldest_queued.map(|j| j.waiting_seconds))
        }))
}

/// The job's latest executions in the window, newest first: their run ids, and the newest one's
/// run with the job's link. With `failed`, only the failed ones.
async fn executions(
    pool: &PgPool,
    job: &JobRef,
    window: Span,
    now: DateTime<Utc>,
    failed: bool,
) -> sqlx::Result<(Vec<String>, Option<(String, Option<String>)>)> {
    let from = hour_of(now - TimeDelta::seconds(window.as_secs() as i64));
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select run_id, url from run_jobs \
         where repo = $1 and workflow = $2 and name = $3 and started_at >= $4 \
             and finished_at is not null and (not $5 or status = 'failure') \
         order by started_at desc limit 10",
    )
    .bind(job.repo.trim())
    .bind(job.workflow.trim())
    .bind(job.name.trim())
    .bind(from)
    .bind(failed)
    .fetch_all(pool)
    .await?;
    let latest = rows.first().cloned();
    let mut runs: Vec<String> = Vec::new();
    for (run, _) in rows {
        if !runs.contains(&run) {
            runs.push(run);
        }
    }
    Ok((runs, latest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobRef {
        JobRef {
            repo: "acme/api".into(),
            workflow: "ci".into(),
            name: "test".into(),
        }
    }

    #[test]
    fn a_rule_watches_one_label_set_or_one_job() {
        let q = Condition::QueuedJobs {
            labels: vec!["Self-Hosted".into(), " gpu".into(), "gpu".into()],
            threshold: 3,
            for_: Span::from_secs(600),
        };
        let g = group(&q).unwrap();
        assert_eq!(g.key, "labels=gpu,self-hosted");
        assert_eq!(
            dashboard_view(&q, &g.labels).unwrap(),
            ("runners", vec![("labels", "gpu,self-hosted".to_owned())])
        );
        let d = Condition::JobDuration {
            job: job(),
            stat: Percentile::P50,
            threshold: Span::from_secs(60),
            window: Span::from_secs(3600),
        };
        let g = group(&d).unwrap();
        assert_eq!(g.key, "job=test,repo=acme/api,workflow=ci");
        let (path, query) = dashboard_view(&d, &g.labels).unwrap();
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(path, "jobs");
        assert_eq!(query, ["job_repo=acme/api", "job_workflow=ci", "job=test"]);
        assert!(group(&Condition::ConsecutiveFailures { threshold: 2 }).is_none());
        assert_eq!(labels_text(&["GPU".into(), "linux".into()]), "[gpu, linux]");
    }

    #[test]
    fn failure_rate_counts_only_successes_and_failures_and_waits_for_min_runs() {
        let t = JobCounters {
            jobs: 6,
            failures: 2,
            cancelled: 1,
            skipped: 1,
            ..JobCounters::default()
        };
        // 2 successes and 2 failures count; the cancelled and the skipped one do not.
        let m = job_failure_rate(&t, 50.0, 4);
        assert_eq!(m.value, Some(50.0));
        assert!(m.bad);
        assert_eq!(m.value_text.as_deref(), Some("50.0% of 4 runs"));
        assert!(
            !job_failure_rate(&t, 50.0, 5).bad,
            "4 counted runs are fewer than 5"
        );
        assert!(!job_failure_rate(&t, 51.0, 4).bad);
        assert!(!job_failure_rate(&JobCounters::default(), 10.0, 0).bad);
    }

    #[test]
    fn percentiles_of_queue_and_duration_compare_with_the_threshold() {
        let mut hist = BTreeMap::new();
        hist.insert(crate::domain::histogram::bucket_of(600.0) as i16, 10);
        let m = percentile_over(&hist, 10, Percentile::P95, Span::from_secs(300), "queue time");
        assert!(m.bad);
        let v = m.value.unwrap();
        assert!((500.0..=720.0).contains(&v), "{v}");
        assert!(m.value_text.unwrap().starts_with("p95 queue time "));
        assert_eq!(m.threshold_text.as_deref(), Some("5m"));
        let calm = percentile_over(&hist, 10, Percentile::P50, Span::from_secs(3600), "duration");
        assert!(!calm.bad);
        let empty = percentile_over(
            &BTreeMap::new(),
            0,
            Percentile::P50,
            Span::from_secs(1),
            "duration",
        );
        assert!(!empty.bad && empty.value.is_none());
    }

    #[test]
    fn a_backlog_names_its_size_and_its_oldest_job() {
        let m = queued_jobs(7, Some(1380.0), 5, Span::from_secs(900));
        assert!(m.bad);
        assert_eq!(
            m.value_text.as_deref(),
            Some("7 jobs queued (the oldest for 23m)")
        );
        assert_eq!(m.threshold_text.as_deref(), Some("5 jobs queued for 15m"));
        assert!(!queued_jobs(4, Some(10.0), 5, Span::from_secs(0)).bad);
        assert_eq!(
            queued_jobs(0, None, 1, Span::from_secs(60)).value_text.as_deref(),
            Some("0 jobs queued")
        );
    }
}
