//! Time partitions of the tables that grow with history: runs, jobs, and test results with their
//! details. Each is partitioned by range (native declarative partitioning), one partition per
//! week (Monday 00:00 UTC), created ahead of time; retention drops whole partitions (see
//! [`crate::retention`]).
//!
//! - `pipeline_runs` and `run_jobs` by `created_at`, the time a row was first recorded, which
//!   never changes (a run's `run_at` moves as its events arrive, and a generated column cannot be
//!   a partition key anyway).
//! - `test_results` and `test_result_details` by `upload_id`: a report's id is its receipt time
//!   in seconds shifted left by 20 bits plus a sequence (`test_upload_id()`), so a range of ids is
//!   a range of time and the results need no time column of their own.
//! - `deployments` by `id`, made the same way (`deployment_id()`).
//!
//! A table from before partitioning is converted in place, online, when the backend migrates
//! ([`convert`]): its rows stay where they are and it becomes the first partition,
//! `<table>_before_<date>`, holding everything recorded before that date (two weeks ahead, so
//! that writes carry on into it during the conversion). Only the last step takes a strong lock,
//! for milliseconds: a `check` constraint proving the bound and the unique index the
//! partitioned table needs are built beforehand without blocking writers.
//!
//! Partitioned keys must contain the partition key, so a run's id is no longer unique by an index
//! of its own: writers claim ids under advisory locks instead (`claim_new_runs`, and
//! [`super::jobs::upsert`]).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sqlx::{PgConnection, PgPool};

/// How the partition key of a table measures time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// A `timestamptz` column.
    Time,
    /// An id made by `test_upload_id()` or `deployment_id()`: seconds since the epoch, shifted
    /// left by 20 bits.
    UploadId,
}

/// A partitioned table.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    column: &'static str,
    key: Key,
    /// The unique key that replaces a primary key without the partition key (`None` when the
    /// primary key contains it already).
    unique: Option<&'static str>,
    /// Storage parameters of each partition.
    with: &'static str,
    /// The rows of a partition (`{p}`, received from report id `{from}` to `{to}`) that retention keeps at the
    /// cut (`$1`), if any may be kept once the partition is wholly before the cut: runs go by
    /// their time (`run_at`), as row by row; test results and details go with their reports, which
    /// go by their run's time (or their receipt when their run never came). Jobs go when they
    /// were recorded before the cut.
    kept: Option<&'static str>,
}

pub const RUNS: Table = Table {
    name: "pipeline_runs",
    column: "created_at",
    key: Key::Time,
    unique: Some("id, created_at"),
    with: "fillfactor = 90",
    kept: Some("select 1 from {p} where run_at >= $1"),
};
pub const JOBS: Table = Table {
    name: "run_jobs",
    column: "created_at",
    key: Key::Time,
    unique: Some("run_id, id, created_at"),
    with: "fillfactor = 100",
    kept: None,
};
pub const TEST_RESULTS: Table = Table {
    name: "test_results",
    column: "upload_id",
    key: Key::UploadId,
    unique: None,
    with: "fillfactor = 100",
    kept: Some(TEST_REPORTS_KEPT),
};
pub const TEST_DETAILS: Table = Table {
    name: "test_result_details",
    column: "upload_id",
    key: Key::UploadId,
    unique: None,
    with: "fillfactor = 100",
    kept: Some(TEST_REPORTS_KEPT),
};
const TEST_REPORTS_KEPT: &str = "select 1 from test_uploads where id >= {from} and id < {to} \
     and coalesce(run_at, received_at) >= $1";
/// Deployments go by the time they ended (or were asked for).
pub const DEPLOYMENTS: Table = Table {
    name: "deployments",
    column: "id",
    key: Key::UploadId,
    unique: None,
    with: "fillfactor = 90",
    kept: Some("select 1 from {p} where coalesce(finished_at, created_at) >= $1"),
};
pub const TABLES: [Table; 5] = [RUNS, JOBS, TEST_RESULTS, TEST_DETAILS, DEPLOYMENTS];

