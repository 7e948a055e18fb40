use super::*;
use axum::http::HeaderValue;

fn now() -> DateTime<Utc> {
    parse_time("2025-08-27T12:00:00Z").unwrap()
}

fn t(s: &str) -> Option<DateTime<Utc>> {
    Some(parse_time(s).unwrap())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn json_ct() -> HeaderMap {
    headers(&[("content-type", "application/json")])
}

/// A spec 0.4 CDEvent (context `version`, subject `type`, content `url`), as Tekton or a GitHub
/// Actions bridge would send it.
fn v04(ty: &str, ts: &str, content: Value) -> Value {
    let subject_type = if ty.contains("taskrun") {
        "taskRun"
    } else {
        "pipelineRun"
    };
    json!({
        "context": {
            "version": "0.4.1",
            "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "https://github.com/acme/api/actions",
            "type": format!("dev.cdevents.{ty}.0.2.0"),
            "timestamp": ts,
        },
        "subject": {
            "id": "run-4711",
            "source": "https://github.com/acme/api/actions",
            "type": subject_type,
            "content": content,
        }
    })
}

/// A spec 0.5 CDEvent (context `specversion`, content `uri`, no subject `type`).
fn v05(ty: &str, ts: &str, content: Value) -> Value {
    json!({
        "context": {
            "specversion": "0.5.0",
            "id": "5328c37f-bb7e-4bb7-84ea-9f5f85e4a7ce",
            "source": "/tekton/ci",
            "type": format!("dev.cdevents.{ty}.0.3.0"),
            "timestamp": ts,
        },
        "subject": {
            "id": "pipelinerun-build-x7k2p",
            "content": content,
        },
        "customData": {"repository": {"full_name": "acme/web"}, "branch": "main", "sha": "9f2c1e0"},
    })
}

fn parse_bare(ev: &Value) -> Result<Parsed, Malformed> {
    parse(&json_ct(), ev.to_string().as_bytes(), now())
}

fn one_run(p: Parsed) -> RunEvent {
    match p {
        Parsed::Records { mut runs, jobs, .. } if runs.len() == 1 && jobs.is_empty() => runs.remove(0),
        other => panic!("expected one run, got {other:?}"),
    }
}

fn one_job(p: Parsed) -> JobEvent {
    match p {
        Parsed::Records { runs, mut jobs, .. } if runs.is_empty() && jobs.len() == 1 => jobs.remove(0),
        other => panic!("expected one job, got {other:?}"),
    }
}

fn ignored_reason(p: Result<Parsed, Malformed>) -> String {
    match p {
        Ok(Parsed::Ignored(why)) => why,
        other => panic!("expected Ignored, got {other:?}"),
    }
}

#[test]
fn v04_pipeline_run_lifecycle() {
    let content = json!({"pipelineName": "build", "url": "https://github.com/acme/api/actions/runs/4711"});
    let queued = v04("pipelinerun.queued", "2025-08-27T06:00:00Z", content.clone());
    let run = one_run(parse_bare(&queued).unwrap());
    assert_eq!(
        run,
        RunEvent {
            id: "cdevents:https://github.com/acme/api/actions:run-4711".into(),
            provider: PROVIDER.as_str().into(),
            repo: "acme/api".into(),
            workflow: "build".into(),
            branch: None,
            commit_sha: None,
            status: RunStatus::Queued,
            attempt: None,
            run_key: None,
            duration_seconds: None,
            queued_at: t("2025-08-27T06:00:00Z"),
            started_at: None,
            finished_at: None,
            triggered_by: None,
            url: Some("https://github.com/acme/api/actions/runs/4711".into()),
            metadata: json!({ "cdevent": queued }),
        }
    );

    let started = v04("pipelinerun.started", "2025-08-27T06:00:07Z", content.clone());
    let run = one_run(parse_bare(&started).unwrap());
    assert_eq!(run.id, "cdevents:https://github.com/acme/api/actions:run-4711");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(
        (run.queued_at, run.started_at, run.finished_at),
        (None, t("2025-08-27T06:00:07Z"), None)
    );

    let mut finished_content = content;
    finished_content["outcome"] = json!("success");
    let finished = v04("pipelinerun.finished", "2025-08-27T06:02:10.5Z", finished_content);
    let run = one_run(parse_bare(&finished).unwrap());
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(
        (run.queued_at, run.started_at, run.finished_at),
        (None, None, t("2025-08-27T06:02:10.5Z"))
    );
    assert_eq!(run.metadata, json!({ "cdevent": finished }));
}

#[test]
fn v05_pipeline_run_with_uri_and_custom_data() {
    let ev = v05(
        "pipelinerun.started",
        "2025-08-27T07:15:00.123456Z",
        json!({"pipelineName": "release", "uri": "https://tekton.example.com/#/pipelineruns/x7k2p"}),
    );
    let run = one_run(parse_bare(&ev).unwrap());
    // No subject.source: the context's source identifies the run.
    assert_eq!(run.id, "cdevents:/tekton/ci:pipelinerun-build-x7k2p");
    assert_eq!(run.repo, "acme/web");
    assert_eq!(run.workflow, "release");
    assert_eq!(run.branch.as_deref(), Some("main"));
    assert_eq!(run.commit_sha.as_deref(), Some("9f2c1e0"));
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.started_at, t("2025-08-27T07:15:00.123456Z"));
    assert_eq!(
        run.url.as_deref(),
        Some("https://tekton.example.com/#/pipelineruns/x7k2p")
    );

    let queued = v05("pipelinerun.queued", "2025-08-27T07:14:00Z", json!({}));
    let run = one_run(parse_bare(&queued).unwrap());
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.queued_at, t("2025-08-27T07:14:00Z"));
    assert_eq!(run.workflow, "pipeline", "no pipelineName");
    assert_eq!(run.url, None);
}

