//! The job rollups (`job_rollups`) and runner pools' busy time (`runner_busy`,
//! `runner_busy_hours`): the folder's transaction, and the reads behind the jobs, runners and
//! usage views.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::job_rollup::{
    busy_minutes, count, rows, Grain, JobCount, JobCounters, JobFacts, JobKey, JobScope,
};
use crate::domain::RunStatus;

/// The advisory lock held by the one folder at work across all replicas.
const FOLD_LOCK: i64 = 0x6369_6364_6a6f_6273;

/// A job waiting to be folded, with its run's names when the job has none of its own yet.
#[derive(FromRow)]
struct Pending {
    run_id: String,
    id: String,
    provider: String,
    name: String,
    labels: Vec<String>,
    runner_group: Option<String>,
    status: RunStatus,
    queued_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    counted: Option<Json<JobCount>>,
    repo: Option<String>,
    workflow: Option<String>,
    branch: Option<String>,
}

/// What one fold did.
#[derive(Debug, Default)]
pub struct Folded {
    /// Jobs taken.
    pub jobs: usize,
    /// Label sets whose figures changed.
    pub labels: BTreeSet<String>,
}

/// Folds up to `batch` pending jobs into the rollups in one transaction; does nothing when
/// another replica's folder is at work.
pub async fn fold(pool: &PgPool, batch: i64) -> sqlx::Result<Folded> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(FOLD_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Folded::default());
    }
    // Jobs that arrived before their run are counted once it is there.
    sqlx::query(
        "update run_jobs j set pending = true from pipeline_runs r \
         where j.repo is null and not j.pending and r.id = j.run_id",
    )
    .execute(&mut *tx)
    .await?;
    let pending: Vec<Pending> = sqlx::query_as(
        "select j.run_id, j.id, j.provider, j.name, j.labels, j.runner_group, j.status, j.queued_at, \
             j.started_at, j.finished_at, j.created_at, j.counted, \
             coalesce(j.repo, r.repo) as repo, coalesce(j.workflow, r.workflow) as workflow, \
             coalesce(j.branch, r.branch) as branch \
         from run_jobs j left join pipeline_runs r on r.id = j.run_id \
         where j.pending order by j.run_id, j.id limit $1 for update of j skip locked",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    let mut folded = Folded {
        jobs: pending.len(),
        ..Folded::default()
    };
    let mut deltas: HashMap<JobKey, JobCounters> = HashMap::new();
    let mut busy: BTreeMap<(String, DateTime<Utc>), i64> = BTreeMap::new();
    let mut updates = Vec::with_capacity(pending.len());
    for p in pending {
        let old = p.counted.map(|c| c.0);
        // Without a repository (its run has not arrived) a job cannot be counted yet.
        let new = match (&p.repo, &p.workflow) {
            (Some(repo), Some(workflow)) => count(&JobFacts {
                provider: p.provider,
                repo: repo.clone(),
                workflow: workflow.clone(),
                name: p.name,
                labels: p.labels,
                runner_group: p.runner_group,
                status: p.status,
                queued_at: p.queued_at,
                started_at: p.started_at,
                finished_at: p.finished_at,
                created_at: p.created_at,
            }),
            _ => old.clone(),
        };
        if old != new {
            for (c, sign) in [(&old, -1), (&new, 1)] {
                let Some(c) = c else { continue };
                folded.labels.insert(c.labels.clone());
                let counters = JobCounters::of(c);
                for key in rows(c) {
                    deltas.entry(key).or_default().add(&counters, sign);
                }
                if let Some((from, to)) = c.busy {
                    for (minute, ms) in busy_minutes(from, to) {
                        *busy.entry((c.labels.clone(), minute)).or_default() += sign * ms;
                    }
                }
            }
        }
        updates.push(json!({
            "run_id": p.run_id, "id": p.id, "repo": p.repo, "workflow": p.workflow,
            "branch": p.branch, "counted": new,
        }));
    }
    if !updates.is_empty() {
        sqlx::query(
            "update run_jobs j set repo = coalesce(j.repo, u.repo), workflow = coalesce(j.workflow, u.workflow), \
                 branch = coalesce(j.branch, u.branch), counted = u.counted, pending = false \
             from jsonb_to_recordset($1) as u(run_id text, id text, repo text, workflow text, branch text, counted jsonb) \
             where j.run_id = u.run_id and j.id = u.id",
        )
        .bind(Json(updates))
        .execute(&mut *tx)
        .await?;
    }
    apply(&mut tx, deltas).await?;
    apply_busy(&mut tx, busy).await?;
    if !folded.labels.is_empty() {
        let payload = serde_json::to_string(&folded.labels).unwrap_or_default();
        let payload = if payload.len() < super::notify::MAX_PAYLOAD {
            payload
        } else {
            "[]".into()
        };
        super::notify::send(&mut *tx, super::notify::RUNNERS, &payload).await?;
    }
    tx.commit().await?;
    Ok(folded)
}

