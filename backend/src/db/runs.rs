//! Queries on `pipeline_runs` and `run_dimensions`.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::db::notify::{self, RunNotices};
use crate::db::rollups::Changes;

pub mod group;
mod list;
use crate::domain::{Run, RunState, RunStatus};
pub use list::{list, RunFilter, RunSort, SortKey};

const COLUMNS: &str =
    "id, provider, repo, workflow, branch, commit_sha, status, attempt, run_key, duration_seconds, \
     queued_at, started_at, finished_at, triggered_by, url, metadata, created_at, updated_at";

/// Statuses are stored as text (checked by the column's constraint).
impl sqlx::Type<Postgres> for RunStatus {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for RunStatus {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        RunStatus::parse(s).ok_or_else(|| format!("unknown run status {s:?}").into())
    }
}

/// A stored run: its state and when it last changed.
#[derive(Debug, FromRow)]
pub struct RunRow {
    #[sqlx(flatten)]
    pub state: RunState,
    pub updated_at: DateTime<Utc>,
}

impl RunRow {
    pub fn into_state(self) -> (RunState, DateTime<Utc>) {
        (self.state, self.updated_at)
    }

    pub fn into_run(self) -> Run {
        Run::from_state(self.state, self.updated_at)
    }
}

/// Loads and locks the runs with these ids (in id order, so concurrent writers never deadlock).
pub async fn lock_existing(conn: &mut PgConnection, ids: &[String]) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from pipeline_runs where id = any($1) order by id for update"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Column-wise arrays of run states, for `unnest`-based bulk statements.
#[derive(Default)]
struct Columns {
    id: Vec<String>,
    provider: Vec<String>,
    repo: Vec<String>,
    workflow: Vec<String>,
    branch: Vec<Option<String>>,
    commit_sha: Vec<Option<String>>,
    status: Vec<&'static str>,
    attempt: Vec<i32>,
    run_key: Vec<Option<String>>,
    duration: Vec<Option<f64>>,
    queued_at: Vec<Option<DateTime<Utc>>>,
    started_at: Vec<Option<DateTime<Utc>>>,
    finished_at: Vec<Option<DateTime<Utc>>>,
    triggered_by: Vec<Option<String>>,
    url: Vec<Option<String>>,
    metadata: Vec<serde_json::Value>,
    created_at: Vec<DateTime<Utc>>,
}

impl Columns {
    fn of<'a>(states: impl IntoIterator<Item = &'a RunState>) -> Self {
        let mut c = Columns::default();
        for s in states {
            c.id.push(s.id.clone());
            c.provider.push(s.provider.clone());
            c.repo.push(s.repo.clone());
            c.workflow.push(s.workflow.clone());
            c.branch.push(s.branch.clone());
            c.commit_sha.push(s.commit_sha.clone());
            c.status.push(s.status.as_str());
            c.attempt.push(s.attempt);
            c.run_key.push(s.run_key.clone());
            c.duration.push(s.duration_seconds);
            c.queued_at.push(s.queued_at);
            c.started_at.push(s.started_at);
            c.finished_at.push(s.finished_at);
            c.triggered_by.push(s.triggered_by.clone());
            c.url.push(s.url.clone());
            c.metadata.push(s.metadata.clone());
            c.created_at.push(s.created_at);
        }
        c
    }

    fn bind<'q, O>(
        self,
        q: sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(self.id)
            .bind(self.provider)
            .bind(self.repo)
            .bind(self.workflow)
            .bind(self.branch)
            .bind(self.commit_sha)
            .bind(self.status)
            .bind(self.attempt)
            .bind(self.duration)
            .bind(self.queued_at)
            .bind(self.started_at)
            .bind(self.finished_at)
            .bind(self.triggered_by)
            .bind(self.url)
            .bind(self.metadata)
            .bind(self.created_at)
            .bind(self.run_key)
    }
}

const UNNEST: &str = "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::text[], $8::int4[], $9::float8[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], \
     $13::text[], $14::text[], $15::jsonb[], $16::timestamptz[], $17::text[]) \
     as u(id, provider, repo, workflow, branch, commit_sha, status, attempt, duration_seconds, \
          queued_at, started_at, finished_at, triggered_by, url, metadata, created_at, run_key)";
/// Parameters taken by [`UNNEST`].
const UNNEST_PARAMS: usize = 17;

