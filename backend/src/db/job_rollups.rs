//! The job rollups (`job_rollups`) and runner pools' busy time (`runner_busy`,
//! `runner_busy_hours`): the folder's transaction, and the reads behind the jobs, runners and
//! usage views.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
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
    /// The row version read (`xmin`, as text): a job written again since is left pending.
    version: String,
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

/// What the folder writes back to the jobs it took, one array per column.
#[derive(Default)]
struct Updates {
    versions: Vec<String>,
    run_ids: Vec<String>,
    ids: Vec<String>,
    repos: Vec<Option<String>>,
    workflows: Vec<Option<String>>,
    branches: Vec<Option<String>>,
    counted: Vec<Option<Json<JobCount>>>,
}

/// What one fold did.
#[derive(Debug, Default)]
pub struct Folded {
    /// Jobs taken.
    pub jobs: usize,
    /// Label sets whose figures changed.
    pub labels: BTreeSet<String>,
    /// The key `(run id, job id)` of the last job taken, where the next fold of a backlog goes on.
    pub last: Option<(String, String)>,
}

/// Folds up to `batch` pending jobs (in key order, after `after` when given) into the rollups in
/// one transaction; does nothing when another replica's folder is at work.
///
/// Going on after the last job taken keeps each fold of a large backlog from walking again over
/// the index entries of the jobs folded before it (dead until vacuumed).
///
/// Jobs are read without a lock, so job writes never wait for a fold's reads: a job written
/// again between the read and the fold's own update keeps `pending` (its row version changed)
/// and is folded again, from what this fold counted. Its row is locked only by that update, the
/// fold's last statements before commit.
pub async fn fold(pool: &PgPool, batch: i64, after: Option<&(String, String)>) -> sqlx::Result<Folded> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(FOLD_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Folded::default());
    }
    // Jobs that arrived before their run are counted once it is there. They are found through
    // their partial index in its order (with a limit, so the plan stays an index scan however
    // many jobs are pending) and taken in turn by the folds that follow.
    sqlx::query(
        "update run_jobs j set pending = true \
         from (select o.run_id, o.id from run_jobs o \
               where o.repo is null and not o.pending \
                 and exists (select 1 from pipeline_runs r where r.id = o.run_id) \
               order by o.run_id limit $1) o \
         where j.run_id = o.run_id and j.id = o.id",
    )
    .bind(batch)
    .execute(&mut *tx)
    .await?;
    let pending: Vec<Pending> = sqlx::query_as(&format!(
        "select j.version, j.run_id, j.id, j.provider, j.name, j.labels, j.runner_group, j.status, j.queued_at, \
             j.started_at, j.finished_at, j.created_at, j.counted, \
             coalesce(j.repo, r.repo) as repo, coalesce(j.workflow, r.workflow) as workflow, \
             coalesce(j.branch, r.branch) as branch \
         from (select j.xmin::text as version, j.* from run_jobs j \
               where j.pending {} order by j.run_id, j.id limit $1) j \
         left join pipeline_runs r on r.id = j.run_id order by j.run_id, j.id",
        if after.is_some() { "and (j.run_id, j.id) > ($2, $3)" } else { "" }
    ))
    .bind(batch)
    .bind(after.map(|a| &a.0))
    .bind(after.map(|a| &a.1))
    .fetch_all(&mut *tx)
    .await?;
    let mut folded = Folded {
        jobs: pending.len(),
        last: pending.last().map(|p| (p.run_id.clone(), p.id.clone())),
        ..Folded::default()
    };
    let mut deltas: HashMap<JobKey, JobCounters> = HashMap::new();
    let mut busy: BTreeMap<(String, DateTime<Utc>), i64> = BTreeMap::new();
    let mut updates = Updates::default();
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
        updates.versions.push(p.version);
        updates.run_ids.push(p.run_id);
        updates.ids.push(p.id);
        updates.repos.push(p.repo);
        updates.workflows.push(p.workflow);
        updates.branches.push(p.branch);
        updates.counted.push(new.map(Json));
    }
    apply(&mut tx, deltas).await?;
    apply_busy(&mut tx, busy).await?;
    if !updates.run_ids.is_empty() {
        // Locked in key order, as job writers lock them (see `db::jobs::upsert`).
        sqlx::query(
            "select 1 from run_jobs j join unnest($1::text[], $2::text[]) as u(run_id, id) \
                 on j.run_id = u.run_id and j.id = u.id \
             order by j.run_id, j.id for update of j",
        )
        .bind(&updates.run_ids)
        .bind(&updates.ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update run_jobs j set repo = coalesce(j.repo, u.repo), workflow = coalesce(j.workflow, u.workflow), \
                 branch = coalesce(j.branch, u.branch), counted = u.counted, pending = j.xmin <> u.version \
             from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::xid[]) \
                 as u(run_id, id, repo, workflow, branch, counted, version) \
             where j.run_id = u.run_id and j.id = u.id",
        )
        .bind(&updates.run_ids)
        .bind(&updates.ids)
        .bind(&updates.repos)
        .bind(&updates.workflows)
        .bind(&updates.branches)
        .bind(&updates.counted)
        .bind(&updates.versions)
        .execute(&mut *tx)
        .await?;
    }
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

