//! The seed's generic event (`POST /api/events`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::field_error::{in_plain_words, FieldError};
use crate::domain::limits::{
    self, MAX_JSON_DEPTH, MAX_META_BYTES, MAX_META_KEY, MAX_META_KEYS, MAX_NAME, MAX_URL,
};
use crate::domain::Provider;
use crate::domain::{RunEvent, RunStatus};
use crate::ingest::{check_depth, Malformed};

/// A run event in the generic format. Unknown fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"id":"run_20250827_001","workflow":"build","status":"success","duration_seconds":123,
    "started_at":"2025-08-27T06:00:00Z","finished_at":"2025-08-27T06:02:03Z","repo":"org/repo",
    "branch":"main","triggered_by":"push","meta":{"runner":"ubuntu-latest"}}))]
pub struct GenericEvent {
    /// The client's run id; events with the same id describe the same run.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub id: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub workflow: Option<String>,
    /// `queued`, `running`, `success`, `failure`, `cancelled` or `skipped`.
    #[schema(value_type = RunStatus, required = true)]
    pub status: Option<String>,
    #[schema(minimum = 0)]
    pub duration_seconds: Option<f64>,
    pub queued_at: Option<DateTime<Utc>>,
    /// Not before `queued_at`.
    pub started_at: Option<DateTime<Utc>>,
    /// Not before `started_at`.
    pub finished_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S")]
    pub repo: Option<String>,
    #[schema(max_length = 255)]
    pub branch: Option<String>,
    #[schema(max_length = 255)]
    pub commit_sha: Option<String>,
    /// Attempt number of the run (1 for the first; re-runs count up).
    #[schema(minimum = 1)]
    pub attempt: Option<i32>,
    /// Links the attempts of one run: events with different `id`s and the same `run_key` are
    /// attempts of the same run (so a failure fixed by a re-run is visible).
    #[schema(max_length = 255)]
    pub run_key: Option<String>,
    #[schema(max_length = 255)]
    pub triggered_by: Option<String>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// Defaults to `generic`.
    #[schema(max_length = 255)]
    pub provider: Option<String>,
    /// Free-form metadata, stored as the run's `metadata`: at most 1,000 keys in all, keys of at
    /// most 255 characters, 64 KiB as JSON, nested at most 64 levels with the event.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

/// Why a generic event is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The body is not JSON, or nested too deeply (a 400).
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// Fields are missing or invalid, each one named (a 422).
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
}

fn malformed(e: impl std::fmt::Display) -> Error {
    Error::Malformed(Malformed(format!("malformed JSON: {e}")))
}

/// Reads one generic event: [`Error::Malformed`] when the JSON is, [`Error::Invalid`] naming every
/// bad field.
pub fn parse(body: &[u8]) -> Result<RunEvent, Error> {
    check_depth(body, MAX_JSON_DEPTH)?;
    if body.trim_ascii_start().starts_with(b"[")
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    {
        return Err(Error::Invalid(vec![FieldError::new(
            "body",
            "must be one event, a JSON object: send an array of events to POST /api/events/batch",
        )]));
    }
    if limits::may_hold_nul(body) {
        let value = serde_json::from_slice(body).map_err(malformed)?;
        return from_value(value, "");
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let ev: GenericEvent = match serde_path_to_error::deserialize(&mut de) {
        Ok(ev) => {
            de.end().map_err(malformed)?;
            ev
        }
        Err(e) if e.inner().is_data() => {
            if e.path().iter().next().is_none() {
                return Err(Error::Invalid(vec![FieldError::new(
                    "body",
                    "must be a JSON object",
                )]));
            }
            return Err(type_error(&e, ""));
        }
        Err(e) => return Err(malformed(e.inner())),
    };
    validate(ev, &|name: &str| name.to_owned())
}

fn type_error<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>, path: &str) -> Error {
    let inner = e.inner().to_string();
    let message = in_plain_words(inner.split(" at line").next().unwrap_or(&inner));
    Error::Invalid(vec![FieldError::new(format!("{path}{}", e.path()), message)])
}

/// Validates one event already parsed as JSON; `path` prefixes field names (batch items).
pub fn from_value(value: serde_json::Value, path: &str) -> Result<RunEvent, Error> {
    let field = |name: &str| format!("{path}{name}");
    if !value.is_object() {
        return Err(Error::Invalid(vec![FieldError::new(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path.trim_end_matches('.').to_owned()
            },
            "must be a JSON object",
        )]));
    }
    if let Some(at) = limits::nul_path(&value) {
        return Err(Error::Invalid(vec![FieldError::new(
            field(&at),
            limits::NUL_MESSAGE,
        )]));
    }
    let ev: GenericEvent = serde_path_to_error::deserialize(value).map_err(|e| type_error(&e, path))?;
    validate(ev, &field)
}