#[test]
fn finished_outcomes_map_to_terminal_statuses() {
    let cases = [
        (Some("success"), RunStatus::Success),
        (Some("failure"), RunStatus::Failure),
        (Some("error"), RunStatus::Failure),
        (Some("cancel"), RunStatus::Cancelled),
        (Some("Cancelled"), RunStatus::Cancelled),
        (Some("exploded"), RunStatus::Failure),
        (None, RunStatus::Failure),
    ];
    for (outcome, expected) in cases {
        let mut content = json!({"pipelineName": "build", "errors": "step test: exit code 1"});
        if let Some(o) = outcome {
            content["outcome"] = json!(o);
        }
        for ev in [
            v04("pipelinerun.finished", "2025-08-27T06:02:00Z", content.clone()),
            v05("pipelinerun.finished", "2025-08-27T06:02:00Z", content.clone()),
        ] {
            let run = one_run(parse_bare(&ev).unwrap());
            assert_eq!(run.status, expected, "outcome {outcome:?}");
            assert_eq!(run.finished_at, t("2025-08-27T06:02:00Z"));
            assert_eq!((run.queued_at, run.started_at), (None, None));
        }
    }
}

#[test]
fn task_runs_are_jobs_of_their_pipeline_run() {
    // 0.4, pipelineRun without source: the context source, as for the pipeline run's own events.
    let pipeline = v04("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    let run = one_run(parse_bare(&pipeline).unwrap());
    let mut started = v04(
        "taskrun.started",
        "2025-08-27T06:00:30Z",
        json!({"taskName": "unit-tests", "url": "https://github.com/acme/api/actions/runs/4711/job/9",
               "pipelineRun": {"id": "run-4711"}}),
    );
    started["subject"]["id"] = json!("job-9");
    let job = one_job(parse_bare(&started).unwrap());
    assert_eq!(
        job,
        JobEvent {
            run_id: run.id.clone(),
            id: "job-9".into(),
            provider: PROVIDER.as_str().into(),
            name: "unit-tests".into(),
            stage: None,
            status: RunStatus::Running,
            queued_at: None,
            started_at: t("2025-08-27T06:00:30Z"),
            finished_at: None,
            runner_name: None,
            runner_group: None,
            labels: vec![],
            steps: vec![],
            url: Some("https://github.com/acme/api/actions/runs/4711/job/9".into()),
            failure_reason: None,
        }
    );

    // 0.5, finished with failure, pipelineRun naming a source of its own.
    let mut finished = v05(
        "taskrun.finished",
        "2025-08-27T06:03:00Z",
        json!({"taskName": "lint", "uri": "https://tekton.example.com/#/taskruns/lint-1",
               "pipelineRun": {"id": "pipelinerun-build-x7k2p", "source": "/tekton/other"},
               "outcome": "failure", "errors": "golangci-lint: 3 issues"}),
    );
    finished["subject"]["id"] = json!("lint-1");
    finished["customData"] = json!({"labels": "Linux, arm64", "runner": "tekton-pool-2"});
    let job = one_job(parse_bare(&finished).unwrap());
    assert_eq!(
        job.labels,
        ["arm64", "linux"],
        "customData.labels, as a label set"
    );
    assert_eq!(job.runner_name.as_deref(), Some("tekton-pool-2"));
    assert_eq!(job.run_id, "cdevents:/tekton/other:pipelinerun-build-x7k2p");
    assert_eq!(job.id, "lint-1");
    assert_eq!(job.name, "lint");
    assert_eq!(job.status, RunStatus::Failure);
    assert_eq!(
        (job.started_at, job.finished_at),
        (None, t("2025-08-27T06:03:00Z"))
    );
    assert_eq!(job.failure_reason.as_deref(), Some("golangci-lint: 3 issues"));
    assert_eq!(
        job.url.as_deref(),
        Some("https://tekton.example.com/#/taskruns/lint-1")
    );

    // Success keeps no failure reason; no taskName names the job by its id.
    finished["subject"]["content"]["outcome"] = json!("success");
    finished["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("taskName");
    let job = one_job(parse_bare(&finished).unwrap());
    assert_eq!(job.status, RunStatus::Success);
    assert_eq!(job.name, "lint-1");
    assert_eq!(job.failure_reason, None);

    finished["subject"]["content"]["outcome"] = json!("cancel");
    assert_eq!(
        one_job(parse_bare(&finished).unwrap()).status,
        RunStatus::Cancelled
    );
}

#[test]
fn a_task_run_outside_a_pipeline_run_is_ignored() {
    let ev = v05(
        "taskrun.started",
        "2025-08-27T06:00:30Z",
        json!({"taskName": "build"}),
    );
    assert!(ignored_reason(parse_bare(&ev)).contains("pipelineRun"));
    let ev = v05(
        "taskrun.started",
        "2025-08-27T06:00:30Z",
        json!({"pipelineRun": {}}),
    );
    assert!(ignored_reason(parse_bare(&ev)).contains("pipelineRun"));
}

#[test]
fn binary_mode_reads_ce_headers() {
    let ev = v05(
        "pipelinerun.finished",
        "2025-08-27T06:02:00Z",
        json!({"pipelineName": "deploy", "outcome": "cancel"}),
    );
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "5328c37f-bb7e-4bb7-84ea-9f5f85e4a7ce"),
        ("ce-source", "/tekton/ci"),
        ("ce-type", "dev.cdevents.pipelinerun.finished.0.3.0"),
        ("ce-time", "2025-08-27T06:02:00Z"),
        ("ce-subject", "pipelinerun-build-x7k2p"),
        ("content-type", "application/json; charset=utf-8"),
    ]);
    let run = one_run(parse(&h, ev.to_string().as_bytes(), now()).unwrap());
    assert_eq!(run.id, "cdevents:/tekton/ci:pipelinerun-build-x7k2p");
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.workflow, "deploy");

    // A CDEvent missing context fields: the (percent-encoded) headers fill them in.
    let sparse = json!({"context": {}, "subject": {"content": {"outcome": "success"}}});
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-source", "https://github.com/acme/api%20x/actions"),
        ("ce-type", "dev.cdevents.pipelinerun.finished.0.3.0"),
        ("ce-time", "2025-08-27T06:05:00Z"),
        ("ce-subject", "run%2F42"),
    ]);
    let run = one_run(parse(&h, sparse.to_string().as_bytes(), now()).unwrap());
    assert_eq!(run.id, "cdevents:https://github.com/acme/api x/actions:run/42");
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.finished_at, t("2025-08-27T06:05:00Z"));

    // The CDEvent's own context wins over the headers.
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-type", "dev.cdevents.pipelinerun.finished.0.3.0"),
        ("ce-time", "2025-08-27T09:00:00Z"),
    ]);
    let started = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    let run = one_run(parse(&h, started.to_string().as_bytes(), now()).unwrap());
    assert_eq!(
        (run.status, run.started_at),
        (RunStatus::Running, t("2025-08-27T06:00:00Z"))
    );
}

