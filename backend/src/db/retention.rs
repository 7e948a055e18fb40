//! The retention job's deletes, each one batch in one statement (so one short transaction) that
//! skips rows a writer holds right now.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Deletes up to `batch` runs charted before `cut`, oldest first, with their jobs; returns
/// `(runs, jobs)` deleted.
pub async fn delete_runs(
    db: impl PgExecutor<'_>,
    cut: DateTime<Utc>,
    batch: i64,
) -> sqlx::Result<(u64, u64)> {
    let row = sqlx::query!(
        "with doomed as ( \
             select id from pipeline_runs where run_at < $1 \
             order by run_at limit $2 for update skip locked \
         ), runs as ( \
             delete from pipeline_runs r using doomed d where r.id = d.id returning r.id \
         ), jobs as ( \
             delete from run_jobs j using runs r where j.run_id = r.id returning 1 \
         ) \
         select (select count(*) from runs) as \"runs!\", (select count(*) from jobs) as \"jobs!\"",
        cut,
        batch,
    )
    .fetch_one(db)
    .await?;
    Ok((row.runs as u64, row.jobs as u64))
}

/// Deletes up to `batch` rollup buckets older than `cut`.
pub async fn delete_rollups(db: impl PgExecutor<'_>, cut: DateTime<Utc>, batch: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from run_rollups where ctid = any(array( \
             select ctid from run_rollups where bucket < $1 limit $2 for update skip locked))",
        cut,
        batch,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Deletes up to `batch` dimensions (repo, workflow, branch…) last seen before `cut`.
pub async fn delete_dimensions(db: impl PgExecutor<'_>, cut: DateTime<Utc>, batch: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from run_dimensions where ctid = any(array( \
             select ctid from run_dimensions where last_seen_at < $1 limit $2 for update skip locked))",
        cut,
        batch,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Delivery tables, each with what makes a row older than the cut (`$1`): incidents, pushes,
/// commits and artifacts by their own time, environments when deleted before it; a deployment's
/// statuses, key and commits once the deployment is gone (deployments are dropped by whole partitions, so every id below the lowest one left, or
/// below the cut's when none is left, is gone).
pub const DELIVERY: [(&str, &str); 9] = [
    ("incidents", "started_at < $1"),
    ("pushes", "pushed_at < $1"),
    ("commits", "coalesce(merged_at, committed_at) < $1"),
    ("deployment_statuses", GONE),
    ("deployment_keys", GONE),
    ("deployment_commits", GONE),
    ("github_compares", GONE),
    ("artifacts", "updated_at < $1"),
    ("environments", "deleted_at < $1"),
];
const GONE: &str = "deployment_id < coalesce((select min(id) from deployments), \
     (extract(epoch from $1)::bigint << 20))";

/// Deletes up to `batch` rows of a [`DELIVERY`] table that are past the cut.
pub async fn delete_delivery(
    db: impl PgExecutor<'_>,
    (table, old): (&str, &str),
    cut: DateTime<Utc>,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "delete from {table} where ctid = any(array( \
             select ctid from {table} where {old} limit $2 for update skip locked))"
    ))
    .bind(cut)
    .bind(batch)
    .execute(db)
    .await?
    .rows_affected())
}

/// Tables of job figures, each with the column that dates a row: job rollups (by the end of the
/// period a row counts), and runner pools' busy minutes and hours.
pub const JOB_FIGURES: [(&str, &str); 3] = [
    (
        "job_rollups",
        "bucket + case grain when 0 then interval '1 hour' when 1 then interval '1 day' else interval '7 days' end",
    ),
    ("runner_busy", "minute + interval '1 minute'"),
    ("runner_busy_hours", "hour + interval '1 hour'"),
];

/// Deletes up to `batch` rows of `table` (one of [`JOB_FIGURES`]) whose period ended by `cut`.
pub async fn delete_job_figures(
    db: impl PgExecutor<'_>,
    (table, end): (&str, &str),
    cut: DateTime<Utc>,
    batch: i64,
) -> sqlx::Result<u64> {
    let delete = format!(
        "delete from {table} where ctid = any(array( \
             select ctid from {table} where {end} <= $1 limit $2 for update skip locked))"
    );
    if table != "job_rollups" {
        return Ok(sqlx::query(&delete)
            .bind(cut)
            .bind(batch)
            .execute(db)
            .await?
            .rows_affected());
    }
    // The tiles rows leave get new versions (see `job_rollups::tile_versions`).
    let deleted: i64 = sqlx::query_scalar(&format!(
        "with gone as ({delete} returning grain, bucket, scope), \
         bumped as (insert into job_rollup_tiles (grain, bucket, scope, version) \
             select grain, bucket, scope, nextval('job_rollup_version') \
             from (select distinct grain, bucket, scope from gone) t \
             on conflict (grain, bucket, scope) do update set version = excluded.version) \
         select count(*) from gone"
    ))
    .bind(cut)
    .bind(batch)
    .fetch_one(db)
    .await?;
    Ok(deleted as u64)
}

/// Test data, each with the condition that puts a row past `$1` (the cut) and the most rows one
/// batch takes (a report holds up to 200,000 results, deleted with it).
pub const TEST_FIGURES: [(&str, &str, i64); 3] = [
    ("test_uploads", "coalesce(run_at, received_at) < $1", 20),
    ("test_rollups", "day < $1::date", 5000),
    ("test_flakes", "last_seen < $1", 5000),
];

/// Deletes one batch of `table` (one of [`TEST_FIGURES`]) older than `cut`: reports (attached
/// ones by their run's time, those whose run never came by when they were received) with their
/// results and details, daily test figures, and flakes last seen before it.
pub async fn delete_test_figures(
    db: impl PgExecutor<'_>,
    (table, old, batch): (&str, &str, i64),
    cut: DateTime<Utc>,
) -> sqlx::Result<u64> {
    // A report's results and details go with it (they have no foreign key to cascade).
    let with_results = if table == "test_uploads" {
        ", gone_results as (delete from test_results where upload_id in (select id from gone)), \
         gone_details as (delete from test_result_details where upload_id in (select id from gone))"
    } else {
        ""
    };
    let deleted: i64 = sqlx::query_scalar(&format!(
        "with gone as (delete from {table} where ctid = any(array( \
             select ctid from {table} where {old} limit $2 for update skip locked)) returning *){with_results} \
         select count(*) from gone"
    ))
    .bind(cut)
    .bind(batch)
    .fetch_one(db)
    .await?;
    Ok(deleted as u64)
}
