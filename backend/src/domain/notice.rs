//! A notification's content, as the outbox stores it and the delivery formats it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cicd_monitor_crds::Severity;
use serde::{Deserialize, Serialize};

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// A group started firing (or, for `RunFailed`, another run failed).
    Firing,
    /// Still firing after `repeatInterval`, not acknowledged.
    Repeat,
    /// Back to green.
    Resolved,
    /// `POST /api/alerts/test`.
    Test,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Firing => "firing",
            NoticeKind::Repeat => "repeat",
            NoticeKind::Resolved => "resolved",
            NoticeKind::Test => "test",
        }
    }
}

/// Everything a message says. Stored with the notification in the outbox, so that a retry after a
/// restart sends the same words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub severity: Severity,
    pub summary: Option<String>,
    pub runbook_url: Option<String>,
    /// The condition in words, e.g. `3 consecutive failures`.
    pub condition: String,
    /// The group: `repo`, `workflow`, `branch` (those the rule groups by).
    pub labels: BTreeMap<String, String>,
    /// The measured value and the threshold, already formatted with their unit (`42%`, `12m 30s`).
    pub value: Option<String>,
    pub threshold: Option<String>,
    pub incident_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The run that triggered or last changed the incident.
    pub run_id: Option<String>,
    pub run_url: Option<String>,
    /// The dashboard filtered to the group (needs `CICD_PUBLIC_URL`).
    pub dashboard_url: Option<String>,
    /// `CICD_ENVIRONMENT`.
    pub environment: String,
}
