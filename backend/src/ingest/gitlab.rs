//! GitLab pipeline webhooks (`X-Gitlab-Event: Pipeline Hook`): one run per delivery, and one job per
//! entry of `builds`.
//!
//! A pipeline is identified as `gitlab:{project path}:{pipeline id}`; every hook about it (created,
//! running, finished, retried) updates the same run.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::{at, bounded, clean_job, clean_run, json_body, number, strings, text, time, Malformed, Parsed};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};

const PROVIDER: Provider = Provider::Gitlab;

/// Reads one delivery; `event` is the `X-Gitlab-Event` header.
///
/// Not JSON → [`Malformed`]. Other hooks (push, job, merge request…), bodies that are not objects and
/// pipeline events without a project path or pipeline id → [`Parsed::Ignored`], saying why.
pub fn parse(event: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let v = json_body(body)?;
    if let Some(event) = event.map(str::trim).filter(|e| !e.is_empty()) {
        if !event.eq_ignore_ascii_case("Pipeline Hook") {
            return Ok(ignored(format!(
                "X-Gitlab-Event is {}: only pipeline hooks are recorded",
                shown(event)
            )));
        }
    }
    if !v.is_object() {
        return Ok(ignored("the body is not a JSON object".to_owned()));
    }
    match text(&v, "object_kind") {
        Some(kind) if kind.eq_ignore_ascii_case("pipeline") => {}
        Some(kind) => {
            return Ok(ignored(format!(
                "object_kind is {}: only pipeline events are recorded",
                shown(&kind)
            )))
        }
        None => return Ok(ignored("no object_kind: not a pipeline event".to_owned())),
    }
    let Some(repo) = text(&v, "project/path_with_namespace") else {
        return Ok(ignored(
            "pipeline event without project.path_with_namespace".to_owned(),
        ));
    };
    let Some(pipeline_id) = text(&v, "object_attributes/id") else {
        return Ok(ignored("pipeline event without object_attributes.id".to_owned()));
    };
    let repo = bounded(repo);
    let pipeline_id = bounded(pipeline_id);
    let run_id = format!("{PROVIDER}:{repo}:{pipeline_id}");
    let web_url = url(&v, "project/web_url").map(|u| u.trim_end_matches('/').to_owned());

    let jobs = at(&v, "builds")
        .and_then(Value::as_array)
        .map(|builds| {
            builds
                .iter()
                .filter_map(|b| job(b, &run_id, web_url.as_deref(), now))
                .collect()
        })
        .unwrap_or_default();
    let run = run(&v, run_id, repo, &pipeline_id, web_url.as_deref(), now);
    Ok(Parsed::Records {
        runs: vec![run],
        jobs,
    })
}

/// A GitLab pipeline or job status (`pipeline.status`, `builds[].status`).
///
/// Unknown values (a status added by a later GitLab) map to [`RunStatus::Queued`]: the lowest stage,
/// which can never move a stored run backwards (the merge ignores events of a lower stage), while a
/// run first seen this way is at least recorded; the next hook with a known status corrects it.
fn status(s: Option<&str>) -> RunStatus {
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("running" | "canceling") => RunStatus::Running,
        Some("success") => RunStatus::Success,
        Some("failed") => RunStatus::Failure,
        Some("canceled" | "cancelled") => RunStatus::Cancelled,
        Some("skipped") => RunStatus::Skipped,
        // created, waiting_for_resource, preparing, pending, scheduled, manual, and anything else.
        _ => RunStatus::Queued,
    }
}

