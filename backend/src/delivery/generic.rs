//! Deployments and incidents in the generic format (`POST /api/deployments`,
//! `POST /api/incidents`, and their `/batch` forms).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{CommitEvent, DeploymentEvent, DeploymentKind, DeploymentStatus, IncidentEvent};
use crate::domain::field_error::{in_plain_words, FieldError};
use crate::domain::limits::{self, MAX_JSON_DEPTH, MAX_NAME, MAX_TEXT, MAX_URL};
use crate::ingest::generic::Error;
use crate::ingest::Malformed;

/// The source of what the generic API records.
pub const SOURCE: &str = "generic";
/// Most commits one deployment may list.
pub const MAX_COMMITS: usize = 1000;

/// One status of a deployment. Statuses posted with the same `id` describe the same deployment,
/// in any order: its status is the latest by `at`. Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"id": "deploy-4711", "service": "payments", "repo": "org/payments",
    "environment": "production", "status": "success", "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "ref": "main", "run_id": "run_20250827_001", "at": "2025-08-27T06:10:00Z"}))]
pub struct GenericDeployment {
    /// The sender's deployment id.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub id: Option<String>,
    /// Where it went, e.g. `production` (which environments count as production is a setting).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub environment: Option<String>,
    /// `queued`, `in_progress`, `success`, `failure`, `error`, `inactive` or `cancelled`.
    #[schema(value_type = DeploymentStatus, required = true)]
    pub status: Option<String>,
    /// The service deployed; defaults to `repo`. One of the two is required.
    #[schema(max_length = 255)]
    pub service: Option<String>,
    #[schema(max_length = 255)]
    pub repo: Option<String>,
    /// The commit deployed.
    #[schema(max_length = 255)]
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    #[schema(max_length = 255)]
    pub git_ref: Option<String>,
    /// `deploy` (the default), `rollback` or `remove`.
    #[schema(value_type = Option<DeploymentKind>)]
    pub kind: Option<String>,
    /// The run that made it, as `POST /api/events` named it.
    #[schema(max_length = 255)]
    pub run_id: Option<String>,
    /// The artifact deployed (an image reference, a package URL); incidents can name it.
    #[schema(max_length = 2048)]
    pub artifact: Option<String>,
    #[schema(max_length = 255)]
    pub creator: Option<String>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    /// When it was asked for (defaults to its earliest status).
    pub created_at: Option<DateTime<Utc>>,
    /// When it reached `status` (defaults to when this was received).
    pub at: Option<DateTime<Utc>>,
    /// The commits it ships, when the sender knows them (at most 1,000); otherwise they are
    /// found from the pushes received.
    pub commits: Option<Vec<GenericCommit>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenericCommit {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub sha: Option<String>,
    /// When it was written.
    pub committed_at: Option<DateTime<Utc>>,
    /// When it was merged (lead time counts from here when `committed_at` is not given).
    pub merged_at: Option<DateTime<Utc>>,
}

/// An incident in production, opened or updated (resolved). Posted again with the same `id`, it
/// is updated. Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"id": "INC-311", "service": "payments", "environment": "production",
    "deployment": "deploy-4711", "title": "checkout errors", "started_at": "2025-08-27T06:30:00Z"}))]
pub struct GenericIncident {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub id: Option<String>,
    /// The service affected; defaults to `repo`. One of the two is required.
    #[schema(max_length = 255)]
    pub service: Option<String>,
    #[schema(max_length = 255)]
    pub repo: Option<String>,
    #[schema(max_length = 255)]
    pub environment: Option<String>,
    /// The id of the deployment that caused it, as posted to `POST /api/deployments`. Without it
    /// the incident is linked to the last deployment of its service before it started, and the
    /// link says it was inferred.
    #[schema(max_length = 255)]
    pub deployment: Option<String>,
    /// The artifact at fault, when the deployment is not named.
    #[schema(max_length = 2048)]
    pub artifact: Option<String>,
    #[schema(max_length = 4096)]
    pub title: Option<String>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(value_type = DateTime<Utc>, required = true)]
    pub started_at: Option<DateTime<Utc>>,
    /// Not before `started_at`.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Reads `value` (one item of a body; `path` prefixes field names, e.g. `[3].`) as `T`.
