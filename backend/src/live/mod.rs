//! Live updates across replicas. Writers announce changes with `NOTIFY` inside their transactions
//! ([`db::notify`]); one listener task per process holds a `LISTEN` connection and hands every
//! notification to the process's `GET /api/stream` clients through a broadcast channel. After the
//! connection is lost and found again — notifications sent meanwhile are gone — every client is
//! told to resync.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::db;
use crate::db::reads::{Lsn, Reads};
use crate::domain::Run;
pub use db::notify::{IncidentChange, RunnersChange, TestsChange, INCIDENTS, RUNNERS, RUNS, TESTS};

/// Events kept for clients that fall behind; a client further behind is told to resync.
pub const CAPACITY: usize = 4096;
/// Quiet time after which the listener checks that its connection is still alive.
const PING_AFTER: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One change for the stream's clients.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A run recorded or changed: its JSON as lists show it (without metadata), and the WAL
    /// position reads must reach to see it (with a read replica only).
    Run(Arc<str>, Option<Lsn>),
    /// An incident changed: the JSON of an [`IncidentChange`].
    Incident(Arc<str>),
    /// Runner pools changed: the JSON of a [`RunnersChange`].
    Runners(Arc<str>),
    /// A run's test results were recorded: the JSON of a [`TestsChange`].
    Tests(Arc<str>),
    /// Changes may have been missed: clients should fetch everything again.
    Resync(&'static str),
}

/// The process's end of live updates: the broadcast channel every stream client subscribes to,
/// and the listener that feeds it.
pub struct Live {
    pool: PgPool,
    /// Where the `LISTEN` connection comes from: a direct connection, not a transaction pooler.
    sessions: PgPool,
    events: broadcast::Sender<LiveEvent>,
    /// Told of each announcement before clients are, so that their reads see it.
    reads: Option<Arc<Reads>>,
    listening: watch::Sender<bool>,
    closed: watch::Sender<bool>,
}

impl Live {
    pub fn new(pool: PgPool) -> Self {
        Self::with_capacity(pool, CAPACITY)
    }

    /// A channel keeping `capacity` events for slow clients.
    pub fn with_capacity(pool: PgPool, capacity: usize) -> Self {
        Live {
            sessions: pool.clone(),
            pool,
            events: broadcast::channel(capacity.max(1)).0,
            reads: None,
            listening: watch::Sender::new(false),
            closed: watch::Sender::new(false),
        }
    }

    /// Listens on connections of `sessions` (`DATABASE_DIRECT_URL`) rather than of the main pool.
    pub fn listening_on(mut self, sessions: PgPool) -> Self {
        self.sessions = sessions;
        self
    }