/// Rollup row keys as one array per column (for `unnest`).
#[derive(Default)]
struct KeyColumns {
    grains: Vec<i16>,
    buckets: Vec<DateTime<Utc>>,
    scopes: Vec<i16>,
    repos: Vec<String>,
    workflows: Vec<String>,
    jobs: Vec<String>,
    labels: Vec<String>,
}

impl KeyColumns {
    fn push(&mut self, k: &JobKey) {
        self.grains.push(k.grain as i16);
        self.buckets.push(k.bucket);
        self.scopes.push(k.scope as i16);
        self.repos.push(k.repo.clone());
        self.workflows.push(k.workflow.clone());
        self.jobs.push(k.job.clone());
        self.labels.push(k.labels.clone());
    }

    fn is_empty(&self) -> bool {
        self.grains.is_empty()
    }

    /// Binds the keys as `unnest($n::int2[], …) as k(grain, bucket, scope, repo, workflow, job, labels)`.
    fn bind<'q>(&'q self, q: &mut QueryBuilder<'q, Postgres>) {
        q.push("unnest(")
            .push_bind(&self.grains)
            .push("::int2[], ")
            .push_bind(&self.buckets)
            .push("::timestamptz[], ")
            .push_bind(&self.scopes)
            .push("::int2[], ")
            .push_bind(&self.repos)
            .push("::text[], ")
            .push_bind(&self.workflows)
            .push("::text[], ")
            .push_bind(&self.jobs)
            .push("::text[], ")
            .push_bind(&self.labels)
            .push("::text[]");
    }
}

/// A histogram as a PostgreSQL array literal (arrays of arrays must be rectangular, so each
/// row's sparse histogram travels as text).
fn hist_literal(hist: &BTreeMap<i16, i64>) -> String {
    let items: Vec<String> = JobCounters::encode(hist).iter().map(i32::to_string).collect();
    format!("{{{}}}", items.join(","))
}

