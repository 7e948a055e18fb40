//! Property tests with payloads shaped like each format (GitHub `workflow_run`/`workflow_job`,
//! GitLab pipeline hooks, Jenkins notifications, CDEvents in the three CloudEvents modes, and the
//! generic event): the right keys at the right places, holding arbitrary values (absurd times,
//! huge numbers, long strings, wrong types). A payload that carries a repository and an id is
//! recorded, never ignored, and whatever is recorded is well-formed (see [`super`]).
//!
//! Case counts: `PROPTEST_CASES` (default 256 here; `make fuzz` runs 200,000).

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{cases, now, well_formed, well_formed_run};
use crate::domain::limits::MAX_JSON_DEPTH;
use crate::error::ApiError;
use crate::ingest::{cdevents, generic, github, gitlab, jenkins, Parsed};

/// A string: a usual value, a short random one, or one past the stored limits.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "success", "failure", "completed", "in_progress", "queued", "cancelled", "skipped",
            "neutral", "timed_out", "startup_failure", "running", "failed", "canceled", "manual",
            "SUCCESS", "FAILURE", "UNSTABLE", "ABORTED", "NOT_BUILT", "COMPLETED", "FINALIZED",
            "STARTED", "QUEUED", "error", "cancel", "", " ", "origin/main", "main",
        ]).prop_map(str::to_owned),
        2 => ".{0,24}",
        1 => "[a-z0-9/._-]{200,700}",
        1 => "(https?://)?[a-z./]{1,40}",
    ]
}

/// A time in any of the forms providers send, in or far out of range, or something else.
fn time() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1990i32..2035, 1u32..13, 1u32..29, 0u32..24, 0u32..60).prop_map(|(y, mo, d, h, mi)| {
            Value::from(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z"))
        }),
        (2015i32..2027, 1u32..13, 1u32..29, 0u32..24)
            .prop_map(|(y, mo, d, h)| { Value::from(format!("{y:04}-{mo:02}-{d:02} {h:02}:00:00 UTC")) }),
        (-1_000_000_000_000_000i64..10_000_000_000_000i64).prop_map(Value::from),
        string().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// A number as providers send them (or not).
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e12).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (0u32..100_000).prop_map(|n| Value::from(n.to_string())),
        string().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1u64..u64::MAX).prop_map(Value::from),
        "[0-9]{1,12}".prop_map(Value::from),
        "[a-z0-9-]{300,600}".prop_map(Value::from),
    ]
}

fn repo() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,10}/[a-z]{1,10}",
        "[a-z]{1,10}/[a-z]{1,10}/[a-z]{1,10}",
        "[a-z/]{250,400}",
    ]
}

fn github_run() -> impl Strategy<Value = Value> {
    (
        (id(), number(), string(), string(), string(), string()),
        (time(), time(), time(), string(), string(), string()),
    )
        .prop_map(
            |(
                (id, attempt, name, status, conclusion, branch),
                (created, started, updated, sha, url, event),
            )| {
                json!({"id": id, "run_attempt": attempt, "name": name, "status": status,
                       "conclusion": conclusion, "head_branch": branch, "head_sha": sha,
                       "created_at": created, "run_started_at": started, "updated_at": updated,
                       "html_url": url, "event": event, "path": ".github/workflows/ci.yml"})
            },
        )
}

fn github_job() -> impl Strategy<Value = Value> {
    let step = (string(), string(), string(), time(), time()).prop_map(|(name, status, conclusion, s, f)| {
        json!({"name": name, "status": status, "conclusion": conclusion, "number": 1,
               "started_at": s, "completed_at": f})
    });
    (
        (id(), id(), number(), string(), string(), string()),
        (time(), time(), time()),
        prop::collection::vec(string(), 0..80),
        prop::collection::vec(step, 0..4),
        (string(), string()),
    )
        .prop_map(
            |(
                (id, run_id, attempt, name, status, conclusion),
                (created, started, completed),
                labels,
                steps,
                (runner, group),
            )| {
                json!({"id": id, "run_id": run_id, "run_attempt": attempt, "name": name,
                       "status": status, "conclusion": conclusion, "created_at": created,
                       "started_at": started, "completed_at": completed, "labels": labels,
                       "steps": steps, "runner_name": runner, "runner_group_name": group})
            },
        )
}