fn read<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, Error> {
    if !value.is_object() {
        let field = if path.is_empty() {
            "body"
        } else {
            path.trim_end_matches('.')
        };
        return Err(Error::Invalid(vec![FieldError::new(
            field,
            "must be a JSON object",
        )]));
    }
    if let Some(at) = limits::nul_path(&value) {
        return Err(Error::Invalid(vec![FieldError::new(
            format!("{path}{at}"),
            limits::NUL_MESSAGE,
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let message = in_plain_words(inner.split(" at line").next().unwrap_or(&inner));
        Error::Invalid(vec![FieldError::new(format!("{path}{}", e.path()), message)])
    })
}

/// The one object of a body (an array belongs to the `/batch` route).
pub fn one(body: &[u8]) -> Result<Value, Error> {
    match value(body, MAX_JSON_DEPTH)? {
        Value::Array(_) => Err(Error::Invalid(vec![FieldError::new(
            "body",
            "must be one JSON object: send an array to the /batch route",
        )])),
        v => Ok(v),
    }
}

/// A body as JSON nested at most `depth` deep, as it is: a NUL character is refused where it is
/// (the generic API refuses what webhooks clean, ADR 0016).
pub fn value(body: &[u8], depth: usize) -> Result<Value, Malformed> {
    crate::ingest::check_depth(body, depth)?;
    serde_json::from_slice(body).map_err(|e| Malformed(format!("malformed JSON: {e}")))
}

/// Checks of one item's fields, gathered so that every bad field is named.
struct Fields<'p> {
    path: &'p str,
    errors: Vec<FieldError>,
}

impl<'p> Fields<'p> {
    fn new(path: &'p str) -> Self {
        Self {
            path,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(format!("{}{name}", self.path), message));
    }

    /// The trimmed value, `None` when absent or empty; an error past `max` characters.
    fn optional(&mut self, name: &str, v: Option<String>, max: usize) -> Option<String> {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())?;
        if v.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
        }
        Some(v)
    }

    fn required(&mut self, name: &str, v: Option<String>) -> String {
        let v = self.optional(name, v, MAX_NAME);
        if v.is_none() {
            self.error(name, "is required and must not be empty");
        }
        v.unwrap_or_default()
    }

    /// `service`, or else `repo`: one of them is required.
    fn service(&mut self, service: Option<String>, repo: &Option<String>) -> String {
        let service = self.optional("service", service, MAX_NAME);
        match (service, repo) {
            (Some(s), _) => s,
            (None, Some(r)) => r.clone(),
            (None, None) => {
                self.error("service", "is required when repo is not given");
                String::new()
            }
        }
    }

    fn done<T>(self, value: T) -> Result<T, Error> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Error::Invalid(self.errors))
        }
    }
}

/// Validates one deployment status received at `now`.
pub fn deployment(value: Value, path: &str, now: DateTime<Utc>) -> Result<DeploymentEvent, Error> {
    let d: GenericDeployment = read(value, path)?;
    let mut f = Fields::new(path);
    let external_id = f.required("id", d.id);
    let environment = f.required("environment", d.environment);
    let status = match d.status.as_deref().map(str::trim) {
        None | Some("") => {
            f.error("status", "is required");
            DeploymentStatus::Queued
        }
        Some(s) => DeploymentStatus::parse(s).unwrap_or_else(|| {
            f.error(
                "status",
                "must be one of queued, in_progress, success, failure, error, inactive, cancelled",
            );
            DeploymentStatus::Queued
        }),
    };
    let kind = match d.kind.as_deref().map(str::trim) {
        None | Some("") => DeploymentKind::Deploy,
        Some(k) => DeploymentKind::parse(k).unwrap_or_else(|| {
            f.error("kind", "must be one of deploy, rollback, remove");
            DeploymentKind::Deploy
        }),
    };
    let repo = f.optional("repo", d.repo, MAX_NAME);
    let service = f.service(d.service, &repo);
    let at = d.at.unwrap_or(now);
    if d.created_at.is_some_and(|c| c > at) {
        f.error("created_at", "must not be after at");
    }
    let mut commits = Vec::new();
    let listed = d.commits.unwrap_or_default();
    if listed.len() > MAX_COMMITS {
        f.error("commits", format!("may list at most {MAX_COMMITS} commits"));
    }
    for (i, c) in listed.into_iter().take(MAX_COMMITS).enumerate() {
        let sha = f.required(&format!("commits[{i}].sha"), c.sha);
        commits.push(CommitEvent {
            sha,
            committed_at: c.committed_at,
            merged_at: c.merged_at,
        });
    }
    let event = DeploymentEvent {
        source: SOURCE.into(),
        external_id,
        service,
        environment,
        sha: f.optional("sha", d.sha, MAX_NAME),
        git_ref: f.optional("ref", d.git_ref, MAX_NAME),
        creator: f.optional("creator", d.creator, MAX_NAME),
        run_id: f.optional("run_id", d.run_id, MAX_NAME),
        artifact: f.optional("artifact", d.artifact, MAX_URL),
        url: f.optional("url", d.url, MAX_URL),
        description: f.optional("description", d.description, MAX_TEXT),
        repo,
        kind,
        status,
        at,
        created_at: d.created_at,
        commits,
    };
    f.done(event)
}

