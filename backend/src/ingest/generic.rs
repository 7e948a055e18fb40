//! The seed's generic event (`POST /api/events`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{RunEvent, RunStatus};
use crate::error::{ApiError, FieldError};

/// Longest id, repo, workflow or branch accepted.
const MAX_NAME: usize = 255;

/// A run event in the generic format. Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"id":"run_20250827_001","workflow":"build","status":"success","duration_seconds":123,
    "started_at":"2025-08-27T06:00:00Z","finished_at":"2025-08-27T06:02:03Z","repo":"org/repo",
    "branch":"main","triggered_by":"push","meta":{"runner":"ubuntu-latest"}}))]
pub struct GenericEvent {
    /// The client's run id; events with the same id describe the same run.
    pub id: Option<String>,
    pub workflow: Option<String>,
    /// `queued`, `running`, `success`, `failure`, `cancelled` or `skipped`.
    pub status: Option<String>,
    pub duration_seconds: Option<f64>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    /// Attempt number of the run (1 for the first; re-runs count up).
    pub attempt: Option<i32>,
    /// Links the attempts of one run: events with different `id`s and the same `run_key` are
    /// attempts of the same run (so a failure fixed by a re-run is visible).
    pub run_key: Option<String>,
    pub triggered_by: Option<String>,
    pub url: Option<String>,
    /// Defaults to `generic`.
    pub provider: Option<String>,
    /// Free-form metadata, stored as the run's `metadata`.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

/// Reads one generic event: 400 when the JSON is malformed, 422 naming every bad field.
pub fn parse(body: &[u8]) -> Result<RunEvent, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let ev: GenericEvent = match serde_path_to_error::deserialize(&mut de) {
        Ok(ev) => {
            de.end()
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
            ev
        }
        Err(e) if e.inner().is_data() => {
            if e.path().iter().next().is_none() {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "body",
                    "must be a JSON object",
                )]));
            }
            return Err(type_error(&e, ""));
        }
        Err(e) => return Err(ApiError::BadRequest(format!("malformed JSON: {}", e.inner()))),
    };
    validate(ev, &|name: &str| name.to_owned())
}

fn type_error<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>, path: &str) -> ApiError {
    let inner = e.inner().to_string();
    let message = inner.split(" at line").next().unwrap_or(&inner).to_owned();
    ApiError::Validation(vec![FieldError::new(format!("{path}{}", e.path()), message)])
}

/// Validates one event already parsed as JSON; `path` prefixes field names (batch items).
pub fn from_value(value: serde_json::Value, path: &str) -> Result<RunEvent, ApiError> {
    let field = |name: &str| format!("{path}{name}");
    if !value.is_object() {
        return Err(ApiError::Validation(vec![FieldError::new(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path.trim_end_matches('.').to_owned()
            },
            "must be a JSON object",
        )]));
    }
    let ev: GenericEvent = serde_path_to_error::deserialize(value).map_err(|e| type_error(&e, path))?;
    validate(ev, &field)
}

