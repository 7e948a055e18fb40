//! Property tests over every provider parser and the generic event's validator: no byte sequence
//! and no JSON shape makes one panic, and whatever is recorded is a well-formed run (non-empty
//! identity, every stored string within its limit, times in order and in range, no negative
//! duration, bounded metadata) — the invariants the writer, the rollups and the database rely on.
//! `formats` feeds payloads shaped like each format.
//!
//! Case counts: `PROPTEST_CASES` (default 512 here; `make fuzz` runs 200,000).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};

use strum::IntoEnumIterator;

use super::{cdevents, generic, github, gitlab, jenkins, parse_time, Parsed};
use crate::domain::limits::{
    json_size, MAX_ID, MAX_LABELS, MAX_NAME, MAX_STEPS, MAX_STORED_METADATA, MAX_TEXT, MAX_URL,
};
use crate::domain::provider::Provider;
use crate::domain::{JobEvent, RunEvent};
use crate::error::ApiError;

mod formats;

/// `PROPTEST_CASES` when set (longer runs: `make fuzz`), else `default`.
pub(super) fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

pub(super) fn now() -> DateTime<Utc> {
    parse_time("2025-08-27T12:00:00Z").expect("a valid time")
}

/// Keys the parsers look for, so that generated objects reach deep into their code.
const KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "conclusion",
    "action",
    "workflow_run",
    "workflow_job",
    "repository",
    "full_name",
    "run_id",
    "run_attempt",
    "created_at",
    "run_started_at",
    "updated_at",
    "started_at",
    "completed_at",
    "steps",
    "labels",
    "head_branch",
    "object_kind",
    "object_attributes",
    "builds",
    "project",
    "path_with_namespace",
    "ref",
    "duration",
    "queued_duration",
    "finished_at",
    "runner",
    "tags",
    "build",
    "number",
    "phase",
    "timestamp",
    "scm",
    "url",
    "branch",
    "commit",
    "context",
    "subject",
    "content",
    "type",
    "source",
    "version",
    "specversion",
    "pipelineName",
    "outcome",
    "pipelineRun",
    "taskName",
    "data",
    "customData",
    "workflow",
    "path",
    "tag",
    "web_url",
];

const STRINGS: &[&str] = &[
    "",
    "completed",
    "in_progress",
    "queued",
    "success",
    "failure",
    "pipeline",
    "running",
    "failed",
    "canceled",
    "COMPLETED",
    "FINALIZED",
    "SUCCESS",
    "UNSTABLE",
    "2025-08-27T06:00:00Z",
    "2016-08-12 15:23:28 UTC",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "acme/api",
    "origin/main",
    "dev.cdevents.pipelinerun.finished.0.3.0",
    "dev.cdevents.taskrun.started.0.2.0",
    "-1",
    "1e308",
    "NaN",
    "é∂🚀",
    "nul\u{0}inside",
    "https://github.com/acme/api.git",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

pub(super) fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..10).prop_map(|kv| Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    let content_types = prop::sample::select(vec![
        "application/json",
        "application/cloudevents+json; charset=utf-8",
        "application/cloudevents-batch+json",
        "text/plain",
    ]);
    (
        content_types,
        prop::option::of(prop::sample::select(STRINGS)),
        prop::option::of(prop::sample::select(STRINGS)),
    )
        .prop_map(|(ct, ce_type, ce_source)| {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static(ct));
            for (name, v) in [("ce-type", ce_type), ("ce-source", ce_source)] {
                if let Some(v) = v.and_then(|v| HeaderValue::from_str(v).ok()) {
                    h.insert(HeaderName::from_static(name), v);
                    h.insert("ce-specversion", HeaderValue::from_static("1.0"));
                    h.insert("ce-id", HeaderValue::from_static("1"));
                }
            }
            h
        })
}

