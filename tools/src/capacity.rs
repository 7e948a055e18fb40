//! The capacity model of `docs/scaling.md`, computed from what one `make bench` run measured: how
//! many runs a day one PostgreSQL (and one backend core) can take, and what they weigh on disk
//! and in WAL.

use crate::cost::Cost;

/// What the model starts from, all measured in the same run.
pub struct Inputs {
    /// Per signed GitHub delivery (one run is [`DELIVERIES_PER_RUN`] of them).
    pub github: Cost,
    /// Per single event of the generic API, and per event of its batch endpoint.
    pub single: Cost,
    pub batch: Cost,
    /// Bytes on disk (heap and indexes) per stored run and per stored job.
    pub run_bytes: f64,
    pub job_bytes: f64,
    /// Bytes on disk per stored test result, everything for tests counted; `None` when the tests
    /// benchmark did not run.
    pub result_bytes: Option<f64>,
}

/// A GitHub run in the model: one `workflow_run` and three `workflow_job` deliveries (queued, in
/// progress, completed) for each of its two jobs, as the bench's mix sends.
pub const DELIVERIES_PER_RUN: f64 = 7.0;
/// Jobs per run in the model.
pub const JOBS_PER_RUN: f64 = 2.0;
/// Test results per run in the model.
pub const TESTS_PER_RUN: f64 = 200.0;
/// The busiest hours' rate over the day's average: CI runs mostly in working hours (about 6 busy
/// hours a day).
pub const PEAK: f64 = 4.0;
/// The share of a core the model lets ingest use at the peak, leaving room for reads and vacuum.
pub const UTILISATION: f64 = 0.6;
/// Days of runs, jobs and test results kept.
pub const RETENTION_DAYS: f64 = 90.0;

/// Runs a day that `cores` cores sustain when each run costs `us_per_run` µs of CPU on them.
pub fn runs_per_day(cores: f64, us_per_run: f64) -> f64 {
    cores * UTILISATION * 1e6 / us_per_run / PEAK * 86_400.0
}

/// Organisation sizes the model is shown for, in runs a day.
const SIZES: [f64; 5] = [10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0, 100_000_000.0];

/// PostgreSQL servers the model says the largest organisation of: (cores, disk in GiB).
const SERVERS: [(f64, f64); 3] = [(4.0, 500.0), (8.0, 2_000.0), (16.0, 8_000.0)];

