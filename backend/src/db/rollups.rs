//! Queries on `run_rollups`.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::histogram::BUCKETS;
use crate::domain::rollup::{Change, Counters, Distribution, RollupKey, Scope};
use crate::domain::RunStatus;

/// The counters' columns, in the order [`values`] yields them: runs, the duration's count, sum and
/// histogram (`h00…h63`), the queue time's (`q00…q63`).
static VALUE_COLUMNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut cols = vec!["runs".to_owned(), "duration_count".into(), "duration_ms".into()];
    cols.extend((0..BUCKETS).map(|i| format!("h{i:02}")));
    cols.extend(["queue_count".to_owned(), "queue_ms".into()]);
    cols.extend((0..BUCKETS).map(|i| format!("q{i:02}")));
    cols
});

/// The counters as values in [`VALUE_COLUMNS`] order.
fn values(c: &Counters) -> impl Iterator<Item = i64> + '_ {
    [c.runs, c.duration.count, c.duration.ms]
        .into_iter()
        .chain(c.duration.hist.iter().copied())
        .chain([c.queue.count, c.queue.ms])
        .chain(c.queue.hist.iter().copied())
}

fn joined(f: impl Fn(&str) -> String) -> String {
    VALUE_COLUMNS.iter().map(|c| f(c)).collect::<Vec<_>>().join(", ")
}

/// `array[h00, …, h63]`-style expression over one histogram's columns.
fn hist_array(prefix: char, wrap: impl Fn(&str) -> String) -> String {
    let cols: Vec<String> = (0..BUCKETS).map(|i| wrap(&format!("{prefix}{i:02}"))).collect();
    format!("array[{}]", cols.join(", "))
}

const KEY_COLUMNS: &str = "scope, repo, workflow, branch, bucket, status";

static UPDATE_SETS: LazyLock<String> = LazyLock::new(|| joined(|c| format!("{c} = r.{c} + excluded.{c}")));

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    let params: Vec<String> = (0..VALUE_COLUMNS.len())
        .map(|i| format!("${}::int8[]", 7 + i))
        .collect();
    format!(
        "insert into run_rollups as r ({KEY_COLUMNS}, {cols}) \
         select * from unnest($1::int2[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
                              {params}) \
         on conflict ({KEY_COLUMNS}) do update set {sets}",
        cols = joined(str::to_owned),
        params = params.join(", "),
        sets = UPDATE_SETS.as_str(),
    )
});

/// Column-wise [`Change`]s of runs, for the statement [`Changes::insert_sql`] builds.
#[derive(Default)]
pub struct Changes {
    id: Vec<String>,
    repo: Vec<String>,
    workflow: Vec<String>,
    branch: Vec<String>,
    bucket: Vec<DateTime<Utc>>,
    status: Vec<&'static str>,
    sign: Vec<i16>,
    duration_ms: Vec<Option<i64>>,
    duration_bucket: Vec<Option<i16>>,
    queue_ms: Vec<Option<i64>>,
    queue_bucket: Vec<Option<i16>>,
}

/// A distribution of a single value (or none) as its milliseconds and bucket.
fn single(d: &Distribution) -> (Option<i64>, Option<i16>) {
    if d.count == 0 {
        (None, None)
    } else {
        (Some(d.ms), Some(d.single_bucket()))
    }
}

impl Changes {
    /// Parameters taken by [`Changes::insert_sql`].
    pub const PARAMS: usize = 11;

    pub fn push(&mut self, run_id: &str, change: Change) {
        let (dms, dbk) = single(&change.counters.duration);
        let (qms, qbk) = single(&change.counters.queue);
        self.id.push(run_id.to_owned());
        self.repo.push(change.repo);
        self.workflow.push(change.workflow);
        self.branch.push(change.branch);
        self.bucket.push(change.bucket);
        self.status.push(change.status.as_str());
        self.sign.push(change.sign);
        self.duration_ms.push(dms);
        self.duration_bucket.push(dbk);
        self.queue_ms.push(qms);
        self.queue_bucket.push(qbk);
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// `insert into run_rollup_changes …` of the changes (parameters `$first…$first+10`) of the
    /// runs whose id is in `ids` (a relation with an `id` column), or of all of them.
    pub fn insert_sql(first: usize, ids: Option<&str>) -> String {
        let types = [
            "text",
            "text",
            "text",
            "text",
            "timestamptz",
            "text",
            "int2",
            "int8",
            "int2",
            "int8",
            "int2",
        ];
        let args: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}[]", first + i))
            .collect();
        let only = ids.map_or(String::new(), |ids| {
            format!(" where id in (select id from {ids})")
        });
        format!(
            "insert into run_rollup_changes (repo, workflow, branch, bucket, status, sign, duration_ms, \
                 duration_bucket, queue_ms, queue_bucket) \
             select repo, workflow, branch, bucket, status, sign, dms, dbk, qms, qbk \
             from unnest({}) as c(id, repo, workflow, branch, bucket, status, sign, dms, dbk, qms, qbk){only}",
            args.join(", ")
        )
    }