/// Every webhook parser over the same bytes. The match has no catch-all: a new provider does not
/// compile until its parser is here.
fn parse_all(body: &[u8], headers: &HeaderMap) -> Vec<Parsed> {
    let mut out = Vec::new();
    for provider in Provider::iter() {
        match provider {
            // The generic API refuses what it cannot record: its properties (a valid run or a 4xx)
            // are checked by each test on their own.
            Provider::Generic => {}
            Provider::Github => {
                for event in ["workflow_run", "workflow_job", "ping", "push"] {
                    for ct in [None, Some("application/x-www-form-urlencoded")] {
                        out.extend(github::parse(event, ct, body, now()).ok());
                    }
                }
            }
            Provider::Gitlab => {
                for event in [None, Some("Pipeline Hook"), Some("Job Hook")] {
                    out.extend(gitlab::parse(event, body, now()).ok());
                }
            }
            Provider::Jenkins => out.extend(jenkins::parse(body, now()).ok()),
            Provider::Cdevents => out.extend(cdevents::parse(headers, body, now()).ok()),
        }
    }
    out
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn within(v: &Option<String>, max: usize) -> bool {
    v.as_deref().is_none_or(|s| chars(s) <= max)
}

/// A run as the writer may store it. Provider runs (`cleaned`) also have times after 2000 and
/// at most a day ahead, and a queue time before the start.
pub(super) fn well_formed_run(r: &RunEvent, cleaned: bool) -> Result<(), TestCaseError> {
    prop_assert!(
        !r.id.is_empty() && !r.repo.is_empty() && !r.workflow.is_empty() && !r.provider.is_empty(),
        "{r:?}"
    );
    prop_assert!(chars(&r.id) <= MAX_ID && within(&r.run_key, MAX_ID), "{r:?}");
    for name in [&r.repo, &r.workflow, &r.provider] {
        prop_assert!(chars(name) <= MAX_NAME, "{r:?}");
    }
    for name in [&r.branch, &r.commit_sha, &r.triggered_by] {
        prop_assert!(within(name, MAX_NAME), "{r:?}");
    }
    prop_assert!(within(&r.url, MAX_URL), "{r:?}");
    // PostgreSQL stores no NUL character in text or jsonb.
    let mut texts = [&r.id, &r.repo, &r.workflow, &r.provider].into_iter().chain(
        [&r.branch, &r.commit_sha, &r.triggered_by, &r.url, &r.run_key]
            .into_iter()
            .flatten(),
    );
    prop_assert!(
        texts.all(|s| !s.contains('\0')) && crate::domain::limits::nul_path(&r.metadata).is_none(),
        "{r:?}"
    );
    prop_assert!(
        r.metadata.is_object() && json_size(&r.metadata) <= MAX_STORED_METADATA,
        "{r:?}"
    );
    prop_assert!(
        r.duration_seconds.is_none_or(|d| d.is_finite() && d >= 0.0),
        "{r:?}"
    );
    if let (Some(s), Some(f)) = (r.started_at, r.finished_at) {
        prop_assert!(f >= s, "{r:?}");
    }
    if let (Some(q), Some(s)) = (r.queued_at, r.started_at) {
        prop_assert!(s >= q, "{r:?}");
    }
    if cleaned {
        let earliest = parse_time("2000-01-01T00:00:00Z").expect("a valid time");
        let latest = now() + chrono::TimeDelta::hours(24);
        for t in [r.queued_at, r.started_at, r.finished_at].into_iter().flatten() {
            prop_assert!(t >= earliest && t <= latest, "{r:?}");
        }
    }
    prop_assert!(r.attempt.is_none_or(|a| a >= 1), "{r:?}");
    Ok(())
}

fn well_formed_job(j: &JobEvent) -> Result<(), TestCaseError> {
    prop_assert!(!j.run_id.is_empty() && !j.id.is_empty(), "{j:?}");
    prop_assert!(chars(&j.run_id) <= MAX_ID && chars(&j.id) <= MAX_ID, "{j:?}");
    prop_assert!(
        chars(&j.name) <= MAX_NAME && chars(&j.provider) <= MAX_NAME,
        "{j:?}"
    );
    for name in [&j.stage, &j.runner_name, &j.runner_group] {
        prop_assert!(within(name, MAX_NAME), "{j:?}");
    }
    prop_assert!(
        within(&j.url, MAX_URL) && within(&j.failure_reason, MAX_TEXT),
        "{j:?}"
    );
    prop_assert!(
        j.labels.len() <= MAX_LABELS && j.steps.len() <= MAX_STEPS,
        "{j:?}"
    );
    prop_assert!(j.labels.iter().all(|l| chars(l) <= MAX_NAME), "{j:?}");
    prop_assert!(j.steps.iter().all(|s| chars(&s.name) <= MAX_NAME), "{j:?}");
    if let (Some(s), Some(f)) = (j.started_at, j.finished_at) {
        prop_assert!(f >= s, "{j:?}");
    }
    if let (Some(q), Some(s)) = (j.queued_at, j.started_at) {
        prop_assert!(s >= q, "{j:?}");
    }
    Ok(())
}

pub(super) fn well_formed(parsed: &Parsed) -> Result<(), TestCaseError> {
    let Parsed::Records { runs, jobs, .. } = parsed else {
        return Ok(());
    };
    for r in runs {
        well_formed_run(r, true)?;
    }
    for j in jobs {
        well_formed_job(j)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn no_bytes_make_a_parser_panic(body in prop::collection::vec(any::<u8>(), 0..512), h in headers()) {
        for parsed in parse_all(&body, &h) {
            well_formed(&parsed)?;
        }
        match generic::parse(&body) {
            Ok(run) => well_formed_run(&run, false)?,
            Err(e) => prop_assert!(ApiError::from(e.clone()).status().is_client_error(), "{e:?}"),
        }
    }

    #[test]
    fn no_json_shape_makes_a_parser_panic_or_record_garbage(v in json(), h in headers()) {
        let body = v.to_string();
        for parsed in parse_all(body.as_bytes(), &h) {
            well_formed(&parsed)?;
        }
        match generic::from_value(v.clone(), "") {
            Ok(run) => well_formed_run(&run, false)?,
            Err(e) => prop_assert!(ApiError::from(e.clone()).status().is_client_error(), "{e:?}"),
        }
        // The same value as each provider's expected top-level key, to get past the first checks.
        for key in ["workflow_run", "workflow_job", "object_attributes", "build", "subject", "data"] {
            let mut wrapped = Map::new();
            wrapped.insert(key.to_owned(), v.clone());
            wrapped.insert("object_kind".into(), "pipeline".into());
            wrapped.insert("repository".into(), serde_json::json!({"full_name": "acme/api"}));
            wrapped.insert("name".into(), "job".into());
            let body = Value::Object(wrapped).to_string();
            for parsed in parse_all(body.as_bytes(), &h) {
                well_formed(&parsed)?;
            }
        }
    }
}
