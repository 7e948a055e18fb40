//! Queries on `run_jobs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::types::Json;
use sqlx::{Acquire, PgConnection, PgPool};

use crate::domain::{Job, JobEvent, RunStatus, Step};

/// Writes job events. Like runs, a job's status never moves backwards: an event of a lower stage
/// than the stored one changes nothing; otherwise known fields replace stored ones and absent
/// fields keep them. A job written is marked for the folder (see [`super::job_rollups::fold`]),
/// and the label sets whose jobs changed are announced on [`RUNNERS`](super::notify::RUNNERS)
/// when the transaction commits.
///
/// `run_jobs` is partitioned by time, so no index makes a job unique: each job is locked by an
/// advisory lock (class 2, keyed by a hash of its run and id, in key order so that writers never
/// deadlock) before the statement that updates the stored jobs and inserts the others, which
/// therefore sees every job another writer committed. Runs in a transaction of its own (a
/// savepoint when `conn` is in one already).
pub async fn upsert(conn: &mut PgConnection, events: Vec<JobEvent>) -> sqlx::Result<()> {
    // One row per job (a statement may not touch a row twice): the furthest-along event wins,
    // the later one among equals. Rows are locked in key order, the order the folder locks
    // them in too, so that writers and the folder never deadlock.
    let mut latest: BTreeMap<(String, String), JobEvent> = BTreeMap::new();
    for ev in events {
        let ev = ev.at_storage_precision();
        let key = (ev.run_id.clone(), ev.id.clone());
        match latest.get(&key) {
            Some(old) if old.status.stage() > ev.status.stage() => {}
            _ => {
                latest.insert(key, ev);
            }
        }
    }
    if latest.is_empty() {
        return Ok(());
    }
    let (run_ids, ids): (Vec<String>, Vec<String>) = latest.keys().cloned().unzip();
    let mut tx = conn.begin().await?;
    // Every statement of the transaction goes by key: kept off sequential scans, which the planner
    // chose when a partition had no statistics yet (no index says a job's key alone is unique).
    // The stored jobs are probed one key at a time: `run_id = any(…) and id = any(…)` made
    // PostgreSQL 15 probe every pair of the two lists (1.2 million probes for a batch of 2,000
    // jobs of 600 runs).
    sqlx::query(
        "select set_config('enable_seqscan', 'off', true), pg_advisory_xact_lock(2, k) from \
         (select distinct hashtext(r || ' ' || i) as k from unnest($1::text[], $2::text[]) as u(r, i)) l \
         order by k",
    )
    .bind(&run_ids)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let rows: Vec<_> = latest
        .into_values()
        .map(|j| {
            json!({
                "run_id": j.run_id, "id": j.id, "provider": j.provider, "name": j.name, "stage": j.stage,
                "status": j.status, "queued_at": j.queued_at, "started_at": j.started_at,
                "finished_at": j.finished_at, "runner_name": j.runner_name, "runner_group": j.runner_group,
                "labels": j.labels, "steps": j.steps, "url": j.url, "failure_reason": j.failure_reason,
            })
        })
        .collect();
    sqlx::query(
        "with r as materialized (select * from jsonb_to_recordset($1) as r(run_id text, id text, provider text, \
             name text, stage text, status text, queued_at timestamptz, started_at timestamptz, \
             finished_at timestamptz, runner_name text, runner_group text, labels text[], steps jsonb, \
             url text, failure_reason text)), \
         stored as materialized (select j.run_id, j.id from unnest($3::text[], $4::text[]) k(run_id, id) \
             cross join lateral (select j.run_id, j.id from run_jobs j \
                 where j.run_id = k.run_id and j.id = k.id) j \
             order by j.run_id, j.id for update of j), \
         updated as (update run_jobs j set \
             name = r.name, \
             stage = coalesce(r.stage, j.stage), \
             status = r.status, \
             queued_at = coalesce(r.queued_at, j.queued_at), \
             started_at = coalesce(r.started_at, j.started_at), \
             finished_at = coalesce(r.finished_at, j.finished_at), \
             runner_name = coalesce(r.runner_name, j.runner_name), \
             runner_group = coalesce(r.runner_group, j.runner_group), \
             labels = case when cardinality(r.labels) > 0 then r.labels else j.labels end, \
             steps = case when jsonb_array_length(r.steps) > 0 then r.steps else j.steps end, \
             url = coalesce(r.url, j.url), \
             failure_reason = coalesce(r.failure_reason, j.failure_reason), \
             updated_at = now(), pending = true \
         from r where j.run_id = any($3::text[]) and j.run_id = r.run_id and j.id = r.id \
             and (select count(*) from stored) >= 0 \
             and run_stage(r.status) >= run_stage(j.status) \
         returning j.labels), \
         inserted as (insert into run_jobs (run_id, id, provider, name, stage, status, queued_at, \
             started_at, finished_at, runner_name, runner_group, labels, steps, url, failure_reason) \
         select run_id, id, provider, name, stage, status, queued_at, started_at, finished_at, \
             runner_name, runner_group, coalesce(labels, '{}'), coalesce(steps, '[]'), url, failure_reason \
         from r where not exists (select 1 from stored s where s.run_id = r.run_id and s.id = r.id) \
         order by run_id, id \
         returning labels) \
         select pg_notify($2, case when length(p) < 7000 then p else '[]' end) \
         from (select jsonb_agg(distinct array_to_string(labels, ','))::text as p \
             from (select labels from updated union all select labels from inserted) w) s \
         where p is not null",
    )
    .bind(Json(rows))
    .bind(super::notify::RUNNERS)
    .bind(&run_ids)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[derive(Debug)]
struct JobRow {
    id: String,
    name: String,
    stage: Option<String>,
    status: RunStatus,
    queued_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    runner_name: Option<String>,
    runner_group: Option<String>,
    labels: Vec<String>,
    steps: Json<Vec<Step>>,
    url: Option<String>,
    failure_reason: Option<String>,
    updated_at: DateTime<Utc>,
}

/// The jobs of a run, in the order they were queued.
pub async fn of_run(pool: &PgPool, run_id: &str) -> sqlx::Result<Vec<Job>> {
    let rows = sqlx::query_as!(
        JobRow,
        r#"select id, name, stage, status as "status: RunStatus", queued_at, started_at, finished_at,
               runner_name, runner_group, labels, steps as "steps: Json<Vec<Step>>", url, failure_reason,
               updated_at
           from run_jobs where run_id = $1
           order by coalesce(queued_at, started_at, created_at), name, id"#,
        run_id,
    )
    .fetch_all(pool)
    .await?;
    let secs = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
        (Some(a), Some(b)) if b >= a => Some((b - a).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6),
        _ => None,
    };
    Ok(rows
        .into_iter()
        .map(|r| Job {
            queue_seconds: secs(r.queued_at, r.started_at),
            duration_seconds: secs(r.started_at, r.finished_at),
            id: r.id,
            name: r.name,
            stage: r.stage,
            status: r.status,
            queued_at: r.queued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            runner_name: r.runner_name,
            runner_group: r.runner_group,
            labels: r.labels,
            steps: r.steps.0,
            url: r.url,
            failure_reason: r.failure_reason,
            updated_at: r.updated_at,
        })
        .collect())
}
