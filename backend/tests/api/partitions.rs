//! Time partitions: the online conversion of a populated database while writers write, weekly
//! partitions created ahead, retention dropping whole partitions, and ids kept unique by the
//! writers' claims once no index does.

use chrono::{DateTime, Duration, TimeDelta, Utc};
use cicd_monitor::db::{self, partitions};
use cicd_monitor::domain::{JobEvent, RunEvent, RunStatus};
use cicd_monitor::retention::Retention;
use cicd_monitor::writer::write_batch;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{event, TestApp};

fn run(id: String, status: RunStatus, started: DateTime<Utc>) -> RunEvent {
    RunEvent {
        id,
        provider: "generic".into(),
        repo: "org/app".into(),
        workflow: "ci".into(),
        branch: Some("main".into()),
        commit_sha: None,
        status,
        attempt: None,
        run_key: None,
        duration_seconds: None,
        queued_at: None,
        started_at: Some(started),
        finished_at: status.is_terminal().then(|| started + TimeDelta::minutes(3)),
        triggered_by: None,
        url: None,
        metadata: json!({}),
    }
}

fn job(run_id: &str, id: usize, status: RunStatus) -> JobEvent {
    JobEvent {
        run_id: run_id.into(),
        id: format!("job-{id}"),
        provider: "generic".into(),
        name: format!("build-{id}"),
        stage: None,
        status,
        queued_at: None,
        started_at: None,
        finished_at: None,
        runner_name: None,
        runner_group: None,
        labels: vec!["linux".into()],
        steps: vec![],
        url: None,
        failure_reason: None,
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn is_partitioned(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar("select relkind = 'p' from pg_class where oid = $1::regclass")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn names(pool: &PgPool, table: &partitions::Table) -> Vec<String> {
    let mut conn = pool.acquire().await.unwrap();
    partitions::list(&mut conn, table)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// A database from before partitioning, with runs, jobs and test results, is converted while
/// writers keep recording and correcting runs and jobs: nothing is lost or doubled, the rollups
/// stay exact, and the API reads it all.
#[sqlx::test(migrations = "../migrations")]
async fn a_populated_database_is_partitioned_while_writers_write(pool: PgPool) {
    let t0 = Utc::now() - Duration::days(3);
    let mut conn = pool.acquire().await.unwrap();
    for batch in 0..20 {
        let events: Vec<RunEvent> = (0..100)
            .map(|i| {
                run(
                    format!("old-{batch}-{i}"),
                    RunStatus::Running,
                    t0 + Duration::minutes(i),
                )
            })
            .collect();
        write_batch(&mut conn, &events, Utc::now()).await.unwrap();
    }
    let jobs: Vec<JobEvent> = (0..300).map(|i| job("old-0-0", i, RunStatus::Running)).collect();
    db::jobs::upsert(&mut conn, jobs).await.unwrap();
    let upload: i64 = sqlx::query_scalar(
        "insert into test_uploads (run_id, digest, tests, passed, failed, skipped, flaky, errors) \
         values ('old-0-0', '\\x00', 500, 500, 0, 0, 0, 0) returning id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into test_results (upload_id, test_id, status, attempts) \
         select $1, t, 2, 1 from generate_series(1, 500) t",
    )
    .bind(upload)
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    assert!(!is_partitioned(&pool, "pipeline_runs").await);

    // Writers finish the old runs, start new ones, and move jobs on, before, during and after.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (pool, stop) = (pool.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 5 {
                let mut conn = pool.acquire().await.unwrap();
                let events: Vec<RunEvent> = (0..20)
                    .flat_map(|i| {
                        [
                            run(
                                format!("old-{}-{}", rounds % 20, w * 20 + i),
                                RunStatus::Success,
                                t0 + Duration::minutes(w as i64 * 20 + i as i64),
                            ),
                            run(
                                format!("new-{w}-{rounds}-{i}"),
                                RunStatus::Failure,
                                t0 + Duration::hours(1),
                            ),
                        ]
                    })
                    .collect();
                write_batch(&mut conn, &events, Utc::now()).await.unwrap();
                let jobs: Vec<JobEvent> = (0..30)
                    .map(|i| job("old-0-0", i * 3 + w, RunStatus::Success))
                    .collect();
                db::jobs::upsert(&mut conn, jobs).await.unwrap();
                rounds += 1;
            }
            rounds
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    db::migrate(&pool).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut new_runs = 0;
    for w in writers {
        new_runs += w.await.unwrap() * 20;
    }

    for t in partitions::TABLES {
        assert!(is_partitioned(&pool, t.name).await, "{} is partitioned", t.name);
        assert!(
            names(&pool, &t).await.len() >= 2,
            "{} has its first partition and the next",
            t.name
        );
    }
    assert_eq!(
        count(&pool, "select count(*) from pipeline_runs").await,
        2000 + new_runs as i64
    );
    assert_eq!(
        count(&pool, "select count(distinct id) from pipeline_runs").await,
        2000 + new_runs as i64
    );
    assert_eq!(count(&pool, "select count(*) from run_jobs").await, 300);
    assert_eq!(
        count(&pool, "select count(*) from run_jobs where status = 'success'").await,
        90
    );
    assert_eq!(count(&pool, "select count(*) from test_results").await, 500);
    db::rollups::fold_all(&pool).await.unwrap();
    assert_eq!(
        db::rollups::all(&pool).await.unwrap(),
        crate::rollups::recount(&pool).await
    );

    // Migrating again (another replica starting) changes nothing; the API reads the partitions.
    db::migrate(&pool).await.unwrap();
    let app = TestApp::new(pool.clone()).await;
    let one = app.get("/api/runs/old-0-0").await;
    assert_eq!(
        one.body["jobs"].as_array().map(Vec::len),
        Some(300),
        "{}",
        one.text
    );
}

/// Weekly partitions exist ahead of time; retention drops those that hold nothing to keep and
/// leaves to row deletes what a partition it keeps holds.
#[sqlx::test(migrations = "../migrations")]
async fn retention_drops_whole_partitions_past_the_cut(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let now = Utc::now();
    let ahead = partitions::week_of(now) + Duration::weeks(partitions::WEEKS_AHEAD);
    for t in partitions::TABLES {
        let mut conn = pool.acquire().await.unwrap();
        let parts = partitions::list(&mut conn, &t).await.unwrap();
        assert!(
            parts[0].from.is_none(),
            "the first partition holds everything before it"
        );
        assert!(
            parts.last().unwrap().to > ahead,
            "{} is partitioned weeks ahead",
            t.name
        );
        assert!(parts.windows(2).all(|w| w[0].to == w[1].from.unwrap()), "no gaps");
    }
    let body = json!({"retention_days": 30, "rollup_retention_days": 400, "test_retention_days": 30});
    app.put_settings(&body).await;

    // Now: an old run with a job and a test report, and a run whose time is still to come.
    assert!(app.event(&event(json!({"id": "old"}))).await.status.is_success());
    let later = now + Duration::days(100);
    let mut conn = pool.acquire().await.unwrap();
    // (Written as the writer does: the API drops a start more than a day ahead.)
    write_batch(&mut conn, &[run("future".into(), RunStatus::Running, later)], now)
        .await
        .unwrap();
    db::jobs::upsert(&mut conn, vec![job("old", 1, RunStatus::Success)])
        .await
        .unwrap();
    let xml = crate::test_results::junit(&[("a", "pass"), ("b", "fail")]);
    let up = crate::test_results::upload(&app, "old", "", &xml).await;
    assert!(up.status.is_success(), "{}", up.text);

    // A hundred days on: the weeks between are created, and a recent run lands in its week.
    assert!(partitions::maintain(&pool, later).await.unwrap() > 10);
    write_batch(
        &mut conn,
        &[run(
            "recent".into(),
            RunStatus::Success,
            later - Duration::days(1),
        )],
        later - Duration::days(1),
    )
    .await
    .unwrap();
    let cut = later - Duration::days(30);
    let past: Vec<String> = partitions::before(&pool, &partitions::RUNS, cut)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let first = past[0].clone();

    let retention = Retention::new(pool.clone(), &prometheus::Registry::new());
    let report = retention.run(later).await.unwrap().unwrap();
    // Runs: every past week but the first, which holds "future"; jobs and test results (whose
    // report goes by the old run's time): every past week.
    assert_eq!(
        report.partitions as usize,
        (past.len() - 1) + past.len() * 3,
        "{report:?}"
    );
    assert_eq!(
        report.runs, 1,
        "\"old\" goes row by row from the partition that stays"
    );
    let runs = names(&pool, &partitions::RUNS).await;
    assert!(runs.contains(&first) && !runs.contains(&past[1]), "{runs:?}");
    let ids: Vec<String> = sqlx::query_scalar("select id from pipeline_runs order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids, ["future", "recent"]);
    assert_eq!(count(&pool, "select count(*) from run_jobs").await, 0);
    assert_eq!(count(&pool, "select count(*) from test_results").await, 0);
    assert_eq!(count(&pool, "select count(*) from test_uploads").await, 0);
    assert_eq!(
        retention.metrics.dropped.with_label_values(&["run_jobs"]).get() as usize,
        past.len()
    );

    // Once nothing in it is kept, the first partition goes too; the API reads what is left.
    sqlx::query("delete from pipeline_runs where id = 'future'")
        .execute(&pool)
        .await
        .unwrap();
    let again = retention.run(later).await.unwrap().unwrap();
    assert_eq!(again.partitions, 1);
    assert!(!names(&pool, &partitions::RUNS).await.contains(&first));
    let listed = app.get("/api/runs").await;
    assert_eq!(
        listed.body["runs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
}

/// Writers racing on the same new jobs, in different orders and states: each job is stored once,
/// at its furthest state.
#[sqlx::test(migrations = "../migrations")]
async fn concurrent_job_writers_store_each_job_once(pool: PgPool) {
    crate::support::partition(&pool).await;
    let statuses = [RunStatus::Queued, RunStatus::Running, RunStatus::Success];
    let mut writers = Vec::new();
    for w in 0..6 {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            for round in 0..10 {
                let mut jobs: Vec<JobEvent> = (0..40)
                    .map(|i| job("r", i, statuses[(w + i + round) % 3]))
                    .collect();
                if w % 2 == 1 {
                    jobs.reverse();
                }
                let mut conn = pool.acquire().await.unwrap();
                db::jobs::upsert(&mut conn, jobs).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(count(&pool, "select count(*) from run_jobs").await, 40);
    assert_eq!(
        count(&pool, "select count(*) from run_jobs where status = 'success'").await,
        40
    );
}