    /// Notes each announcement's WAL position in `reads` before handing it to clients.
    pub fn announcing(mut self, reads: Arc<Reads>) -> Self {
        self.reads = Some(reads);
        self
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// Hands an event to every client of this process.
    pub fn publish(&self, event: LiveEvent) {
        // Without clients there is nobody to tell.
        let _ = self.events.send(event);
    }

    /// Whether the listener is connected now (changes are flowing).
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Waits until the listener is connected.
    pub async fn listening(&self) {
        let _ = self.listening.subscribe().wait_for(|l| *l).await;
    }

    /// Ends every stream (at shutdown, so that open streams do not hold it up).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Becomes `true` when the streams should end.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Starts the listener task.
    pub fn spawn(self: &Arc<Self>) {
        tokio::spawn(self.clone().listen());
    }

    /// Listens until the pool is closed, reconnecting with a jittered exponential backoff.
    async fn listen(self: Arc<Self>) {
        let mut backoff = MIN_BACKOFF;
        let mut first = true;
        loop {
            match self.connect().await {
                Ok(mut listener) => {
                    backoff = MIN_BACKOFF;
                    self.listening.send_replace(true);
                    if !first {
                        tracing::info!("stream: listening again; clients are told to resync");
                        self.publish(LiveEvent::Resync("reconnected"));
                    }
                    let lost = self.receive(&mut listener).await;
                    self.listening.send_replace(false);
                    if matches!(lost, sqlx::Error::PoolClosed) {
                        return;
                    }
                    tracing::warn!(error = %lost, "stream: lost the LISTEN connection; reconnecting");
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "stream: cannot LISTEN"),
            }
            first = false;
            let jitter = rand::thread_rng().gen_range(0.8..1.2);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn connect(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.sessions).await?;
        // A lost connection is reported to `receive` (rather than silently replaced), so that the
        // clients hear of the gap.
        listener.eager_reconnect(false);
        listener.listen_all([RUNS, INCIDENTS, RUNNERS, TESTS]).await?;
        Ok(listener)
    }

    /// Hands notifications on until the connection is lost; returns why.
    async fn receive(&self, listener: &mut PgListener) -> sqlx::Error {
        loop {
            match tokio::time::timeout(PING_AFTER, listener.try_recv()).await {
                Ok(Ok(Some(n))) => self.dispatch(&n).await,
                Ok(Ok(None)) => return sqlx::Error::Protocol("the connection closed".into()),
                Ok(Err(e)) => return e,
                // Quiet for a while: a connection cut without a word (a failover, a NAT dropping
                // it) would otherwise wait here forever.
                Err(_) => {
                    let ping = db::notify::ping(listener);
                    match tokio::time::timeout(PING_TIMEOUT, ping).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return e,
                        Err(_) => return sqlx::Error::Protocol("no answer to a ping".into()),
                    }
                }
            }
        }
    }

    async fn dispatch(&self, n: &PgNotification) {
        // Nobody to tell: skip the work. A client that subscribes after this point loads its data
        // after its `hello`, so it sees this change there.
        if self.events.receiver_count() == 0 {
            return;
        }
        // What the notification announces is committed: reads from now on must see it.
        let lsn = match &self.reads {
            Some(reads) => reads.announce().await,
            None => None,
        };
        match n.channel() {
            RUNS => match serde_json::from_str::<Vec<serde_json::Value>>(n.payload()) {
                Ok(runs) => {
                    for run in runs {
                        match self.run_event(run, lsn).await {
                            Ok(Some(e)) => self.publish(e),
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "stream: cannot read an announced run");
                                self.publish(LiveEvent::Resync("unavailable"));
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stream: unreadable run notification");
                    self.publish(LiveEvent::Resync("unavailable"));
                }
            },
            RUNNERS => match RunnersChange::from_payload(n.payload()) {
                Ok(change) => self.publish(LiveEvent::Runners(json(&change).into())),
                Err(e) => {
                    tracing::warn!(error = %e, "stream: unreadable runners notification");
                    self.publish(LiveEvent::Resync("unavailable"));
                }
            },
            TESTS => match serde_json::from_str::<TestsChange>(n.payload()) {
                Ok(change) => self.publish(LiveEvent::Tests(json(&change).into())),
                Err(e) => {
                    tracing::warn!(error = %e, "stream: unreadable tests notification");
                    self.publish(LiveEvent::Resync("unavailable"));
                }
            },
            INCIDENTS => match serde_json::from_str::<IncidentChange>(n.payload()) {
                Ok(change) => self.publish(LiveEvent::Incident(json(&change).into())),
                Err(e) => {
                    tracing::warn!(error = %e, "stream: unreadable incident notification");
                    self.publish(LiveEvent::Resync("unavailable"));
                }
            },
            _ => {}
        }
    }

    /// The event of one announced run. A run announced by id alone (too large for a
    /// notification) is read from the database; `None` if it is gone.
    async fn run_event(&self, run: serde_json::Value, lsn: Option<Lsn>) -> sqlx::Result<Option<LiveEvent>> {
        if run.get("status").is_some() {
            return Ok(Some(LiveEvent::Run(json(&run).into(), lsn)));
        }
        let Some(id) = run.get("id").and_then(|id| id.as_str()) else {
            return Ok(None);
        };
        Ok(db::runs::get(&self.pool, id).await?.map(|row| {
            let (state, updated_at) = row.into_state();
            LiveEvent::Run(json(&Run::summary(&state, updated_at)).into(), lsn)
        }))
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
