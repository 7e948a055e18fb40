//! Job rollups and busy time are exact: whatever job events arrive, in whatever order and
//! batches, with folds at any point between them and runs arriving before or after their jobs,
//! the rollups equal a recount of the stored jobs.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};
use cicd_monitor::db;
use cicd_monitor::domain::job_rollup::{busy_minutes, count, rows, JobCounters, JobFacts, JobKey};
use cicd_monitor::domain::{JobEvent, RunEvent, RunStatus};
use cicd_monitor::writer::write_batch;
use proptest::prelude::*;
use sqlx::PgPool;

type Busy = BTreeMap<(String, DateTime<Utc>), i64>;

/// The rollups and busy minutes computed from scratch over the stored jobs (with their run's
/// names where the job has none).
async fn recount(pool: &PgPool) -> (HashMap<JobKey, JobCounters>, Busy) {
    #[allow(clippy::type_complexity)]
    let stored: Vec<(
        String,
        String,
        String,
        Vec<String>,
        Option<String>,
        RunStatus,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "select j.provider, coalesce(j.repo, r.repo), coalesce(j.workflow, r.workflow), j.labels, \
             j.runner_group, j.status, j.queued_at, j.started_at, j.finished_at, j.created_at \
         from run_jobs j left join pipeline_runs r on r.id = j.run_id \
         where coalesce(j.repo, r.repo) is not null",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "select j.name from run_jobs j left join pipeline_runs r on r.id = j.run_id \
         where coalesce(j.repo, r.repo) is not null",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut rollups: HashMap<JobKey, JobCounters> = HashMap::new();
    let mut busy = Busy::new();
    for ((provider, repo, workflow, labels, runner_group, status, q, s, f, created_at), name) in
        stored.into_iter().zip(names)
    {
        let Some(c) = count(&JobFacts {
            provider,
            repo,
            workflow,
            name,
            labels,
            runner_group,
            status,
            queued_at: q,
            started_at: s,
            finished_at: f,
            created_at,
        }) else {
            continue;
        };
        let counters = JobCounters::of(&c);
        for key in rows(&c) {
            rollups.entry(key).or_default().add(&counters, 1);
        }
        if let Some((from, to)) = c.busy {
            for (minute, ms) in busy_minutes(from, to) {
                *busy.entry((c.labels.clone(), minute)).or_default() += ms;
            }
        }
    }
    rollups.retain(|_, c| !c.is_zero());
    busy.retain(|_, ms| *ms != 0);
    (rollups, busy)
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn run(i: usize) -> RunEvent {
    RunEvent {
        id: format!("run-{i}"),
        provider: "github".into(),
        repo: ["org/a", "org/b"][i % 2].into(),
        workflow: "ci".into(),
        branch: Some("main".into()),
        commit_sha: None,
        status: RunStatus::Running,
        attempt: None,
        run_key: None,
        duration_seconds: None,
        queued_at: None,
        started_at: Some(base()),
        finished_at: None,
        triggered_by: None,
        url: None,
        metadata: serde_json::json!({}),
    }
}

#[derive(Debug, Clone)]
enum Step {
    Job(Box<JobEvent>),
    Run(usize),
    Fold,
}

fn arb_job() -> impl Strategy<Value = JobEvent> {
    (
        0..3usize,
        0..4usize,
        prop::sample::select(RunStatus::ALL.to_vec()),
        0..200i64,
        prop::option::of(0..600i64),
        prop::option::of(0..5400i64),
        0..3usize,
    )
        .prop_map(|(run, job, status, start_min, queued_s, ran_s, labels)| {
            let started = base() + TimeDelta::minutes(start_min * 7);
            JobEvent {
                run_id: format!("run-{run}"),
                id: format!("job-{job}"),
                provider: "github".into(),
                name: ["build", "test"][job % 2].into(),
                stage: None,
                status,
                queued_at: queued_s.map(|q| started - TimeDelta::seconds(q)),
                started_at: Some(started).filter(|_| status != RunStatus::Queued),
                finished_at: ran_s
                    .filter(|_| status.is_terminal())
                    .map(|s| started + TimeDelta::seconds(s)),
                runner_name: None,
                runner_group: None,
                labels: [
                    vec!["ubuntu-latest".to_owned()],
                    vec!["gpu".into(), "self-hosted".into()],
                    vec![],
                ][labels]
                    .clone(),
                steps: Vec::new(),
                url: None,
                failure_reason: None,
            }
        })
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => arb_job().prop_map(|j| Step::Job(Box::new(j))),
        1 => (0..3usize).prop_map(Step::Run),
        1 => Just(Step::Fold),
    ]
}

#[test]
fn job_rollups_equal_a_recount_of_the_jobs_after_any_events() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt.block_on(crate::support::fresh_database("job_rollup_prop"));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(arb_step(), 1..40), |steps| {
            rt.block_on(async {
                sqlx::query(
                    "truncate pipeline_runs, run_rollups, run_rollup_changes, run_dimensions, run_jobs, job_rollups, \
                     runner_busy, runner_busy_hours",
                )
                .execute(&pool)
                .await
                .unwrap();
                for step in steps {
                    match step {
                        Step::Job(job) => db::jobs::upsert(&mut pool.acquire().await.unwrap(), vec![*job]).await.unwrap(),
                        Step::Run(i) => {
                            let mut conn = pool.acquire().await.unwrap();
                            write_batch(&mut conn, &[run(i)], Utc::now()).await.unwrap();
                        }
                        Step::Fold => {
                            db::job_rollups::fold(&pool, 3, None).await.unwrap();
                        }
                    }
                }
                // Every run arrives in the end; everything is folded.
                let mut conn = pool.acquire().await.unwrap();
                write_batch(&mut conn, &[run(0), run(1), run(2)], Utc::now())
                    .await
                    .unwrap();
                while db::job_rollups::fold(&pool, 3, None).await.unwrap().jobs > 0 {}
                let (expected, expected_busy) = recount(&pool).await;
                prop_assert_eq!(db::job_rollups::all(&pool).await.unwrap(), expected);
                let (minutes, hours) = db::job_rollups::all_busy(&pool).await.unwrap();
                prop_assert_eq!(&minutes, &expected_busy);
                let mut expected_hours: BTreeMap<(String, DateTime<Utc>), (i64, i64)> = BTreeMap::new();
                for ((labels, minute), ms) in &minutes {
                    let hour = minute.duration_trunc(TimeDelta::hours(1)).unwrap();
                    let e = expected_hours.entry((labels.clone(), hour)).or_default();
                    e.0 += ms;
                    e.1 = e.1.max(*ms);
                }
                prop_assert_eq!(hours, expected_hours);
                Ok(())
            })
        })
        .unwrap();
}

