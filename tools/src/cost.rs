//! What a load cost, per event: CPU time of the backend, of PostgreSQL (every process of the
//! cluster) and of the load generator; statements, rows, WAL bytes and records, full-page images
//! and buffers of the database. Taken as the difference of two [`Snapshot`]s around the load.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
const TICKS: f64 = 100.0;

/// Counters of the machine and the database at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub wal_bytes: f64,
    pub wal_records: f64,
    pub wal_fpi: f64,
    pub commits: f64,
    pub rows: f64,
    pub statements: f64,
    pub buffers: f64,
    pub backend_cpu: f64,
    pub db_cpu: f64,
    pub bench_cpu: f64,
}

/// Per-event costs of one load.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub events: f64,
    pub wal_bytes: f64,
    pub wal_records: f64,
    pub wal_fpi: f64,
    pub commits: f64,
    pub rows: f64,
    /// `None` when `pg_stat_statements` is not loaded.
    pub statements: Option<f64>,
    pub buffers: Option<f64>,
    /// Microseconds of CPU per event.
    pub backend_us: f64,
    pub db_us: f64,
    pub bench_us: f64,
}

/// `utime + stime` (and with `children`, `cutime + cstime`: processes that exited and were
/// reaped) of a process, in seconds; its parent's pid.
fn cpu_of(pid: u32, children: bool) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 4 (ppid), 14–17 (utime, stime, cutime, cstime) of proc(5), here from field 3.
    let ticks = n(11) + n(12) + if children { n(13) + n(14) } else { 0.0 };
    Some((ticks / TICKS, f.get(1)?.parse().ok()?))
}

/// CPU seconds of the cluster whose postmaster is `postmaster`: it, its live children, and the
/// children that exited.
fn cluster_cpu(postmaster: u32) -> f64 {
    let mut total = cpu_of(postmaster, true).map_or(0.0, |c| c.0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((cpu, parent)) = cpu_of(pid, false) {
            if parent == postmaster {
                total += cpu;
            }
        }
    }
    total
}

/// Reads the counters of the machine and of the database `url` names.
pub struct Meter {
    conn: PgConnection,
    postmaster: u32,
    backend: u32,
    statements: bool,
}