fn run(
    v: &Value,
    id: String,
    repo: String,
    pipeline_id: &str,
    web_url: Option<&str>,
    now: DateTime<Utc>,
) -> RunEvent {
    let status = status(text(v, "object_attributes/status").as_deref());
    let queued_at = time(v, "object_attributes/created_at");
    // A retried pipeline runs again with the finished_at and duration of its previous attempt still
    // set: they only count once the pipeline has finished again.
    let finished_at = time(v, "object_attributes/finished_at").filter(|_| status.is_terminal());
    let duration_seconds = number(v, "object_attributes/duration").filter(|_| status.is_terminal());
    let started_at = if status.stage() >= RunStatus::Running.stage() {
        started_at(v, queued_at, finished_at, duration_seconds)
    } else {
        None
    };
    let source = text(v, "object_attributes/source");
    let workflow = text(v, "object_attributes/name")
        .or_else(|| source.clone())
        .unwrap_or_else(|| "pipeline".to_owned());
    let url =
        url(v, "object_attributes/url").or_else(|| web_url.map(|w| format!("{w}/-/pipelines/{pipeline_id}")));
    let mut ev = RunEvent {
        id,
        provider: PROVIDER.as_str().to_owned(),
        repo,
        workflow: bounded(workflow),
        branch: text(v, "object_attributes/ref").map(bounded),
        commit_sha: text(v, "object_attributes/sha"),
        status,
        attempt: None,
        run_key: None,
        duration_seconds,
        queued_at,
        started_at,
        finished_at,
        triggered_by: source,
        url,
        metadata: metadata(v),
    };
    clean_run(&mut ev, now);
    ev
}

/// When the pipeline started. Pipeline hooks carry no `started_at`, so it is derived, most exact first:
/// 1. `started_at`, should a GitLab version send it;
/// 2. `created_at + queued_duration`: GitLab defines `queued_duration` as `started_at - created_at`
///    (in whole seconds), so this is exact, and the same in every hook about the pipeline;
/// 3. the earliest `builds[].started_at`: a pipeline starts when its first job does;
/// 4. `finished_at - duration`: only an estimate, as `duration` counts the time jobs ran, without the
///    gaps between them (a job waiting for a runner, a manual job), so it gives a start too late.
///
/// (`queued_duration` is also null when it was zero, so its absence proves nothing.)
fn started_at(
    v: &Value,
    queued_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration: Option<f64>,
) -> Option<DateTime<Utc>> {
    let after_queue =
        || queued_at?.checked_add_signed(seconds(number(v, "object_attributes/queued_duration")?)?);
    let first_build = || {
        at(v, "builds")?
            .as_array()?
            .iter()
            .filter_map(|b| time(b, "started_at"))
            .min()
    };
    let before_end = || finished_at?.checked_sub_signed(seconds(duration?)?);
    time(v, "object_attributes/started_at")
        .or_else(after_queue)
        .or_else(first_build)
        .or_else(before_end)
}

/// A non-negative number of seconds as a time span.
fn seconds(s: f64) -> Option<TimeDelta> {
    if !(s.is_finite() && s >= 0.0) {
        return None;
    }
    TimeDelta::try_milliseconds((s * 1000.0).round() as i64)
}

/// What is kept of the payload: the pipeline's attributes (variables by name only, as their values
/// may be secrets), who ran it, the project, and small summaries of the merge request and commit. The
/// whole commit, merge request and builds are left out: they are large, and the jobs are stored apart.
fn metadata(v: &Value) -> Value {
    let mut m = Map::new();
    if let Some(Value::Object(attrs)) = at(v, "object_attributes") {
        let mut attrs = attrs.clone();
        if let Some(vars) = attrs.get_mut("variables") {
            *vars = Value::from(
                vars.as_array()
                    .map(|a| a.iter().filter_map(|x| text(x, "key")).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
        }
        m.insert("object_attributes".into(), Value::Object(attrs));
    }
    let pick = |base: &str, keys: &[&str]| -> Option<Value> {
        let o: Map<String, Value> = keys
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), at(v, &format!("{base}/{k}"))?.clone())))
            .collect();
        (!o.is_empty()).then_some(Value::Object(o))
    };
    for (key, fields) in [
        ("user", &["username"][..]),
        ("project", &["path_with_namespace", "web_url"][..]),
        (
            "merge_request",
            &["iid", "title", "url", "source_branch", "target_branch"][..],
        ),
        ("commit", &["title", "url"][..]),
    ] {
        if let Some(o) = pick(key, fields) {
            m.insert(key.into(), o);
        }
    }
    if at(v, "object_attributes/tag").and_then(Value::as_bool) == Some(true) {
        m.insert("tag".into(), Value::Bool(true));
    }
    Value::Object(m)
}

