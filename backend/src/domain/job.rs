//! Jobs (GitHub jobs, GitLab builds, CDEvents task runs): the parts of a run, with their own queue
//! and run times. They are attached to their run by the run's id and never feed the rollups.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::run::{micros, RunStatus};

/// A normalized event about one job of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// The id of the run (attempt) the job belongs to, as stored in `pipeline_runs.id`.
    pub run_id: String,
    /// The provider's job id.
    pub id: String,
    pub provider: String,
    pub name: String,
    /// GitLab's stage; `None` elsewhere.
    pub stage: Option<String>,
    pub status: RunStatus,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub runner_name: Option<String>,
    pub runner_group: Option<String>,
    pub labels: Vec<String>,
    pub steps: Vec<Step>,
    pub url: Option<String>,
    /// Why it failed, where the provider says (GitLab's `failure_reason`, CDEvents `errors`).
    pub failure_reason: Option<String>,
}

impl JobEvent {
    /// Timestamps at PostgreSQL's precision, as for runs.
    pub fn at_storage_precision(mut self) -> Self {
        for t in [&mut self.queued_at, &mut self.started_at, &mut self.finished_at] {
            *t = t.map(micros);
        }
        self
    }
}

/// One step of a job (GitHub sends them; stored as JSON with the job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Step {
    pub number: Option<i64>,
    pub name: String,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub stage: Option<String>,
    pub status: RunStatus,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// started − queued.
    pub queue_seconds: Option<f64>,
    /// finished − started.
    pub duration_seconds: Option<f64>,
    pub runner_name: Option<String>,
    pub runner_group: Option<String>,
    pub labels: Vec<String>,
    pub steps: Vec<Step>,
    pub url: Option<String>,
    pub failure_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}
