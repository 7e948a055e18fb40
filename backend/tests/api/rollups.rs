//! Rollups are exact: whatever sequence of events arrives, in whatever batches, the rollup rows
//! equal a recount of the stored runs.

use std::collections::HashMap;

use chrono::{TimeDelta, TimeZone, Utc};
use cicd_monitor::db;
use cicd_monitor::domain::rollup::{contribution, Counters, RollupKey};
use cicd_monitor::domain::{RunEvent, RunStatus};
use cicd_monitor::writer::write_batch;
use proptest::prelude::*;
use sqlx::PgPool;

pub(crate) async fn recount(pool: &PgPool) -> HashMap<RollupKey, Counters> {
    let ids: Vec<String> = sqlx::query_scalar("select id from pipeline_runs")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let rows = db::runs::lock_existing(&mut conn, &ids).await.unwrap();
    let mut expected: HashMap<RollupKey, Counters> = HashMap::new();
    for row in rows {
        for (k, c) in contribution(&row.into_state().0) {
            expected.entry(k).or_default().add(&c, 1);
        }
    }
    expected
}

fn arb_event() -> impl Strategy<Value = RunEvent> {
    (
        0..6usize,
        prop::sample::select(RunStatus::ALL.to_vec()),
        0..72i64,
        prop::option::of(0.0..5000.0f64),
        prop::option::of(0..3usize),
        0..2usize,
        prop::option::of(0..120i64),
        prop::option::of(0..4000i64),
    )
        .prop_map(
            |(id, status, start_min, duration, branch, repo, finish_after, queued_for)| {
                let base = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
                let started = base + TimeDelta::minutes(start_min * 17);
                RunEvent {
                    id: format!("run-{id}"),
                    provider: "generic".into(),
                    repo: ["org/a", "org/b"][repo].into(),
                    workflow: ["ci", "deploy"][id % 2].into(),
                    branch: branch.map(|b| ["main", "dev", "feature/x"][b].to_owned()),
                    commit_sha: None,
                    status,
                    attempt: None,
                    run_key: None,
                    duration_seconds: duration,
                    // Queue times move with corrections too (seconds, so that buckets vary).
                    queued_at: queued_for.map(|q| started - TimeDelta::seconds(q)),
                    started_at: Some(started),
                    finished_at: finish_after
                        .filter(|_| status.is_terminal())
                        .map(|m| started + TimeDelta::minutes(m)),
                    triggered_by: None,
                    url: None,
                    metadata: serde_json::json!({}),
                }
            },
        )
}

#[test]
fn rollups_equal_a_recount_of_the_runs_after_any_events() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt.block_on(crate::support::fresh_database("rollup_prop"));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::collection::vec(arb_event(), 1..40),
        prop::collection::vec(1..8usize, 1..10),
    );
    runner
        .run(&strategy, |(events, splits)| {
            rt.block_on(async {
                sqlx::query("truncate pipeline_runs, run_rollups, run_rollup_changes, run_dimensions")
                    .execute(&pool)
                    .await
                    .unwrap();
                let mut rest = &events[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let n = splits[i % splits.len()].min(rest.len());
                    let mut conn = pool.acquire().await.unwrap();
                    write_batch(&mut conn, &rest[..n], Utc::now()).await.unwrap();
                    rest = &rest[n..];
                    i += 1;
                }
                db::rollups::fold_all(&pool).await.unwrap();
                let stored = db::rollups::all(&pool).await.unwrap();
                let expected = recount(&pool).await;
                prop_assert_eq!(stored, expected);
                Ok(())
            })
        })
        .unwrap();
}

/// Writers correcting the same runs at the same time, in batches of any size and order, while
/// folds run: once the queue is folded, the rollups equal a recount.
#[sqlx::test(migrations = "../migrations")]
async fn rollups_stay_exact_under_concurrent_writers_and_folds(pool: PgPool) {
    crate::support::partition(&pool).await;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let events: Vec<RunEvent> = (0..800)
        .map(|_| proptest::strategy::ValueTree::current(&arb_event().new_tree(&mut runner).unwrap()))
        .collect();
    let mut writers = Vec::new();
    for w in 0..4 {
        let pool = pool.clone();
        // Each writer sends every event, in its own order and batch sizes: replays, out-of-order
        // corrections and new runs racing each other.
        let mut mine = events.clone();
        for i in (1..mine.len()).rev() {
            mine.swap(i, rng.gen_range(0..=i));
        }
        let sizes: Vec<usize> = (0..64).map(|_| rng.gen_range(1..40)).collect();
        writers.push(tokio::spawn(async move {
            let mut rest = &mine[..];
            let mut i = w;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                let mut conn = pool.acquire().await.unwrap();
                write_batch(&mut conn, &rest[..n], Utc::now()).await.unwrap();
                rest = &rest[n..];
                i += 1;
            }
        }));
    }
    let folding = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut folded = 0;
            for _ in 0..200 {
                folded += db::rollups::fold(&pool, 50, false).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            folded
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        folding.await.unwrap() > 0,
        "the folds ran while the writers wrote"
    );
    db::rollups::fold_all(&pool).await.unwrap();
    let queued: i64 = sqlx::query_scalar("select count(*) from run_rollup_changes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    assert_eq!(db::rollups::all(&pool).await.unwrap(), recount(&pool).await);
    // No index makes an id unique across partitions: the writers' claims do.
    let ids: Vec<String> = sqlx::query_scalar("select distinct id from pipeline_runs")
        .fetch_all(&pool)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("select count(*) from pipeline_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, ids.len() as i64, "every run is stored once");
}

/// The writer wakes the run folder after its commit: the queued changes reach the rollups
/// without any reader folding them.
#[sqlx::test(migrations = "../migrations")]
async fn the_folder_folds_what_the_writer_queued(pool: PgPool) {
    let app = crate::support::TestApp::new(pool.clone()).await;
    app.state
        .run_folder
        .clone()
        .spawn(std::time::Duration::from_secs(60));
    for i in 0..5 {
        let r = app
            .event(&crate::support::event(
                serde_json::json!({"id": format!("f-{i}")}),
            ))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let started = std::time::Instant::now();
    loop {
        let queued: i64 = sqlx::query_scalar("select count(*) from run_rollup_changes")
            .fetch_one(&pool)
            .await
            .unwrap();
        let counted: Option<i64> =
            sqlx::query_scalar("select sum(runs)::int8 from run_rollups where scope = 0")
                .fetch_one(&pool)
                .await
                .unwrap();
        if queued == 0 && counted == Some(5) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{queued} changes still queued, {counted:?} runs counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
