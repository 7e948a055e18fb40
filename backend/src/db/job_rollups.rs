//! The job rollups (`job_rollups`) and runner pools' busy time (`runner_busy`,
//! `runner_busy_hours`): the folder's transaction, and the reads behind the jobs, runners and
//! usage views.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder, Row};

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub repo: String,
    pub workflow: String,
    pub job: String,
    pub labels: String,
}

const COUNTERS: &str = "jobs, failures, cancelled, skipped, duration_count, duration_ms, queue_count, \
                        queue_ms, billable_ms, priced_ms, duration_hist, queue_hist";

/// The columns of a stored row, in the order [`stored_at`] decodes them.
const STORED: &str = "r.grain, r.bucket, r.scope, r.repo, r.workflow, r.job, r.labels, r.jobs, r.failures, \
                      r.cancelled, r.skipped, r.duration_count, r.duration_ms, r.queue_count, r.queue_ms, \
                      r.billable_ms, r.priced_ms, r.duration_hist, r.queue_hist";

struct StoredRow {
    grain: i16,
    bucket: DateTime<Utc>,
    scope: i16,
    key: RowKey,
    counters: JobCounters,
}

fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("job_rollups: {what}").into())
}

/// The integer in column `i` (`int2`, `int4` or `int8`: big-endian, 2, 4 or 8 bytes).
fn int_at(row: &PgRow, i: usize) -> sqlx::Result<i64> {
    match *bytes_at(row, i)? {
        [a, b] => Ok(i16::from_be_bytes([a, b]).into()),
        [a, b, c, d] => Ok(i32::from_be_bytes([a, b, c, d]).into()),
        [a, b, c, d, e, f, g, h] => Ok(i64::from_be_bytes([a, b, c, d, e, f, g, h])),
        _ => Err(decode_error("an integer of another width")),
    }
}

/// The bytes of the `bytea` in column `i` (a null is an error).
fn bytes_at(row: &PgRow, i: usize) -> sqlx::Result<&[u8]> {
    row.try_get_raw(i)?.as_bytes().map_err(sqlx::Error::Decode)
}

