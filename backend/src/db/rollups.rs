//! Queries on `run_rollups`.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::histogram::BUCKETS;
use crate::domain::rollup::{Counters, Distribution, RollupKey, Scope};
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

/// `insert … select` adding up `contributions` — a relation of one row per run and rollup key
/// `(id, s, rp, wf, br, bk, st, dc, dm, hb, qc, qm, qb)` where `hb`/`qb` are the duration's and
/// queue time's histogram buckets (or -1) — for the runs whose id is in `ids` (a relation with an
/// `id` column).
pub fn upsert_contributions_sql(contributions: &str, ids: &str) -> String {
    let counts = |column: &str| -> Vec<String> {
        (0..BUCKETS)
            .map(|i| format!("count(*) filter (where {column} = {i})"))
            .collect()
    };
    let mut aggregates = vec![
        "count(*)".to_owned(),
        "sum(dc)::int8".into(),
        "sum(dm)::int8".into(),
    ];
    aggregates.extend(counts("hb"));
    aggregates.extend(["sum(qc)::int8".to_owned(), "sum(qm)::int8".into()]);
    aggregates.extend(counts("qb"));
    format!(
        "insert into run_rollups as r ({KEY_COLUMNS}, {cols}) \
         select s, rp, wf, br, bk, st, {aggregates} \
         from {contributions} where id in (select id from {ids}) \
         group by s, rp, wf, br, bk, st order by s, rp, wf, br, bk, st \
         on conflict ({KEY_COLUMNS}) do update set {sets}",
        cols = joined(str::to_owned),
        aggregates = aggregates.join(", "),
        sets = UPDATE_SETS.as_str(),
    )
}

/// Column-wise contributions of runs to rollup rows, for [`upsert_contributions_sql`].
#[derive(Default)]
pub struct Contributions {
    id: Vec<String>,
    scope: Vec<i16>,
    repo: Vec<String>,
    workflow: Vec<String>,
    branch: Vec<String>,
    bucket: Vec<DateTime<Utc>>,
    status: Vec<&'static str>,
    duration_count: Vec<i64>,
    duration_ms: Vec<i64>,
    duration_bucket: Vec<i16>,
    queue_count: Vec<i64>,
    queue_ms: Vec<i64>,
    queue_bucket: Vec<i16>,
}

impl Contributions {
    /// Parameters taken by [`Contributions::relation`].
    pub const PARAMS: usize = 13;

    pub fn push(&mut self, run_id: &str, key: RollupKey, c: &Counters) {
        self.id.push(run_id.to_owned());
        self.scope.push(key.scope as i16);
        self.repo.push(key.repo);
        self.workflow.push(key.workflow);
        self.branch.push(key.branch);
        self.bucket.push(key.bucket);
        self.status.push(key.status.as_str());
        self.duration_count.push(c.duration.count);
        self.duration_ms.push(c.duration.ms);
        self.duration_bucket.push(c.duration.single_bucket());
        self.queue_count.push(c.queue.count);
        self.queue_ms.push(c.queue.ms);
        self.queue_bucket.push(c.queue.single_bucket());
    }

    /// The `unnest(…)` relation over parameters `$first…$first+12`.
    pub fn relation(first: usize) -> String {
        let types = [
            "text",
            "int2",
            "text",
            "text",
            "text",
            "timestamptz",
            "text",
            "int8",
            "int8",
            "int2",
            "int8",
            "int8",
            "int2",
        ];
        let args: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}[]", first + i))
            .collect();
        format!(
            "unnest({}) as c(id, s, rp, wf, br, bk, st, dc, dm, hb, qc, qm, qb)",
            args.join(", ")
        )
    }

    pub fn bind<'q, O>(
        self,
        q: sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(self.id)
            .bind(self.scope)
            .bind(self.repo)
            .bind(self.workflow)
            .bind(self.branch)
            .bind(self.bucket)
            .bind(self.status)
            .bind(self.duration_count)
            .bind(self.duration_ms)
            .bind(self.duration_bucket)
            .bind(self.queue_count)
            .bind(self.queue_ms)
            .bind(self.queue_bucket)
    }
}

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