/// Adds `deltas` to their rows: the folder is the table's only writer, so it reads the rows,
/// adds in memory (histograms are sparse) and writes them back; rows that fall to zero go.
async fn apply(conn: &mut PgConnection, deltas: HashMap<JobKey, JobCounters>) -> sqlx::Result<()> {
    let mut deltas: Vec<_> = deltas.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    if deltas.is_empty() {
        return Ok(());
    }
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    let mut keys = KeyColumns::default();
    for (k, _) in &deltas {
        keys.push(k);
    }
    let mut q = QueryBuilder::new(format!(
        "select r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels, {COUNTERS} \
         from job_rollups r join "
    ));
    keys.bind(&mut q);
    q.push(") as k(grain, bucket, scope, repo, workflow, job, labels) using (grain, bucket, scope, repo, workflow, job, labels)");
    let stored: Vec<StoredRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    let mut merged: HashMap<JobKey, JobCounters> =
        stored.into_iter().filter_map(StoredRow::into_pair).collect();
    let (mut upserts, mut deletes) = (KeyColumns::default(), KeyColumns::default());
    let mut values: [Vec<i64>; 10] = Default::default();
    let (mut duration_hist, mut queue_hist) = (Vec::new(), Vec::new());
    for (key, delta) in deltas {
        let row = merged.entry(key.clone()).or_default();
        row.add(&delta, 1);
        if row.is_zero() {
            deletes.push(&key);
            continue;
        }
        upserts.push(&key);
        for (column, n) in values.iter_mut().zip([
            row.jobs,
            row.failures,
            row.cancelled,
            row.skipped,
            row.duration_count,
            row.duration_ms,
            row.queue_count,
            row.queue_ms,
            row.billable_ms,
            row.priced_ms,
        ]) {
            column.push(n);
        }
        duration_hist.push(hist_literal(&row.duration_hist));
        queue_hist.push(hist_literal(&row.queue_hist));
    }
    if !upserts.is_empty() {
        let mut q = QueryBuilder::new(format!(
            "insert into job_rollups (grain, bucket, scope, repo, workflow, job, labels, {COUNTERS}) \
             select grain, bucket, scope, repo, workflow, job, labels, jobs, failures, cancelled, skipped, \
                 duration_count, duration_ms, queue_count, queue_ms, billable_ms, priced_ms, \
                 duration_hist::int4[], queue_hist::int4[] from "
        ));
        upserts.bind(&mut q);
        for column in &values {
            q.push(", ").push_bind(column).push("::int8[]");
        }
        q.push(", ")
            .push_bind(&duration_hist)
            .push("::text[], ")
            .push_bind(&queue_hist)
            .push(format!(
                "::text[]) as r(grain, bucket, scope, repo, workflow, job, labels, {COUNTERS}) \
                 on conflict (grain, bucket, scope, repo, workflow, job, labels) do update set {sets}",
                sets = COUNTERS
                    .split(", ")
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        q.build().execute(&mut *conn).await?;
    }
    if !deletes.is_empty() {
        let mut q = QueryBuilder::new("delete from job_rollups r using ");
        deletes.bind(&mut q);
        q.push(
            ") as k(grain, bucket, scope, repo, workflow, job, labels) \
             where (r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels) = \
                   (k.grain, k.bucket, k.scope, k.repo, k.workflow, k.job, k.labels)",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds busy time per label set and minute, and keeps each hour's sum and busiest minute.
///
/// An hour whose minutes only grew is updated in place (its peak is the greater of the old peak
/// and the grown minutes); an hour where a minute shrank (a job re-counted) is summed again from
/// its 60 minutes.
async fn apply_busy(
    conn: &mut PgConnection,
    busy: BTreeMap<(String, DateTime<Utc>), i64>,
) -> sqlx::Result<()> {
    let busy: Vec<_> = busy.into_iter().filter(|(_, ms)| *ms != 0).collect();
    if busy.is_empty() {
        return Ok(());
    }
    let mut labels = Vec::with_capacity(busy.len());
    let mut minutes = Vec::with_capacity(busy.len());
    let mut deltas = Vec::with_capacity(busy.len());
    for ((l, m), ms) in &busy {
        labels.push(l.clone());
        minutes.push(*m);
        deltas.push(*ms);
    }
    let now: Vec<(String, DateTime<Utc>, i64)> = sqlx::query_as(
        "insert into runner_busy as b (labels, minute, busy_ms) \
         select * from unnest($1::text[], $2::timestamptz[], $3::int8[]) \
         on conflict (labels, minute) do update set busy_ms = b.busy_ms + excluded.busy_ms \
         returning labels, minute, busy_ms",
    )
    .bind(&labels)
    .bind(&minutes)
    .bind(&deltas)
    .fetch_all(&mut *conn)
    .await?;
    // Per hour: the added time and busiest grown minute, or None when a minute shrank.
    type LabelHour = (String, DateTime<Utc>);
    let mut hours: BTreeMap<LabelHour, Option<(i64, i64)>> = BTreeMap::new();
    let mut gone: (Vec<String>, Vec<DateTime<Utc>>) = (Vec::new(), Vec::new());
    for ((l, m), delta) in &busy {
        let hour = m.duration_trunc(TimeDelta::hours(1)).unwrap_or(*m);
        let entry = hours.entry((l.clone(), hour)).or_insert(Some((0, 0)));
        match entry {
            Some((sum, _)) if *delta > 0 => *sum += delta,
            _ => *entry = None,
        }
    }
    for (l, m, ms) in now {
        let hour = m.duration_trunc(TimeDelta::hours(1)).unwrap_or(m);
        if let Some(Some((_, peak))) = hours.get_mut(&(l.clone(), hour)) {
            *peak = (*peak).max(ms);
        }
        if ms == 0 {
            gone.0.push(l);
            gone.1.push(m);
        }
    }
    if !gone.0.is_empty() {
        sqlx::query(
            "delete from runner_busy b using unnest($1::text[], $2::timestamptz[]) as t(labels, minute) \
             where b.labels = t.labels and b.minute = t.minute and b.busy_ms = 0",
        )
        .bind(&gone.0)
        .bind(&gone.1)
        .execute(&mut *conn)
        .await?;
    }
    let (mut grown, mut shrunk) = ((vec![], vec![], vec![], vec![]), (vec![], vec![]));
    for ((l, h), change) in hours {
        match change {
            Some((sum, peak)) => {
                grown.0.push(l);
                grown.1.push(h);
                grown.2.push(sum);
                grown.3.push(peak);
            }
            None => {
                shrunk.0.push(l);
                shrunk.1.push(h);
            }
        }
    }
    if !grown.0.is_empty() {
        sqlx::query(
            "insert into runner_busy_hours as h (labels, hour, busy_ms, peak_ms) \
             select * from unnest($1::text[], $2::timestamptz[], $3::int8[], $4::int8[]) \
             on conflict (labels, hour) do update \
             set busy_ms = h.busy_ms + excluded.busy_ms, peak_ms = greatest(h.peak_ms, excluded.peak_ms)",
        )
        .bind(&grown.0)
        .bind(&grown.1)
        .bind(&grown.2)
        .bind(&grown.3)
        .execute(&mut *conn)
        .await?;
    }
    if !shrunk.0.is_empty() {
        // Each hour from its own minutes (a lateral index range scan: a join on the label set
        // alone would read every minute of the pool for every hour).
        sqlx::query(
            "with sums as (select t.labels, t.hour, s.busy_ms, s.peak_ms \
                      from unnest($1::text[], $2::timestamptz[]) as t(labels, hour) \
                      cross join lateral (select coalesce(sum(b.busy_ms), 0)::int8 as busy_ms, \
                                                 coalesce(max(b.busy_ms), 0)::int8 as peak_ms \
                                          from runner_busy b where b.labels = t.labels \
                                           and b.minute >= t.hour and b.minute < t.hour + interval '1 hour') s), \
             upserted as (insert into runner_busy_hours (labels, hour, busy_ms, peak_ms) \
                          select * from sums where busy_ms <> 0 \
                          on conflict (labels, hour) do update set busy_ms = excluded.busy_ms, peak_ms = excluded.peak_ms) \
             delete from runner_busy_hours h using sums s \
             where h.labels = s.labels and h.hour = s.hour and s.busy_ms = 0",
        )
        .bind(&shrunk.0)
        .bind(&shrunk.1)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One rollup row read for a view.
#[derive(Debug, Clone)]
pub struct Read {
    /// The tag of the tile it was read for (a period of the caller's).
    pub tag: u32,
    /// `1` to add its counters, `-1` to take them away (see [`crate::domain::job_rollup::tiles`]).
    pub sign: i64,
    /// The start of its hour, day or week.
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

/// A tile to read: `(grain, bucket, sign, tag)`.
pub type TileTag = (Grain, DateTime<Utc>, i64, u32);

/// `from unnest(tiles) as t(grain, bucket, sign, tag) join job_rollups r …` with the filter.
fn push_tiles(q: &mut QueryBuilder<'_, Postgres>, scope: JobScope, tiles: &[TileTag], filter: &KeyFilter) {
    let grains: Vec<i16> = tiles.iter().map(|t| t.0 as i16).collect();
    let buckets: Vec<DateTime<Utc>> = tiles.iter().map(|t| t.1).collect();
    let signs: Vec<i16> = tiles.iter().map(|t| t.2 as i16).collect();
    let tags: Vec<i32> = tiles.iter().map(|t| t.3 as i32).collect();
    q.push(" from unnest(")
        .push_bind(grains)
        .push("::int2[], ")
        .push_bind(buckets)
        .push("::timestamptz[], ")
        .push_bind(signs)
        .push("::int2[], ")
        .push_bind(tags)
        .push("::int4[]) as t(grain, bucket, sign, tag) join job_rollups r on r.grain = t.grain and r.bucket = t.bucket and r.scope = ")
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
}

/// The rows of `scope` at the given tiles.
pub async fn read(
    pool: &PgPool,
    scope: JobScope,
    tiles: &[TileTag],
    filter: &KeyFilter,
) -> sqlx::Result<Vec<Read>> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "select t.sign, t.tag, r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels, {COUNTERS}"
    ));
    push_tiles(&mut q, scope, tiles, filter);
    #[derive(FromRow)]
    struct Row {
        sign: i16,
        tag: i32,
        #[sqlx(flatten)]
        row: StoredRow,
    }
    let rows: Vec<Row> = q.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| Read {
            tag: r.tag as u32,
            sign: r.sign.into(),
            bucket: r.row.bucket,
            key: r.row.key,
            counters: r.row.counters.into(),
        })
        .collect())
}

/// The signed sums of the rows of `scope` at the given tiles, per tag and row key: every
/// counter but the histograms, added up by the database (for views that show no quantiles).
pub async fn sums(
    pool: &PgPool,
    scope: JobScope,
    tiles: &[TileTag],
    filter: &KeyFilter,
) -> sqlx::Result<Vec<(u32, RowKey, JobCounters)>> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let sums: Vec<String> = COUNTERS
        .split(", ")
        .filter(|c| !c.ends_with("_hist"))
        .map(|c| format!("sum(t.sign * r.{c})::int8 as {c}"))
        .collect();
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "select t.tag, r.repo, r.workflow, r.job, r.labels, {}",
        sums.join(", ")
    ));
    push_tiles(&mut q, scope, tiles, filter);
    q.push(" group by t.tag, r.repo, r.workflow, r.job, r.labels");
    #[derive(FromRow)]
    struct Row {
        tag: i32,
        #[sqlx(flatten)]
        key: RowKey,
        jobs: i64,
        failures: i64,
        cancelled: i64,
        skipped: i64,
        duration_count: i64,
        duration_ms: i64,
        queue_count: i64,
        queue_ms: i64,
        billable_ms: i64,
        priced_ms: i64,
    }
    let rows: Vec<Row> = q.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let counters = JobCounters {
                jobs: r.jobs,
                failures: r.failures,
                cancelled: r.cancelled,
                skipped: r.skipped,
                duration_count: r.duration_count,
                duration_ms: r.duration_ms,
                queue_count: r.queue_count,
                queue_ms: r.queue_ms,
                billable_ms: r.billable_ms,
                priced_ms: r.priced_ms,
                ..JobCounters::default()
            };
            (r.tag as u32, r.key, counters)
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