    pub fn bind<'q, O>(
        self,
        q: sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(self.id)
            .bind(self.repo)
            .bind(self.workflow)
            .bind(self.branch)
            .bind(self.bucket)
            .bind(self.status)
            .bind(self.sign)
            .bind(self.duration_ms)
            .bind(self.duration_bucket)
            .bind(self.queue_ms)
            .bind(self.queue_bucket)
    }
}

/// Queues the changes in the caller's transaction.
pub async fn queue(conn: &mut PgConnection, changes: Changes) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| format!("{} returning 1", Changes::insert_sql(1, None)));
    changes
        .bind(sqlx::query_scalar::<_, i32>(&SQL))
        .fetch_all(conn)
        .await?;
    Ok(())
}

/// The advisory lock that lets one folder at a time move changes into the rollups: a fixed key
/// ("cicd_rrf" in ASCII), the same on every replica.
const FOLD_LOCK: i64 = 0x6369_6364_5f72_7266;

/// Moves up to `limit` queued changes into the rollups, in one transaction: they are deleted from
/// the queue and added to their rows together, so each is counted exactly once. With `wait`, waits
/// for a fold running elsewhere and then folds; without, returns 0 at once when one is running.
/// Returns the number of changes folded.
pub async fn fold(pool: &PgPool, limit: i64, wait: bool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    if wait {
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(FOLD_LOCK)
            .execute(&mut *tx)
            .await?;
    } else if !sqlx::query_scalar::<_, bool>("select pg_try_advisory_xact_lock($1)")
        .bind(FOLD_LOCK)
        .fetch_one(&mut *tx)
        .await?
    {
        return Ok(0);
    }
    #[derive(FromRow)]
    struct Row {
        repo: String,
        workflow: String,
        branch: String,
        bucket: DateTime<Utc>,
        status: RunStatus,
        sign: i16,
        duration_ms: Option<i64>,
        duration_bucket: Option<i16>,
        queue_ms: Option<i64>,
        queue_bucket: Option<i16>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "delete from run_rollup_changes where ctid = any(array(select ctid from run_rollup_changes limit $1)) \
         returning repo, workflow, branch, bucket, status, sign, duration_ms, duration_bucket, queue_ms, queue_bucket",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let folded = rows.len();
    let dist = |ms: Option<i64>, bucket: Option<i16>| {
        let mut d = Distribution::default();
        if let (Some(ms), Some(b)) = (ms, bucket) {
            d.count = 1;
            d.ms = ms;
            d.hist[(b.max(0) as usize).min(BUCKETS - 1)] = 1;
        }
        d
    };
    let mut deltas: HashMap<RollupKey, Counters> = HashMap::new();
    for r in rows {
        let change = Change {
            counters: Counters {
                runs: 1,
                duration: dist(r.duration_ms, r.duration_bucket),
                queue: dist(r.queue_ms, r.queue_bucket),
            },
            repo: r.repo,
            workflow: r.workflow,
            branch: r.branch,
            bucket: r.bucket,
            status: r.status,
            sign: r.sign,
        };
        for (key, c) in change.spread() {
            deltas.entry(key).or_default().add(&c, 1);
        }
    }
    apply(&mut tx, deltas).await?;
    tx.commit().await?;
    Ok(folded)
}

/// Folds everything queued now (waiting for a fold running elsewhere), a batch at a time: what a
/// reader of the rollups calls so that they count every change committed before it.
pub async fn fold_all(pool: &PgPool) -> sqlx::Result<usize> {
    // Most reads find nothing queued: one cheap look, no transaction or lock.
    if !sqlx::query_scalar::<_, bool>("select exists (select from run_rollup_changes)")
        .fetch_one(pool)
        .await?
    {
        return Ok(0);
    }
    fold_queued(pool, true).await
}

/// Folds the changes queued now, a batch at a time until a batch is not full; `wait` as for
/// [`fold`] (without it, stops at once when another fold runs). Returns the number folded.
pub async fn fold_queued(pool: &PgPool, wait: bool) -> sqlx::Result<usize> {
    let mut total = 0;
    loop {
        let n = fold(pool, FOLD_BATCH, wait).await?;
        total += n;
        if n < FOLD_BATCH as usize {
            return Ok(total);
        }
    }
}

/// Changes folded per transaction.
const FOLD_BATCH: i64 = 20_000;

/// Adds the deltas to their rollup rows, in key order so that concurrent writers never deadlock.
pub async fn apply(conn: &mut PgConnection, deltas: HashMap<RollupKey, Counters>) -> sqlx::Result<()> {
    let mut deltas: Vec<_> = deltas.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    if deltas.is_empty() {
        return Ok(());
    }
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    let n = deltas.len();
    let (mut scope, mut repo, mut workflow, mut branch, mut bucket, mut status) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // One array per value column: unnest zips them into rows.
    let mut columns: Vec<Vec<i64>> = VALUE_COLUMNS.iter().map(|_| Vec::with_capacity(n)).collect();
    for (k, c) in deltas {
        scope.push(k.scope as i16);
        repo.push(k.repo);
        workflow.push(k.workflow);
        branch.push(k.branch);
        bucket.push(k.bucket);
        status.push(k.status.as_str());
        for (column, value) in columns.iter_mut().zip(values(&c)) {
            column.push(value);
        }
    }
    let mut q = sqlx::query(&UPSERT)
        .bind(scope)
        .bind(repo)
        .bind(workflow)
        .bind(branch)
        .bind(bucket)
        .bind(status);
    for column in columns {
        q = q.bind(column);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Counters of one status in one period, in the current window or the one before it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub period: DateTime<Utc>,
    pub status: RunStatus,
    pub current: bool,
    pub counters: Counters,
}

/// The counters of a rollup row (or of a sum of them) as selected by [`COUNTER_SELECT`].
#[derive(FromRow)]
struct CounterRow {
    runs: i64,
    duration_count: i64,
    duration_ms: i64,
    duration_hist: Vec<i64>,
    queue_count: i64,
    queue_ms: i64,
    queue_hist: Vec<i64>,
}

impl From<CounterRow> for Counters {
    fn from(r: CounterRow) -> Self {
        Counters {
            runs: r.runs,
            duration: Distribution {
                count: r.duration_count,
                ms: r.duration_ms,
                hist: r.duration_hist,
            },
            queue: Distribution {
                count: r.queue_count,
                ms: r.queue_ms,
                hist: r.queue_hist,
            },
        }
    }
}

/// Selects a [`CounterRow`], each column wrapped by `wrap` (e.g. a `sum`).
fn counter_select(wrap: impl Fn(&str) -> String) -> String {
    format!(
        "{runs} as runs, {dc} as duration_count, {dm} as duration_ms, {dh} as duration_hist, \
         {qc} as queue_count, {qm} as queue_ms, {qh} as queue_hist",
        runs = wrap("runs"),
        dc = wrap("duration_count"),
        dm = wrap("duration_ms"),
        dh = hist_array('h', &wrap),
        qc = wrap("queue_count"),
        qm = wrap("queue_ms"),
        qh = hist_array('q', &wrap),
    )
}

/// The key values a scope is filtered by.
#[derive(Debug, Clone)]
pub struct ScopeKey {
    pub scope: Scope,
    pub repo: String,
    pub workflow: String,
    pub branch: String,
}

/// Rollup rows of one scope key in `[from, to)`, summed per `grain` period (`hour`, `day` or
/// `week`, starting at midnight in the time zone `tz`) and status; `current` tells rows at or
/// after `current_from` from earlier ones.
pub async fn samples(
    pool: &PgPool,
    key: &ScopeKey,
    status: Option<RunStatus>,
    (grain, tz): (&'static str, &'static str),
    current_from: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<Sample>> {
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new("select date_trunc(");
    q.push_bind(grain)
        .push(", bucket, ")
        .push_bind(tz)
        .push(") as period, status, bucket >= ")
        .push_bind(current_from)
        .push(" as current, ")
        .push(counter_select(|c| format!("sum({c})::int8")))
        .push(" from run_rollups where scope = ")
        .push_bind(key.scope as i16)
        .push(" and repo = ")
        .push_bind(key.repo.clone())
        .push(" and workflow = ")
        .push_bind(key.workflow.clone())
        .push(" and branch = ")
        .push_bind(key.branch.clone())
        .push(" and bucket >= ")
        .push_bind(from)
        .push(" and bucket < ")
        .push_bind(to);
    if let Some(st) = status {
        q.push(" and status = ").push_bind(st.as_str());
    }
    q.push(" group by 1, 2, 3 having sum(runs) <> 0");
    let rows: Vec<(DateTime<Utc>, RunStatus, bool, CounterRow)> = q
        .build()
        .try_map(|row: sqlx::postgres::PgRow| {
            use sqlx::Row;
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                CounterRow::from_row(&row)?,
            ))
        })
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(period, status, current, c)| Sample {
            period,
            status,
            current,
            counters: c.into(),
        })
        .collect())
}

/// Every non-empty rollup row (for tests).
pub async fn all(pool: &PgPool) -> sqlx::Result<HashMap<RollupKey, Counters>> {
    #[derive(FromRow)]
    struct Row {
        scope: i16,
        repo: String,
        workflow: String,
        branch: String,
        bucket: DateTime<Utc>,
        status: RunStatus,
        #[sqlx(flatten)]
        counters: CounterRow,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {KEY_COLUMNS}, {} from run_rollups",
        counter_select(|c| format!("{c}::int8"))
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let scope = Scope::ALL.into_iter().find(|s| *s as i16 == r.scope)?;
            let key = RollupKey {
                scope,
                repo: r.repo,
                workflow: r.workflow,
                branch: r.branch,
                bucket: r.bucket,
                status: r.status,
            };
            Some((key, Counters::from(r.counters)))
        })
        .filter(|(_, c)| !c.is_zero())
        .collect())
}
