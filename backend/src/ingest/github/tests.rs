use super::*;

fn now() -> DateTime<Utc> {
    super::super::parse_time("2025-08-27T12:00:00Z").unwrap()
}

/// A `workflow_run` delivery shaped like GitHub's documentation (trimmed of fields we ignore).
fn workflow_run(action: &str, status: &str, conclusion: Value, attempt: i64) -> Value {
    json!({
        "action": action,
        "workflow_run": {
            "id": 30433642, "name": "Build", "display_title": "Update README", "run_number": 562,
            "run_attempt": attempt, "path": ".github/workflows/build.yml", "workflow_id": 159038,
            "head_branch": "main", "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "event": "push", "status": status, "conclusion": conclusion,
            "created_at": "2025-08-27T06:00:00Z", "run_started_at": "2025-08-27T06:00:20Z",
            "updated_at": "2025-08-27T06:04:00Z",
            "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642",
            "actor": {"login": "octocat"}, "triggering_actor": {"login": "octocat"},
            "pull_requests": [],
            "repository": {"full_name": "octo-org/octo-repo"}
        },
        "workflow": {"name": "Build", "path": ".github/workflows/build.yml"},
        "repository": {"full_name": "octo-org/octo-repo", "private": false},
        "sender": {"login": "octocat"}
    })
}

fn run_of(event: &str, payload: &Value) -> RunEvent {
    match parse(
        event,
        Some("application/json"),
        payload.to_string().as_bytes(),
        now(),
    )
    .unwrap()
    {
        Parsed::Records { mut runs, jobs, .. } if jobs.is_empty() && runs.len() == 1 => runs.remove(0),
        other => panic!("expected one run, got {other:?}"),
    }
}

#[test]
fn the_documented_signature_vector_verifies() {
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(signature_matches(
        b"It's a Secret to Everybody",
        b"Hello, World!",
        sig
    ));
    assert!(!signature_matches(
        b"It's a Secret to Everybody",
        b"Hello, World?",
        sig
    ));
    assert!(!signature_matches(b"another secret", b"Hello, World!", sig));
    assert!(!signature_matches(
        b"It's a Secret to Everybody",
        b"Hello, World!",
        &sig[7..]
    ));
    assert!(!signature_matches(
        b"It's a Secret to Everybody",
        b"Hello, World!",
        "sha256=zz"
    ));
    assert!(!signature_matches(
        b"It's a Secret to Everybody",
        b"Hello, World!",
        "sha1=757107"
    ));
}

#[test]
fn a_completed_run_maps_every_field() {
    let ev = run_of(
        "workflow_run",
        &workflow_run("completed", "completed", json!("success"), 1),
    );
    assert_eq!(ev.id, "github:octo-org/octo-repo:30433642:1");
    assert_eq!(ev.provider, "github");
    assert_eq!(ev.repo, "octo-org/octo-repo");
    assert_eq!(ev.workflow, "Build");
    assert_eq!(ev.branch.as_deref(), Some("main"));
    assert_eq!(
        ev.commit_sha.as_deref(),
        Some("acb5820ced9479c074f688cc328bf03f341a511d")
    );
    assert_eq!(ev.status, RunStatus::Success);
    assert_eq!(ev.attempt, Some(1));
    assert_eq!(ev.queued_at.unwrap().to_rfc3339(), "2025-08-27T06:00:00+00:00");
    assert_eq!(ev.started_at.unwrap().to_rfc3339(), "2025-08-27T06:00:20+00:00");
    assert_eq!(ev.finished_at.unwrap().to_rfc3339(), "2025-08-27T06:04:00+00:00");
    assert_eq!(ev.triggered_by.as_deref(), Some("push"));
    assert_eq!(
        ev.url.as_deref(),
        Some("https://github.com/octo-org/octo-repo/actions/runs/30433642")
    );
    assert_eq!(ev.metadata["workflow_run"]["run_number"], 562);
    assert_eq!(ev.metadata["sender"]["login"], "octocat");
    assert!(
        ev.metadata.get("repository").is_none(),
        "the large repository object is not kept"
    );
}