/// The stored form of a rollup row's key columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, FromRow)]
pub struct RowKey {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub labels: String,
}

#[derive(FromRow)]
struct CounterRow {
    jobs: i32,
    failures: i32,
    cancelled: i32,
    skipped: i32,
    duration_count: i32,
    duration_ms: i64,
    queue_count: i32,
    queue_ms: i64,
    billable_ms: i64,
    priced_ms: i64,
    duration_hist: Vec<i32>,
    queue_hist: Vec<i32>,
}

impl From<CounterRow> for JobCounters {
    fn from(r: CounterRow) -> Self {
        JobCounters {
            jobs: r.jobs.into(),
            failures: r.failures.into(),
            cancelled: r.cancelled.into(),
            skipped: r.skipped.into(),
            duration_count: r.duration_count.into(),
            duration_ms: r.duration_ms,
            queue_count: r.queue_count.into(),
            queue_ms: r.queue_ms,
            billable_ms: r.billable_ms,
            priced_ms: r.priced_ms,
            duration_hist: JobCounters::decode(&r.duration_hist),
            queue_hist: JobCounters::decode(&r.queue_hist),
        }
    }
}

const COUNTERS: &str = "jobs, failures, cancelled, skipped, duration_count, duration_ms, queue_count, \
                        queue_ms, billable_ms, priced_ms, duration_hist, queue_hist";

#[derive(FromRow)]
struct StoredRow {
    grain: i16,
    bucket: DateTime<Utc>,
    scope: i16,
    #[sqlx(flatten)]
    key: RowKey,
    #[sqlx(flatten)]
    counters: CounterRow,
}

fn grain_of(n: i16) -> Option<Grain> {
    Grain::ALL.into_iter().find(|g| *g as i16 == n)
}

fn scope_of(n: i16) -> Option<JobScope> {
    JobScope::ALL.into_iter().find(|s| *s as i16 == n)
}

impl StoredRow {
    fn into_pair(self) -> Option<(JobKey, JobCounters)> {
        Some((
            JobKey {
                grain: grain_of(self.grain)?,
                bucket: self.bucket,
                scope: scope_of(self.scope)?,
                repo: self.key.repo,
                workflow: self.key.workflow,
                job: self.key.job,
                labels: self.key.labels,
            },
            self.counters.into(),
        ))
    }
}

