//! Property tests over every provider parser: no byte sequence and no JSON shape makes a parser
//! panic, and whatever a parser does record is a well-formed run (non-empty identity, times in
//! order, no negative duration) — the invariants the writer and the rollups rely on.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{cdevents, github, gitlab, jenkins, parse_time, Parsed};

fn now() -> DateTime<Utc> {
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

fn json() -> impl Strategy<Value = Value> {
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

/// Every parser over the same bytes.
fn parse_all(body: &[u8], headers: &HeaderMap) -> Vec<Parsed> {
    let mut out = Vec::new();
    for event in ["workflow_run", "workflow_job", "ping", "push"] {
        for ct in [None, Some("application/x-www-form-urlencoded")] {
            out.extend(github::parse(event, ct, body, now()).ok());
        }
    }
    for event in [None, Some("Pipeline Hook"), Some("Job Hook")] {
        out.extend(gitlab::parse(event, body, now()).ok());
    }
    out.extend(jenkins::parse(body, now()).ok());
    out.extend(cdevents::parse(headers, body, now()).ok());
    out
}

fn well_formed(parsed: &Parsed) -> Result<(), TestCaseError> {
    let Parsed::Records { runs, jobs } = parsed else {
        return Ok(());
    };
    let latest = now() + chrono::TimeDelta::hours(24);
    for r in runs {
        prop_assert!(
            !r.id.is_empty() && !r.repo.is_empty() && !r.workflow.is_empty(),
            "{r:?}"
        );
        prop_assert!(
            r.duration_seconds.is_none_or(|d| d.is_finite() && d >= 0.0),
            "{r:?}"
        );
        if let (Some(s), Some(f)) = (r.started_at, r.finished_at) {
            prop_assert!(f >= s, "{r:?}");
        }
        for t in [r.queued_at, r.started_at, r.finished_at].into_iter().flatten() {
            prop_assert!(t <= latest, "{r:?}");
        }
        prop_assert!(r.attempt.is_none_or(|a| a >= 1), "{r:?}");
    }
    for j in jobs {
        prop_assert!(!j.run_id.is_empty() && !j.id.is_empty(), "{j:?}");
        if let (Some(s), Some(f)) = (j.started_at, j.finished_at) {
            prop_assert!(f >= s, "{j:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_bytes_make_a_parser_panic(body in prop::collection::vec(any::<u8>(), 0..512), h in headers()) {
        for parsed in parse_all(&body, &h) {
            well_formed(&parsed)?;
        }
    }

    #[test]
    fn no_json_shape_makes_a_parser_panic_or_record_garbage(v in json(), h in headers()) {
        let body = v.to_string();
        for parsed in parse_all(body.as_bytes(), &h) {
            well_formed(&parsed)?;
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