/// One entry of `builds`; `None` without an id.
fn job(b: &Value, run_id: &str, web_url: Option<&str>, now: DateTime<Utc>) -> Option<JobEvent> {
    let id = bounded(text(b, "id")?);
    let status = status(text(b, "status").as_deref());
    let mut job = JobEvent {
        run_id: run_id.to_owned(),
        name: bounded(text(b, "name").unwrap_or_else(|| id.clone())),
        provider: PROVIDER.as_str().to_owned(),
        stage: text(b, "stage").map(bounded),
        status,
        queued_at: time(b, "created_at"),
        started_at: time(b, "started_at"),
        finished_at: time(b, "finished_at").filter(|_| status.is_terminal()),
        runner_name: text(b, "runner/description").map(bounded),
        runner_group: None,
        labels: strings(b, "runner/tags").into_iter().map(bounded).collect(),
        steps: Vec::new(),
        url: web_url.map(|w| format!("{w}/-/jobs/{id}")),
        failure_reason: text(b, "failure_reason"),
        id,
    };
    clean_job(&mut job, now);
    Some(job)
}

/// A url: a non-empty string (unlike [`text`], a number is not one).
fn url(v: &Value, path: &str) -> Option<String> {
    at(v, path)?.as_str().and_then(|_| text(v, path))
}

fn ignored(reason: String) -> Parsed {
    Parsed::Ignored(reason)
}