fn gitlab_pipeline() -> impl Strategy<Value = Value> {
    let build = (
        id(),
        string(),
        string(),
        string(),
        time(),
        time(),
        time(),
        number(),
        string(),
    )
        .prop_map(
            |(id, stage, name, status, created, started, finished, duration, reason)| {
                json!({"id": id, "stage": stage, "name": name, "status": status, "created_at": created,
                   "started_at": started, "finished_at": finished, "duration": duration,
                   "failure_reason": reason, "runner": {"description": "r", "tags": ["docker"]}})
            },
        );
    (
        (repo(), id(), string(), string(), string(), string()),
        (time(), time(), number(), number()),
        prop::collection::vec(build, 0..4),
    )
        .prop_map(
            |((repo, id, name, status, branch, sha), (created, finished, duration, queued), builds)| {
                json!({"object_kind": "pipeline",
                       "object_attributes": {"id": id, "name": name, "ref": branch, "sha": sha,
                           "status": status, "created_at": created, "finished_at": finished,
                           "duration": duration, "queued_duration": queued, "source": "push"},
                       "project": {"path_with_namespace": repo, "web_url": "https://gitlab.com/x"},
                       "user": {"username": "u"}, "builds": builds})
            },
        )
}

fn jenkins_notification() -> impl Strategy<Value = Value> {
    (
        (string(), number(), string(), string()),
        (time(), number(), string(), string()),
    )
        .prop_map(
            |((name, number, phase, status), (timestamp, duration, scm_url, branch))| {
                json!({"name": name, "url": "job/x/", "build": {"full_url": "https://ci/job/x/1/",
                   "number": number, "phase": phase, "status": status, "timestamp": timestamp,
                   "duration": duration, "scm": {"url": scm_url, "branch": branch, "commit": "abc"}}})
            },
        )
}

fn cdevent() -> impl Strategy<Value = Value> {
    let ty = prop::sample::select(vec![
        "dev.cdevents.pipelinerun.queued.0.2.0",
        "dev.cdevents.pipelinerun.started.0.3.0",
        "dev.cdevents.pipelinerun.finished.0.2.0",
        "dev.cdevents.pipelinerun.finished.0.3.0",
        "dev.cdevents.taskrun.started.0.2.0",
        "dev.cdevents.taskrun.finished.0.3.0",
        "dev.cdevents.build.finished.0.1.0",
    ]);
    (
        ty,
        string(),
        string(),
        time(),
        (string(), string(), string(), repo()),
    )
        .prop_map(|(ty, source, subject, ts, (pipeline, outcome, task, repo))| {
            json!({"context": {"version": "0.4.1", "specversion": "0.5.0", "id": "e1",
                       "source": source, "type": ty, "timestamp": ts},
                   "subject": {"id": subject, "source": source, "type": "pipelineRun",
                       "content": {"pipelineName": pipeline, "outcome": outcome, "url": "https://x",
                           "taskName": task, "pipelineRun": {"id": subject}}},
                   "customData": {"repo": repo}})
        })
}

fn generic_event() -> impl Strategy<Value = Value> {
    (
        (string(), string(), string(), string(), number()),
        (time(), time(), time()),
        (string(), string(), number(), string()),
        prop_oneof![Just(Value::Null), Just(json!({"runner": "x"})), super::json()],
    )
        .prop_map(
            |(
                (id, workflow, repo, status, duration),
                (queued, started, finished),
                (branch, url, attempt, sha),
                meta,
            )| {
                json!({"id": id, "workflow": workflow, "repo": repo, "status": status,
                       "duration_seconds": duration, "queued_at": queued, "started_at": started,
                       "finished_at": finished, "branch": branch, "url": url, "attempt": attempt,
                       "commit_sha": sha, "meta": meta})
            },
        )
}

