//! Group commit: every ingest request hands its event to a writer task and waits; a writer takes
//! everything that is waiting (up to a batch size), writes it — runs, rollups and dimensions
//! together, in one commit for new runs and one for runs that already existed, each announcing the
//! runs it changed with one `NOTIFY` (see [`crate::live`]) — and answers each request only after
//! its commit. Throughput comes from sharing durable commits among many requests, never from
//! acknowledging before the write.
//!
//! Jobs and the ids of webhook deliveries are group-committed the same way, by their own tasks
//! (a GitHub run sends about six `workflow_job` deliveries for its one `workflow_run`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::alerting::engine::Alerts;
use crate::db;
use crate::db::notify::RunNotices;
use crate::db::rollups::Changes;
use crate::domain::rollup::Change;
use crate::domain::run::micros;
use crate::domain::{merge, JobEvent, Outcome, Provider, Run, RunEvent, RunState};
use crate::fold::RunFolder;
use crate::telemetry::Metrics;

/// Why an event was not written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused the write or could not be reached.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The database could not be reached; nothing was written.
    #[error("the database is unavailable")]
    Unavailable,
    /// The writer tasks are gone (the process is stopping).
    #[error("the writer stopped")]
    Stopped,
}

/// What one event did.
#[derive(Debug, Clone)]
pub struct Written {
    pub run: Run,
    pub outcome: Outcome,
}

struct Job {
    event: RunEvent,
    reply: oneshot::Sender<Result<Written, Error>>,
}

/// A webhook delivery's `(provider, delivery id)`.
type DeliveryId = (&'static str, String);

/// Jobs and the id of the webhook delivery that brought them (recorded so that a repeat is
/// dropped), to write in one commit with others.
struct Delivery {
    jobs: Vec<JobEvent>,
    id: Option<DeliveryId>,
    /// Whether the delivery was new (`false`: a repeat, whose jobs were not written).
    reply: oneshot::Sender<Result<bool, Error>>,
}

/// Handle to the writer tasks.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    deliveries: mpsc::Sender<Delivery>,
}

impl Writer {
    /// Starts `workers` writer tasks taking up to `max_batch` events per transaction; `alerts`
    /// hears of every run that reached a final status; `folder` is woken after each commit to
    /// fold the rollup changes it queued.
    pub fn start(
        pool: PgPool,
        metrics: Arc<Metrics>,
        workers: usize,
        max_batch: usize,
        alerts: Option<Arc<Alerts>>,
        folder: Option<Arc<RunFolder>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let rx = Arc::new(Mutex::new(rx));
        let own = db::writer_pool(&pool, workers.max(1));
        let recorded = Arc::new(Dimensions::default());
        let (deliveries, delivery_rx) = mpsc::channel(max_batch * 8);
        let delivery_rx = Arc::new(Mutex::new(delivery_rx));
        for _ in 0..workers.max(1) {
            tokio::spawn(worker(
                rx.clone(),
                Session::new(own.clone(), recorded.clone()),
                metrics.clone(),
                max_batch,
                alerts.clone(),
                folder.clone(),
            ));
            tokio::spawn(delivery_worker(delivery_rx.clone(), pool.clone(), max_batch));
        }
        Writer { tx, deliveries }
    }

