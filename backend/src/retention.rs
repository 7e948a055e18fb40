//! Retention: deletes runs older than `retention_days` (with their jobs and raw payloads), hourly
//! rollups older than `rollup_retention_days`, and test results older than `test_retention_days`
//! (see [`crate::domain::settings`]).
//!
//! A pass runs every `CICD_RETENTION_INTERVAL` seconds on every replica, but only one replica at a
//! time does the work: the pass holds a PostgreSQL advisory lock (`pg_try_advisory_xact_lock`, in
//! a transaction kept open for the pass; see [`crate::db::exclusively`]), and a replica that
//! cannot take it skips the pass. Whole weekly partitions of runs, jobs and test results go first
//! ([`crate::db::partitions`]), when nothing in them is to be kept; the rest is deleted in
//! small batches, one transaction each, with a short pause between batches, so that a first pass
//! over years of history never holds locks or bloats WAL for long and ingest carries on beside it.
//!
//! Rollups keep counting deleted runs: that is what lets the dashboard show a year of counters
//! while keeping 90 days of runs. (A late event about a run already deleted records it afresh.)

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use serde::Serialize;
use sqlx::PgPool;

use crate::db::{self, partitions};

/// The advisory lock one pass holds ("retent").
pub const LOCK_KEY: i64 = 0x7265_7465_6e74;

/// Metrics of the retention job, registered on the backend's registry.
#[derive(Clone)]
pub struct RetentionMetrics {
    /// Rows deleted, by table.
    pub deleted: IntCounterVec,
    /// When the last pass that held the lock finished (Unix seconds).
    pub last_run: IntGauge,
    /// Partitions dropped, by table.
    pub dropped: IntCounterVec,
}

impl RetentionMetrics {
    pub fn new(registry: &Registry) -> Self {
        let deleted = IntCounterVec::new(
            Opts::new(
                "cicd_retention_deleted_rows_total",
                "Rows deleted by the retention job, by table (pipeline_runs, run_jobs, run_rollups, job_rollups, runner_busy, runner_busy_hours, run_dimensions, test_uploads, test_rollups, test_flakes).",
            ),
            &["table"],
        )
        .expect("valid metric");
        let last_run = IntGauge::new(
            "cicd_retention_last_run_timestamp_seconds",
            "When this replica last finished a retention pass (Unix time; 0 before the first).",
        )
        .expect("valid metric");
        let dropped = IntCounterVec::new(
            Opts::new(
                "cicd_retention_dropped_partitions_total",
                "Weekly partitions dropped whole by the retention job, by table (pipeline_runs, run_jobs, test_results, test_result_details).",
            ),
            &["table"],
        )
        .expect("valid metric");
        // Registering twice (a second state on one registry, in tests) keeps the first.
        let _ = registry.register(Box::new(deleted.clone()));
        let _ = registry.register(Box::new(last_run.clone()));
        let _ = registry.register(Box::new(dropped.clone()));
        RetentionMetrics {
            deleted,
            last_run,
            dropped,
        }
    }
}

/// What one pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub runs: u64,
    pub jobs: u64,
    pub rollups: u64,
    pub dimensions: u64,
    /// Test reports, daily test figures and flakes.
    pub tests: u64,
    /// Incidents, pushes and commits, and the statuses, keys and commits of deployments whose
    /// partition was dropped.
    pub deliveries: u64,
    /// Partitions dropped whole (their rows are not counted above).
    pub partitions: u64,
    /// Transactions the pass committed.
    pub batches: u64,
}

/// The retention job.
pub struct Retention {
    pub pool: PgPool,
    pub metrics: RetentionMetrics,
    /// Most rows one transaction deletes.
    pub batch: i64,
    /// Pause between two batches.
    pub pause: Duration,
}

impl Retention {
    pub fn new(pool: PgPool, registry: &Registry) -> Self {
        Retention {
            pool,
            metrics: RetentionMetrics::new(registry),
            batch: 5000,
            pause: Duration::from_millis(100),
        }
    }