/// Validates one incident.
pub fn incident(value: Value, path: &str) -> Result<IncidentEvent, Error> {
    let i: GenericIncident = read(value, path)?;
    let mut f = Fields::new(path);
    let external_id = f.required("id", i.id);
    let repo = f.optional("repo", i.repo, MAX_NAME);
    let service = f.service(i.service, &repo);
    let started_at = i.started_at.unwrap_or_else(|| {
        f.error("started_at", "is required");
        DateTime::<Utc>::MIN_UTC
    });
    if i.resolved_at.is_some_and(|r| r < started_at) {
        f.error("resolved_at", "must not be before started_at");
    }
    let event = IncidentEvent {
        source: SOURCE.into(),
        external_id,
        service,
        environment: f.optional("environment", i.environment, MAX_NAME),
        deployment: f.optional("deployment", i.deployment, MAX_NAME),
        artifact: f.optional("artifact", i.artifact, MAX_URL),
        title: f.optional("title", i.title, MAX_TEXT),
        url: f.optional("url", i.url, MAX_URL),
        started_at,
        resolved_at: i.resolved_at,
    };
    f.done(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::Invalid(d) => d.into_iter().map(|f| f.field).collect(),
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn a_deployment_defaults_its_service_to_its_repository_and_its_time_to_now() {
        let d = deployment(
            json!({"id": " d1 ", "repo": "org/api", "environment": "production", "status": "success"}),
            "",
            now(),
        )
        .unwrap();
        assert_eq!((d.external_id.as_str(), d.service.as_str()), ("d1", "org/api"));
        assert_eq!(
            (d.status, d.kind, d.at),
            (DeploymentStatus::Success, DeploymentKind::Deploy, now())
        );
        assert_eq!(d.source, "generic");
    }

    #[test]
    fn every_bad_field_of_a_deployment_is_named() {
        let e = deployment(
            json!({"status": "done", "kind": "redeploy", "created_at": "2026-12-02T00:00:00Z",
                   "commits": [{"committed_at": "2026-11-30T00:00:00Z"}]}),
            "[2].",
            now(),
        )
        .unwrap_err();
        assert_eq!(
            fields(e),
            [
                "[2].id",
                "[2].environment",
                "[2].status",
                "[2].kind",
                "[2].service",
                "[2].created_at",
                "[2].commits[0].sha"
            ]
        );
        let e = deployment(json!({"id": 5}), "", now()).unwrap_err();
        assert_eq!(fields(e), ["id"]);
    }

    #[test]
    fn an_incident_needs_its_start_and_resolves_after_it() {
        let i = incident(
            json!({"id": "INC-1", "service": "api", "deployment": "d1", "started_at": "2026-12-01T10:00:00Z"}),
            "",
        )
        .unwrap();
        assert_eq!(i.deployment.as_deref(), Some("d1"));
        let e = incident(
            json!({"id": "INC-2", "service": "api", "resolved_at": "2026-12-01T09:00:00Z",
                   "started_at": "2026-12-01T10:00:00Z"}),
            "",
        )
        .unwrap_err();
        assert_eq!(fields(e), ["resolved_at"]);
        assert_eq!(
            fields(incident(json!({"id": "x"}), "").unwrap_err()),
            ["service", "started_at"]
        );
    }

    #[test]
    fn a_body_is_one_object() {
        assert!(one(br#"{"id": "a"}"#).is_ok());
        assert_eq!(fields(one(b"[{}]").unwrap_err()), ["body"]);
        assert!(matches!(one(b"{"), Err(Error::Malformed(_))));
    }
}