/// The model as Markdown.
pub fn markdown(i: &Inputs) -> String {
    let per_core = |us: f64| 1e6 / us;
    let db_per_run = DELIVERIES_PER_RUN * i.github.db_us;
    let backend_per_run = DELIVERIES_PER_RUN * i.github.backend_us;
    let wal_per_run = DELIVERIES_PER_RUN * i.github.wal_bytes;
    let results = i.result_bytes.map_or(0.0, |b| TESTS_PER_RUN * b);
    let disk_per_run = i.run_bytes + JOBS_PER_RUN * i.job_bytes + results;
    let gib = 1024f64.powi(3);
    let mut md = format!(
        "Computed from the figures on this page, as [Scaling](scaling.md) explains. Events per second that one core \
         takes at full use:\n\n\
         | path | backend core | PostgreSQL core |\n|---|---:|---:|\n\
         | `POST /api/events`, one event a request | {:.0} | {:.0} |\n\
         | `POST /api/events/batch` | {:.0} | {:.0} |\n\
         | `POST /api/webhooks/github`, signed deliveries | {:.0} | {:.0} |\n\n\
         A GitHub run in the model: {DELIVERIES_PER_RUN:.0} deliveries ({JOBS_PER_RUN:.0} jobs), {TESTS_PER_RUN:.0} test \
         results; {:.0} µs of PostgreSQL CPU and {:.0} µs of backend CPU, {:.1} KiB of WAL, and {:.1} KiB on disk \
         ({:.0} B the run, {:.0} B a job, {} the test results). The busiest hours bring {PEAK:.0}× the day's \
         average; ingest may use {:.0}% of a core then; {RETENTION_DAYS:.0} days are kept.\n\n\
         | runs a day | PostgreSQL cores at the peak | backend cores at the peak | WAL a day | disk for {RETENTION_DAYS:.0} days |\n\
         |---:|---:|---:|---:|---:|\n",
        per_core(i.single.backend_us),
        per_core(i.single.db_us),
        per_core(i.batch.backend_us),
        per_core(i.batch.db_us),
        per_core(i.github.backend_us),
        per_core(i.github.db_us),
        db_per_run,
        backend_per_run,
        wal_per_run / 1024.0,
        disk_per_run / 1024.0,
        i.run_bytes,
        i.job_bytes,
        i.result_bytes
            .map_or("not measured".to_owned(), |b| format!("{:.0} B", TESTS_PER_RUN * b)),
        100.0 * UTILISATION,
    );
    for runs in SIZES {
        let one = runs_per_day(1.0, db_per_run);
        md.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.1} GiB | {:.0} GiB |\n",
            thousands(runs),
            runs / one,
            runs / runs_per_day(1.0, backend_per_run),
            runs * wal_per_run / gib,
            runs * RETENTION_DAYS * disk_per_run / gib,
        ));
    }
    md.push_str("\nThe largest organisation one PostgreSQL serves, the smaller of what its CPU and its disk allow:\n\n\
         | PostgreSQL | runs a day its CPU allows | runs a day its disk allows | largest organisation, runs a day |\n\
         |---|---:|---:|---:|\n");
    for (cores, disk) in SERVERS {
        let cpu = runs_per_day(cores, db_per_run);
        let space = disk * gib / (RETENTION_DAYS * disk_per_run);
        md.push_str(&format!(
            "| {cores:.0} cores, {} GiB | {} | {} | **{}** |\n",
            thousands(disk),
            thousands(cpu),
            thousands(space),
            thousands(cpu.min(space)),
        ));
    }
    md
}

/// `1234567.8` as `1,234,568`.
fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_at_the_model_use_over_the_peak_factor() {
        // 100 µs a run: 10,000 runs/s per core; 60% of it, over a peak of 4, for a day.
        assert_eq!(
            runs_per_day(1.0, 100.0).round(),
            (10_000.0 * 0.6 / 4.0 * 86_400.0f64).round()
        );
        assert_eq!(runs_per_day(8.0, 100.0), 8.0 * runs_per_day(1.0, 100.0));
    }

    #[test]
    fn the_table_has_a_row_per_size_and_the_thousands_are_grouped() {
        let cost = |us: f64| Cost {
            backend_us: us,
            db_us: us,
            wal_bytes: 1000.0,
            ..Cost::default()
        };
        let md = markdown(&Inputs {
            github: cost(100.0),
            single: cost(100.0),
            batch: cost(30.0),
            run_bytes: 600.0,
            job_bytes: 400.0,
            result_bytes: Some(150.0),
        });
        assert!(
            md.contains("\n| 10,000 |") && md.contains("\n| 100,000,000 |"),
            "{md}"
        );
        // 100 µs a run at 7 deliveries: 700 µs; a core takes 1e6 × 0.6 / 700 / 4 × 86,400 runs a
        // day; 8 cores 8 times that, and 2,000 GiB at 90 days × (600 + 800 + 30,000) B.
        let cpu = 8.0 * 1e6 * 0.6 / 700.0 / 4.0 * 86_400.0;
        let disk = 2_000.0 * 1024f64.powi(3) / (90.0 * 31_400.0);
        assert!(
            md.contains(&format!(
                "| 8 cores, 2,000 GiB | {} | {} | **{}** |",
                thousands(cpu),
                thousands(disk),
                thousands(disk)
            )),
            "{md}"
        );
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
    }
}