/// A sender's value quoted in a reason, cut short.
fn shown(s: &str) -> String {
    format!("{:?}", s.chars().take(64).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        super::super::parse_time("2025-08-27T12:00:00Z").unwrap()
    }

    fn t(s: &str) -> Option<DateTime<Utc>> {
        super::super::parse_time(s)
    }

    /// A finished pipeline as GitLab 17 sends it: " UTC" timestamps, a tag, runners with and without
    /// tags, a job that never ran, a failed job with its reason.
    const FAILED: &str = r#"{
      "object_kind": "pipeline",
      "object_attributes": {
        "id": 1983412,
        "iid": 412,
        "name": null,
        "ref": "v1.4.0",
        "tag": true,
        "sha": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "before_sha": "0000000000000000000000000000000000000000",
        "source": "push",
        "status": "failed",
        "detailed_status": "failed",
        "stages": ["build", "test", "deploy"],
        "created_at": "2025-08-27 06:00:00 UTC",
        "finished_at": "2025-08-27 06:09:30 UTC",
        "duration": 480,
        "queued_duration": 12,
        "url": "https://gitlab.example.com/acme/platform/api/-/pipelines/1983412",
        "variables": [{"key": "DEPLOY_TOKEN", "value": "hunter2"}]
      },
      "merge_request": null,
      "user": {"id": 1, "name": "Ada Lovelace", "username": "ada", "email": "ada@example.com",
               "avatar_url": "https://gitlab.example.com/uploads/ada.png"},
      "project": {
        "id": 42,
        "name": "api",
        "path_with_namespace": "acme/platform/api",
        "web_url": "https://gitlab.example.com/acme/platform/api",
        "default_branch": "main"
      },
      "commit": {
        "id": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "message": "Release 1.4.0\n\nLong description that nobody needs in the metadata.",
        "title": "Release 1.4.0",
        "timestamp": "2025-08-27T05:59:00+00:00",
        "url": "https://gitlab.example.com/acme/platform/api/-/commit/bcbb5ec3",
        "author": {"name": "Ada Lovelace", "email": "ada@example.com"}
      },
      "builds": [
        {
          "id": 380,
          "stage": "build",
          "name": "compile",
          "status": "success",
          "created_at": "2025-08-27 06:00:00 UTC",
          "started_at": "2025-08-27 06:00:12 UTC",
          "finished_at": "2025-08-27 06:03:12 UTC",
          "duration": 180.25,
          "queued_duration": 12.1,
          "failure_reason": null,
          "when": "on_success",
          "manual": false,
          "allow_failure": false,
          "user": {"username": "ada"},
          "runner": {"id": 7, "description": "shared-runner-3", "runner_type": "instance_type",
                     "active": true, "is_shared": true, "tags": ["docker", "linux", 5, ""]},
          "artifacts_file": {"filename": null, "size": null},
          "environment": null
        },
        {
          "id": "381",
          "stage": "test",
          "name": "rspec 1/2",
          "status": "failed",
          "created_at": "2025-08-27 06:00:00 UTC",
          "started_at": "2025-08-27 06:04:00 UTC",
          "finished_at": "2025-08-27 06:09:30 UTC",
          "duration": 330,
          "queued_duration": 48,
          "failure_reason": "script_failure",
          "runner": {"id": 8, "description": "group-runner", "tags": []}
        },
        {
          "id": 382,
          "stage": "deploy",
          "name": "deploy",
          "status": "skipped",
          "created_at": "2025-08-27 06:00:00 UTC",
          "started_at": null,
          "finished_at": null,
          "duration": null,
          "queued_duration": null,
          "failure_reason": null,
          "runner": null
        },
        {"stage": "test", "name": "no id", "status": "success"}
      ]
    }"#;

    fn records(parsed: Parsed) -> (Vec<RunEvent>, Vec<JobEvent>) {
        match parsed {
            Parsed::Records { runs, jobs } => (runs, jobs),
            Parsed::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    fn one_run(event: Option<&str>, body: &Value) -> RunEvent {
        let (mut runs, _) = records(parse(event, body.to_string().as_bytes(), now()).unwrap());
        assert_eq!(runs.len(), 1);
        runs.remove(0)
    }

    fn failed() -> Value {
        serde_json::from_str(FAILED).unwrap()
    }

    fn ignored_reason(event: Option<&str>, body: &str) -> String {
        match parse(event, body.as_bytes(), now()).unwrap() {
            Parsed::Ignored(why) => why,
            other => panic!("expected ignored, got {other:?}"),
        }
    }

    #[test]
    fn a_finished_tag_pipeline_maps_to_one_run() {
        let (runs, _) = records(parse(Some("Pipeline Hook"), FAILED.as_bytes(), now()).unwrap());
        let [run] = &runs[..] else {
            panic!("one run expected")
        };
        assert_eq!(run.id, "gitlab:acme/platform/api:1983412");
        assert_eq!(run.provider, "gitlab");
        assert_eq!(run.repo, "acme/platform/api");
        assert_eq!(run.workflow, "push", "null name falls back to the source");
        assert_eq!(run.branch.as_deref(), Some("v1.4.0"));
        assert_eq!(
            run.commit_sha.as_deref(),
            Some("bcbb5ec396a2c0f828686f14fac9b80b780504f2")
        );
        assert_eq!(run.status, RunStatus::Failure);
        assert_eq!(run.attempt, None);
        assert_eq!(run.queued_at, t("2025-08-27T06:00:00Z"));
        assert_eq!(
            run.started_at,
            t("2025-08-27T06:00:12Z"),
            "created_at + queued_duration"
        );
        assert_eq!(run.finished_at, t("2025-08-27T06:09:30Z"));
        assert_eq!(run.duration_seconds, Some(480.0));
        assert_eq!(run.triggered_by.as_deref(), Some("push"));
        assert_eq!(
            run.url.as_deref(),
            Some("https://gitlab.example.com/acme/platform/api/-/pipelines/1983412")
        );
    }

    #[test]
    fn metadata_is_compact_and_keeps_no_secrets() {
        let run = one_run(None, &failed());
        let m = &run.metadata;
        assert_eq!(m["tag"], true);
        assert_eq!(m["user"], json!({"username": "ada"}));
        assert_eq!(
            m["project"],
            json!({"path_with_namespace": "acme/platform/api",
                   "web_url": "https://gitlab.example.com/acme/platform/api"})
        );
        assert_eq!(m["object_attributes"]["iid"], 412);
        assert_eq!(
            m["object_attributes"]["stages"],
            json!(["build", "test", "deploy"])
        );
        assert_eq!(m["object_attributes"]["variables"], json!(["DEPLOY_TOKEN"]));
        assert_eq!(
            m["commit"],
            json!({"title": "Release 1.4.0",
                   "url": "https://gitlab.example.com/acme/platform/api/-/commit/bcbb5ec3"})
        );
        assert!(m.get("merge_request").is_none(), "null merge_request is left out");
        assert!(m.get("builds").is_none());
        assert!(m.get("cleaned").is_none());
        let stored = m.to_string();
        assert!(!stored.contains("hunter2"));
        assert!(!stored.contains("ada@example.com"));
        assert!(!stored.contains("Long description"));
    }

    #[test]
    fn builds_become_jobs() {
        let (_, jobs) = records(parse(Some("Pipeline Hook"), FAILED.as_bytes(), now()).unwrap());
        assert_eq!(jobs.len(), 3, "the build without an id is skipped");
        let run_id = "gitlab:acme/platform/api:1983412";
        assert!(jobs.iter().all(|j| j.run_id == run_id && j.provider == "gitlab"));

        let compile = &jobs[0];
        assert_eq!(compile.id, "380");
        assert_eq!(compile.name, "compile");
        assert_eq!(compile.stage.as_deref(), Some("build"));
        assert_eq!(compile.status, RunStatus::Success);
        assert_eq!(compile.queued_at, t("2025-08-27T06:00:00Z"));
        assert_eq!(compile.started_at, t("2025-08-27T06:00:12Z"));
        assert_eq!(compile.finished_at, t("2025-08-27T06:03:12Z"));
        assert_eq!(compile.runner_name.as_deref(), Some("shared-runner-3"));
        assert_eq!(compile.runner_group, None);
        assert_eq!(compile.labels, ["docker", "linux"]);
        assert!(compile.steps.is_empty());
        assert_eq!(
            compile.url.as_deref(),
            Some("https://gitlab.example.com/acme/platform/api/-/jobs/380")
        );
        assert_eq!(compile.failure_reason, None);

        let rspec = &jobs[1];
        assert_eq!(rspec.id, "381", "string ids are kept");
        assert_eq!(rspec.status, RunStatus::Failure);
        assert_eq!(rspec.failure_reason.as_deref(), Some("script_failure"));
        assert!(rspec.labels.is_empty());

        let deploy = &jobs[2];
        assert_eq!(deploy.status, RunStatus::Skipped);
        assert_eq!(deploy.runner_name, None, "runner: null");
        assert!(deploy.labels.is_empty());
        assert_eq!((deploy.started_at, deploy.finished_at), (None, None));
    }

    /// A pipeline that is still running: GitLab already sends `builds`, a stale `duration` from an
    /// earlier attempt, no `finished_at`; the start comes from the first job.
    #[test]
    fn a_running_pipeline_has_a_start_but_no_end() {
        let body = json!({
            "object_kind": "pipeline",
            "object_attributes": {
                "id": "77", "name": "Nightly build", "ref": "main", "tag": false, "sha": "abc",
                "source": "schedule", "status": "running",
                "created_at": "2025-08-27 06:00:00 UTC", "finished_at": "2025-08-27 05:00:00 UTC",
                "duration": 99, "queued_duration": null, "url": null
            },
            "user": {"username": "scheduler"},
            "project": {"path_with_namespace": "acme/web", "web_url": "https://gitlab.com/acme/web/"},
            "builds": [
                {"id": 2, "name": "b", "status": "running", "created_at": "2025-08-27 06:00:00 UTC",
                 "started_at": "2025-08-27 06:02:00 UTC", "runner": {"description": "r", "tags": null}},
                {"id": 1, "name": "a", "status": "success", "created_at": "2025-08-27 06:00:00 UTC",
                 "started_at": "2025-08-27 06:00:30 UTC", "finished_at": "2025-08-27 06:01:30 UTC"},
                {"id": 3, "name": "c", "status": "created", "created_at": "2025-08-27 06:00:00 UTC"}
            ]
        });
        let run = one_run(Some("Pipeline Hook"), &body);
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(
            run.workflow, "Nightly build",
            "the pipeline's name wins over the source"
        );
        assert_eq!(run.triggered_by.as_deref(), Some("schedule"));
        assert_eq!(run.started_at, t("2025-08-27T06:00:30Z"), "earliest job start");
        assert_eq!(run.finished_at, None, "finished_at only counts once finished");
        assert_eq!(
            run.duration_seconds, None,
            "a running pipeline's duration is stale"
        );
        assert_eq!(run.metadata.get("tag"), None);
        assert_eq!(
            run.url.as_deref(),
            Some("https://gitlab.com/acme/web/-/pipelines/77"),
            "url built from the project's web_url"
        );
        assert_eq!(run.id, "gitlab:acme/web:77");
    }

    #[test]
    fn the_start_is_derived_from_the_end_only_as_a_last_resort() {
        let mut body = failed();
        body["object_attributes"]["queued_duration"] = Value::Null;
        let run = one_run(None, &body);
        assert_eq!(run.started_at, t("2025-08-27T06:00:12Z"), "first build's start");

        body["builds"] = Value::Null;
        body["object_attributes"]["duration"] = json!("90.5");
        let run = one_run(None, &body);
        assert_eq!(run.duration_seconds, Some(90.5), "numbers as strings are read");
        assert_eq!(
            run.started_at,
            t("2025-08-27T06:07:59.500Z"),
            "finished_at - duration"
        );

        body["object_attributes"]["duration"] = Value::Null;
        let run = one_run(None, &body);
        assert_eq!(run.started_at, None);
        assert_eq!(run.duration_seconds, None);
    }

    #[test]
    fn a_queued_pipeline_has_no_start() {
        let mut body = failed();
        body["object_attributes"]["status"] = json!("pending");
        let run = one_run(None, &body);
        assert_eq!(run.status, RunStatus::Queued);
        assert_eq!(run.queued_at, t("2025-08-27T06:00:00Z"));
        assert_eq!(
            (run.started_at, run.finished_at, run.duration_seconds),
            (None, None, None)
        );
    }

    #[test]
    fn every_status_maps() {
        let cases = [
            ("created", RunStatus::Queued),
            ("waiting_for_resource", RunStatus::Queued),
            ("preparing", RunStatus::Queued),
            ("pending", RunStatus::Queued),
            ("scheduled", RunStatus::Queued),
            ("manual", RunStatus::Queued),
            ("running", RunStatus::Running),
            ("canceling", RunStatus::Running),
            ("success", RunStatus::Success),
            ("failed", RunStatus::Failure),
            ("canceled", RunStatus::Cancelled),
            ("cancelled", RunStatus::Cancelled),
            ("skipped", RunStatus::Skipped),
            ("SUCCESS", RunStatus::Success),
            ("exploded", RunStatus::Queued),
            ("", RunStatus::Queued),
        ];
        for (gitlab, want) in cases {
            let mut body = failed();
            body["object_attributes"]["status"] = json!(gitlab);
            body["builds"][0]["status"] = json!(gitlab);
            let (runs, jobs) = records(parse(None, body.to_string().as_bytes(), now()).unwrap());
            assert_eq!(runs[0].status, want, "pipeline status {gitlab:?}");
            assert_eq!(jobs[0].status, want, "job status {gitlab:?}");
        }
        let mut body = failed();
        body["object_attributes"]["status"] = Value::Null;
        assert_eq!(one_run(None, &body).status, RunStatus::Queued);
    }

    #[test]
    fn other_hooks_are_ignored_with_a_reason() {
        assert!(ignored_reason(Some("Job Hook"), FAILED).contains("\"Job Hook\""));
        assert!(ignored_reason(Some("Push Hook"), r#"{"object_kind":"push"}"#).contains("Push Hook"));
        assert!(ignored_reason(None, r#"{"object_kind":"build","build_id":1}"#).contains("\"build\""));
        assert!(ignored_reason(Some("Pipeline Hook"), r#"{"object_kind":"push"}"#).contains("push"));
        assert!(ignored_reason(None, r#"{"object_attributes":{"id":1}}"#).contains("object_kind"));
        assert!(ignored_reason(None, "[1, 2]").contains("not a JSON object"));
        assert!(ignored_reason(None, "null").contains("not a JSON object"));

        let mut body = failed();
        body["project"]["path_with_namespace"] = json!("  ");
        assert!(ignored_reason(None, &body.to_string()).contains("path_with_namespace"));
        let mut body = failed();
        body["object_attributes"]["id"] = Value::Null;
        assert!(ignored_reason(None, &body.to_string()).contains("object_attributes.id"));

        // The header is compared loosely; an empty header counts as absent.
        assert!(matches!(
            parse(Some(" pipeline hook "), FAILED.as_bytes(), now()),
            Ok(Parsed::Records { .. })
        ));
        assert!(matches!(
            parse(Some(""), FAILED.as_bytes(), now()),
            Ok(Parsed::Records { .. })
        ));
        let long = "x".repeat(10_000);
        assert!(ignored_reason(Some(&long), FAILED).len() < 200);
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed() {
        assert!(parse(Some("Pipeline Hook"), b"object_kind=pipeline", now()).is_err());
        assert!(parse(None, b"", now()).is_err());
        assert!(parse(None, b"{\"object_kind\":", now()).is_err());
    }

    #[test]
    fn absurd_values_are_cleaned_not_rejected() {
        let mut body = failed();
        body["object_attributes"]["finished_at"] = json!("2031-01-01 00:00:00 UTC");
        body["object_attributes"]["duration"] = json!(-3);
        body["object_attributes"]["created_at"] = json!("not a time");
        body["builds"][0]["started_at"] = json!("1970-01-01 00:00:00 UTC");
        let (runs, jobs) = records(parse(None, body.to_string().as_bytes(), now()).unwrap());
        let run = &runs[0];
        assert_eq!(run.finished_at, None);
        assert_eq!(run.duration_seconds, None);
        assert_eq!(run.queued_at, None);
        // The 1970 start of the first build became the pipeline's start before cleaning dropped it.
        assert_eq!(run.started_at, None);
        assert_eq!(run.metadata["cleaned"].as_array().map(Vec::len), Some(3));
        assert_eq!(jobs[0].started_at, None);
    }

    #[test]
    fn long_names_are_bounded() {
        let mut body = failed();
        body["object_attributes"]["name"] = json!("n".repeat(1000));
        body["object_attributes"]["ref"] = json!("r".repeat(1000));
        body["builds"][0]["name"] = json!("j".repeat(1000));
        let (runs, jobs) = records(parse(None, body.to_string().as_bytes(), now()).unwrap());
        assert_eq!(runs[0].workflow.len(), super::super::MAX_NAME);
        assert_eq!(
            runs[0].branch.as_ref().map(String::len),
            Some(super::super::MAX_NAME)
        );
        assert_eq!(jobs[0].name.len(), super::super::MAX_NAME);
    }

    #[test]
    fn wrongly_typed_fields_count_as_absent() {
        let body = json!({
            "object_kind": "pipeline",
            "object_attributes": {"id": 5, "status": 3, "ref": ["main"], "created_at": 1_700_000_000,
                                  "tag": "yes", "name": "  "},
            "project": {"path_with_namespace": "g/p", "web_url": 7},
            "user": "ada",
            "builds": {"id": 1}
        });
        let (runs, jobs) = records(parse(None, body.to_string().as_bytes(), now()).unwrap());
        let run = &runs[0];
        assert_eq!(run.status, RunStatus::Queued);
        assert_eq!(run.branch, None);
        assert_eq!(run.queued_at, None);
        assert_eq!(run.workflow, "pipeline", "no name and no source");
        assert_eq!(run.url, None);
        assert_eq!(run.metadata.get("tag"), None);
        assert_eq!(run.metadata.get("user"), None);
        assert!(jobs.is_empty());
    }
}
