//! Where reads go: a streaming replica (`DATABASE_READ_URL`) when there is one, the primary
//! otherwise.
//!
//! A replica replays the primary's WAL a little behind it. The dashboard must still never miss
//! what the live stream announced: a run announced and then not found, or a list without it,
//! would look like lost data. So, before the stream hands a change to its clients, the backend
//! notes the primary's WAL position ([`Reads::announce`]), and sends it as the event's `id`; the
//! dashboard passes the highest position it saw back on its reads (the `CICD-Read-After` header).
//! A read is served by the replica once the replica has replayed past both positions (waiting up
//! to `max_wait` for it), and by the primary otherwise, or when the replica cannot be reached.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, Opts, Registry};
use sqlx::PgPool;

/// A position in the WAL (`pg_lsn`), as PostgreSQL writes it: `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const BAD: &str = "not a WAL position (like 16/B374D848)";
        let (hi, lo) = s.split_once('/').ok_or(BAD)?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| BAD)?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| BAD)?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The pools reads are served from.
pub struct Reads {
    primary: PgPool,
    replica: Option<PgPool>,
    /// The highest primary position this process announced on the stream.
    announced: AtomicU64,
    max_wait: Duration,
    /// Reads served, by where (`replica`, `primary`).
    served: IntCounterVec,
}

/// How often the replica's position is asked for while a read waits for it.
const POLL: Duration = Duration::from_millis(5);

impl Reads {
    /// Reads from `primary`, or from `replica` when it has caught up (within `max_wait`).
    pub fn new(primary: PgPool, replica: Option<PgPool>, max_wait: Duration, registry: &Registry) -> Self {
        let served = IntCounterVec::new(
            Opts::new(
                "cicd_db_reads_total",
                "Dashboard and API reads, by the database that served them (replica, primary).",
            ),
            &["database"],
        )
        .expect("valid metric");
        let _ = registry.register(Box::new(served.clone()));
        Reads {
            primary,
            replica,
            announced: AtomicU64::new(0),
            max_wait,
            served,
        }
    }

    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The primary's current WAL position: every transaction committed before this call is
    /// behind it.
    pub async fn primary_position(&self) -> sqlx::Result<Lsn> {
        let lsn: String = sqlx::query_scalar("select pg_current_wal_lsn()::text")
            .fetch_one(&self.primary)
            .await?;
        Ok(lsn.parse().unwrap_or_default())
    }

    /// Notes that what was committed up to now is about to be announced: reads from then on see
    /// it. Returns the position (`None` without a replica, when no position is needed).
    pub async fn announce(&self) -> Option<Lsn> {
        self.replica.as_ref()?;
        match self.primary_position().await {
            Ok(lsn) => {
                self.announced.fetch_max(lsn.0, Ordering::Relaxed);
                Some(lsn)
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the primary's WAL position");
                None
            }
        }
    }

    /// The pool for a read that must see everything announced and everything before `after`
    /// (a position a client saw). The replica's position is asked each time (a round trip on an
    /// idle connection), which also keeps a replica that went away from answering reads.
    pub async fn pool(&self, after: Option<Lsn>) -> &PgPool {
        let Some(replica) = &self.replica else {
            return &self.primary;
        };
        let needed = self
            .announced
            .load(Ordering::Relaxed)
            .max(after.map_or(0, |l| l.0));
        let deadline = Instant::now() + self.max_wait;
        let caught_up = loop {
            let replayed = tokio::time::timeout_at(
                deadline.into(),
                sqlx::query_scalar::<_, Option<String>>("select pg_last_wal_replay_lsn()::text")
                    .fetch_one(replica),
            )
            .await;
            match replayed {
                Ok(Ok(Some(lsn))) if lsn.parse::<Lsn>().is_ok_and(|l| l.0 >= needed) => break true,
                // Behind: wait a little, within the deadline.
                Ok(Ok(Some(_))) if Instant::now() + POLL < deadline => tokio::time::sleep(POLL).await,
                // Too far behind, not a replica, not reachable, or too slow to say.
                _ => break false,
            }
        };
        let (pool, label) = if caught_up {
            (replica, "replica")
        } else {
            (&self.primary, "primary")
        };
        self.served.with_label_values(&[label]).inc();
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_print_as_postgresql_does() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("0/1".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
        assert!("0/FFFFFFFF".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
        for bad in ["", "16", "16/", "x/1", "1/2/3", "100000000/0"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }
}