fn validate(ev: GenericEvent, field: &dyn Fn(&str) -> String) -> Result<RunEvent, Error> {
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
    for (name, value, max) in [
        ("run_key", &ev.run_key, MAX_NAME),
        ("branch", &ev.branch, MAX_NAME),
        ("commit_sha", &ev.commit_sha, MAX_NAME),
        ("triggered_by", &ev.triggered_by, MAX_NAME),
        ("provider", &ev.provider, MAX_NAME),
        ("url", &ev.url, MAX_URL),
    ] {
        if value.as_ref().is_some_and(|v| v.trim().chars().count() > max) {
            errors.push(FieldError::new(
                field(name),
                format!("must be at most {max} characters"),
            ));
        }
    }
    if let Some(meta) = &ev.meta {
        if let Some(problem) = meta_problem(meta) {
            errors.push(FieldError::new(field("meta"), problem));
        }
    }
    let (Some(status), true) = (status, errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(RunEvent {
        id,
        provider: non_empty(ev.provider).unwrap_or_else(|| Provider::Generic.as_str().to_owned()),
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

/// What is wrong with a `meta` value, if anything: it must be an object (or null) of at most
/// [`MAX_META_KEYS`] keys in all, each at most [`MAX_META_KEY`] characters, and at most
/// [`MAX_META_BYTES`] bytes serialized.
fn meta_problem(meta: &serde_json::Value) -> Option<String> {
    if !(meta.is_object() || meta.is_null()) {
        return Some("must be a JSON object".into());
    }
    let mut count = 0;
    for key in limits::keys(meta) {
        count += 1;
        if count > MAX_META_KEYS {
            return Some(format!(
                "may have at most {MAX_META_KEYS} keys (nested ones included)"
            ));
        }
        if key.chars().count() > MAX_META_KEY {
            return Some(format!("keys must be at most {MAX_META_KEY} characters"));
        }
    }
    let size = limits::json_size(meta);
    (size > MAX_META_BYTES).then(|| format!("must be at most {MAX_META_BYTES} bytes as JSON, is {size}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"id":"run_20250827_001","workflow":"build","status":"success","duration_seconds":123,
        "started_at":"2025-08-27T06:00:00Z","finished_at":"2025-08-27T06:02:03Z",
        "repo":"org/repo","branch":"main","triggered_by":"push","meta":{"runner":"ubuntu-latest"}}"#;

    fn fields(err: Error) -> Vec<String> {
        match err {
            Error::Invalid(d) => d.into_iter().map(|f| f.field).collect(),
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
        assert!(matches!(parse(b"{\"id\":"), Err(Error::Malformed(_))));
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

    #[test]
    fn every_stored_string_has_a_length_limit() {
        let long = "x".repeat(MAX_NAME + 1);
        let body = serde_json::json!({"id": long, "workflow": long, "repo": long, "status": "success",
            "branch": long, "commit_sha": long, "triggered_by": long, "provider": long, "run_key": long,
            "url": format!("https://e.com/{}", "u".repeat(MAX_URL))});
        assert_eq!(
            fields(parse(body.to_string().as_bytes()).unwrap_err()),
            [
                "id",
                "repo",
                "workflow",
                "run_key",
                "branch",
                "commit_sha",
                "triggered_by",
                "provider",
                "url"
            ]
        );
        let at_limit = "é".repeat(MAX_NAME);
        let body = serde_json::json!({"id": at_limit, "workflow": "w", "repo": "r", "status": "success",
            "branch": at_limit});
        assert!(parse(body.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn meta_is_bounded_in_keys_key_length_and_size() {
        let event = |meta: serde_json::Value| {
            serde_json::json!({"id": "x", "workflow": "w", "repo": "r", "status": "success", "meta": meta})
                .to_string()
        };
        let many: serde_json::Map<_, _> = (0..=MAX_META_KEYS)
            .map(|i| (format!("k{i}"), serde_json::Value::from(i)))
            .collect();
        let long_key = serde_json::json!({"nested": {"k".repeat(MAX_META_KEY + 1): 1}});
        let big = serde_json::json!({"log": "x".repeat(MAX_META_BYTES)});
        for meta in [
            serde_json::Value::Object(many),
            long_key,
            big,
            serde_json::json!([1]),
        ] {
            assert_eq!(fields(parse(event(meta).as_bytes()).unwrap_err()), ["meta"]);
        }
        assert!(parse(event(serde_json::json!({"runner": "x".repeat(60_000)})).as_bytes()).is_ok());
    }

    #[test]
    fn a_body_nested_too_deeply_is_a_bad_request() {
        let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let body = |n: usize| {
            format!(
                r#"{{"id":"x","workflow":"w","repo":"r","status":"success","meta":{{"a":{}}}}}"#,
                nest(n)
            )
        };
        // The event is one level and meta another.
        assert!(parse(body(MAX_JSON_DEPTH - 2).as_bytes()).is_ok());
        let err = parse(body(MAX_JSON_DEPTH - 1).as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::Malformed(Malformed(m)) if m.contains("nested deeper than 64")),
            "{err:?}"
        );
        // Deeper than serde_json's own limit: the same answer.
        assert!(matches!(parse(body(500).as_bytes()), Err(Error::Malformed(_))));
    }
}
