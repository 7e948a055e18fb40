//! Queries on `run_rollups`.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::histogram::BUCKETS;
use crate::domain::rollup::{Counters, RollupKey, Scope};
use crate::domain::RunStatus;

/// `h00, h01, …, h63`: the histogram columns.
fn hist_columns(wrap: impl Fn(&str) -> String) -> String {
    (0..BUCKETS)
        .map(|i| wrap(&format!("h{i:02}")))
        .collect::<Vec<_>>()
        .join(", ")
}

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    let hist_params: Vec<String> = (0..BUCKETS).map(|i| format!("${}::int8[]", 10 + i)).collect();
    format!(
        "insert into run_rollups as r \
             (scope, repo, workflow, branch, bucket, status, runs, duration_count, duration_ms, {cols}) \
         select * from unnest($1::int2[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
                              $7::int8[], $8::int8[], $9::int8[], {params}) \
         on conflict (scope, repo, workflow, branch, bucket, status) do update set {sets}",
        cols = hist_columns(|c| c.to_owned()),
        params = hist_params.join(", "),
        sets = UPDATE_SETS.as_str(),
    )
});

/// `insert … select` adding up `contributions` — a relation of one row per run and rollup key
/// `(id, s, rp, wf, br, bk, st, dc, dm, hb)` where `hb` is the histogram bucket (or -1) — for the
/// runs whose id is in `ids` (a relation with an `id` column).
pub fn upsert_contributions_sql(contributions: &str, ids: &str) -> String {
    format!(
        "insert into run_rollups as r \
             (scope, repo, workflow, branch, bucket, status, runs, duration_count, duration_ms, {cols}) \
         select s, rp, wf, br, bk, st, count(*), sum(dc)::int8, sum(dm)::int8, {counts} \
         from {contributions} where id in (select id from {ids}) \
         group by s, rp, wf, br, bk, st order by s, rp, wf, br, bk, st \
         on conflict (scope, repo, workflow, branch, bucket, status) do update set {sets}",
        cols = hist_columns(|c| c.to_owned()),
        counts = (0..BUCKETS)
            .map(|i| format!("count(*) filter (where hb = {i})"))
            .collect::<Vec<_>>()
            .join(", "),
        sets = UPDATE_SETS.as_str(),
    )
}

static UPDATE_SETS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "runs = r.runs + excluded.runs, duration_count = r.duration_count + excluded.duration_count, \
         duration_ms = r.duration_ms + excluded.duration_ms, {}",
        hist_columns(|c| format!("{c} = r.{c} + excluded.{c}"))
    )
});

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
    hist_bucket: Vec<i16>,
}

impl Contributions {
    pub fn push(&mut self, run_id: &str, key: RollupKey, c: &Counters) {
        self.id.push(run_id.to_owned());
        self.scope.push(key.scope as i16);
        self.repo.push(key.repo);
        self.workflow.push(key.workflow);
        self.branch.push(key.branch);
        self.bucket.push(key.bucket);
        self.status.push(key.status.as_str());
        self.duration_count.push(c.duration_count);
        self.duration_ms.push(c.duration_ms);
        self.hist_bucket
            .push(c.hist.iter().position(|&n| n != 0).map_or(-1, |i| i as i16));
    }

    /// The `unnest(…)` relation over parameters `$first…$first+9`.
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
        ];
        let args: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}[]", first + i))
            .collect();
        format!(
            "unnest({}) as c(id, s, rp, wf, br, bk, st, dc, dm, hb)",
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
            .bind(self.hist_bucket)
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
    let (mut runs, mut dcount, mut dms) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // One array per histogram column: unnest zips them into rows.
    let mut hist: Vec<Vec<i64>> = (0..BUCKETS).map(|_| Vec::with_capacity(n)).collect();
    for (k, c) in deltas {
        scope.push(k.scope as i16);
        repo.push(k.repo);
        workflow.push(k.workflow);
        branch.push(k.branch);
        bucket.push(k.bucket);
        status.push(k.status.as_str());
        runs.push(c.runs);
        dcount.push(c.duration_count);
        dms.push(c.duration_ms);
        for (column, count) in hist.iter_mut().zip(&c.hist) {
            column.push(*count);
        }
    }
    let mut q = sqlx::query(&UPSERT)
        .bind(scope)
        .bind(repo)
        .bind(workflow)
        .bind(branch)
        .bind(bucket)
        .bind(status)
        .bind(runs)
        .bind(dcount)
        .bind(dms);
    for column in hist {
        q = q.bind(column);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Counters of one status in one period, in the current window or the one before it.
#[derive(Debug, Clone, FromRow)]
pub struct Sample {
    pub period: DateTime<Utc>,
    pub status: RunStatus,
    pub current: bool,
    pub runs: i64,
    pub duration_count: i64,
    pub duration_ms: i64,
    pub duration_hist: Vec<i64>,
}

impl Sample {
    pub fn counters(&self) -> Counters {
        Counters {
            runs: self.runs,
            duration_count: self.duration_count,
            duration_ms: self.duration_ms,
            hist: self.duration_hist.clone(),
        }
    }
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
/// `week`, in UTC) and status; `current` tells rows at or after `current_from` from earlier ones.
pub async fn samples(
    pool: &PgPool,
    key: &ScopeKey,
    status: Option<RunStatus>,
    grain: &'static str,
    current_from: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<Sample>> {
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new("select date_trunc(");
    q.push_bind(grain)
        .push(", bucket, 'UTC') as period, status, bucket >= ")
        .push_bind(current_from)
        .push(" as current, sum(runs)::int8 as runs, sum(duration_count)::int8 as duration_count, ")
        .push("sum(duration_ms)::int8 as duration_ms, array[")
        .push(hist_columns(|c| format!("sum({c})::int8")))
        .push("] as duration_hist from run_rollups where scope = ")
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
    q.build_query_as().fetch_all(pool).await
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
        runs: i64,
        duration_count: i64,
        duration_ms: i64,
        duration_hist: Vec<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select scope, repo, workflow, branch, bucket, status, runs, duration_count, duration_ms, \
         array[{}] as duration_hist from run_rollups",
        hist_columns(|c| c.to_owned())
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
            let c = Counters {
                runs: r.runs,
                duration_count: r.duration_count,
                duration_ms: r.duration_ms,
                hist: r.duration_hist,
            };
            Some((key, c))
        })
        .filter(|(_, c)| !c.is_zero())
        .collect())
}
