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
        Parsed::Records { runs, jobs, .. } => (runs, jobs),
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
    // Queued `queued_duration` (12.1 s) before it started.
    assert_eq!(compile.queued_at, t("2025-08-27T05:59:59.900Z"));
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
    assert!(ignored_reason(Some("Merge Request Hook"), FAILED).contains("\"Merge Request Hook\""));
    assert!(ignored_reason(Some("Tag Push Hook"), r#"{"object_kind":"tag_push"}"#).contains("Tag Push Hook"));
    assert!(ignored_reason(Some("Push Hook"), r#"{"object_kind":"push"}"#).contains("push hook without"));
    assert!(ignored_reason(None, r#"{"object_kind":"build","build_id":1}"#).contains("project"));
    assert!(ignored_reason(Some("Pipeline Hook"), r#"{"object_kind":"note"}"#).contains("note"));
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

/// A job hook as GitLab documents it (`object_kind: build`), with the runner's tags and the time it
/// waited for a runner.
const JOB_HOOK: &str = r#"{
  "object_kind": "build",
  "ref": "main",
  "tag": false,
  "before_sha": "2293ada6b400935a1378653304eaf6221e0fdb8f",
  "sha": "2293ada6b400935a1378653304eaf6221e0fdb8f",
  "build_id": 1977,
  "build_name": "rspec:linux",
  "build_stage": "test",
  "build_status": "failed",
  "build_created_at": "2025-08-27 06:00:00 UTC",
  "build_started_at": "2025-08-27 06:10:00 UTC",
  "build_finished_at": "2025-08-27 06:14:00 UTC",
  "build_duration": 240.0,
  "build_queued_duration": 95.5,
  "build_allow_failure": false,
  "build_failure_reason": "script_failure",
  "retries_count": 0,
  "pipeline_id": 2366,
  "project_id": 380,
  "project_name": "Gitlab Org / Gitlab Test",
  "user": {"id": 3, "name": "User", "username": "user", "email": "user@gitlab.com"},
  "commit": {"id": 2366, "name": "Build pipeline", "sha": "2293ada6b400935a1378653304eaf6221e0fdb8f",
             "message": "test\n", "status": "failed", "duration": null, "started_at": null, "finished_at": null},
  "repository": {"name": "gitlab_test", "homepage": "https://gitlab.example.com/gitlab-org/gitlab-test"},
  "project": {"id": 380, "name": "Gitlab Test", "web_url": "https://gitlab.example.com/gitlab-org/gitlab-test",
              "path_with_namespace": "gitlab-org/gitlab-test", "default_branch": "main"},
  "runner": {"active": true, "runner_type": "project_type", "is_shared": false, "id": 380987,
             "description": "shared-runners-manager-6.gitlab.com", "tags": ["Linux", "docker"]},
  "environment": null
}"#;

#[test]
fn job_hooks_are_jobs_of_their_pipeline_with_their_queue_time() {
    let Parsed::Records { runs, jobs, .. } = parse(Some("Job Hook"), JOB_HOOK.as_bytes(), now()).unwrap()
    else {
        panic!("not recorded");
    };
    assert!(runs.is_empty());
    let [job] = &jobs[..] else { panic!("{jobs:?}") };
    assert_eq!(job.run_id, "gitlab:gitlab-org/gitlab-test:2366");
    assert_eq!(job.id, "1977");
    assert_eq!(job.name, "rspec:linux");
    assert_eq!(job.stage.as_deref(), Some("test"));
    assert_eq!(job.status, RunStatus::Failure);
    assert_eq!(job.started_at, t("2025-08-27T06:10:00Z"));
    // Queued 95.5 s before it started, not since its creation (its stage waited before that).
    assert_eq!(job.queued_at, t("2025-08-27T06:08:24.500Z"));
    assert_eq!(job.finished_at, t("2025-08-27T06:14:00Z"));
    assert_eq!(job.labels, ["docker", "linux"]);
    assert_eq!(
        job.runner_name.as_deref(),
        Some("shared-runners-manager-6.gitlab.com")
    );
    assert_eq!(job.failure_reason.as_deref(), Some("script_failure"));
    assert_eq!(
        job.url.as_deref(),
        Some("https://gitlab.example.com/gitlab-org/gitlab-test/-/jobs/1977")
    );
    // Without the pipeline it belongs to, a job cannot be recorded.
    let mut v: Value = serde_json::from_str(JOB_HOOK).unwrap();
    v.as_object_mut().unwrap().remove("pipeline_id");
    assert!(matches!(
        parse(Some("Job Hook"), v.to_string().as_bytes(), now()).unwrap(),
        Parsed::Ignored(r) if r.contains("pipeline_id")
    ));
}
