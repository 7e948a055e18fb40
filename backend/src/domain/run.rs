use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a run is in its life. Status only moves forward: queued → running → terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::Cancelled,
        RunStatus::Skipped,
    ];
    pub const TERMINAL: [RunStatus; 4] = [
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::Cancelled,
        RunStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        self.stage() == 2
    }

    /// 0 queued, 1 running, 2 finished: an event may never lower it.
    pub fn stage(self) -> u8 {
        match self {
            RunStatus::Queued => 0,
            RunStatus::Running => 1,
            _ => 2,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalized event about one run attempt, as every provider's parser produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    pub id: String,
    pub provider: String,
    pub repo: String,
    pub workflow: String,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub status: RunStatus,
    pub attempt: Option<i32>,
    /// Links the attempts of one run (e.g. `github:owner/repo:123` for every re-run of run 123).
    pub run_key: Option<String>,
    pub duration_seconds: Option<f64>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub triggered_by: Option<String>,
    pub url: Option<String>,
    /// Provider payload or client metadata; merged (shallowly) into what is stored.
    pub metadata: serde_json::Value,
}

impl RunEvent {
    /// Timestamps at PostgreSQL's precision (microseconds), so that a replayed event compares
    /// equal to what was stored from it.
    pub fn at_storage_precision(mut self) -> Self {
        for t in [&mut self.queued_at, &mut self.started_at, &mut self.finished_at] {
            *t = t.map(micros);
        }
        self
    }
}

/// Truncates to whole microseconds, the precision of `timestamptz`.
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(t, 6)
}

/// The stored state of a run: every column that events can change.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunState {
    pub id: String,
    pub provider: String,
    pub repo: String,
    pub workflow: String,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub status: RunStatus,
    pub attempt: i32,
    pub run_key: Option<String>,
    pub duration_seconds: Option<f64>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub triggered_by: Option<String>,
    pub url: Option<String>,
    pub metadata: serde_json::Value,
    /// When the run was first recorded; fixed at insert.
    pub created_at: DateTime<Utc>,
}

impl RunState {
    /// The instant the run is charted at (the `run_at` column computes the same thing).
    pub fn run_at(&self) -> DateTime<Utc> {
        self.started_at
            .or(self.queued_at)
            .or(self.finished_at)
            .unwrap_or(self.created_at)
    }
}

/// A run as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    #[schema(example = "run_20250827_001")]
    pub id: String,
    #[schema(example = "generic")]
    pub provider: String,
    #[schema(example = "build")]
    pub workflow: String,
    #[schema(example = "org/repo")]
    pub repo: String,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub status: RunStatus,
    pub attempt: i32,
    /// Shared by the attempts of one run; see `GET /api/runs/{id}`'s `attempts`.
    pub run_key: Option<String>,
    pub duration_seconds: Option<f64>,
    /// started − queued, when both are known.
    pub queue_seconds: Option<f64>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub triggered_by: Option<String>,
    pub url: Option<String>,
    /// The raw payload or client metadata (`meta`). Omitted from lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Run {
    pub fn from_state(mut state: RunState, updated_at: DateTime<Utc>) -> Self {
        let metadata = std::mem::take(&mut state.metadata);
        Run {
            metadata: Some(metadata),
            ..Run::summary(&state, updated_at)
        }
    }

    /// The run as lists show it: everything but its metadata (which is never cloned).
    pub fn summary(state: &RunState, updated_at: DateTime<Utc>) -> Self {
        Run {
            id: state.id.clone(),
            provider: state.provider.clone(),
            workflow: state.workflow.clone(),
            repo: state.repo.clone(),
            branch: state.branch.clone(),
            commit_sha: state.commit_sha.clone(),
            status: state.status,
            attempt: state.attempt,
            run_key: state.run_key.clone(),
            duration_seconds: state.duration_seconds,
            queue_seconds: seconds_between(state.queued_at, state.started_at),
            queued_at: state.queued_at,
            started_at: state.started_at,
            finished_at: state.finished_at,
            triggered_by: state.triggered_by.clone(),
            url: state.url.clone(),
            metadata: None,
            created_at: state.created_at,
            updated_at,
        }
    }
}

/// Seconds between two instants, when both are known and in order.
pub fn seconds_between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<f64> {
    let (from, to) = (from?, to?);
    (to >= from).then(|| (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_name() {
        for st in RunStatus::ALL {
            assert_eq!(RunStatus::parse(st.as_str()), Some(st));
        }
        assert_eq!(RunStatus::parse("SUCCESS"), None);
    }

    #[test]
    fn only_finished_statuses_are_terminal() {
        let terminal: Vec<_> = RunStatus::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, RunStatus::TERMINAL);
    }
}
