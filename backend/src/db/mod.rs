//! PostgreSQL access: the pool, migrations, and one module of small query functions per table.

pub mod audit;
pub mod compares;
pub mod deployments;
pub mod incidents;
pub mod integrations;
pub mod job_rollups;
pub mod jobs;
pub mod notifications;
pub mod notify;
pub mod partitions;
pub mod quarantine;
pub mod reads;
pub mod retention;
pub mod rollups;
pub mod rules;
pub mod runs;
pub mod settings;
pub mod sources;
pub mod sync_state;
pub mod test_results;
pub mod tokens;

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A pool that fails fast when the database is away (requests get 503) and reconnects by itself.
///
/// Behind PgBouncer in transaction mode the `options` sent at connection are ignored; the
/// server's (or the role's) `synchronous_commit` must then be `on`, and `jit` should be `off`
/// (see docs/scaling.md).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    lazy_pool(url, max_connections)
}

/// [`connect`], for callers that are not async.
pub fn lazy_pool(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.parse()?;
    let options = options
        .application_name("cicd-monitor")
        // Every acknowledged event must be durable, whatever the server default says. JIT
        // compilation costs tens of milliseconds (it doubled the test views' time, measured with
        // `make bench`), more than any dashboard query it would speed up.
        .options([("synchronous_commit", "on"), ("jit", "off")]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// A pool for the ingest writers, on the same database as `pool`. Their statements have the same
/// shape every time, so a generic plan is forced: planning the batch insert anew for each batch
/// cost more than running it (measured with `make bench`). Reads keep custom plans.
pub fn writer_pool(pool: &PgPool, writers: usize) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    PgPoolOptions::new()
        .max_connections(writers as u32 + 1)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options)
}

/// Applies pending migrations, then partitions the tables that are not yet (see [`partitions`])
/// and creates the coming weeks' partitions. sqlx holds a Postgres advisory lock while it
/// migrates, and the partitioning one of its own, so replicas that start together do each step
/// once. `pool` must reach the database directly, not through a transaction pooler.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    partitions::prepare(&mut *pool.acquire().await?, chrono::Utc::now()).await?;
    Ok(())
}

/// Waits (with backoff) until the database answers, then migrates: a backend started before its
/// database comes up does not crash-loop.
pub async fn migrate_when_ready(pool: &PgPool) -> anyhow::Result<()> {
    let mut delay = Duration::from_millis(250);
    loop {
        match migrate(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if is_unavailable_anyhow(&e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `work` holding the advisory lock `key`, so that one replica at a time does it; `None`
/// (without running it) when another session holds the lock. The lock belongs to a transaction
/// kept open on one connection while `work` runs (on other connections), so it works behind a
/// transaction-mode pooler too, and is released when that transaction ends, however it ends.
pub async fn exclusively<T, E: From<sqlx::Error>>(
    pool: &PgPool,
    key: i64,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Option<T>, E> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let result = work.await;
    // Nothing was written in it: ending it only releases the lock (as losing the connection would).
    let _ = tx.rollback().await;
    result.map(Some)
}

/// Whether every embedded migration is applied (for `/ready`).
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied = sqlx::query_scalar!("select version from _sqlx_migrations where success order by version")
        .fetch_all(pool)
        .await?;
    Ok(MIGRATOR.iter().all(|m| applied.contains(&m.version)))
}

/// Errors that mean "the database is not reachable now", as opposed to a bad query or bad data.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(db) => {
            // Class 08 (connection exception), 57P0x (shutdown / cannot connect now), 53300 (too many connections).
            db.code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300")
        }
        sqlx::Error::Migrate(m) => {
            matches!(**m, sqlx::migrate::MigrateError::Execute(ref e) if is_unavailable(e))
        }
        _ => false,
    }
}

fn is_unavailable_anyhow(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>().is_some_and(is_unavailable)
            || c.downcast_ref::<sqlx::migrate::MigrateError>()
                .is_some_and(|m| matches!(m, sqlx::migrate::MigrateError::Execute(e) if is_unavailable(e)))
    })
}

/// Attempts at a statement or transaction that PostgreSQL aborts as a deadlock or serialization failure.
pub const RETRY_ATTEMPTS: usize = 5;

/// Errors worth retrying the whole transaction for (deadlock, serialization failure).
pub fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}