#[test]
fn binary_mode_other_types_are_ignored_unread_and_tracked_ones_must_be_json() {
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-type", "com.example.invoice.paid"),
        ("content-type", "application/xml"),
    ]);
    assert!(ignored_reason(parse(&h, b"<invoice/>", now())).contains("com.example.invoice.paid"));
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-type", "dev.cdevents.pipelinerun.started.0.3.0"),
    ]);
    assert!(parse(&h, b"<invoice/>", now()).is_err());
    assert!(parse(&h, b"", now()).is_err());
}

fn envelope(data: Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
        "source": "/tekton/ci",
        "type": "dev.cdevents.pipelinerun.started.0.3.0",
        "time": "2025-08-27T06:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    })
}

#[test]
fn structured_mode_with_data_as_object_string_or_base64() {
    let cd = v05(
        "pipelinerun.started",
        "2025-08-27T06:00:00Z",
        json!({"pipelineName": "build"}),
    );
    let h = headers(&[("content-type", "Application/CloudEvents+JSON; charset=utf-8")]);
    let expected = one_run(parse_bare(&cd).unwrap());
    assert_eq!(expected.id, "cdevents:/tekton/ci:pipelinerun-build-x7k2p");

    let as_object = envelope(cd.clone());
    let as_string = envelope(json!(cd.to_string()));
    let mut as_base64 = envelope(Value::Null);
    as_base64.as_object_mut().unwrap().remove("data");
    as_base64["data_base64"] =
        json!(base64::engine::general_purpose::STANDARD.encode(cd.to_string().as_bytes()));
    for ev in [as_object, as_string, as_base64] {
        let run = one_run(parse(&h, ev.to_string().as_bytes(), now()).unwrap());
        assert_eq!(run, expected, "{ev}");
    }
}

