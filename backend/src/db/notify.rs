//! PostgreSQL `NOTIFY`: what the backend tells other replicas (and its own listeners). A
//! notification sent inside a transaction goes out when, and only if, that transaction commits.

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgExecutor};

/// The channel that wakes the outbox's delivery workers.
pub const OUTBOX: &str = "cicd_outbox";

/// Sends `payload` on `channel`.
pub async fn send(db: impl PgExecutor<'_>, channel: &str, payload: &str) -> sqlx::Result<()> {
    sqlx::query!("select pg_notify($1, $2)", channel, payload)
        .execute(db)
        .await
        .map(drop)
}

/// Sends each of `payloads` on `channel`, in order, in one statement.
pub async fn send_all(conn: &mut PgConnection, channel: &str, payloads: &[String]) -> sqlx::Result<()> {
    sqlx::query!(
        "select pg_notify($1, p) from unnest($2::text[]) as p",
        channel,
        payloads
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Wakes the outbox's delivery workers (at commit of the surrounding transaction).
pub async fn wake_outbox(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    send(db, OUTBOX, "").await
}

/// A round trip on a listening connection, to find out whether it is still alive.
pub async fn ping(listener: &mut PgListener) -> sqlx::Result<()> {
    sqlx::query!("select 1 as one")
        .fetch_one(listener)
        .await
        .map(drop)
}