/// Weeks of partitions that exist ahead of the current one.
pub const WEEKS_AHEAD: i64 = 2;

/// The advisory lock under which partitions are created, converted or dropped ("partit").
pub const LOCK_KEY: i64 = 0x7061_7274_6974;

/// Longest wait for the lock that attaching or dropping a partition takes on its table: past it
/// the step gives up (and is retried later) rather than queue every query behind it.
const LOCK_TIMEOUT: &str = "2s";

/// Monday 00:00 UTC of the week of `t`.
pub fn week_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let d = t.date_naive();
    let monday = d - Duration::days(d.weekday().num_days_from_monday().into());
    Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// The first upload id made at `t` or later.
pub fn upload_id_at(t: DateTime<Utc>) -> i64 {
    t.timestamp() << 20
}

impl Table {
    /// The SQL literal of the key at time `t`.
    fn bound(&self, t: DateTime<Utc>) -> String {
        match self.key {
            Key::Time => format!("'{}'", t.to_rfc3339()),
            Key::UploadId => upload_id_at(t).to_string(),
        }
    }

    fn partition(&self, kind: &str, start: DateTime<Utc>) -> String {
        format!("{}_{kind}_{}", self.name, start.format("%Y%m%d"))
    }
}

/// A partition, with the time range its name says it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    /// `None` for the first partition, which holds everything before `to`.
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
}

impl Partition {
    /// Reads a name made by [`Table::partition`]: `<table>_before_<date>` or `<table>_w<date>`.
    fn parse(table: &Table, name: &str) -> Option<Partition> {
        let rest = name.strip_prefix(table.name)?.strip_prefix('_')?;
        let (kind, date) = rest.split_once('_')?;
        let day = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0)?);
        match kind {
            "before" => Some(Partition {
                name: name.into(),
                from: None,
                to: start,
            }),
            "week" => Some(Partition {
                name: name.into(),
                from: Some(start),
                to: start + Duration::weeks(1),
            }),
            _ => None,
        }
    }
}

/// Whether `table` is partitioned already.
async fn is_partitioned(db: &mut PgConnection, table: &Table) -> sqlx::Result<bool> {
    sqlx::query_scalar("select relkind = 'p' from pg_class where oid = $1::regclass")
        .bind(table.name)
        .fetch_one(db)
        .await
}

/// The partitions of `table`, oldest first.
pub async fn list(db: &mut PgConnection, table: &Table) -> sqlx::Result<Vec<Partition>> {
    let names: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid \
         where i.inhparent = $1::regclass",
    )
    .bind(table.name)
    .fetch_all(db)
    .await?;
    let mut parts: Vec<Partition> = names.iter().filter_map(|n| Partition::parse(table, n)).collect();
    parts.sort_by_key(|p| p.to);
    Ok(parts)
}

/// Converts the tables that are not partitioned yet and creates the partitions of the coming
/// weeks; run after the migrations, holding [`LOCK_KEY`] so that replicas starting together
/// do it once. `db` must be a direct connection (not through a transaction pooler): the
/// conversion builds an index concurrently.
pub async fn prepare(db: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
    // Polled rather than waited for: `create index concurrently` waits for every transaction
    // with an older snapshot, and a statement waiting for this lock would be one.
    while !sqlx::query_scalar::<_, bool>("select pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *db)
        .await?
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let result = async {
        for table in TABLES {
            if !is_partitioned(db, &table).await? {
                convert(db, &table, now).await?;
            }
            create_ahead(db, &table, now).await?;
        }
        Ok(())
    }
    .await;
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *db)
        .await?;
    result
}