fn recorded(parsed: &Parsed) -> bool {
    matches!(parsed, Parsed::Records { runs, jobs, tests, delivery }
        if !(runs.is_empty() && jobs.is_empty() && tests.is_empty() && delivery.is_empty()))
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn github_runs_and_jobs_are_recorded_well_formed(run in github_run(), job in github_job(), repo in repo()) {
        let form = |v: &Value| format!("payload={}", form_urlencoded::byte_serialize(v.to_string().as_bytes()).collect::<String>());
        for (event, key, object) in [("workflow_run", "workflow_run", &run), ("workflow_job", "workflow_job", &job)] {
            let payload = json!({"action": "completed", key: object, "repository": {"full_name": repo}});
            for (ct, body) in [(None, payload.to_string()), (Some("application/x-www-form-urlencoded"), form(&payload))] {
                let parsed = github::parse(event, ct, body.as_bytes(), now()).expect("a JSON object");
                prop_assert!(recorded(&parsed), "{parsed:?}");
                well_formed(&parsed)?;
            }
        }
    }

    #[test]
    fn gitlab_pipelines_are_recorded_well_formed(p in gitlab_pipeline()) {
        let parsed = gitlab::parse(Some("Pipeline Hook"), p.to_string().as_bytes(), now()).expect("JSON");
        prop_assert!(recorded(&parsed), "{parsed:?}");
        well_formed(&parsed)?;
    }

    #[test]
    fn jenkins_notifications_never_record_garbage(n in jenkins_notification()) {
        if let Ok(parsed) = jenkins::parse(n.to_string().as_bytes(), now()) {
            well_formed(&parsed)?;
        }
    }

    #[test]
    fn cdevents_in_every_mode_never_record_garbage(ev in cdevent()) {
        let ct = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static(v));
            h
        };
        let structured = json!({"specversion": "1.0", "id": "1", "source": "s",
            "type": ev["context"]["type"].clone(), "data": ev.clone()});
        let bodies = [
            (ct("application/json"), ev.to_string()),
            (ct("application/cloudevents+json"), structured.to_string()),
            (ct("application/cloudevents-batch+json"), json!([structured.clone(), structured.clone()]).to_string()),
        ];
        for (headers, body) in bodies {
            if let Ok(parsed) = cdevents::parse(&headers, body.as_bytes(), now()) {
                well_formed(&parsed)?;
            }
        }
    }

    #[test]
    fn generic_events_are_valid_or_refused_with_a_4xx(ev in generic_event()) {
        let body = ev.to_string();
        match generic::parse(body.as_bytes()) {
            Ok(run) => {
                well_formed_run(&run, false)?;
                prop_assert!(run.metadata.is_object());
            }
            Err(e) => prop_assert!(ApiError::from(e.clone()).status().is_client_error(), "{e:?}"),
        }
        // The same event as a batch item.
        match generic::from_value(ev, "[0].") {
            Ok(run) => well_formed_run(&run, false)?,
            Err(e) => prop_assert!(ApiError::from(e.clone()).status().is_client_error(), "{e:?}"),
        }
    }

    #[test]
    fn generic_bodies_of_any_bytes_or_depth_are_refused_with_a_4xx(
        body in prop::collection::vec(any::<u8>(), 0..512),
        depth in 0..(3 * MAX_JSON_DEPTH),
    ) {
        if let Err(e) = generic::parse(&body) {
            prop_assert!(ApiError::from(e.clone()).status().is_client_error(), "{e:?}");
        }
        let nested = format!(r#"{{"id":"x","repo":"r","workflow":"w","status":"success","meta":{{"a":{}1{}}}}}"#,
            "[".repeat(depth), "]".repeat(depth));
        let parsed = generic::parse(nested.as_bytes());
        prop_assert_eq!(parsed.is_ok(), depth + 2 <= MAX_JSON_DEPTH, "{:?}", parsed);
    }
}