    /// Writes jobs and remembers the webhook delivery `id` (`(provider, delivery id)`), unless
    /// that delivery was recorded before; returns once they are committed, `false` for a repeat.
    pub async fn record(&self, jobs: Vec<JobEvent>, id: Option<DeliveryId>) -> Result<bool, Error> {
        if jobs.is_empty() && id.is_none() {
            return Ok(true);
        }
        let (reply, answer) = oneshot::channel();
        self.deliveries
            .send(Delivery { jobs, id, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Writes one event; returns once it is committed.
    pub async fn write(&self, event: RunEvent) -> Result<Written, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { event, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Writes several events (each on its own: one failing does not fail the others).
    pub async fn write_all(&self, events: Vec<RunEvent>) -> Vec<Result<Written, Error>> {
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            let (reply, answer) = oneshot::channel();
            if self.tx.send(Job { event, reply }).await.is_err() {
                break;
            }
            answers.push(answer);
        }
        let mut out = Vec::with_capacity(answers.len());
        for a in answers {
            out.push(a.await.unwrap_or(Err(Error::Stopped)));
        }
        out
    }
}

/// Everything waiting on `rx` (at least one, at most `max`); `None` once the channel is closed.
async fn next_batch<T>(rx: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let mut batch = vec![rx.recv().await?];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The dimensions (provider, repository, workflow, branch) this process recorded, and when: a
/// writer records each at most once a minute, like `last_seen_at` moves.
#[derive(Default)]
struct Dimensions(std::sync::Mutex<HashMap<Dimension, std::time::Instant>>);

/// `(provider, repo, workflow, branch)`, the branch `''` when none.
type Dimension = (String, String, String, String);

impl Dimensions {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(60);

    /// Of `dims`, those not recorded within the last minute.
    fn stale(&self, dims: Vec<Dimension>) -> Vec<Dimension> {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        dims.into_iter()
            .filter(|d| seen.get(d).is_none_or(|at| at.elapsed() > Self::FRESH))
            .collect()
    }

    fn recorded(&self, dims: Vec<Dimension>) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, at| at.elapsed() <= Self::FRESH);
        }
        let now = std::time::Instant::now();
        seen.extend(dims.into_iter().map(|d| (d, now)));
    }
}

/// A writer's own connection, kept from batch to batch (no pool checkout and liveness ping per
/// batch), and dropped when the database goes away; with the dimensions recorded.
struct Session {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    dims: Arc<Dimensions>,
}

impl Session {
    fn new(pool: PgPool, dims: Arc<Dimensions>) -> Self {
        Session {
            pool,
            conn: None,
            dims,
        }
    }

    /// Writes a batch (deadlocks are retried inside [`write_with`]).
    async fn write(&mut self, events: &[RunEvent]) -> sqlx::Result<Vec<Written>> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.pool.acquire().await?),
        };
        let result = write_with(conn, events, Utc::now(), Some(&self.dims)).await;
        if result.as_ref().is_err_and(db::is_unavailable) {
            self.conn = None;
        }
        result
    }
}

async fn worker(
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    mut session: Session,
    metrics: Arc<Metrics>,
    max_batch: usize,
    alerts: Option<Arc<Alerts>>,
    folder: Option<Arc<RunFolder>>,
) {
    while let Some(jobs) = next_batch(&rx, max_batch).await {
        metrics.ingest_batch_size.observe(jobs.len() as f64);
        process(&mut session, &metrics, jobs, alerts.as_deref()).await;
        if let Some(folder) = &folder {
            folder.wake();
        }
    }
}

async fn delivery_worker(rx: Arc<Mutex<mpsc::Receiver<Delivery>>>, pool: PgPool, max_batch: usize) {
    while let Some(batch) = next_batch(&rx, max_batch).await {
        let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|d| ((d.jobs, d.id), d.reply)).unzip();
        match record_now(&pool, &items).await {
            Ok(fresh) => {
                for (reply, fresh) in replies.into_iter().zip(fresh) {
                    let _ = reply.send(Ok(fresh));
                }
            }
            Err(e) if db::is_unavailable(&e) => {
                for reply in replies {
                    let _ = reply.send(Err(Error::Unavailable));
                }
            }
            // One delivery the database refuses must not fail the others.
            Err(e) => {
                if items.len() > 1 {
                    tracing::warn!(error = %e, deliveries = items.len(), "batch failed; writing its deliveries one by one");
                }
                for (item, reply) in items.iter().zip(replies) {
                    let result = record_now(&pool, std::slice::from_ref(item)).await;
                    let _ = reply.send(result.map(|fresh| fresh[0]).map_err(Error::from));
                }
            }
        }
    }
}

/// Writes the delivery ids and the jobs of several deliveries in one transaction; a delivery
/// recorded before (a repeat, even one arriving at the same time) writes nothing. Returns, per
/// delivery, whether it was new.
async fn record_now(pool: &PgPool, items: &[(Vec<JobEvent>, Option<DeliveryId>)]) -> sqlx::Result<Vec<bool>> {
    let ids: Vec<(&str, &str)> = items
        .iter()
        .filter_map(|(_, id)| id.as_ref().map(|(p, d)| (*p, d.as_str())))
        .collect();
    let mut tx = pool.begin().await?;
    let recorded: HashSet<(String, String)> = db::sources::record_deliveries(&mut *tx, &ids)
        .await?
        .into_iter()
        .collect();
    // A batch may carry the same delivery twice: the first is the one recorded.
    let mut taken = HashSet::new();
    let fresh: Vec<bool> = items
        .iter()
        .map(|(_, id)| match id {
            None => true,
            Some((p, d)) => {
                let key = ((*p).to_owned(), d.clone());
                recorded.contains(&key) && taken.insert(key)
            }
        })
        .collect();
    let jobs: Vec<JobEvent> = items
        .iter()
        .zip(&fresh)
        .filter(|(_, fresh)| **fresh)
        .flat_map(|((jobs, _), _)| jobs.iter().cloned())
        .collect();
    db::jobs::upsert(&mut tx, jobs).await?;
    tx.commit().await?;
    Ok(fresh)
}