/// Inserts the runs that do not exist yet, queues their rollup changes, records the dimensions
/// `dims` (those of the runs that the caller has not recorded lately) and announces the runs on
/// [`notify::RUNS`]: one statement, so a batch of new runs costs one round trip and commits (and
/// notifies) on its own. `notices` are of `states`, in the same
/// order; only those of the runs inserted are sent. Returns the ids actually inserted. A run that
/// another transaction inserts concurrently makes this wait for it (`claim_new_runs` locks each
/// id), then counts as existing (and is left to [`lock_existing`] and the merge).
pub async fn insert_new(
    conn: &mut PgConnection,
    states: &[RunState],
    changes: Changes,
    dims: &[(String, String, String, String)],
    notices: &RunNotices,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "with new_runs as ( \
                 insert into pipeline_runs (id, provider, repo, workflow, branch, commit_sha, status, attempt, \
                     run_key, duration_seconds, queued_at, started_at, finished_at, triggered_by, url, \
                     metadata, created_at, updated_at) \
                 select id, provider, repo, workflow, branch, commit_sha, status, attempt, run_key, \
                     duration_seconds, queued_at, started_at, finished_at, triggered_by, url, metadata, \
                     created_at, created_at \
                 from {UNNEST} where u.id = any(array(select claim_new_runs($1))) order by id \
                 returning id, provider, repo, workflow, coalesce(branch, '') as branch), \
             queued as ({queue}), \
             seen as (select * from unnest(${dp}::text[], ${dr}::text[], ${dw}::text[], ${db}::text[]) \
                 as s(provider, repo, workflow, branch)), \
             dims as ( \
                 insert into run_dimensions (provider, repo, workflow, branch, last_seen_at) \
                 select provider, repo, workflow, branch, ${now}::timestamptz from seen order by 1, 2, 3, 4 \
                 on conflict do nothing), \
             {touch}, \
             notices as (select * from unnest($1::text[], ${items}::text[], ${chunks}::int4[]) as n(id, item, chunk)), \
             notified as ( \
                 select pg_notify('{channel}', '[' || string_agg(n.item, ',' order by n.id) || ']') \
                 from new_runs join notices n using (id) group by n.chunk) \
             select id from new_runs where (select count(*) from notified) >= 0",
            queue = Changes::insert_sql(UNNEST_PARAMS + 1, Some("new_runs")),
            now = UNNEST_PARAMS + Changes::PARAMS + 1,
            touch = touch_dimensions_sql("seen", &format!("${}", UNNEST_PARAMS + Changes::PARAMS + 1)),
            items = UNNEST_PARAMS + Changes::PARAMS + 2,
            chunks = UNNEST_PARAMS + Changes::PARAMS + 3,
            dp = UNNEST_PARAMS + Changes::PARAMS + 4,
            dr = UNNEST_PARAMS + Changes::PARAMS + 5,
            dw = UNNEST_PARAMS + Changes::PARAMS + 6,
            db = UNNEST_PARAMS + Changes::PARAMS + 7,
            channel = notify::RUNS,
        )
    });
    let q = Columns::of(states).bind(sqlx::query_scalar(&SQL));
    // `notified` is read by the final select, so that PostgreSQL runs it.
    changes
        .bind(q)
        .bind(now)
        .bind(&notices.items)
        .bind(&notices.chunks)
        .bind(dims.iter().map(|d| d.0.as_str()).collect::<Vec<_>>())
        .bind(dims.iter().map(|d| d.1.as_str()).collect::<Vec<_>>())
        .bind(dims.iter().map(|d| d.2.as_str()).collect::<Vec<_>>())
        .bind(dims.iter().map(|d| d.3.as_str()).collect::<Vec<_>>())
        .fetch_all(conn)
        .await
}

/// Overwrites existing runs with their merged state.
pub async fn update(conn: &mut PgConnection, states: &[&RunState], now: DateTime<Utc>) -> sqlx::Result<()> {
    if states.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "update pipeline_runs p set provider = u.provider, repo = u.repo, workflow = u.workflow, \
             branch = u.branch, commit_sha = u.commit_sha, status = u.status, attempt = u.attempt, \
             duration_seconds = u.duration_seconds, queued_at = u.queued_at, started_at = u.started_at, \
             finished_at = u.finished_at, triggered_by = u.triggered_by, url = u.url, \
             metadata = u.metadata, run_key = u.run_key, updated_at = ${now} \
         from {UNNEST} where p.id = u.id returning p.id",
        now = UNNEST_PARAMS + 1
    );
    Columns::of(states.iter().copied())
        .bind(sqlx::query_scalar::<_, String>(&sql))
        .bind(now)
        .fetch_all(conn)
        .await?;
    Ok(())
}