#[test]
fn every_status_and_conclusion_has_a_meaning() {
    let cases = [
        ("requested", "requested", Value::Null, RunStatus::Queued),
        ("requested", "queued", Value::Null, RunStatus::Queued),
        ("requested", "waiting", Value::Null, RunStatus::Queued),
        ("requested", "pending", Value::Null, RunStatus::Queued),
        ("in_progress", "in_progress", Value::Null, RunStatus::Running),
        ("completed", "completed", json!("success"), RunStatus::Success),
        ("completed", "completed", json!("neutral"), RunStatus::Success),
        ("completed", "completed", json!("failure"), RunStatus::Failure),
        ("completed", "completed", json!("timed_out"), RunStatus::Failure),
        (
            "completed",
            "completed",
            json!("startup_failure"),
            RunStatus::Failure,
        ),
        ("completed", "completed", json!("cancelled"), RunStatus::Cancelled),
        ("completed", "completed", json!("stale"), RunStatus::Cancelled),
        ("completed", "completed", json!("skipped"), RunStatus::Skipped),
        (
            "completed",
            "completed",
            json!("action_required"),
            RunStatus::Skipped,
        ),
        (
            "completed",
            "completed",
            json!("exploded_in_a_new_way"),
            RunStatus::Failure,
        ),
        ("completed", "completed", Value::Null, RunStatus::Running),
        ("requested", "brand_new_status", Value::Null, RunStatus::Queued),
        // The action and the status disagree: the payload's state wins.
        ("completed", "in_progress", Value::Null, RunStatus::Running),
        ("in_progress", "completed", json!("failure"), RunStatus::Failure),
    ];
    for (action, status, conclusion, want) in cases {
        let ev = run_of(
            "workflow_run",
            &workflow_run(action, status, conclusion.clone(), 1),
        );
        assert_eq!(ev.status, want, "{action}/{status}/{conclusion}");
        assert_eq!(ev.finished_at.is_some(), want.is_terminal());
        assert_eq!(ev.started_at.is_some(), want.stage() >= 1);
    }
}

#[test]
fn a_rerun_is_its_own_attempt_queued_when_it_restarted() {
    let ev = run_of(
        "workflow_run",
        &workflow_run("completed", "completed", json!("success"), 2),
    );
    assert_eq!(ev.id, "github:octo-org/octo-repo:30433642:2");
    assert_eq!(ev.attempt, Some(2));
    assert_eq!(ev.run_key.as_deref(), Some("github:octo-org/octo-repo:30433642"));
    assert_eq!(
        ev.queued_at, ev.started_at,
        "created_at belongs to the first attempt"
    );
}

#[test]
fn an_empty_name_falls_back_to_the_workflow_then_its_file() {
    let mut p = workflow_run("completed", "completed", json!("success"), 1);
    p["workflow_run"]["name"] = json!("");
    p["workflow"]["name"] = json!("CI");
    assert_eq!(run_of("workflow_run", &p).workflow, "CI");
    p["workflow"] = Value::Null;
    assert_eq!(run_of("workflow_run", &p).workflow, "build.yml");
}

#[test]
fn missing_actors_and_odd_types_do_not_matter() {
    let mut p = workflow_run("completed", "completed", json!("success"), 1);
    p["workflow_run"]["actor"] = Value::Null;
    p["workflow_run"]["triggering_actor"] = json!(42);
    p["workflow_run"]["run_attempt"] = json!("3");
    p["workflow_run"]["head_branch"] = json!(null);
    let ev = run_of("workflow_run", &p);
    assert_eq!(ev.attempt, Some(3));
    assert_eq!(ev.branch, None);
}

#[test]
fn form_encoded_deliveries_carry_the_json_in_payload() {
    let p = workflow_run("completed", "completed", json!("success"), 1).to_string();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &p)
        .finish();
    let parsed = parse(
        "workflow_run",
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        body.as_bytes(),
        now(),
    )
    .unwrap();
    assert!(matches!(parsed, Parsed::Records { ref runs, .. } if runs[0].status == RunStatus::Success));
    assert!(parse(
        "workflow_run",
        Some("application/x-www-form-urlencoded"),
        b"x=1",
        now()
    )
    .is_err());
}