/// Creates the missing weekly partitions of `table` up to [`WEEKS_AHEAD`] weeks after the
/// current one; returns how many it created.
pub async fn create_ahead(db: &mut PgConnection, table: &Table, now: DateTime<Utc>) -> sqlx::Result<usize> {
    let parts = list(db, table).await?;
    let Some(last) = parts.last() else {
        return Ok(0);
    };
    let until = week_of(now) + Duration::weeks(WEEKS_AHEAD + 1);
    let mut start = last.to;
    let mut created = 0;
    while start < until {
        let end = start + Duration::weeks(1);
        sqlx::query(&format!(
            "create table {} partition of {} for values from ({}) to ({}) with ({})",
            table.partition("week", start),
            table.name,
            table.bound(start),
            table.bound(end),
            table.with,
        ))
        .execute(&mut *db)
        .await?;
        created += 1;
        start = end;
    }
    Ok(created)
}

/// Turns `table` into a partitioned table whose first partition is the table itself, without
/// blocking writers for longer than the final swap:
///
/// 1. a `check` constraint that every key is before the bound (two weeks ahead), added `not
///    valid` and then validated, which reads the table without blocking writes;
/// 2. the unique index of the partitioned key, built `concurrently`;
/// 3. in one short transaction: the table is renamed to its partition's name, a partitioned
///    table with its columns, defaults, checks and indexes takes its name, and the old table is
///    attached as the partition of everything before the bound (the constraint proves it, so
///    nothing is read again).
///
/// Each step can be interrupted and is redone from the start by the next attempt.
async fn convert(db: &mut PgConnection, table: &Table, now: DateTime<Utc>) -> sqlx::Result<()> {
    let bound_at = week_of(now) + Duration::weeks(WEEKS_AHEAD);
    let (name, column) = (table.name, table.column);
    let bound = table.bound(bound_at);
    let check = format!("{name}_partition_bound");
    tracing::info!(table = name, before = %bound_at, "partitioning by time");
    for sql in [
        format!("alter table {name} drop constraint if exists {check}"),
        format!("alter table {name} add constraint {check} check ({column} < {bound}) not valid"),
        format!("alter table {name} validate constraint {check}"),
    ] {
        with_lock_timeout(db, &[sql]).await?;
    }
    let unique_index = format!("{name}_partition_key");
    if let Some(columns) = table.unique {
        // An index left invalid by an interrupted `create index concurrently` is built anew.
        sqlx::query(&format!("drop index concurrently if exists {unique_index}"))
            .execute(&mut *db)
            .await?;
        sqlx::query(&format!(
            "create unique index concurrently {unique_index} on {name} ({columns})"
        ))
        .execute(&mut *db)
        .await?;
    }
    let first = table.partition("before", bound_at);
    let mut steps = vec![format!("alter table {name} rename to {first}")];
    if table.unique.is_some() {
        steps.push(format!("alter table {first} drop constraint {name}_pkey"));
        steps.push(format!(
            "alter table {first} add constraint {unique_index} unique using index {unique_index}"
        ));
    }
    steps.extend([
        format!("create table {name} (like {first} including all) partition by range ({column})"),
        format!("alter table {name} drop constraint {check}"),
        format!("alter table {name} attach partition {first} for values from (minvalue) to ({bound})"),
        format!("alter table {first} drop constraint {check}"),
    ]);
    with_lock_timeout(db, &steps).await?;
    // A partitioned table is never analysed by autovacuum; its statistics help join estimates.
    sqlx::query(&format!("analyze {name}")).execute(&mut *db).await?;
    Ok(())
}