#[test]
fn structured_mode_edge_cases() {
    let h = headers(&[("content-type", "application/cloudevents+json")]);
    // Another type: ignored without reading its data.
    let mut other = envelope(json!("<not json>"));
    other["type"] = json!("dev.cdevents.artifact.signed.0.2.0");
    assert!(ignored_reason(parse(&h, other.to_string().as_bytes(), now())).contains("artifact"));
    // A tracked type whose data cannot be decoded is malformed.
    let bad_string = envelope(json!("<not json>"));
    assert!(parse(&h, bad_string.to_string().as_bytes(), now()).is_err());
    let mut bad_b64 = envelope(Value::Null);
    bad_b64["data_base64"] = json!("!!!not base64");
    assert!(parse(&h, bad_b64.to_string().as_bytes(), now()).is_err());
    // No data at all.
    let no_data = envelope(Value::Null);
    assert!(ignored_reason(parse(&h, no_data.to_string().as_bytes(), now())).contains("no data"));
    // Not JSON, or not an object.
    assert!(parse(&h, b"specversion=1.0", now()).is_err());
    assert!(ignored_reason(parse(&h, b"\"hello\"", now())).contains("JSON object"));
}

#[test]
fn batch_mode_unions_records_and_skips_the_rest() {
    let h = headers(&[("content-type", "application/cloudevents-batch+json")]);
    let run = envelope(v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({})));
    let mut artifact = envelope(json!({"context": {}, "subject": {}}));
    artifact["type"] = json!("dev.cdevents.artifact.signed.0.2.0");
    let mut task = envelope(v05(
        "taskrun.finished",
        "2025-08-27T06:01:00Z",
        json!({"taskName": "test", "pipelineRun": {"id": "pipelinerun-build-x7k2p"}, "outcome": "success"}),
    ));
    task["type"] = json!("dev.cdevents.taskrun.finished.0.3.0");
    let orphan_task = {
        let mut e = task.clone();
        e["data"]["subject"]["content"]
            .as_object_mut()
            .unwrap()
            .remove("pipelineRun");
        e
    };
    let body = json!([run, artifact, 42, task, orphan_task, envelope(json!("{oops"))]);
    match parse(&h, body.to_string().as_bytes(), now()).unwrap() {
        Parsed::Records { runs, jobs, .. } => {
            assert_eq!(runs.len(), 1);
            assert_eq!(runs[0].status, RunStatus::Running);
            assert_eq!(jobs.len(), 1);
            assert_eq!(jobs[0].name, "test");
            assert_eq!(jobs[0].run_id, runs[0].id);
            assert_eq!(jobs[0].status, RunStatus::Success);
        }
        other => panic!("expected records, got {other:?}"),
    }

    let body = json!([artifact, 42, orphan_task]);
    let why = ignored_reason(parse(&h, body.to_string().as_bytes(), now()));
    assert!(why.contains("3 events"), "{why}");
    for needle in ["[0] event type", "[1] not a JSON object", "[2] the task run"] {
        assert!(why.contains(needle), "{needle} in {why}");
    }
    let many = Value::Array(vec![json!(1); 8]);
    assert!(ignored_reason(parse(&h, many.to_string().as_bytes(), now())).ends_with("and 3 more"));
    assert!(ignored_reason(parse(&h, b"[]", now())).contains("empty"));
    assert!(ignored_reason(parse(&h, run.to_string().as_bytes(), now())).contains("JSON array"));
    assert!(parse(&h, b"[{", now()).is_err());
}