#[test]
fn ping_other_events_and_odd_payloads_are_ignored_not_errors() {
    let ignored = |event: &str, body: &str| {
        matches!(parse(event, None, body.as_bytes(), now()), Ok(Parsed::Ignored(_)))
    };
    assert!(ignored(
        "ping",
        r#"{"zen":"Keep it logically awesome.","hook_id":1}"#
    ));
    assert!(ignored("push", r#"{"ref":"refs/heads/main"}"#));
    assert!(ignored("workflow_run", r#"{"action":"completed"}"#));
    assert!(
        ignored("workflow_run", r#"{"workflow_run":{"id":1}}"#),
        "no repository"
    );
    assert!(ignored("workflow_run", r#"[1,2]"#));
    assert!(ignored("workflow_job", r#"{"workflow_job":{"id":1,"run_id":2}}"#));
    assert!(ignored("", "{}"));
    assert!(parse("workflow_run", None, b"{not json", now()).is_err());
}

#[test]
fn a_completed_job_carries_steps_runner_and_times() {
    let p = json!({
        "action": "completed",
        "workflow_job": {
            "id": 29679449, "run_id": 30433642, "run_attempt": 2, "workflow_name": "Build",
            "head_branch": "main", "head_sha": "acb5820", "name": "test (ubuntu)",
            "status": "completed", "conclusion": "failure",
            "created_at": "2025-08-27T06:00:05Z", "started_at": "2025-08-27T06:01:05Z",
            "completed_at": "2025-08-27T06:03:05Z",
            "html_url": "https://github.com/octo-org/octo-repo/actions/runs/30433642/job/29679449",
            "labels": ["ubuntu-latest", "x64"], "runner_name": "GitHub Actions 2",
            "runner_group_name": "GitHub Actions",
            "steps": [
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
                 "started_at": "2025-08-27T06:01:05Z", "completed_at": "2025-08-27T06:01:10Z"},
                {"name": "Run tests", "status": "completed", "conclusion": "failure", "number": 2,
                 "started_at": "2025-08-27T06:01:10Z", "completed_at": "2025-08-27T06:03:00Z"},
                {"name": "Post", "status": "queued", "conclusion": null, "number": 3,
                 "started_at": null, "completed_at": null},
                "garbage"
            ]
        },
        "repository": {"full_name": "octo-org/octo-repo"}
    });
    let Parsed::Records { runs, mut jobs, .. } =
        parse("workflow_job", None, p.to_string().as_bytes(), now()).unwrap()
    else {
        panic!("expected a job")
    };
    assert!(runs.is_empty());
    let job = jobs.remove(0);
    assert_eq!(job.run_id, "github:octo-org/octo-repo:30433642:2");
    assert_eq!(job.id, "29679449");
    assert_eq!(job.status, RunStatus::Failure);
    assert_eq!(job.queued_at.unwrap().to_rfc3339(), "2025-08-27T06:00:05+00:00");
    assert_eq!(job.started_at.unwrap().to_rfc3339(), "2025-08-27T06:01:05+00:00");
    assert_eq!(job.finished_at.unwrap().to_rfc3339(), "2025-08-27T06:03:05+00:00");
    assert_eq!(job.labels, ["ubuntu-latest", "x64"]);
    assert_eq!(job.runner_name.as_deref(), Some("GitHub Actions 2"));
    assert_eq!(job.runner_group.as_deref(), Some("GitHub Actions"));
    let statuses: Vec<_> = job.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [RunStatus::Success, RunStatus::Failure, RunStatus::Queued]
    );
    assert_eq!(job.steps[1].number, Some(2));
}

#[test]
fn a_queued_job_has_no_start_yet() {
    let p = json!({
        "workflow_job": {"id": 1, "run_id": 2, "status": "queued", "conclusion": null,
            "created_at": "2025-08-27T06:00:05Z", "started_at": "2025-08-27T06:00:05Z"},
        "repository": {"full_name": "o/r"}
    });
    let Ok(Parsed::Records { jobs, .. }) = parse("workflow_job", None, p.to_string().as_bytes(), now())
    else {
        panic!("expected a job")
    };
    assert_eq!(jobs[0].status, RunStatus::Queued);
    assert_eq!(jobs[0].started_at, None);
    assert_eq!(jobs[0].run_id, "github:o/r:2:1");
}

#[test]
fn api_run_objects_parse_like_webhook_ones() {
    let p = workflow_run("completed", "completed", json!("failure"), 1);
    let ev = run_from_api(&p["workflow_run"], now()).unwrap();
    assert_eq!(ev.id, "github:octo-org/octo-repo:30433642:1");
    assert_eq!(ev.status, RunStatus::Failure);
    assert!(run_from_api(&json!({"id": 1}), now()).is_none());
}