/// Adds `deltas` to their rows: the folder is the table's only writer, so it reads the rows,
/// adds in memory (histograms are sparse) and writes them back; rows that fall to zero go.
async fn apply(conn: &mut PgConnection, deltas: HashMap<JobKey, JobCounters>) -> sqlx::Result<()> {
    let mut deltas: Vec<_> = deltas.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    if deltas.is_empty() {
        return Ok(());
    }
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    let key_json: Vec<Value> = deltas.iter().map(|(k, _)| key_value(k)).collect();
    let stored: Vec<StoredRow> = sqlx::query_as(&format!(
        "select r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels, {COUNTERS} \
         from job_rollups r join jsonb_to_recordset($1) as k(grain int2, bucket timestamptz, scope int2, \
             repo text, workflow text, job text, labels text) \
         using (grain, bucket, scope, repo, workflow, job, labels)"
    ))
    .bind(Json(&key_json))
    .fetch_all(&mut *conn)
    .await?;
    let mut merged: HashMap<JobKey, JobCounters> =
        stored.into_iter().filter_map(StoredRow::into_pair).collect();
    let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
    for (key, delta) in deltas {
        let row = merged.entry(key.clone()).or_default();
        row.add(&delta, 1);
        let mut v = key_value(&key);
        if row.is_zero() {
            deletes.push(v);
            continue;
        }
        if let Value::Object(m) = &mut v {
            for (name, n) in [
                ("jobs", row.jobs),
                ("failures", row.failures),
                ("cancelled", row.cancelled),
                ("skipped", row.skipped),
                ("duration_count", row.duration_count),
                ("duration_ms", row.duration_ms),
                ("queue_count", row.queue_count),
                ("queue_ms", row.queue_ms),
                ("billable_ms", row.billable_ms),
                ("priced_ms", row.priced_ms),
            ] {
                m.insert(name.into(), n.into());
            }
            m.insert(
                "duration_hist".into(),
                JobCounters::encode(&row.duration_hist).into(),
            );
            m.insert("queue_hist".into(), JobCounters::encode(&row.queue_hist).into());
        }
        upserts.push(v);
    }
    if !upserts.is_empty() {
        sqlx::query(&format!(
            "insert into job_rollups (grain, bucket, scope, repo, workflow, job, labels, {COUNTERS}) \
             select grain, bucket, scope, repo, workflow, job, labels, {COUNTERS} \
             from jsonb_to_recordset($1) as r(grain int2, bucket timestamptz, scope int2, repo text, \
                 workflow text, job text, labels text, jobs int4, failures int4, cancelled int4, \
                 skipped int4, duration_count int4, duration_ms int8, queue_count int4, queue_ms int8, \
                 billable_ms int8, priced_ms int8, duration_hist int4[], queue_hist int4[]) \
             on conflict (grain, bucket, scope, repo, workflow, job, labels) do update set {sets}",
            sets = COUNTERS
                .split(", ")
                .map(|c| format!("{c} = excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        ))
        .bind(Json(upserts))
        .execute(&mut *conn)
        .await?;
    }
    if !deletes.is_empty() {
        sqlx::query(
            "delete from job_rollups r using jsonb_to_recordset($1) as k(grain int2, bucket timestamptz, \
                 scope int2, repo text, workflow text, job text, labels text) \
             where (r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels) = \
                   (k.grain, k.bucket, k.scope, k.repo, k.workflow, k.job, k.labels)",
        )
        .bind(Json(deletes))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn key_value(k: &JobKey) -> Value {
    json!({
        "grain": k.grain as i16, "bucket": k.bucket, "scope": k.scope as i16, "repo": k.repo,
        "workflow": k.workflow, "job": k.job, "labels": k.labels,
    })
}

/// Adds busy time per label set and minute, then recomputes the hours it touched.
async fn apply_busy(
    conn: &mut PgConnection,
    busy: BTreeMap<(String, DateTime<Utc>), i64>,
) -> sqlx::Result<()> {
    let busy: Vec<_> = busy.into_iter().filter(|(_, ms)| *ms != 0).collect();
    if busy.is_empty() {
        return Ok(());
    }
    let (labels, minutes, ms): (Vec<String>, Vec<DateTime<Utc>>, Vec<i64>) = busy
        .iter()
        .map(|((l, m), ms)| (l.clone(), *m, *ms))
        .fold((vec![], vec![], vec![]), |(mut a, mut b, mut c), (l, m, ms)| {
            a.push(l);
            b.push(m);
            c.push(ms);
            (a, b, c)
        });
    sqlx::query(
        "insert into runner_busy as b (labels, minute, busy_ms) \
         select * from unnest($1::text[], $2::timestamptz[], $3::int8[]) \
         on conflict (labels, minute) do update set busy_ms = b.busy_ms + excluded.busy_ms",
    )
    .bind(&labels)
    .bind(&minutes)
    .bind(&ms)
    .execute(&mut *conn)
    .await?;
    let hours: BTreeSet<(String, DateTime<Utc>)> = busy
        .iter()
        .map(|((l, m), _)| (l.clone(), m.duration_trunc(TimeDelta::hours(1)).unwrap_or(*m)))
        .collect();
    let (hl, hh): (Vec<String>, Vec<DateTime<Utc>>) = hours.into_iter().unzip();
    sqlx::query(
        "with touched as (select * from unnest($1::text[], $2::timestamptz[]) as t(labels, hour)), \
         gone as (delete from runner_busy b using touched t \
                  where b.labels = t.labels and b.minute >= t.hour and b.minute < t.hour + interval '1 hour' \
                    and b.busy_ms = 0), \
         sums as (select t.labels, t.hour, coalesce(sum(b.busy_ms), 0)::int8 as busy_ms, \
                         coalesce(max(b.busy_ms), 0)::int8 as peak_ms \
                  from touched t left join runner_busy b on b.labels = t.labels \
                       and b.minute >= t.hour and b.minute < t.hour + interval '1 hour' and b.busy_ms <> 0 \
                  group by t.labels, t.hour), \
         upserted as (insert into runner_busy_hours (labels, hour, busy_ms, peak_ms) \
                      select * from sums where busy_ms <> 0 \
                      on conflict (labels, hour) do update set busy_ms = excluded.busy_ms, peak_ms = excluded.peak_ms) \
         delete from runner_busy_hours h using sums s \
         where h.labels = s.labels and h.hour = s.hour and s.busy_ms = 0",
    )
    .bind(&hl)
    .bind(&hh)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One rollup row read for a view.
#[derive(Debug, Clone)]
pub struct Read {
    /// Whether the row lies in the window itself (not the one before it).
    pub current: bool,
    pub grain: Grain,
    pub bucket: DateTime<Utc>,
    pub key: RowKey,
    pub counters: JobCounters,
}

/// Filters on rollup rows' keys.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub job: Option<String>,
    pub labels: Option<String>,
}

/// The rows of `scope` at the given tiles (grain, bucket, whether in the current window).
pub async fn read(
    pool: &PgPool,
    scope: JobScope,
    tiles: &[(Grain, DateTime<Utc>, bool)],
    filter: &KeyFilter,
) -> sqlx::Result<Vec<Read>> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let grains: Vec<i16> = tiles.iter().map(|t| t.0 as i16).collect();
    let buckets: Vec<DateTime<Utc>> = tiles.iter().map(|t| t.1).collect();
    let current: Vec<bool> = tiles.iter().map(|t| t.2).collect();
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "select t.current, r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels, {COUNTERS} \
         from unnest("
    ));
    q.push_bind(grains)
        .push("::int2[], ")
        .push_bind(buckets)
        .push("::timestamptz[], ")
        .push_bind(current)
        .push("::bool[]) as t(grain, bucket, current) join job_rollups r on r.grain = t.grain and r.bucket = t.bucket and r.scope = ")
        .push_bind(scope as i16);
    for (column, value) in [
        ("repo", &filter.repo),
        ("workflow", &filter.workflow),
        ("job", &filter.job),
        ("labels", &filter.labels),
    ] {
        if let Some(v) = value {
            q.push(format!(" and r.{column} = ")).push_bind(v.clone());
        }
    }
    #[derive(FromRow)]
    struct Row {
        current: bool,
        #[sqlx(flatten)]
        row: StoredRow,
    }
    let rows: Vec<Row> = q.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let current = r.current;
            let (grain, bucket, key) = (grain_of(r.row.grain)?, r.row.bucket, r.row.key);
            Some(Read {
                current,
                grain,
                bucket,
                key,
                counters: r.row.counters.into(),
            })
        })
        .collect())
}