#[test]
fn bare_cdevents_and_misdirected_structured_events() {
    let cd = v04(
        "pipelinerun.started",
        "2025-08-27T06:00:00Z",
        json!({"pipelineName": "build"}),
    );
    let with_json = one_run(parse(&json_ct(), cd.to_string().as_bytes(), now()).unwrap());
    let without_ct = one_run(parse(&HeaderMap::new(), cd.to_string().as_bytes(), now()).unwrap());
    assert_eq!(with_json, without_ct);
    assert_eq!(with_json.status, RunStatus::Running);
    // A structured CloudEvent sent as application/json is still read.
    let structured = envelope(v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({})));
    let run = one_run(parse(&json_ct(), structured.to_string().as_bytes(), now()).unwrap());
    assert_eq!(run.id, "cdevents:/tekton/ci:pipelinerun-build-x7k2p");
    // Some other JSON.
    let why = ignored_reason(parse(&json_ct(), br#"{"id":"x","status":"success"}"#, now()));
    assert!(why.starts_with("not a CDEvent"), "{why}");
}

#[test]
fn url_and_uri() {
    let cases = [
        (
            json!({"url": "https://ci.example.com/r/1"}),
            Some("https://ci.example.com/r/1"),
        ),
        (
            json!({"uri": "https://ci.example.com/r/2"}),
            Some("https://ci.example.com/r/2"),
        ),
        (
            json!({"uri": "https://ci.example.com/r/3", "url": "https://ci.example.com/old"}),
            Some("https://ci.example.com/r/3"),
        ),
        (
            json!({"uri": "/apis/tekton.dev/v1/namespaces/ci/pipelineruns/x", "url": "http://ci/x"}),
            Some("http://ci/x"),
        ),
        (
            json!({"uri": "/apis/tekton.dev/v1/namespaces/ci/pipelineruns/x"}),
            None,
        ),
        (json!({"url": "javascript:alert(1)"}), None),
        (json!({"url": 42}), None),
    ];
    for (content, expected) in cases {
        let ev = v05("pipelinerun.started", "2025-08-27T06:00:00Z", content.clone());
        assert_eq!(
            one_run(parse_bare(&ev).unwrap()).url.as_deref(),
            expected,
            "{content}"
        );
    }
}

#[test]
fn other_event_types_are_ignored() {
    for ty in [
        "dev.cdevents.artifact.signed.0.2.0",
        "dev.cdevents.pipelinerun.deleted.0.3.0",
        "dev.cdevents.taskrun.queued.0.3.0",
        "dev.cdevents.pipelinerun",
    ] {
        let mut ev = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
        ev["context"]["type"] = json!(ty);
        assert!(ignored_reason(parse_bare(&ev)).contains(ty), "{ty}");
    }
    // Any version of a tracked type is read.
    let mut ev = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    ev["context"]["type"] = json!("dev.cdevents.pipelinerun.started.0.4.0-draft");
    assert_eq!(one_run(parse_bare(&ev).unwrap()).status, RunStatus::Running);
}

#[test]
fn not_json_is_malformed_in_every_mode() {
    for ct in [
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "text/plain",
    ] {
        assert!(
            parse(&headers(&[("content-type", ct)]), b"{\"context\":", now()).is_err(),
            "{ct}"
        );
    }
    assert!(parse(&HeaderMap::new(), b"", now()).is_err());
    assert!(parse(&HeaderMap::new(), &[0xff, 0xfe], now()).is_err());
}

#[test]
fn a_json_array_outside_batch_mode_is_ignored() {
    let cd = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    let body = json!([cd]).to_string();
    assert!(ignored_reason(parse(&json_ct(), body.as_bytes(), now())).contains("batch"));
    let h = headers(&[("content-type", "application/cloudevents+json")]);
    assert!(ignored_reason(parse(&h, body.as_bytes(), now())).contains("batch"));
    let h = headers(&[
        ("ce-specversion", "1.0"),
        ("ce-type", "dev.cdevents.pipelinerun.started.0.3.0"),
    ]);
    assert!(ignored_reason(parse(&h, body.as_bytes(), now())).contains("not a JSON object"));
}

#[test]
fn missing_subject_id_or_source_is_ignored() {
    let mut ev = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    ev.as_object_mut().unwrap().remove("subject");
    assert!(ignored_reason(parse_bare(&ev)).contains("no subject"));
    ev["subject"] = json!("pipelinerun-build-x7k2p");
    assert!(ignored_reason(parse_bare(&ev)).contains("no subject"));
    ev["subject"] = json!({"content": {}});
    assert!(ignored_reason(parse_bare(&ev)).contains("no id"));
    ev["subject"] = json!({"id": "p1", "content": ["weird"]});
    ev["context"].as_object_mut().unwrap().remove("source");
    assert!(ignored_reason(parse_bare(&ev)).contains("no source"));
    // Odd shapes elsewhere are tolerated.
    ev["context"]["source"] = json!("/ci");
    ev["customData"] = json!("PGRhdGE+");
    let run = one_run(parse_bare(&ev).unwrap());
    assert_eq!((run.id.as_str(), run.repo.as_str()), ("cdevents:/ci:p1", "/ci"));
}

#[test]
fn absurd_times_and_long_names_are_cleaned() {
    let ev = v05(
        "pipelinerun.finished",
        "1970-01-01T00:00:00Z",
        json!({"pipelineName": "é".repeat(300), "outcome": "success"}),
    );
    let run = one_run(parse_bare(&ev).unwrap());
    assert_eq!(run.finished_at, None);
    assert_eq!(run.metadata["cleaned"].as_array().unwrap().len(), 1);
    assert_eq!(run.workflow.chars().count(), MAX_NAME);

    let ev = v05(
        "taskrun.started",
        "2031-01-01T00:00:00Z",
        json!({"pipelineRun": {"id": "p"}, "taskName": "x".repeat(400)}),
    );
    let job = one_job(parse_bare(&ev).unwrap());
    assert_eq!(job.started_at, None);
    assert_eq!(job.name.len(), MAX_NAME);
}

#[test]
fn long_ids_stay_distinct_and_match_between_runs_and_tasks() {
    let long = |suffix: &str| format!("{}{suffix}", "r".repeat(400));
    let run_of = |id: &str| {
        let mut ev = v05("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
        ev["subject"]["id"] = json!(id);
        one_run(parse_bare(&ev).unwrap()).id
    };
    let (a, b) = (run_of(&long("a")), run_of(&long("b")));
    assert_ne!(a, b);
    assert_eq!(a.chars().count(), MAX_NAME);
    let task = v05(
        "taskrun.started",
        "2025-08-27T06:00:00Z",
        json!({"pipelineRun": {"id": long("a")}}),
    );
    assert_eq!(one_job(parse_bare(&task).unwrap()).run_id, a);
}

#[test]
fn repo_from_custom_data() {
    let cases = [
        (json!({"repo": "acme/api"}), "acme/api"),
        (
            json!({"repository": "https://github.com/acme/api.git"}),
            "acme/api",
        ),
        (
            json!({"repository": "git@gitlab.com:group/sub/proj.git"}),
            "group/sub/proj",
        ),
        (
            json!({"repository": {"full_name": "acme/web", "name": "web"}}),
            "acme/web",
        ),
        (json!({"project": {"path_with_namespace": "grp/svc"}}), "grp/svc"),
        (json!({"repository": {"name": "web"}}), "acme/api"),
        (json!({"repo": 7}), "7"),
    ];
    for (custom, expected) in cases {
        let mut ev = v04("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
        ev["customData"] = custom.clone();
        assert_eq!(one_run(parse_bare(&ev).unwrap()).repo, expected, "{custom}");
    }
}

#[test]
fn repo_from_the_source() {
    let cases = [
        ("https://github.com/acme/api/actions/runs/1", "acme/api"),
        ("https://github.com/acme/api", "acme/api"),
        ("https://github.com/acme/api.git", "acme/api"),
        (
            "https://gitlab.com/group/sub/proj/-/pipelines/9",
            "group/sub/proj",
        ),
        ("https://github.example.com:8443/acme/api/actions", "acme/api"),
        ("github.com/acme/api/actions", "acme/api"),
        ("/acme/api", "acme/api"),
        ("acme/api/", "acme/api"),
        ("https://github.com/acme", "https://github.com/acme"),
        (
            "https://jenkins.example.com/job/api/42",
            "https://jenkins.example.com/job/api/42",
        ),
        ("/tekton/ns/pipelineruns", "/tekton/ns/pipelineruns"),
        ("urn:uuid:6e8bc430", "urn:uuid:6e8bc430"),
        ("spinnaker", "spinnaker"),
    ];
    for (source, expected) in cases {
        assert_eq!(repo_from_source(source), expected, "{source}");
    }
}

#[test]
fn branch_and_commit_from_custom_data() {
    let mut ev = v04("pipelinerun.started", "2025-08-27T06:00:00Z", json!({}));
    ev["customData"] = json!({"ref": "refs/heads/feature/x", "commit": "abc123"});
    let run = one_run(parse_bare(&ev).unwrap());
    assert_eq!(run.branch.as_deref(), Some("feature/x"));
    assert_eq!(run.commit_sha.as_deref(), Some("abc123"));
    ev["customData"] = json!({"ref": "refs/tags/v1.2.0"});
    assert_eq!(one_run(parse_bare(&ev).unwrap()).branch, None);
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%20b%2Fc%"), "a b/c%");
    assert_eq!(percent_decode("%E2%82%AC%zz"), "€%zz");
}

fn one_test(p: Parsed) -> TestEvent {
    match p {
        Parsed::Records {
            runs,
            jobs,
            mut tests,
            ..
        } if runs.is_empty() && jobs.is_empty() && tests.len() == 1 => tests.remove(0),
        other => panic!("expected one test result, got {other:?}"),
    }
}

/// testcaserun.finished at 0.4 (`testSuiteRun`, outcome `fail`) and 0.5, skipped, and the
/// events that carry no result.
#[test]
fn test_case_runs_become_test_results_of_the_pipeline_run_they_name() {
    let content = json!({
        "outcome": "fail", "reason": "expected 200, got 500",
        "testCase": {"id": "92409", "name": "checkout › pays by card", "type": "integration", "uri": "tests/checkout.spec.ts"},
        "testSuiteRun": {"id": "suite-1", "source": "/tests"},
        "pipelineRun": {"id": "run-4711", "source": "https://github.com/acme/api/actions"},
    });
    let t = one_test(
        parse_bare(&v04(
            "testcaserun.finished",
            "2025-08-27T10:00:00Z",
            content.clone(),
        ))
        .unwrap(),
    );
    assert_eq!(t.run_id, "cdevents:https://github.com/acme/api/actions:run-4711");
    assert_eq!(t.event_key, "cdevents:271069a8-fc18-44f1-b38f-9d70a1695819");
    assert_eq!(t.case.key.name, "checkout › pays by card");
    assert_eq!(t.case.key.file, "tests/checkout.spec.ts");
    assert_eq!(t.case.status, TestStatus::Failed);
    assert_eq!(t.case.message.as_deref(), Some("expected 200, got 500"));

    // 0.5: the pipeline run named in customData, its source from the context.
    let mut ev = v05(
        "testcaserun.finished",
        "2025-08-27T10:00:00Z",
        json!({"outcome": "pass", "testCase": {"id": "TestLogin"}}),
    );
    ev["customData"]["pipelineRun"] = json!({"id": "pipelinerun-build-x7k2p"});
    let t = one_test(parse_bare(&ev).unwrap());
    assert_eq!(t.run_id, "cdevents:/tekton/ci:pipelinerun-build-x7k2p");
    assert_eq!(
        (t.case.key.name.as_str(), t.case.status, t.case.message.as_deref()),
        ("TestLogin", TestStatus::Passed, None)
    );

    for (outcome, status) in [("error", TestStatus::Error), ("cancel", TestStatus::Skipped)] {
        let mut c = content.clone();
        c["outcome"] = json!(outcome);
        let t = one_test(parse_bare(&v04("testcaserun.finished", "2025-08-27T10:00:00Z", c)).unwrap());
        assert_eq!(t.case.status, status, "{outcome}");
    }
    let skipped = one_test(
        parse_bare(&v04(
            "testcaserun.skipped",
            "2025-08-27T10:00:00Z",
            content.clone(),
        ))
        .unwrap(),
    );
    assert_eq!(skipped.case.status, TestStatus::Skipped);

    for ty in [
        "testcaserun.queued",
        "testcaserun.started",
        "testsuiterun.queued",
        "testsuiterun.started",
        "testsuiterun.finished",
    ] {
        let p = parse_bare(&v04(ty, "2025-08-27T10:00:00Z", content.clone())).unwrap();
        assert!(matches!(p, Parsed::Ignored(_)), "{ty}: {p:?}");
    }
    let mut orphan = content.clone();
    orphan.as_object_mut().unwrap().remove("pipelineRun");
    let p = parse_bare(&v04("testcaserun.finished", "2025-08-27T10:00:00Z", orphan)).unwrap();
    assert!(
        matches!(p, Parsed::Ignored(ref why) if why.contains("names no pipelineRun")),
        "{p:?}"
    );
}
