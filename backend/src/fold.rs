//! The folders. [`Folder`] moves finished jobs into the job rollups and runner pools' busy time, a
//! batch at a time, shortly after they are written (see [`db::job_rollups::fold`]); it also
//! attaches test reports uploaded before their run arrived, once it has (see
//! [`db::test_results::attach`]). [`RunFolder`] moves the runs' queued rollup changes into the run
//! rollups (see [`db::rollups::fold`]). For each, one replica folds at a time; the others find the
//! lock taken and wait for their next turn.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::db;

/// Jobs folded per transaction.
pub const BATCH: i64 = 2000;

/// Test reports attached per query for pending ones.
const ATTACH_BATCH: i64 = 100;

/// How long the folder waits after being woken, so that the writes of a burst are folded
/// together: a job's queued, in-progress and completed events that come close together are then
/// counted once rather than three times (see ADR 0018).
const COALESCE: Duration = Duration::from_millis(500);

/// Folds everything pending, a batch at a time, each going on where the one before stopped;
/// returns the number of jobs taken.
pub async fn drain(pool: &PgPool) -> sqlx::Result<usize> {
    let (mut total, mut after) = (0, None);
    loop {
        let folded = db::job_rollups::fold(pool, BATCH, after.as_ref()).await?;
        total += folded.jobs;
        if folded.jobs < BATCH as usize {
            return Ok(total);
        }
        after = folded.last;
    }
}

/// Handle to the folder task.
pub struct Folder {
    pool: PgPool,
    wake: Notify,
}

impl Folder {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(Folder {
            pool,
            wake: Notify::new(),
        })
    }

    /// Asks for a fold now (jobs were written).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Folds everything pending and attaches the test reports whose run has arrived; returns the
    /// number of jobs taken.
    pub async fn run_once(&self) -> sqlx::Result<usize> {
        let jobs = drain(&self.pool).await?;
        while db::test_results::attach_pending(&self.pool, ATTACH_BATCH).await? == ATTACH_BATCH as usize {}
        Ok(jobs)
    }

    /// Folds when woken, and every `interval` (jobs written by other replicas, jobs whose run
    /// arrived later).
    pub fn spawn(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            woken(&self.wake, interval, COALESCE, || async {
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "could not fold jobs into the rollups; retrying");
                }
            })
            .await
        });
    }
}

/// Runs `work` `coalesce` after each wake-up, and every `interval` without one; for ever.
async fn woken<F: std::future::Future<Output = ()>>(
    wake: &Notify,
    interval: Duration,
    coalesce: Duration,
    mut work: impl FnMut() -> F,
) {
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
        tokio::time::sleep(coalesce).await;
        work().await;
    }
}

/// How long the run folder waits after being woken, so that one fold takes the changes of many
/// writer commits (ADR 0021).
const RUN_COALESCE: Duration = Duration::from_secs(1);

/// Handle to the task that folds the runs' queued rollup changes.
pub struct RunFolder {
    pool: PgPool,
    wake: Notify,
}

impl RunFolder {
    pub fn new(pool: PgPool) -> Arc<Self> {
        Arc::new(RunFolder {
            pool,
            wake: Notify::new(),
        })
    }

    /// Asks for a fold soon (the writer committed changes).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Folds when woken and every `interval` (changes written by other replicas, or left by a
    /// fold that failed), a batch at a time until nothing is left.
    pub fn spawn(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            woken(&self.wake, interval, RUN_COALESCE, || async {
                if let Err(e) = db::rollups::fold_queued(&self.pool, false).await {
                    tracing::warn!(error = %e, "could not fold run changes into the rollups; retrying");
                }
            })
            .await
        });
    }
}