/// Busy time of label sets per hour in `[from, to)`: `(labels, hour, busy_ms, peak_ms)`.
pub async fn busy_hours(
    pool: &PgPool,
    labels: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, DateTime<Utc>, i64, i64)>> {
    sqlx::query_as(
        "select labels, hour, busy_ms, peak_ms from runner_busy_hours \
         where hour >= $1 and hour < $2 and ($3::text is null or labels = $3)",
    )
    .bind(from)
    .bind(to)
    .bind(labels)
    .fetch_all(pool)
    .await
}

/// Every rollup row (for tests).
pub async fn all(pool: &PgPool) -> sqlx::Result<HashMap<JobKey, JobCounters>> {
    let rows: Vec<StoredRow> = sqlx::query_as(&format!(
        "select grain, bucket, scope, repo, workflow, job, labels, {COUNTERS} from job_rollups"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(StoredRow::into_pair).collect())
}

/// Every busy minute and hour (for tests): `((labels, minute), ms)` and `((labels, hour), (ms, peak))`.
pub async fn all_busy(
    pool: &PgPool,
) -> sqlx::Result<(
    BTreeMap<(String, DateTime<Utc>), i64>,
    BTreeMap<(String, DateTime<Utc>), (i64, i64)>,
)> {
    let minutes: Vec<(String, DateTime<Utc>, i64)> =
        sqlx::query_as("select labels, minute, busy_ms from runner_busy")
            .fetch_all(pool)
            .await?;
    let hours: Vec<(String, DateTime<Utc>, i64, i64)> =
        sqlx::query_as("select labels, hour, busy_ms, peak_ms from runner_busy_hours")
            .fetch_all(pool)
            .await?;
    Ok((
        minutes.into_iter().map(|(l, m, ms)| ((l, m), ms)).collect(),
        hours.into_iter().map(|(l, h, ms, p)| ((l, h), (ms, p))).collect(),
    ))
}