/// A CTE (`touched as (…)`) moving `last_seen_at` of the dimensions in `seen` to `now`, at most
/// once a minute. An `update … where` leaves the rows it skips unlocked — unlike `on conflict do
/// update … where`, which locks them until commit and so made concurrent writers queue behind
/// each other on the busiest dimensions.
fn touch_dimensions_sql(seen: &str, now: &str) -> String {
    format!(
        "touched as (update run_dimensions d set last_seen_at = {now}::timestamptz from {seen} s \
             where (d.repo, d.workflow, d.branch, d.provider) = (s.repo, s.workflow, s.branch, s.provider) \
             and d.last_seen_at < {now}::timestamptz - interval '1 minute')"
    )
}

/// Records the repo / workflow / branch combinations seen, for the filter selectors.
pub async fn touch_dimensions(
    conn: &mut PgConnection,
    dims: &[(String, String, String, String)],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if dims.is_empty() {
        return Ok(());
    }
    let (mut provider, mut repo, mut workflow, mut branch) = (vec![], vec![], vec![], vec![]);
    for (p, r, w, b) in dims {
        provider.push(p.as_str());
        repo.push(r.as_str());
        workflow.push(w.as_str());
        branch.push(b.as_str());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "with seen as (select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
                 as u(provider, repo, workflow, branch)), \
             dims as (insert into run_dimensions (provider, repo, workflow, branch, last_seen_at) \
                 select provider, repo, workflow, branch, $5 from seen order by 1, 2, 3, 4 on conflict do nothing), \
             {} select 1",
            touch_dimensions_sql("seen", "$5")
        )
    });
    sqlx::query(&SQL)
        .bind(provider)
        .bind(repo)
        .bind(workflow)
        .bind(branch)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(&format!("select {COLUMNS} from pipeline_runs where id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One attempt of a run, as listed with any of its attempts.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: String,
    pub attempt: i32,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
}

/// Every attempt of the run `run_key`, first attempt first.
pub async fn attempts(pool: &PgPool, run_key: &str) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as!(
        Attempt,
        r#"select id, attempt, status as "status: RunStatus", started_at, finished_at, duration_seconds
           from pipeline_runs where run_key = $1 order by attempt, id"#,
        run_key,
    )
    .fetch_all(pool)
    .await
}

/// Runs still queued or running (read through a small partial index).
pub async fn count_active(pool: &PgPool, filter: &RunFilter) -> sqlx::Result<i64> {
    let mut q = QueryBuilder::new("select count(*) from pipeline_runs");
    filter.push_where(&mut q);
    q.push(" and status in ('queued', 'running')");
    q.build_query_scalar().fetch_one(pool).await
}

/// Flaky runs charted from `filter.from` to `split` and from `split` to `filter.to`: passing
/// attempts after an attempt of the same run and commit failed (read from the few re-runs).
pub async fn count_flaky(
    pool: &PgPool,
    filter: &RunFilter,
    split: DateTime<Utc>,
) -> sqlx::Result<(i64, i64)> {
    let mut q = QueryBuilder::new("select count(*) filter (where s.run_at < ");
    q.push_bind(split)
        .push("), count(*) filter (where s.run_at >= ")
        .push_bind(split)
        .push(") from (select run_key, attempt, commit_sha, run_at from pipeline_runs");
    filter.push_where(&mut q);
    q.push(
        " and attempt > 1 and status = 'success' and run_key is not null) s \
         where exists (select 1 from pipeline_runs f where f.run_key = s.run_key and f.attempt < s.attempt \
             and f.status = 'failure' and f.commit_sha is not distinct from s.commit_sha)",
    );
    q.build_query_as().fetch_one(pool).await
}

#[derive(Debug, Clone, FromRow)]
pub struct DimensionRow {
    pub provider: String,
    pub repo: String,
    pub workflow: String,
    pub branch: String,
}

pub async fn dimensions(pool: &PgPool) -> sqlx::Result<Vec<DimensionRow>> {
    sqlx::query_as!(
        DimensionRow,
        "select provider, repo, workflow, branch from run_dimensions order by repo, workflow, branch",
    )
    .fetch_all(pool)
    .await
}

/// `(run_at, status, duration_seconds, queue_seconds)` of finished runs matching `filter` (the
/// path for filter combinations that no rollup scope covers).
pub async fn finished(
    pool: &PgPool,
    filter: &RunFilter,
) -> sqlx::Result<Vec<(DateTime<Utc>, RunStatus, Option<f64>, Option<f64>)>> {
    let mut q = QueryBuilder::new(
        "select run_at, status, duration_seconds, \
         case when started_at >= queued_at then extract(epoch from started_at - queued_at)::float8 end \
         from pipeline_runs",
    );
    filter.push_where(&mut q);
    q.push(" and status in ('success', 'failure', 'cancelled', 'skipped')");
    q.build_query_as().fetch_all(pool).await
}
