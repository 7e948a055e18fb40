//! Delivery: deployments, the commits they ship and the incidents in production that follow
//! them, from which the four DORA keys are computed.
//!
//! Every receiver (the generic API, GitHub, GitLab, CDEvents) turns what it receives into the
//! events of this module; [`crate::db::deployments`] stores them. A deployment is identified by
//! its source and the id it has there, and keeps every status it reported, in whatever order they
//! arrive: its status is the latest of them ([`DeploymentStatus::latest`]).

pub mod cdevents;
pub mod dora;
pub mod generic;
pub mod github;
pub mod gitlab;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A deployment's status, as GitHub names them (the other sources are mapped onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Queued,
    InProgress,
    Success,
    Failure,
    Error,
    /// Superseded by a later deployment to the same environment.
    Inactive,
    /// Stopped before it reached its environment: neither a success nor a failed change.
    Cancelled,
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 7] = [
        Self::Queued,
        Self::InProgress,
        Self::Success,
        Self::Failure,
        Self::Error,
        Self::Inactive,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Inactive => "inactive",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// How far along a deployment this status is: a status never replaces a later one reported
    /// at the same instant (`inactive` follows a success).
    pub fn stage(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::InProgress => 1,
            Self::Success | Self::Failure | Self::Error | Self::Cancelled => 2,
            Self::Inactive => 3,
        }
    }

    /// Whether the deployment reached its end with this status.
    pub fn is_final(self) -> bool {
        self.stage() >= 2
    }

    /// The current status among `history` (status, when reported): the latest, and at the same
    /// instant the furthest along.
    pub fn latest(history: impl IntoIterator<Item = (Self, DateTime<Utc>)>) -> Option<(Self, DateTime<Utc>)> {
        history.into_iter().max_by_key(|(s, at)| (*at, s.stage()))
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a deployment does to its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentKind {
    #[default]
    Deploy,
    /// Goes back to an earlier version (CDEvents `service.rolledback`): the deployment before it
    /// counts as a failed change.
    Rollback,
    /// Takes the service out of the environment (CDEvents `service.removed`).
    Remove,
}

impl DeploymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Rollback => "rollback",
            Self::Remove => "remove",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Deploy, Self::Rollback, Self::Remove]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A commit as a push, a merge or a deployment names it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitEvent {
    pub sha: String,
    /// When it was written.
    pub committed_at: Option<DateTime<Utc>>,
    /// When it reached a branch (merged, or pushed).
    pub merged_at: Option<DateTime<Utc>>,
}

/// One status of one deployment, with what is known of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentEvent {
    /// Where it came from (`github`, `gitlab`, `cdevents`, `generic`) and its id there.
    pub source: String,
    pub external_id: String,
    pub repo: Option<String>,
    /// The service deployed: named, or else the repository.
    pub service: String,
    pub environment: String,
    pub sha: Option<String>,
    pub git_ref: Option<String>,
    pub creator: Option<String>,
    /// The pipeline run that made it, as the run APIs name runs.
    pub run_id: Option<String>,
    pub artifact: Option<String>,
    pub kind: DeploymentKind,
    pub status: DeploymentStatus,
    /// When it reached `status`.
    pub at: DateTime<Utc>,
    /// When it was asked for (defaults to the earliest status seen).
    pub created_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub description: Option<String>,
    /// The commits it ships, when the sender says (otherwise they are found from pushes).
    pub commits: Vec<CommitEvent>,
}

/// Commits that reached a ref together (a push or a merge).
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    pub repo: String,
    /// The repository's default branch, when the forge says (GitHub and GitLab pushes do).
    pub default_branch: Option<String>,
    pub git_ref: String,
    pub before: Option<String>,
    pub after: String,
    pub pushed_at: DateTime<Utc>,
    pub commits: Vec<CommitEvent>,
}