    /// Runs a pass every `interval` (the first one a minute after start, off the start-up path).
    pub fn spawn(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60).min(interval)).await;
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                match self.run(Utc::now()).await {
                    Ok(Some(r)) => tracing::info!(
                        runs = r.runs,
                        jobs = r.jobs,
                        rollups = r.rollups,
                        dimensions = r.dimensions,
                        tests = r.tests,
                        deliveries = r.deliveries,
                        partitions = r.partitions,
                        batches = r.batches,
                        "retention pass done"
                    ),
                    Ok(None) => tracing::debug!("retention pass skipped: another replica holds the lock"),
                    Err(e) => {
                        tracing::warn!(error = %e, "retention pass failed; retrying at the next interval")
                    }
                }
            }
        });
    }

    /// One pass at time `now`, unless another replica is running one (then `None`).
    pub async fn run(&self, now: DateTime<Utc>) -> sqlx::Result<Option<Report>> {
        let report = db::exclusively(&self.pool, LOCK_KEY, self.pass(now)).await?;
        if report.is_some() {
            self.metrics.last_run.set(Utc::now().timestamp());
        }
        Ok(report)
    }

    async fn pass(&self, now: DateTime<Utc>) -> sqlx::Result<Report> {
        let settings = db::settings::load(&self.pool).await?;
        let run_cut = now - TimeDelta::days(settings.retention_days.into());
        let rollup_cut = now - TimeDelta::days(settings.rollup_retention_days.into());
        let test_cut = now - TimeDelta::days(settings.test_retention_days.into());
        let mut report = Report::default();
        // Whole partitions first: what they hold is not then deleted row by row.
        for (table, cut) in [
            (partitions::RUNS, run_cut),
            (partitions::JOBS, run_cut),
            (partitions::TEST_RESULTS, test_cut),
            (partitions::TEST_DETAILS, test_cut),
            // Delivery history feeds the DORA keys, which look back a year: it is kept as long as
            // the rollups.
            (partitions::DEPLOYMENTS, rollup_cut),
        ] {
            report.partitions += self.drop_partitions(&table, cut).await?;
        }
        loop {
            let (runs, jobs) = self.delete_runs(run_cut).await?;
            report.runs += runs;
            report.jobs += jobs;
            if !self.after_batch(&mut report, runs).await {
                break;
            }
        }
        loop {
            let rollups = db::retention::delete_rollups(&self.pool, rollup_cut, self.batch).await?;
            self.metrics
                .deleted
                .with_label_values(&["run_rollups"])
                .inc_by(rollups);
            report.rollups += rollups;
            if !self.after_batch(&mut report, rollups).await {
                break;
            }
        }
        for table in db::retention::JOB_FIGURES {
            loop {
                let n = db::retention::delete_job_figures(&self.pool, table, rollup_cut, self.batch).await?;
                self.metrics.deleted.with_label_values(&[table.0]).inc_by(n);
                report.rollups += n;
                if !self.after_batch(&mut report, n).await {
                    break;
                }
            }
        }
        for table in db::retention::TEST_FIGURES {
            loop {
                let n = db::retention::delete_test_figures(&self.pool, table, test_cut).await?;
                self.metrics.deleted.with_label_values(&[table.0]).inc_by(n);
                report.tests += n;
                if !self.after_batch_of(&mut report, n, table.2).await {
                    break;
                }
            }
        }
        for table in db::retention::DELIVERY {
            loop {
                let n = db::retention::delete_delivery(&self.pool, table, rollup_cut, self.batch).await?;
                self.metrics.deleted.with_label_values(&[table.0]).inc_by(n);
                report.deliveries += n;
                if !self.after_batch(&mut report, n).await {
                    break;
                }
            }
        }
        loop {
            let dims = db::retention::delete_dimensions(&self.pool, rollup_cut, self.batch).await?;
            self.metrics
                .deleted
                .with_label_values(&["run_dimensions"])
                .inc_by(dims);
            report.dimensions += dims;
            if !self.after_batch(&mut report, dims).await {
                break;
            }
        }
        Ok(report)
    }

    /// Counts a batch; pauses and says to go on when it was full (there may be more).
    async fn after_batch(&self, report: &mut Report, deleted: u64) -> bool {
        self.after_batch_of(report, deleted, self.batch).await
    }

    async fn after_batch_of(&self, report: &mut Report, deleted: u64, batch: i64) -> bool {
        if deleted > 0 {
            report.batches += 1;
        }
        if deleted < batch as u64 {
            return false;
        }
        tokio::time::sleep(self.pause).await;
        true
    }

    /// Drops the partitions of `table` that hold nothing to keep at `cut`; returns how many. One
    /// that its table's lock could not be had for (a long query on it) is left for the next pass.
    async fn drop_partitions(&self, table: &partitions::Table, cut: DateTime<Utc>) -> sqlx::Result<u64> {
        let mut dropped = 0;
        for p in partitions::before(&self.pool, table, cut).await? {
            let query = partitions::droppable(table, &p);
            match partitions::drop_if(&self.pool, table, &p.name, &query, cut).await {
                Ok(true) => {
                    tracing::info!(partition = p.name, "retention dropped a partition");
                    self.metrics.dropped.with_label_values(&[table.name]).inc();
                    dropped += 1;
                }
                Ok(false) => {}
                Err(e) if partitions::is_lock_timeout(&e) => {
                    tracing::warn!(
                        partition = p.name,
                        "partition not dropped: its table stayed locked; retrying at the next pass"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dropped)
    }

    /// Deletes up to `batch` runs charted before `cut`, oldest first, with their jobs, in one
    /// transaction. Runs locked by a writer right now are left for the next batch or pass.
    async fn delete_runs(&self, cut: DateTime<Utc>) -> sqlx::Result<(u64, u64)> {
        let (runs, jobs) = db::retention::delete_runs(&self.pool, cut, self.batch).await?;
        let deleted = &self.metrics.deleted;
        deleted.with_label_values(&["pipeline_runs"]).inc_by(runs);
        deleted.with_label_values(&["run_jobs"]).inc_by(jobs);
        Ok((runs, jobs))
    }
}