impl Meter {
    /// `backend` is the pid of the server under test. Loads `pg_stat_statements` into the
    /// database when the cluster preloads it (`make bench` does).
    pub async fn new(url: &str, backend: u32) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect(url).await?;
        let own: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        let postmaster = cpu_of(own as u32, false).map_or(0, |c| c.1);
        let preloaded: String = sqlx::query_scalar("select current_setting('shared_preload_libraries')")
            .fetch_one(&mut conn)
            .await?;
        let statements = preloaded.contains("pg_stat_statements");
        if statements {
            sqlx::query("create extension if not exists pg_stat_statements")
                .execute(&mut conn)
                .await?;
        }
        Ok(Meter {
            conn,
            postmaster,
            backend,
            statements,
        })
    }

    /// The counters now. Statistics reach the shared counters when a backend's transaction ends
    /// and at least a second passed since its last report, or after 10 s idle (PostgreSQL 15):
    /// call after the load has been idle that long ([`Meter::settle`]).
    pub async fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        let (wal_bytes, wal_records, wal_fpi): (f64, f64, f64) = sqlx::query_as(
            "select (pg_current_wal_lsn() - '0/0')::float8, wal_records::float8, wal_fpi::float8 from pg_stat_wal",
        )
        .fetch_one(&mut self.conn)
        .await?;
        let (commits, rows): (f64, f64) = sqlx::query_as(
            "select (xact_commit + xact_rollback)::float8, \
                 (tup_inserted + tup_updated + tup_deleted)::float8 \
             from pg_stat_database where datname = current_database()",
        )
        .fetch_one(&mut self.conn)
        .await?;
        let (statements, buffers) = if self.statements {
            sqlx::query_as::<_, (f64, f64)>(
                "select coalesce(sum(calls), 0)::float8, \
                     coalesce(sum(shared_blks_hit + shared_blks_read + local_blks_hit + local_blks_read), 0)::float8 \
                 from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())",
            )
            .fetch_one(&mut self.conn)
            .await?
        } else {
            (0.0, 0.0)
        };
        Ok(Snapshot {
            wal_bytes,
            wal_records,
            wal_fpi,
            commits,
            rows,
            statements,
            buffers,
            backend_cpu: cpu_of(self.backend, true).map_or(0.0, |c| c.0),
            db_cpu: cluster_cpu(self.postmaster),
            bench_cpu: cpu_of(std::process::id(), true).map_or(0.0, |c| c.0),
        })
    }

    /// Waits until every backend has reported its statistics, then takes a snapshot.
    pub async fn settle(&mut self) -> anyhow::Result<Snapshot> {
        tokio::time::sleep(Duration::from_millis(11_000)).await;
        self.snapshot().await
    }

    /// Forgets the statement statistics, so that [`Meter::statements`] covers what follows.
    pub async fn reset_statements(&mut self) -> anyhow::Result<()> {
        if self.statements {
            sqlx::query("select pg_stat_statements_reset()")
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }

    /// The `n` statements that took the most time since [`Meter::reset_statements`], per event, as
    /// a Markdown table (empty without `pg_stat_statements`).
    pub async fn statements(&mut self, n: i64, events: u64) -> anyhow::Result<String> {
        if !self.statements {
            return Ok(String::new());
        }
        let rows: Vec<(String, f64, f64, f64, f64, f64)> = sqlx::query_as(
            "select regexp_replace(left(query, 90), '\\s+', ' ', 'g'), calls::float8, \
                 (total_exec_time + total_plan_time)::float8, rows::float8, \
                 (shared_blks_hit + shared_blks_read)::float8, wal_bytes::float8 \
             from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database()) \
             order by total_exec_time + total_plan_time desc limit $1",
        )
        .bind(n)
        .fetch_all(&mut self.conn)
        .await?;
        let e = events.max(1) as f64;
        let mut md = String::from(
            "| statement (start) | calls | ms per call | µs per event | rows per call | buffers per event | WAL bytes per event |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for (query, calls, ms, rows, buffers, wal) in rows {
            let query = query.replace('|', "\\|");
            md.push_str(&format!(
                "| `{query}` | {calls:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {:.0} |\n",
                ms / calls.max(1.0),
                1000.0 * ms / e,
                rows / calls.max(1.0),
                buffers / e,
                wal / e,
            ));
        }
        Ok(md)
    }

    /// The cost per event between two snapshots.
    pub fn cost(&self, before: &Snapshot, after: &Snapshot, events: u64) -> Cost {
        let n = events.max(1) as f64;
        let per = |a: f64, b: f64| (b - a) / n;
        Cost {
            events: events as f64,
            wal_bytes: per(before.wal_bytes, after.wal_bytes),
            wal_records: per(before.wal_records, after.wal_records),
            wal_fpi: per(before.wal_fpi, after.wal_fpi),
            commits: per(before.commits, after.commits),
            rows: per(before.rows, after.rows),
            statements: self.statements.then(|| per(before.statements, after.statements)),
            buffers: self.statements.then(|| per(before.buffers, after.buffers)),
            backend_us: 1e6 * per(before.backend_cpu, after.backend_cpu),
            db_us: 1e6 * per(before.db_cpu, after.db_cpu),
            bench_us: 1e6 * per(before.bench_cpu, after.bench_cpu),
        }
    }
}

/// A Markdown table of costs, one row per `(label, cost)`; `reference` (a label) gives the WAL
/// ratio column.
pub fn markdown(rows: &[(String, Cost)], reference: Option<&Cost>) -> String {
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
    let mut md = String::from(
        "| path, per event | backend CPU µs | PostgreSQL CPU µs | load generator CPU µs | statements | commits | rows written | buffers | WAL bytes | WAL records | full-page images | WAL vs `COPY` |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (label, c) in rows {
        let ratio = reference.map_or("–".to_owned(), |r| format!("{:.2}", c.wal_bytes / r.wal_bytes));
        md.push_str(&format!(
            "| {label} | {:.0} | {:.0} | {:.0} | {} | {:.3} | {:.2} | {} | {:.0} | {:.2} | {:.3} | {ratio} |\n",
            c.backend_us,
            c.db_us,
            c.bench_us,
            opt(c.statements),
            c.commits,
            c.rows,
            opt(c.buffers),
            c.wal_bytes,
            c.wal_records,
            c.wal_fpi,
        ));
    }
    md
}
