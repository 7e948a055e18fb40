//! Retention: runs older than `retention_days` go with their jobs, rollups older than
//! `rollup_retention_days` go after them, in bounded batches, by one replica at a time.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::retention::{Retention, LOCK_KEY};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, TestApp};

async fn settings(app: &TestApp, days: i32, rollup_days: i32) {
    let body = json!({"retention_days": days, "rollup_retention_days": rollup_days});
    app.put_settings(&body).await;
}

/// Records a finished run that started `days_ago` days before `now`, with one job.
async fn run_at(app: &TestApp, id: &str, now: DateTime<Utc>, days_ago: i64) {
    let started = now - TimeDelta::days(days_ago);
    let r = app
        .event(&event(json!({
            "id": id,
            "started_at": started.to_rfc3339(),
            "finished_at": (started + TimeDelta::minutes(2)).to_rfc3339(),
        })))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    sqlx::query("insert into run_jobs (run_id, id, provider, name, status) values ($1, 'job', 'generic', 'build', 'success')")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn ids(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
}

async fn rollup_buckets(pool: &PgPool) -> i64 {
    cicd_monitor::db::rollups::fold_all(pool).await.unwrap();
    sqlx::query_scalar("select count(distinct bucket) from run_rollups")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn job(pool: &PgPool, batch: i64, pause_ms: u64) -> Retention {
    let mut r = Retention::new(pool.clone(), &prometheus::Registry::new());
    r.batch = batch;
    r.pause = Duration::from_millis(pause_ms);
    r
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_past_retention_go_with_their_jobs_and_rollups_stay_until_their_own_cut(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    settings(&app, 30, 60).await;
    let now = Utc::now();
    for (id, days_ago) in [
        ("new", 10),
        ("edge", 29),
        ("old", 40),
        ("older", 45),
        ("ancient", 100),
    ] {
        run_at(&app, id, now, days_ago).await;
    }
    assert_eq!(rollup_buckets(&pool).await, 5);

    let report = job(&pool, 5000, 1)
        .run(now)
        .await
        .unwrap()
        .expect("the lock was free");
    assert_eq!((report.runs, report.jobs), (3, 3));
    assert_eq!(
        ids(&pool, "select id from pipeline_runs order by id").await,
        ["edge", "new"]
    );
    assert_eq!(
        ids(&pool, "select run_id from run_jobs order by run_id").await,
        ["edge", "new"]
    );
    // The rollups of the 40- and 45-day-old runs stay (60 days); the 100-day-old one goes.
    assert_eq!(rollup_buckets(&pool).await, 4);
    assert!(report.rollups > 0);
    let m = app.get("/api/metrics?from=2000-01-01T00:00:00Z").await;
    assert_eq!(
        m.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a 400-day window at most"
    );
    let from = (now - TimeDelta::days(50)).to_rfc3339();
    let m = app
        .get(&format!("/api/metrics?from={}", urlencoding(&from)))
        .await;
    assert_eq!(m.body["summary"]["total_runs"], 4, "{}", m.text);

    // A second pass finds nothing more.
    let again = job(&pool, 5000, 1).run(now).await.unwrap().unwrap();
    assert_eq!((again.runs, again.rollups, again.batches), (0, 0, 0));
}

fn urlencoding(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[sqlx::test(migrations = "../migrations")]
async fn each_transaction_deletes_at_most_a_batch(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    settings(&app, 7, 3650).await;
    let now = Utc::now();
    for i in 0..7 {
        run_at(&app, &format!("old-{i}"), now, 20 + i).await;
    }
    run_at(&app, "new", now, 1).await;
    let retention = job(&pool, 3, 1);
    let report = retention.run(now).await.unwrap().unwrap();
    // 3 + 3 + 1 runs: three transactions, none over the batch size.
    assert_eq!((report.runs, report.jobs, report.batches), (7, 7, 3));
    assert_eq!(ids(&pool, "select id from pipeline_runs").await, ["new"]);
    let deleted = &retention.metrics.deleted;
    assert_eq!(deleted.with_label_values(&["pipeline_runs"]).get(), 7);
    assert_eq!(deleted.with_label_values(&["run_jobs"]).get(), 7);
    assert!(retention.metrics.last_run.get() >= now.timestamp());
}

#[sqlx::test(migrations = "../migrations")]
async fn only_one_replica_deletes_at_a_time(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    settings(&app, 7, 400).await;
    let now = Utc::now();
    for i in 0..3 {
        run_at(&app, &format!("old-{i}"), now, 30).await;
    }

    // Another session (another replica mid-pass) holds the lock: this replica skips its pass.
    let mut other = pool.acquire().await.unwrap();
    let _: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert_eq!(job(&pool, 5000, 1).run(now).await.unwrap(), None);
    assert_eq!(ids(&pool, "select id from pipeline_runs").await.len(), 3);
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *other)
        .await
        .unwrap();

    // Two replicas start a pass together: one deletes (one run a batch, paced), the other skips.
    let (a, b) = (job(&pool, 1, 300), job(&pool, 1, 300));
    let (ra, rb) = tokio::join!(a.run(now), b.run(now));
    let reports: Vec<_> = [ra.unwrap(), rb.unwrap()].into_iter().flatten().collect();
    assert_eq!(reports.len(), 1, "exactly one replica ran the pass");
    assert_eq!(reports[0].runs, 3);
    assert!(ids(&pool, "select id from pipeline_runs").await.is_empty());
}
