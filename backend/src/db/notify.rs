//! PostgreSQL `NOTIFY`: what the backend tells other replicas (and its own listeners), always
//! inside the transaction that makes the change, so that a notification goes out exactly when (and
//! only if) the change commits.
//!
//! - [`RUNS`]: one notification per commit of the ingest writer (more when it would not fit):
//!   a JSON array of runs as lists show them (without metadata). A run too large to fit in a
//!   notification on its own is sent as `{"id": …}`, and the listener reads it from the database.
//! - [`INCIDENTS`]: `{"id", "rule_id", "state", "change"}` per incident change.
//! - [`OUTBOX`]: wakes the outbox's delivery workers.

use serde::Serialize;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;

use crate::domain::Run;

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

/// The channel of recorded or changed runs.
pub const RUNS: &str = "cicd_runs";
/// The channel of runner pools' changes: a JSON array of the label sets (`"linux,x64"`) whose
/// jobs changed (empty when too many to list).
pub const RUNNERS: &str = "cicd_runners";

/// The runner pools whose jobs changed, as `GET /api/stream` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct RunnersChange {
    /// The label sets (each sorted, as `GET /api/runners` lists them); empty when more changed
    /// than a notification holds: every pool may have changed.
    pub labels: Vec<Vec<String>>,
}

impl RunnersChange {
    /// The change announced by a notification's payload.
    pub fn from_payload(payload: &str) -> serde_json::Result<Self> {
        let sets: Vec<String> = serde_json::from_str(payload)?;
        Ok(RunnersChange {
            labels: sets
                .iter()
                .map(|s| crate::domain::job_rollup::labels_of(s))
                .collect(),
        })
    }
}
/// The channel of test reports attached to their run: a [`TestsChange`].
pub const TESTS: &str = "cicd_tests";

/// Test results of a run were recorded (its report attached to it), as `GET /api/stream` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct TestsChange {
    pub run_id: String,
    pub repo: String,
}

/// The channel of incident changes.
pub const INCIDENTS: &str = "cicd_alerts";
/// Largest payload sent: PostgreSQL refuses one of 8,000 bytes or more.
pub const MAX_PAYLOAD: usize = 7000;

/// Runs to announce, each as the JSON item it will be sent as and the number of the notification
/// that carries it. Items are in the order given; together with their neighbours of the same
/// number they make a JSON array of at most [`MAX_PAYLOAD`] bytes — and any subset of them too,
/// so a statement may drop the runs it did not write and still stay within the limit.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunNotices {
    pub items: Vec<String>,
    pub chunks: Vec<i32>,
}

impl RunNotices {
    pub fn new<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Self {
        let mut out = RunNotices::default();
        let (mut chunk, mut size) = (0, 0);
        for run in runs {
            let mut item = serde_json::to_string(run).unwrap_or_default();
            if item.len() + 2 > MAX_PAYLOAD {
                item = serde_json::json!({ "id": run.id }).to_string();
                if item.len() + 2 > MAX_PAYLOAD {
                    tracing::debug!(len = run.id.len(), "a run id too long to announce");
                    continue;
                }
            }
            // `[` + items joined by `,` + `]`.
            let added = item.len() + 1;
            if size > 0 && size + added > MAX_PAYLOAD {
                chunk += 1;
                size = 0;
            }
            size += if size == 0 { item.len() + 2 } else { added };
            out.items.push(item);
            out.chunks.push(chunk);
        }
        out
    }

    /// The payloads of every notification: JSON arrays.
    pub fn payloads(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut last = None;
        for (item, &chunk) in self.items.iter().zip(&self.chunks) {
            match out.last_mut() {
                Some(p) if last == Some(chunk) => {
                    p.pop();
                    p.push(',');
                }
                _ => out.push(String::from("[")),
            }
            let p = out.last_mut().expect("pushed above");
            p.push_str(item);
            p.push(']');
            last = Some(chunk);
        }
        out
    }

    /// Sends every payload on [`RUNS`] (at commit of the surrounding transaction).
    pub async fn send(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if self.items.is_empty() {
            return Ok(());
        }
        send_all(conn, RUNS, &self.payloads()).await
    }
}

/// What happened to an incident, as `GET /api/stream` tells it in an `incident` event. Fetch
/// `GET /api/alerts` for the incident itself.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct IncidentChange {
    /// The incident's id.
    pub id: i64,
    /// The rule it belongs to.
    pub rule_id: i64,
    /// Its state now: `pending`, `firing`, `resolved`, or `deleted` (a pending incident that
    /// recovered inside `groupWait` is removed).
    #[schema(example = "firing")]
    pub state: String,
    /// `opened`, `fired`, `resolved`, `deleted`, `acknowledged`, `muted` or `new_run` (another
    /// failed run of a `RunFailed` incident).
    #[schema(example = "opened")]
    pub change: String,
}

/// Announces an incident change (at commit of the surrounding transaction).
pub async fn incident(
    conn: &mut PgConnection,
    id: i64,
    rule_id: i64,
    state: &str,
    change: &str,
) -> sqlx::Result<()> {
    let payload = IncidentChange {
        id,
        rule_id,
        state: state.to_owned(),
        change: change.to_owned(),
    };
    send(
        conn,
        INCIDENTS,
        &serde_json::to_string(&payload).unwrap_or_default(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{RunState, RunStatus};

    fn run(id: &str, url_len: usize) -> Run {
        let state = RunState {
            id: id.into(),
            provider: "generic".into(),
            repo: "org/repo".into(),
            workflow: "ci".into(),
            branch: Some("main".into()),
            commit_sha: None,
            status: RunStatus::Success,
            attempt: 1,
            run_key: None,
            duration_seconds: Some(1.5),
            queued_at: None,
            started_at: None,
            finished_at: None,
            triggered_by: None,
            url: Some("u".repeat(url_len)),
            metadata: serde_json::json!({"big": "x".repeat(50_000)}),
            created_at: Utc::now(),
        };
        Run::summary(&state, Utc::now())
    }

    #[test]
    fn runs_are_packed_into_arrays_that_fit_a_notification() {
        let runs: Vec<Run> = (0..100).map(|i| run(&format!("r{i}"), 300)).collect();
        let n = RunNotices::new(&runs);
        let payloads = n.payloads();
        assert!(payloads.len() > 1, "100 runs of ~600 bytes need several");
        let mut ids = Vec::new();
        for p in &payloads {
            assert!(p.len() <= MAX_PAYLOAD, "{}", p.len());
            let parsed: Vec<Run> = serde_json::from_str(p).unwrap();
            ids.extend(parsed.into_iter().map(|r| r.id));
        }
        let expected: Vec<String> = (0..100).map(|i| format!("r{i}")).collect();
        assert_eq!(ids, expected, "every run once, in order");
        assert!(!payloads[0].contains("big"), "metadata is never sent");
        // Consecutive arrays would not have fitted together.
        assert!(payloads[0].len() + payloads[1].len() > MAX_PAYLOAD);
    }

    #[test]
    fn a_run_too_large_alone_is_sent_as_its_id() {
        let runs = [run("small", 10), run("huge", 20_000), run("small2", 10)];
        let payloads = RunNotices::new(&runs).payloads();
        assert_eq!(payloads.len(), 1);
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&payloads[0]).unwrap();
        assert_eq!(parsed[1], serde_json::json!({"id": "huge"}));
        assert_eq!(parsed[2]["status"], "success");
        assert!(RunNotices::new(&[]).payloads().is_empty());
    }
}