/// Runs `steps` in one transaction that waits at most [`LOCK_TIMEOUT`] for each lock, so that
/// queries do not queue behind it for longer; tried again (up to ten times, a little later each
/// time) when a lock could not be had.
async fn with_lock_timeout(db: &mut PgConnection, steps: &[String]) -> sqlx::Result<()> {
    let mut attempt = 1;
    loop {
        let mut tx = sqlx::Connection::begin(&mut *db).await?;
        sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
            .execute(&mut *tx)
            .await?;
        let mut result = Ok(());
        for sql in steps {
            result = sqlx::query(sql).execute(&mut *tx).await.map(drop);
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(()) => return tx.commit().await,
            Err(e) if is_lock_timeout(&e) && attempt < 10 => {
                drop(tx);
                tracing::info!(attempt, "partitioning waits for a lock; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `e` is PostgreSQL giving up on a lock after `lock_timeout` (55P03).
pub fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

/// Creates the coming weeks' partitions of every table; the periodic counterpart of [`prepare`]
/// (a replica that runs for weeks keeps partitions ahead of its writes). Skipped when another
/// replica is at it.
pub async fn maintain(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<usize> {
    let created = super::exclusively(pool, LOCK_KEY, async {
        let mut conn = pool.acquire().await?;
        let mut created = 0;
        for table in TABLES {
            if is_partitioned(&mut conn, &table).await? {
                created += create_ahead(&mut conn, &table, now).await?;
            }
        }
        Ok::<_, sqlx::Error>(created)
    })
    .await?;
    Ok(created.unwrap_or(0))
}

/// Drops the partition `name` of `table` if `droppable` (a query returning whether nothing in it
/// is to be kept, with `{p}` for the partition and `$1` for `cut`) says so, under a lock on the
/// table taken with a short timeout; returns whether it dropped it.
pub async fn drop_if(
    pool: &PgPool,
    table: &Table,
    name: &str,
    droppable: &str,
    cut: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    // Writers and readers of the table wait for the check and the drop (milliseconds): a row
    // written into the partition between the two would otherwise be lost.
    sqlx::query(&format!("lock table {} in access exclusive mode", table.name))
        .execute(&mut *tx)
        .await?;
    let drop: bool = sqlx::query_scalar(&droppable.replace("{p}", name))
        .bind(cut)
        .fetch_one(&mut *tx)
        .await?;
    if drop {
        sqlx::query(&format!("drop table {name}"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(drop)
}

/// The partitions of `table` recorded wholly before `cut` (the candidates for retention).
pub async fn before(pool: &PgPool, table: &Table, cut: DateTime<Utc>) -> sqlx::Result<Vec<Partition>> {
    let mut conn = pool.acquire().await?;
    if !is_partitioned(&mut conn, table).await? {
        return Ok(Vec::new());
    }
    Ok(list(&mut conn, table)
        .await?
        .into_iter()
        .filter(|p| p.to <= cut)
        .collect())
}

/// The query that says whether a partition `p` of `table` holds nothing to keep at the cut (`$1`),
/// for [`drop_if`].
pub fn droppable(table: &Table, p: &Partition) -> String {
    let id = |t: Option<DateTime<Utc>>| t.map_or(i64::MIN, upload_id_at).to_string();
    match table.kept {
        None => "select true".into(),
        Some(kept) => format!(
            "select not exists ({})",
            kept.replace("{p}", &p.name)
                .replace("{from}", &id(p.from))
                .replace("{to}", &id(Some(p.to)))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_at_midnight_utc() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 23, 59, 59).unwrap(); // a Sunday
        assert_eq!(week_of(t), Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap());
        let monday = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        assert_eq!(week_of(monday), monday);
    }

    #[test]
    fn partition_names_say_their_range() {
        let start = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        let week = RUNS.partition("week", start);
        assert_eq!(week, "pipeline_runs_week_20261207");
        assert_eq!(
            Partition::parse(&RUNS, &week),
            Some(Partition {
                name: week.clone(),
                from: Some(start),
                to: start + Duration::weeks(1)
            })
        );
        let first = RUNS.partition("before", start);
        assert_eq!(Partition::parse(&RUNS, &first).unwrap().from, None);
        // Another table's partitions, and names the backend did not make, are not read as its own.
        assert_eq!(Partition::parse(&JOBS, &week), None);
        assert_eq!(Partition::parse(&RUNS, "pipeline_runs_old"), None);
    }

    #[test]
    fn upload_ids_order_like_time() {
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        assert!(upload_id_at(t) < upload_id_at(t + Duration::seconds(1)));
        assert_eq!(upload_id_at(t + Duration::seconds(1)) - upload_id_at(t), 1 << 20);
        assert_eq!(TEST_RESULTS.bound(t), upload_id_at(t).to_string());
    }
}