/// Decodes the columns of [`STORED`] from column `at` on, by position (the fold reads tens of
/// thousands of rows at a time).
fn stored_at(row: &PgRow, at: usize) -> sqlx::Result<StoredRow> {
    let text = |i: usize| row.try_get::<String, _>(at + i);
    let int = |i: usize| int_at(row, at + i);
    Ok(StoredRow {
        grain: int(0)? as i16,
        bucket: row.try_get(at + 1)?,
        scope: int(2)? as i16,
        key: RowKey {
            repo: text(3)?,
            workflow: text(4)?,
            job: text(5)?,
            labels: text(6)?,
        },
        counters: JobCounters {
            jobs: int(7)?,
            failures: int(8)?,
            cancelled: int(9)?,
            skipped: int(10)?,
            duration_count: int(11)?,
            duration_ms: int(12)?,
            queue_count: int(13)?,
            queue_ms: int(14)?,
            billable_ms: int(15)?,
            priced_ms: int(16)?,
            duration_hist: JobCounters::decode(bytes_at(row, at + 17)?),
            queue_hist: JobCounters::decode(bytes_at(row, at + 18)?),
        },
    })
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
            self.counters,
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

/// Adds `deltas` to their rows: the folder is the table's only writer, so it reads the rows,
/// adds in memory (histograms are sparse) and writes them back; rows that fall to zero go.
async fn apply(conn: &mut PgConnection, deltas: HashMap<JobKey, JobCounters>) -> sqlx::Result<()> {
    let mut deltas: Vec<_> = deltas.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    if deltas.is_empty() {
        return Ok(());
    }
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    let merged_tiles: BTreeSet<(Grain, DateTime<Utc>, JobScope)> =
        deltas.iter().map(|(k, _)| (k.grain, k.bucket, k.scope)).collect();
    let mut keys = KeyColumns::default();
    for (k, _) in &deltas {
        keys.push(k);
    }
    let mut q = QueryBuilder::new(format!("select {STORED} from job_rollups r join "));
    keys.bind(&mut q);
    q.push(") as k(grain, bucket, scope, repo, workflow, job, labels) using (grain, bucket, scope, repo, workflow, job, labels)");
    let mut merged: HashMap<JobKey, JobCounters> = HashMap::new();
    for row in q.build().fetch_all(&mut *conn).await? {
        if let Some((key, counters)) = stored_at(&row, 0)?.into_pair() {
            merged.insert(key, counters);
        }
    }
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
        duration_hist.push(JobCounters::encode(&row.duration_hist));
        queue_hist.push(JobCounters::encode(&row.queue_hist));
    }
    if !upserts.is_empty() {
        let mut q = QueryBuilder::new(format!(
            "insert into job_rollups (grain, bucket, scope, repo, workflow, job, labels, {COUNTERS}) \
             select grain, bucket, scope, repo, workflow, job, labels, jobs, failures, cancelled, skipped, \
                 duration_count, duration_ms, queue_count, queue_ms, billable_ms, priced_ms, \
                 duration_hist, queue_hist from "
        ));
        upserts.bind(&mut q);
        for column in &values {
            q.push(", ").push_bind(column).push("::int8[]");
        }
        q.push(", ")
            .push_bind(&duration_hist)
            .push("::bytea[], ")
            .push_bind(&queue_hist)
            .push(format!(
                "::bytea[]) as r(grain, bucket, scope, repo, workflow, job, labels, {COUNTERS}) \
                 on conflict (grain, bucket, scope, repo, workflow, job, labels) do update set {sets}",
                sets = COUNTERS
                    .split(", ")
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        q.build().execute(&mut *conn).await?;
    }
    bump_tiles(&mut *conn, &merged_tiles).await?;
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

/// Gives each tile a new version (see [`tile_versions`]).
async fn bump_tiles(
    conn: &mut PgConnection,
    tiles: &BTreeSet<(Grain, DateTime<Utc>, JobScope)>,
) -> sqlx::Result<()> {
    let grains: Vec<i16> = tiles.iter().map(|t| t.0 as i16).collect();
    let buckets: Vec<DateTime<Utc>> = tiles.iter().map(|t| t.1).collect();
    let scopes: Vec<i16> = tiles.iter().map(|t| t.2 as i16).collect();
    sqlx::query(
        "insert into job_rollup_tiles (grain, bucket, scope, version) \
         select grain, bucket, scope, nextval('job_rollup_version') \
         from unnest($1::int2[], $2::timestamptz[], $3::int2[]) as t(grain, bucket, scope) \
         on conflict (grain, bucket, scope) do update set version = excluded.version",
    )
    .bind(grains)
    .bind(buckets)
    .bind(scopes)
    .execute(conn)
    .await
    .map(drop)
}

/// The versions of tiles of `scope` (0 for a tile that has not changed since versions were
/// kept): a tile whose version is unchanged holds the same rows.
pub async fn tile_versions(pool: &PgPool, scope: JobScope, tiles: &[TileTag]) -> sqlx::Result<Vec<i64>> {
    let grains: Vec<i16> = tiles.iter().map(|t| t.0 as i16).collect();
    let buckets: Vec<DateTime<Utc>> = tiles.iter().map(|t| t.1).collect();
    sqlx::query_scalar(
        "select coalesce(v.version, 0) \
         from unnest($1::int2[], $2::timestamptz[]) with ordinality as t(grain, bucket, n) \
         left join job_rollup_tiles v on v.grain = t.grain and v.bucket = t.bucket and v.scope = $3 \
         order by t.n",
    )
    .bind(grains)
    .bind(buckets)
    .bind(scope as i16)
    .fetch_all(pool)
    .await
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

impl KeyFilter {
    /// Whether it lets every row through.
    pub fn is_empty(&self) -> bool {
        self.repo.is_none() && self.workflow.is_none() && self.job.is_none() && self.labels.is_none()
    }
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
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!("select t.sign, t.tag, {STORED}"));
    push_tiles(&mut q, scope, tiles, filter);
    q.build()
        .try_map(|row: PgRow| {
            let stored = stored_at(&row, 2)?;
            Ok(Read {
                sign: int_at(&row, 0)?,
                tag: int_at(&row, 1)? as u32,
                bucket: stored.bucket,
                key: stored.key,
                counters: stored.counters,
            })
        })
        .fetch_all(pool)
        .await
}

/// What [`sums`] adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sum {
    /// Every counter but the histograms (for views that show no quantiles).
    Counters,
    /// The histograms as well.
    WithHistograms,
}

/// The signed sums of the rows of `scope` at the given tiles, per tag and row key, added up by
/// the database: a view over a month reads one row per key and period instead of one per tile.
/// Histograms travel as the concatenation of the rows' sparse pairs, those of rows taken away
/// apart from those added.
pub async fn sums(
    pool: &PgPool,
    scope: JobScope,
    tiles: &[TileTag],
    filter: &KeyFilter,
    sum: Sum,
) -> sqlx::Result<Vec<(u32, RowKey, JobCounters)>> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let mut columns: Vec<String> = COUNTERS
        .split(", ")
        .filter(|c| !c.ends_with("_hist"))
        .map(|c| format!("sum(t.sign * r.{c})::int8"))
        .collect();
    if sum == Sum::WithHistograms {
        for hist in ["duration_hist", "queue_hist"] {
            for sign in ["> 0", "< 0"] {
                columns.push(format!(
                    "coalesce(string_agg(r.{hist}, ''::bytea) filter (where t.sign {sign}), ''::bytea)"
                ));
            }
        }
    }
    let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "select t.tag, r.repo, r.workflow, r.job, r.labels, {}",
        columns.join(", ")
    ));
    push_tiles(&mut q, scope, tiles, filter);
    q.push(" group by t.tag, r.repo, r.workflow, r.job, r.labels");
    // Rows are decoded as they arrive, not kept until the last one is in.
    q.build()
        .try_map(|row: PgRow| {
            let row = &row;
            let text = |i: usize| row.try_get::<String, _>(i);
            let int = |i: usize| int_at(row, i);
            let key = RowKey {
                repo: text(1)?,
                workflow: text(2)?,
                job: text(3)?,
                labels: text(4)?,
            };
            let mut counters = JobCounters {
                jobs: int(5)?,
                failures: int(6)?,
                cancelled: int(7)?,
                skipped: int(8)?,
                duration_count: int(9)?,
                duration_ms: int(10)?,
                queue_count: int(11)?,
                queue_ms: int(12)?,
                billable_ms: int(13)?,
                priced_ms: int(14)?,
                ..JobCounters::default()
            };
            if sum == Sum::WithHistograms {
                for (i, sign) in [(15, 1), (16, -1)] {
                    JobCounters::add_encoded(&mut counters.duration_hist, bytes_at(row, i)?, sign);
                }
                for (i, sign) in [(17, 1), (18, -1)] {
                    JobCounters::add_encoded(&mut counters.queue_hist, bytes_at(row, i)?, sign);
                }
            }
            Ok((int(0)? as u32, key, counters))
        })
        .fetch_all(pool)
        .await
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
    let rows = sqlx::query(&format!("select {STORED} from job_rollups r"))
        .fetch_all(pool)
        .await?;
    let mut all = HashMap::new();
    for row in &rows {
        if let Some((key, counters)) = stored_at(row, 0)?.into_pair() {
            all.insert(key, counters);
        }
    }
    Ok(all)
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
