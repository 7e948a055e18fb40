//! Queries on `run_rollups`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::rollup::{Counters, RollupKey, Scope};
use crate::domain::RunStatus;

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
    let (mut runs, mut dcount, mut dms, mut hist) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
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
        // Arrays of arrays do not unnest row by row, so each histogram travels as an array literal.
        let items: Vec<String> = c.hist.iter().map(i64::to_string).collect();
        hist.push(format!("{{{}}}", items.join(",")));
    }
    sqlx::query(
        "insert into run_rollups as r \
             (scope, repo, workflow, branch, bucket, status, runs, duration_count, duration_ms, duration_hist) \
         select s, rp, wf, br, bk, st, n, dc, dm, h::bigint[] \
         from unnest($1::int2[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
                     $7::int8[], $8::int8[], $9::int8[], $10::text[]) as u(s, rp, wf, br, bk, st, n, dc, dm, h) \
         on conflict (scope, repo, workflow, branch, bucket, status) do update set \
             runs = r.runs + excluded.runs, \
             duration_count = r.duration_count + excluded.duration_count, \
             duration_ms = r.duration_ms + excluded.duration_ms, \
             duration_hist = hist_add(r.duration_hist, excluded.duration_hist)",
    )
    .bind(scope)
    .bind(repo)
    .bind(workflow)
    .bind(branch)
    .bind(bucket)
    .bind(status)
    .bind(runs)
    .bind(dcount)
    .bind(dms)
    .bind(hist)
    .execute(conn)
    .await?;
    Ok(())
}

/// One hour's counters for one status: a rollup row, or a raw run (`runs = 1`).
#[derive(Debug, Clone, FromRow)]
pub struct Sample {
    pub bucket: DateTime<Utc>,
    pub status: String,
    pub runs: i64,
    pub duration_count: i64,
    pub duration_ms: i64,
    pub duration_hist: Vec<i64>,
}

impl Sample {
    pub fn status(&self) -> Option<RunStatus> {
        RunStatus::parse(&self.status)
    }

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

/// Rollup rows of one scope key in `[from, to)`, optionally of one status.
pub async fn samples(
    pool: &PgPool,
    key: &ScopeKey,
    status: Option<RunStatus>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<Sample>> {
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "select bucket, status, runs, duration_count, duration_ms, duration_hist from run_rollups where scope = ",
    );
    q.push_bind(key.scope as i16)
        .push(" and repo = ")
        .push_bind(key.repo.clone())
        .push(" and workflow = ")
        .push_bind(key.workflow.clone())
        .push(" and branch = ")
        .push_bind(key.branch.clone())
        .push(" and bucket >= ")
        .push_bind(from)
        .push(" and bucket < ")
        .push_bind(to)
        .push(" and runs <> 0");
    if let Some(st) = status {
        q.push(" and status = ").push_bind(st.as_str());
    }
    q.build_query_as().fetch_all(pool).await
}

/// Every rollup row (for tests and `rollups verify`).
pub async fn all(pool: &PgPool) -> sqlx::Result<HashMap<RollupKey, Counters>> {
    #[derive(FromRow)]
    struct Row {
        scope: i16,
        repo: String,
        workflow: String,
        branch: String,
        bucket: DateTime<Utc>,
        status: String,
        runs: i64,
        duration_count: i64,
        duration_ms: i64,
        duration_hist: Vec<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as("select * from run_rollups")
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
                status: RunStatus::parse(&r.status)?,
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