async fn process(session: &mut Session, metrics: &Metrics, jobs: Vec<Job>, alerts: Option<&Alerts>) {
    let (events, replies): (Vec<RunEvent>, Vec<_>) = jobs.into_iter().map(|j| (j.event, j.reply)).unzip();
    let timer = metrics.ingest_transaction.start_timer();
    let result = session.write(&events).await;
    timer.observe_duration();
    match result {
        Ok(written) => {
            if let Some(alerts) = alerts {
                alerts.runs_finished(
                    written
                        .iter()
                        .filter(|w| w.outcome.changed() && w.run.status.is_terminal())
                        .map(|w| {
                            let r = &w.run;
                            [
                                r.provider.clone(),
                                r.repo.clone(),
                                r.workflow.clone(),
                                r.branch.clone().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                );
            }
            for (reply, w) in replies.into_iter().zip(written) {
                if w.outcome.changed() {
                    metrics
                        .runs_ingested
                        .with_label_values(&[Provider::label(&w.run.provider), w.run.status.as_str()])
                        .inc();
                }
                let _ = reply.send(Ok(w));
            }
        }
        Err(e) if db::is_unavailable(&e) => {
            tracing::debug!(error = %e, "database unavailable; the batch is refused");
            for reply in replies {
                let _ = reply.send(Err(Error::Unavailable));
            }
        }
        // One event the database refuses must not fail the others: write them one by one.
        Err(e) if events.len() > 1 => {
            tracing::warn!(error = %e, events = events.len(), "batch failed; writing its events one by one");
            for (event, reply) in events.iter().zip(replies) {
                let result = session.write(std::slice::from_ref(event)).await;
                let _ = reply.send(result.map(|mut w| w.remove(0)).map_err(Error::from));
            }
        }
        Err(e) => {
            // A batch of one (a batch of none has nothing to answer).
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(Error::from(e)));
            }
        }
    }
}

/// Writes the events and commits them. Each event is merged, in order, into the stored run.
///
/// Runs seen for the first time — the common case — are inserted together with their rollup
/// contributions and dimensions in one statement, which commits on its own. Events about runs that
/// already exist are then merged in one transaction that locks those runs, writes the changed
/// ones and moves their rollup contributions (new minus old). Every event ends up in exactly one
/// of the two commits, whole.
pub async fn write_batch(
    conn: &mut PgConnection,
    events: &[RunEvent],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Written>> {
    write_with(conn, events, now, None).await
}

/// [`write_batch`], recording only the dimensions of new runs that `dims` has not recorded within
/// the last minute (all of them without `dims`).
async fn write_with(
    conn: &mut PgConnection,
    events: &[RunEvent],
    now: DateTime<Utc>,
    dims: Option<&Dimensions>,
) -> sqlx::Result<Vec<Written>> {
    let now = micros(now);
    let events: Vec<RunEvent> = events
        .iter()
        .cloned()
        .map(RunEvent::at_storage_precision)
        .collect();
    let events = &events[..];
    // Events per run id, in arrival order; ids in sorted order so that writers lock alike.
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_id.entry(e.id.as_str()).or_default().push(i);
    }
    let mut results: Vec<Option<Written>> = vec![None; events.len()];
    let mut record = |state: &RunState, outcomes: &[Outcome], idx: &[usize], updated_at: DateTime<Utc>| {
        for (&i, &outcome) in idx.iter().zip(outcomes) {
            results[i] = Some(Written {
                run: Run::from_state(state.clone(), updated_at),
                outcome,
            });
        }
    };

    // Phase 1: every run as if it were new.
    let fresh: Vec<(RunState, Vec<Outcome>)> =
        by_id.values().map(|idx| fold(None, idx, events, now)).collect();
    let states: Vec<RunState> = fresh.iter().map(|(s, _)| s.clone()).collect();
    let summaries: Vec<Run> = states.iter().map(|s| Run::summary(s, now)).collect();
    let notices = RunNotices::new(&summaries);
    let seen: HashSet<Dimension> = states.iter().map(dimension).collect();
    let seen: Vec<Dimension> = seen.into_iter().collect();
    let fresh_dims = match dims {
        Some(d) => d.stale(seen),
        None => seen,
    };
    let mut attempt = 1;
    let inserted: HashSet<String> = loop {
        let mut changes = Changes::default();
        for state in &states {
            if let Some(change) = Change::of(state, 1) {
                changes.push(&state.id, change);
            }
        }
        match db::runs::insert_new(conn, &states, changes, &fresh_dims, &notices, now).await {
            Err(e) if db::is_retryable(&e) && attempt < db::RETRY_ATTEMPTS => attempt += 1,
            other => break other?.into_iter().collect(),
        }
    };
    if let Some(d) = dims {
        d.recorded(fresh_dims);
    }
    for ((id, idx), (state, outcomes)) in by_id.iter().zip(&fresh) {
        if inserted.contains(*id) {
            record(state, outcomes, idx, now);
        }
    }

    // Phase 2: the runs that existed.
    let existing_ids: Vec<String> = by_id
        .keys()
        .filter(|id| !inserted.contains(**id))
        .map(|id| (*id).to_owned())
        .collect();
    if !existing_ids.is_empty() {
        let mut attempt = 1;
        let merged = loop {
            match merge_existing(conn, &existing_ids, &by_id, events, now).await {
                Err(e) if db::is_retryable(&e) && attempt < db::RETRY_ATTEMPTS => attempt += 1,
                other => break other?,
            }
        };
        for (state, outcomes, updated_at) in merged {
            record(&state, &outcomes, &by_id[state.id.as_str()], updated_at);
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every event has a result"))
        .collect())
}

/// Merges events into runs that exist, in one transaction; returns each run's final state, the
/// events' outcomes and the run's `updated_at`.
async fn merge_existing(
    conn: &mut PgConnection,
    ids: &[String],
    by_id: &BTreeMap<&str, Vec<usize>>,
    events: &[RunEvent],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(RunState, Vec<Outcome>, DateTime<Utc>)>> {
    let mut tx = conn.begin().await?;
    let rows = db::runs::lock_existing(&mut tx, ids).await?;
    if rows.len() != ids.len() {
        // A run deleted between the insert and the lock (nothing deletes runs yet; retention will):
        // the batch fails and the writer then writes its events one by one, inserting this run anew.
        return Err(sqlx::Error::Protocol("a run vanished while being written".into()));
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut changes = Changes::default();
    let mut updates: Vec<RunState> = Vec::new();
    for row in rows {
        let (old, old_updated_at) = row.into_state();
        let (new, outcomes) = fold(Some(&old), &by_id[old.id.as_str()], events, now);
        if new == old {
            out.push((new, outcomes, old_updated_at));
            continue;
        }
        for change in [Change::of(&old, -1), Change::of(&new, 1)].into_iter().flatten() {
            changes.push(&new.id, change);
        }
        updates.push(new.clone());
        out.push((new, outcomes, now));
    }
    db::runs::update(&mut tx, &updates.iter().collect::<Vec<_>>(), now).await?;
    db::rollups::queue(&mut tx, changes).await?;
    let dims: HashSet<Dimension> = updates.iter().map(dimension).collect();
    let mut dims: Vec<_> = dims.into_iter().collect();
    dims.sort();
    db::runs::touch_dimensions(&mut tx, &dims, now).await?;
    let summaries: Vec<Run> = updates.iter().map(|s| Run::summary(s, now)).collect();
    RunNotices::new(&summaries).send(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}

/// Merges the events at `idx` into `start`, one after another.
fn fold(
    start: Option<&RunState>,
    idx: &[usize],
    events: &[RunEvent],
    now: DateTime<Utc>,
) -> (RunState, Vec<Outcome>) {
    let mut outcomes = Vec::with_capacity(idx.len());
    let mut state: Option<RunState> = start.cloned();
    for &i in idx {
        let (next, outcome) = merge(state.as_ref(), &events[i], now);
        // A replay of the creating event within one batch still reports "created" only once.
        outcomes.push(outcome);
        state = Some(next);
    }
    (state.expect("at least one event per id"), outcomes)
}

fn dimension(s: &RunState) -> Dimension {
    (
        s.provider.clone(),
        s.repo.clone(),
        s.workflow.clone(),
        s.branch.clone().unwrap_or_default(),
    )
}