/// The commits of a push as GitHub and GitLab send them (`commits[]`, each with `id` and
/// `timestamp`); they reached their branch when the push did.
fn pushed_commits(payload: &serde_json::Value) -> Vec<CommitEvent> {
    use crate::ingest::{at, text, time};
    at(payload, "commits")
        .and_then(serde_json::Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    Some(CommitEvent {
                        sha: text(c, "id")
                            .filter(|s| s.chars().count() <= crate::domain::limits::MAX_NAME)?,
                        committed_at: time(c, "timestamp"),
                        merged_at: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An incident in production, opened or resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    pub source: String,
    pub external_id: String,
    pub service: String,
    pub environment: Option<String>,
    /// The deployment it names, if any, by the id that deployment has at the incident's own
    /// source; else the artifact it names, if any.
    pub deployment: Option<String>,
    pub artifact: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An artifact built or published (CDEvents `artifact.packaged`, `artifact.published`): a
/// deployment that names it and no commit ships the change it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactEvent {
    /// Its id, a package URL (`pkg:oci/app@sha256:…`).
    pub id: String,
    /// The commit it was built from, when the event names it.
    pub sha: Option<String>,
    /// The repositories that commit may be recorded under, most likely first: the first under
    /// which the commit is known is taken, else the first.
    pub repos: Vec<String>,
    pub packaged_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

/// An environment a source announced (CDEvents `environment.created/modified/deleted`): its
/// deployment events name it by `external_id`, and are recorded under `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentEvent {
    pub source: String,
    pub external_id: String,
    /// Its name, when the event gives one (else the name it had, or its id).
    pub name: Option<String>,
    pub url: Option<String>,
    pub deleted: bool,
    /// When the source sent it: the latest event about an environment wins.
    pub at: DateTime<Utc>,
}

/// What one delivery carries about delivery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub environments: Vec<EnvironmentEvent>,
    pub artifacts: Vec<ArtifactEvent>,
    pub deployments: Vec<DeploymentEvent>,
    pub pushes: Vec<PushEvent>,
    pub incidents: Vec<IncidentEvent>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.environments.is_empty()
            && self.artifacts.is_empty()
            && self.deployments.is_empty()
            && self.pushes.is_empty()
            && self.incidents.is_empty()
    }

    pub fn extend(&mut self, other: Batch) {
        self.environments.extend(other.environments);
        self.artifacts.extend(other.artifacts);
        self.deployments.extend(other.deployments);
        self.pushes.extend(other.pushes);
        self.incidents.extend(other.incidents);
    }
}

/// The environments that count as production: exact names or globs (`*` any run of
/// characters, `?` one), compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Production(Vec<String>);

impl Default for Production {
    fn default() -> Self {
        Self(vec!["production".into(), "prod".into()])
    }
}

impl Production {
    pub fn new(globs: Vec<String>) -> Self {
        Self(globs)
    }

    /// The globs as SQL `ilike` patterns (`%` and `_` escaped with `\`).
    pub fn like_patterns(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|g| {
                let mut p = String::with_capacity(g.len());
                for c in g.chars() {
                    match c {
                        '*' => p.push('%'),
                        '?' => p.push('_'),
                        '%' | '_' | '\\' => {
                            p.push('\\');
                            p.push(c);
                        }
                        c => p.push(c),
                    }
                }
                p
            })
            .collect()
    }

    /// Whether `environment` is production.
    pub fn matches(&self, environment: &str) -> bool {
        let env: Vec<char> = environment.to_lowercase().chars().collect();
        self.0.iter().any(|g| {
            let glob: Vec<char> = g.to_lowercase().chars().collect();
            glob_match(&glob, &env)
        })
    }
}

/// `*` and `?` globbing, iteratively (no backtracking blow-up).
fn glob_match(glob: &[char], s: &[char]) -> bool {
    let (mut g, mut i) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == s[i]) {
            g += 1;
            i += 1;
        } else if g < glob.len() && glob[g] == '*' {
            star = Some(g);
            mark = i;
            g += 1;
        } else if let Some(st) = star {
            g = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_latest_status_wins_and_at_one_instant_the_furthest_along() {
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        use DeploymentStatus::*;
        // Received out of order: success before in_progress.
        let history = [(Success, t(30)), (Queued, t(10)), (InProgress, t(20))];
        assert_eq!(DeploymentStatus::latest(history), Some((Success, t(30))));
        assert_eq!(
            DeploymentStatus::latest([(Inactive, t(30)), (Success, t(30))]),
            Some((Inactive, t(30)))
        );
        assert_eq!(DeploymentStatus::latest([]), None);
    }

    #[test]
    fn production_is_a_set_of_globs_without_case() {
        let p = Production::default();
        assert!(p.matches("production") && p.matches("Prod") && !p.matches("staging"));
        let p = Production::new(vec!["prod-*".into(), "eu-?".into()]);
        assert!(p.matches("prod-eu") && p.matches("PROD-") && p.matches("eu-1"));
        assert!(!p.matches("preprod-eu") && !p.matches("eu-10"));
        assert_eq!(
            Production::new(vec!["a_b%*?".into()]).like_patterns(),
            [r"a\_b\%%_"]
        );
    }
}