fn validate(ev: GenericEvent, field: &dyn Fn(&str) -> String) -> Result<RunEvent, ApiError> {
    let mut errors = Vec::new();
    let mut required = |name: &str, v: Option<String>| -> String {
        let v = v.map(|s| s.trim().to_owned()).unwrap_or_default();
        if v.is_empty() {
            errors.push(FieldError::new(field(name), "is required and must not be empty"));
        } else if v.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                field(name),
                format!("must be at most {MAX_NAME} characters"),
            ));
        }
        v
    };
    let id = required("id", ev.id);
    let repo = required("repo", ev.repo);
    let workflow = required("workflow", ev.workflow);
    let status = match ev.status.as_deref().map(RunStatus::parse) {
        Some(Some(s)) => Some(s),
        Some(None) => {
            errors.push(FieldError::new(
                field("status"),
                "must be one of queued, running, success, failure, cancelled, skipped",
            ));
            None
        }
        None => {
            errors.push(FieldError::new(field("status"), "is required"));
            None
        }
    };
    if let Some(d) = ev.duration_seconds {
        if !(d.is_finite() && d >= 0.0) {
            errors.push(FieldError::new(
                field("duration_seconds"),
                "must be a non-negative number",
            ));
        }
    }
    if let (Some(s), Some(f)) = (ev.started_at, ev.finished_at) {
        if f < s {
            errors.push(FieldError::new(
                field("finished_at"),
                "must not be before started_at",
            ));
        }
    }
    if let (Some(q), Some(s)) = (ev.queued_at, ev.started_at) {
        if s < q {
            errors.push(FieldError::new(
                field("started_at"),
                "must not be before queued_at",
            ));
        }
    }
    if ev.attempt.is_some_and(|a| a < 1) {
        errors.push(FieldError::new(field("attempt"), "must be at least 1"));
    }
    if ev.run_key.as_ref().is_some_and(|b| b.chars().count() > MAX_NAME) {
        errors.push(FieldError::new(
            field("run_key"),
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if ev.branch.as_ref().is_some_and(|b| b.chars().count() > MAX_NAME) {
        errors.push(FieldError::new(
            field("branch"),
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if ev.meta.as_ref().is_some_and(|m| !(m.is_object() || m.is_null())) {
        errors.push(FieldError::new(field("meta"), "must be a JSON object"));
    }
    let (Some(status), true) = (status, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(RunEvent {
        id,
        provider: non_empty(ev.provider).unwrap_or_else(|| "generic".to_owned()),
        repo,
        workflow,
        branch: non_empty(ev.branch),
        commit_sha: non_empty(ev.commit_sha),
        status,
        attempt: ev.attempt,
        run_key: non_empty(ev.run_key),
        duration_seconds: ev.duration_seconds,
        queued_at: ev.queued_at,
        started_at: ev.started_at,
        finished_at: ev.finished_at,
        triggered_by: non_empty(ev.triggered_by),
        url: non_empty(ev.url),
        metadata: ev
            .meta
            .filter(|m| m.is_object())
            .unwrap_or_else(|| serde_json::json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"id":"run_20250827_001","workflow":"build","status":"success","duration_seconds":123,
        "started_at":"2025-08-27T06:00:00Z","finished_at":"2025-08-27T06:02:03Z",
        "repo":"org/repo","branch":"main","triggered_by":"push","meta":{"runner":"ubuntu-latest"}}"#;

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(d) => d.into_iter().map(|f| f.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_seed_example_parses() {
        let ev = parse(SEED.as_bytes()).unwrap();
        assert_eq!(ev.id, "run_20250827_001");
        assert_eq!(ev.status, RunStatus::Success);
        assert_eq!(ev.provider, "generic");
        assert_eq!(ev.metadata["runner"], "ubuntu-latest");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(parse(b"{\"id\":"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn every_bad_field_is_named() {
        let body = r#"{"id":"x","workflow":"w","repo":"  ","status":"exploded","duration_seconds":-1,
            "started_at":"2025-08-27T06:00:00Z","finished_at":"2025-08-27T05:00:00Z"}"#;
        assert_eq!(
            fields(parse(body.as_bytes()).unwrap_err()),
            ["repo", "status", "duration_seconds", "finished_at"]
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let body = r#"{"id":"x","workflow":"w","repo":"r","status":"success","started_at":"yesterday"}"#;
        assert_eq!(fields(parse(body.as_bytes()).unwrap_err()), ["started_at"]);
    }

    #[test]
    fn batch_items_are_named_by_index() {
        let v = serde_json::json!({"id": "x"});
        assert_eq!(
            fields(from_value(v, "[3].").unwrap_err()),
            ["[3].repo", "[3].workflow", "[3].status"]
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body = SEED.replace("\"id\"", "\"whatever\":1,\"id\"");
        assert!(parse(body.as_bytes()).is_ok());
    }
}