/// Job writes racing a folder that works all the while (a write can land between a fold's read
/// of a job and its update of it) still leave the rollups equal to a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_rollups_stay_exact_when_writes_race_the_folder() {
    let pool = crate::support::fresh_database("job_rollup_race").await;
    let mut conn = pool.acquire().await.unwrap();
    write_batch(&mut conn, &[run(0), run(1), run(2)], Utc::now())
        .await
        .unwrap();
    drop(conn);
    let events: Vec<JobEvent> = {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = prop::collection::vec(arb_job(), 2000);
        strategy.new_tree(&mut runner).unwrap().current()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let folder = tokio::spawn({
        let (pool, stop) = (pool.clone(), stop.clone());
        async move {
            // Batches go on after the last job taken, as a drain of a backlog does.
            let (mut folds, mut after) = (0, None);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let folded = db::job_rollups::fold(&pool, 2, after.as_ref()).await.unwrap();
                if folded.jobs > 0 {
                    folds += 1;
                }
                after = if folded.jobs < 2 { None } else { folded.last };
            }
            folds
        }
    });
    let writers: Vec<_> = events
        .chunks(500)
        .map(|chunk| {
            let (pool, chunk) = (pool.clone(), chunk.to_vec());
            tokio::spawn(async move {
                // Each event twice (a replay), the second time after the folder may have taken it.
                for ev in chunk.iter().chain(&chunk) {
                    db::jobs::upsert(&mut pool.acquire().await.unwrap(), vec![ev.clone()])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let folds = folder.await.unwrap();
    assert!(
        folds > 10,
        "the folder took jobs while they were written ({folds} times)"
    );
    while db::job_rollups::fold(&pool, 50, None).await.unwrap().jobs > 0 {}
    let (expected, expected_busy) = recount(&pool).await;
    assert_eq!(db::job_rollups::all(&pool).await.unwrap(), expected);
    assert_eq!(db::job_rollups::all_busy(&pool).await.unwrap().0, expected_busy);
}
