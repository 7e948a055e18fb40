//! Group commit: every ingest request hands its event to a writer task and waits; a writer takes
//! everything that is waiting (up to a batch size), writes it in one transaction — runs, rollups
//! and dimensions together — and answers each request only after the commit. Throughput comes from
//! sharing one durable commit among many requests, never from acknowledging before the write.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::db;
use crate::domain::rollup::{contribution, Counters, RollupKey};
use crate::domain::run::micros;
use crate::domain::{merge, Outcome, Run, RunEvent, RunState};
use crate::error::ApiError;
use crate::telemetry::Metrics;

/// What one event did.
#[derive(Debug, Clone)]
pub struct Written {
    pub run: Run,
    pub outcome: Outcome,
}

struct Job {
    event: RunEvent,
    reply: oneshot::Sender<Result<Written, ApiError>>,
}

/// Handle to the writer tasks.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `workers` writer tasks taking up to `max_batch` events per transaction.
    pub fn start(pool: PgPool, metrics: Arc<Metrics>, workers: usize, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            tokio::spawn(worker(rx.clone(), pool.clone(), metrics.clone(), max_batch));
        }
        Writer { tx }
    }

    /// Writes one event; returns once it is committed.
    pub async fn write(&self, event: RunEvent) -> Result<Written, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { event, reply })
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("writer stopped")))?;
        answer
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("writer dropped an event")))?
    }

    /// Writes several events (each on its own: one failing does not fail the others).
    pub async fn write_all(&self, events: Vec<RunEvent>) -> Vec<Result<Written, ApiError>> {
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
            out.push(
                a.await
                    .unwrap_or_else(|_| Err(ApiError::Internal(anyhow::anyhow!("writer dropped an event")))),
            );
        }
        out
    }
}

async fn worker(rx: Arc<Mutex<mpsc::Receiver<Job>>>, pool: PgPool, metrics: Arc<Metrics>, max_batch: usize) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        metrics.ingest_batch_size.observe(jobs.len() as f64);
        process(&pool, &metrics, jobs).await;
    }
}

async fn process(pool: &PgPool, metrics: &Metrics, jobs: Vec<Job>) {
    let events: Vec<RunEvent> = jobs.iter().map(|j| j.event.clone()).collect();
    let timer = metrics.ingest_transaction.start_timer();
    let result = write_with_retry(pool, &events).await;
    timer.observe_duration();
    match result {
        Ok(written) => {
            for (job, w) in jobs.into_iter().zip(written) {
                if w.outcome.changed() {
                    metrics
                        .runs_ingested
                        .with_label_values(&[&w.run.provider, w.run.status.as_str()])
                        .inc();
                }
                let _ = job.reply.send(Ok(w));
            }
        }
        Err(e) if db::is_unavailable(&e) => {
            for job in jobs {
                let _ = job.reply.send(Err(ApiError::Unavailable));
            }
        }
        // One event the database refuses must not fail the others: write them one by one.
        Err(e) if jobs.len() > 1 => {
            tracing::warn!(error = %e, events = jobs.len(), "batch failed; writing its events one by one");
            for job in jobs {
                let result = write_with_retry(pool, std::slice::from_ref(&job.event)).await;
                let _ = job
                    .reply
                    .send(result.map(|mut w| w.remove(0)).map_err(ApiError::from));
            }
        }
        Err(e) => {
            // A batch of one (a batch of none has nothing to answer).
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(ApiError::from(e)));
            }
        }
    }
}

async fn write_with_retry(pool: &PgPool, events: &[RunEvent]) -> sqlx::Result<Vec<Written>> {
    let mut attempt = 0;
    loop {
        let result = async {
            let mut tx = pool.begin().await?;
            let written = write_batch(&mut tx, events, Utc::now()).await?;
            tx.commit().await?;
            Ok(written)
        }
        .await;
        match result {
            Err(e) if db::is_retryable(&e) && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

/// Applies the events to the runs in one transaction (the caller commits): merges each event into
/// the stored run in order, writes the changed runs, and moves their rollup contributions.
pub async fn write_batch(
    conn: &mut PgConnection,
    events: &[RunEvent],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Written>> {
    let now = micros(now);
    let t0 = std::time::Instant::now();
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

    // Runs seen for the first time are inserted as a whole; the rest merge into the stored row.
    let fresh: Vec<(RunState, Vec<Outcome>)> =
        by_id.values().map(|idx| fold(None, idx, events, now)).collect();
    let inserted: HashSet<String> =
        db::runs::insert_new(conn, &fresh.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>())
            .await?
            .into_iter()
            .collect();
    let t_insert = t0.elapsed();
    let existing_ids: Vec<String> = by_id
        .keys()
        .filter(|id| !inserted.contains(**id))
        .map(|id| (*id).to_owned())
        .collect();
    let existing = db::runs::lock_existing(conn, &existing_ids).await?;
    if existing.len() != existing_ids.len() {
        // A run deleted between the insert and the lock (retention): let the caller retry.
        return Err(sqlx::Error::Protocol("a run vanished while being written".into()));
    }

    let mut results: Vec<Option<Written>> = vec![None; events.len()];
    let mut deltas: HashMap<RollupKey, Counters> = HashMap::new();
    let mut changed: Vec<RunState> = Vec::new();
    let mut record = |state: &RunState, outcomes: &[Outcome], idx: &[usize], updated_at: DateTime<Utc>| {
        for (&i, &outcome) in idx.iter().zip(outcomes) {
            results[i] = Some(Written {
                run: Run::from_state(state.clone(), updated_at),
                outcome,
            });
        }
    };

    for ((id, idx), (state, outcomes)) in by_id.iter().zip(&fresh) {
        if inserted.contains(*id) {
            add(&mut deltas, state, 1);
            record(state, outcomes, idx, now);
            changed.push(state.clone());
        }
    }
    let mut updates: Vec<RunState> = Vec::new();
    for row in existing {
        let (old, old_updated_at) = row.into_state();
        let idx = &by_id[old.id.as_str()];
        let (new, outcomes) = fold(Some(&old), idx, events, now);
        if new == old {
            record(&new, &outcomes, idx, old_updated_at);
            continue;
        }
        add(&mut deltas, &old, -1);
        add(&mut deltas, &new, 1);
        record(&new, &outcomes, idx, now);
        updates.push(new);
    }
    db::runs::update(conn, &updates.iter().collect::<Vec<_>>(), now).await?;
    changed.extend(updates);
    let t_runs = t0.elapsed();
    let n_deltas = deltas.len();
    db::rollups::apply(conn, deltas).await?;
    let t_rollups = t0.elapsed();
    let dims: HashSet<(String, String, String, String)> = changed
        .iter()
        .map(|s| {
            (
                s.provider.clone(),
                s.repo.clone(),
                s.workflow.clone(),
                s.branch.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut dims: Vec<_> = dims.into_iter().collect();
    dims.sort();
    db::runs::touch_dimensions(conn, &dims, now).await?;
    tracing::trace!(events = events.len(), rollup_rows = n_deltas, insert = ?t_insert, runs = ?t_runs,
        rollups = ?t_rollups, total = ?t0.elapsed(), "batch written");

    Ok(results
        .into_iter()
        .map(|r| r.expect("every event has a result"))
        .collect())
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

fn add(deltas: &mut HashMap<RollupKey, Counters>, state: &RunState, sign: i64) {
    for (key, c) in contribution(state) {
        deltas.entry(key).or_default().add(&c, sign);
    }
}
