use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    parse_time("2025-08-27T12:00:00Z").unwrap()
}

fn t(s: &str) -> Option<DateTime<Utc>> {
    parse_time(s)
}

/// 2025-08-27T06:00:00Z in epoch milliseconds.
const START_MS: i64 = 1_756_274_400_000;

/// The four deliveries of one build of a job in a folder, as plugin 1.17 sends them.
fn delivery(phase: &str, status: Option<&str>, timestamp: i64, duration: i64) -> Value {
    let mut v = json!({
        "name": "api",
        "display_name": "api",
        "url": "job/acme/job/api/",
        "build": {
            "full_url": "https://ci.example.com/job/acme/job/api/128/",
            "number": 128,
            "queue_id": 3391,
            "phase": phase,
            "timestamp": timestamp,
            "duration": duration,
            "url": "job/acme/job/api/128/",
            "scm": {
                "url": "https://ci-bot:ghp_s3cr3t@github.com/acme/api.git",
                "branch": "origin/main",
                "commit": "7d1e6fbcf0e54b4a8f2a9d3c9c1c2a7f7f0e1a2b",
                "changes": ["src/main.rs"],
                "culprits": ["ada"]
            },
            "parameters": {"DEPLOY": "false"},
            "log": "Started by user ada\nBuilding in workspace /var/lib/jenkins/workspace/acme/api\n",
            "notes": "",
            "artifacts": {}
        }
    });
    if let Some(s) = status {
        v["build"]["status"] = json!(s);
    }
    v
}

/// The run of a delivery; its one job (the build) mirrors it.
fn run_of(v: &Value) -> RunEvent {
    let (run, job) = records(v);
    assert_eq!(job.run_id, run.id);
    assert_eq!(
        (job.status, job.queued_at, job.started_at, job.finished_at),
        (run.status, run.queued_at, run.started_at, run.finished_at)
    );
    run
}

fn records(v: &Value) -> (RunEvent, JobEvent) {
    match parse(v.to_string().as_bytes(), now()).unwrap() {
        Parsed::Records {
            mut runs, mut jobs, ..
        } => {
            assert_eq!((runs.len(), jobs.len()), (1, 1));
            (runs.remove(0), jobs.remove(0))
        }
        Parsed::Ignored(why) => panic!("ignored: {why}"),
    }
}

#[test]
fn the_build_is_the_job_of_its_run_on_its_node() {
    let mut v = delivery("STARTED", None, 1_756_274_430_000, 0);
    let (run, job) = records(&v);
    assert_eq!(job.id, run.id.rsplit(':').next().unwrap());
    assert!(job.labels.is_empty(), "Jenkins does not send the node");
    v["build"]["parameters"] = json!({"NODE_LABELS": "linux Docker  builder-7", "NODE_NAME": "builder-7"});
    let (_, job) = records(&v);
    assert_eq!(job.labels, ["builder-7", "docker", "linux"]);
    assert_eq!(job.runner_name.as_deref(), Some("builder-7"));
}

fn ignored(body: &str) -> String {
    match parse(body.as_bytes(), now()).unwrap() {
        Parsed::Ignored(why) => why,
        other => panic!("expected ignored, got {other:?}"),
    }
}

#[test]
fn the_phases_of_one_build() {
    let queued = run_of(&delivery("QUEUED", None, START_MS - 30_000, 0));
    assert_eq!(queued.status, RunStatus::Queued);
    assert_eq!(queued.queued_at, t("2025-08-27T05:59:30Z"));
    assert_eq!((queued.started_at, queued.finished_at), (None, None));

    let started = run_of(&delivery("STARTED", None, START_MS, 0));
    assert_eq!(started.status, RunStatus::Running);
    assert_eq!(started.started_at, t("2025-08-27T06:00:00Z"));
    assert_eq!((started.queued_at, started.finished_at), (None, None));
    assert_eq!(started.duration_seconds, None, "duration 0 is not a duration");

    // COMPLETED's timestamp is start + duration.
    let completed = run_of(&delivery(
        "COMPLETED",
        Some("SUCCESS"),
        START_MS + 125_500,
        125_500,
    ));
    assert_eq!(completed.status, RunStatus::Success);
    assert_eq!(completed.started_at, t("2025-08-27T06:00:00Z"));
    assert_eq!(completed.finished_at, t("2025-08-27T06:02:05.500Z"));
    assert_eq!(completed.duration_seconds, Some(125.5));

    // FINALIZED, the final word, can change the result (a publisher marking the build unstable).
    let finalized = run_of(&delivery(
        "FINALIZED",
        Some("UNSTABLE"),
        START_MS + 127_000,
        125_500,
    ));
    assert_eq!(finalized.status, RunStatus::Failure);
    assert_eq!(finalized.finished_at, t("2025-08-27T06:02:07Z"));
    assert_eq!(finalized.duration_seconds, Some(125.5));

    for run in [queued, started, completed, finalized] {
        assert_eq!(run.id, "jenkins:acme/api:128");
        assert_eq!(run.provider, "jenkins");
        assert_eq!(run.repo, "acme/api");
        assert_eq!(run.workflow, "acme/api");
        assert_eq!(run.branch.as_deref(), Some("main"));
        assert_eq!(
            run.commit_sha.as_deref(),
            Some("7d1e6fbcf0e54b4a8f2a9d3c9c1c2a7f7f0e1a2b")
        );
        assert_eq!(
            run.url.as_deref(),
            Some("https://ci.example.com/job/acme/job/api/128/")
        );
        assert_eq!((run.attempt, run.triggered_by.as_deref()), (None, None));
    }
}

#[test]
fn every_result_maps() {
    let cases = [
        ("COMPLETED", Some("SUCCESS"), RunStatus::Success),
        ("COMPLETED", Some("UNSTABLE"), RunStatus::Failure),
        ("COMPLETED", Some("FAILURE"), RunStatus::Failure),
        ("COMPLETED", Some("ABORTED"), RunStatus::Cancelled),
        ("COMPLETED", Some("NOT_BUILT"), RunStatus::Skipped),
        ("COMPLETED", Some("EXPLODED"), RunStatus::Failure),
        ("COMPLETED", None, RunStatus::Running),
        ("FINALIZED", Some("SUCCESS"), RunStatus::Success),
        ("FINALIZED", Some("UNSTABLE"), RunStatus::Failure),
        ("FINALIZED", Some("FAILURE"), RunStatus::Failure),
        ("FINALIZED", Some("ABORTED"), RunStatus::Cancelled),
        ("FINALIZED", Some("NOT_BUILT"), RunStatus::Skipped),
        ("FINALIZED", Some("EXPLODED"), RunStatus::Failure),
        ("FINALIZED", None, RunStatus::Failure),
        ("finalized", Some("success"), RunStatus::Success),
        ("QUEUED", None, RunStatus::Queued),
        ("QUEUED", Some("SUCCESS"), RunStatus::Queued),
        ("STARTED", None, RunStatus::Running),
        ("STARTED", Some("FAILURE"), RunStatus::Running),
        ("NONE", Some("SUCCESS"), RunStatus::Queued),
        ("DELETED", None, RunStatus::Queued),
    ];
    for (phase, result, want) in cases {
        let run = run_of(&delivery(phase, result, START_MS + 60_000, 60_000));
        assert_eq!(run.status, want, "{phase} {result:?}");
    }
    let mut v = delivery("FINALIZED", Some("SUCCESS"), START_MS, 1);
    v["build"]["phase"] = Value::Null;
    assert_eq!(run_of(&v).status, RunStatus::Queued);
}

#[test]
fn completed_without_a_result_leaves_the_end_to_finalized() {
    let run = run_of(&delivery("COMPLETED", None, START_MS + 60_000, 60_000));
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.started_at, t("2025-08-27T06:00:00Z"));
    assert_eq!((run.finished_at, run.duration_seconds), (None, None));
}

#[test]
fn an_unknown_phase_sets_no_times() {
    let run = run_of(&delivery("NONE", None, START_MS, 5_000));
    assert_eq!(
        (run.queued_at, run.started_at, run.finished_at),
        (None, None, None)
    );
    assert_eq!(run.duration_seconds, None);
}

/// An old plugin: no display_name, no duration, no full_url, the timestamp as a string, and a build
/// that does not use git.
#[test]
fn an_old_plugin_without_scm() {
    let body = r#"{"name": "nightly", "url": "job/nightly/",
        "build": {"number": "41", "phase": "COMPLETED", "status": "FAILURE",
                  "timestamp": "1756274400000", "url": "job/nightly/41/"}}"#;
    let run = run_of(&serde_json::from_str(body).unwrap());
    assert_eq!(
        run.id, "jenkins:nightly:41",
        "the number as a string gives the same id"
    );
    assert_eq!(run.repo, "nightly", "no scm: the job stands for the repo");
    assert_eq!(run.workflow, "nightly");
    assert_eq!((run.branch.as_deref(), run.commit_sha.as_deref()), (None, None));
    assert_eq!(run.status, RunStatus::Failure);
    assert_eq!(run.finished_at, t("2025-08-27T06:00:00Z"));
    assert_eq!((run.started_at, run.duration_seconds), (None, None));
    assert_eq!(run.url, None);
    assert_eq!(run.metadata["build"]["number"], "41");

    let v = json!({"name": "x", "build": {"number": 1, "phase": "STARTED",
                   "timestamp": "2025-08-27T06:00:00.5+00:00"}});
    assert_eq!(run_of(&v).started_at, t("2025-08-27T06:00:00.500Z"));
    let v = json!({"name": "x", "build": {"number": 1, "phase": "QUEUED", "timestamp": 0}});
    let run = run_of(&v);
    assert_eq!(run.queued_at, None, "0 is no time");
    assert!(run.metadata.get("cleaned").is_none());
}

#[test]
fn repos_from_git_remotes() {
    let cases = [
        ("https://github.com/acme/api.git", Some("acme/api")),
        ("https://github.com/acme/api", Some("acme/api")),
        ("https://github.com/acme/api/", Some("acme/api")),
        ("git@github.com:acme/api.git", Some("acme/api")),
        (
            "ssh://git@gitlab.example.com:2222/group/sub/api.git",
            Some("group/sub/api"),
        ),
        (
            "https://user:token@bitbucket.example.com/acme/api.git?x=1",
            Some("acme/api"),
        ),
        ("https://github.com", None),
        ("https://github.com/", None),
        ("/srv/git/api.git", None),
        ("file:///srv/git/api.git", Some("srv/git/api")),
    ];
    for (url, want) in cases {
        assert_eq!(repo_of(url).as_deref(), want, "{url}");
    }
    let mut v = delivery("STARTED", None, START_MS, 0);
    v["build"]["scm"]["url"] = json!("git@github.com:acme/api.git");
    assert_eq!(run_of(&v).repo, "acme/api");
    v["build"]["scm"]["url"] = json!("/srv/git/api.git");
    assert_eq!(run_of(&v).repo, "acme/api", "falls back to the job");
}

#[test]
fn branches_lose_the_remote_prefix() {
    let cases = [
        ("origin/main", Some("main")),
        ("refs/heads/release/1.x", Some("release/1.x")),
        ("refs/remotes/origin/feature/x", Some("feature/x")),
        ("main", Some("main")),
        ("origin/", None),
    ];
    for (scm, want) in cases {
        assert_eq!(branch(scm).as_deref(), want, "{scm}");
    }
}

#[test]
fn jobs_in_folders_and_multibranch_projects_get_their_full_name() {
    let mut v = delivery("STARTED", None, START_MS, 0);
    v["name"] = json!("feature%2Fx");
    v["url"] = json!("job/acme/job/my%20api/job/feature%252Fx/");
    let run = run_of(&v);
    assert_eq!(run.workflow, "acme/my api/feature%2Fx");
    assert_eq!(run.id, "jenkins:acme/my api/feature%2Fx:128");

    // A url that does not end with the name is not trusted.
    v["url"] = json!("job/other/");
    assert_eq!(run_of(&v).workflow, "feature%2Fx");
    v["url"] = Value::Null;
    assert_eq!(run_of(&v).id, "jenkins:feature%2Fx:128");
    v["name"] = json!("folder/job");
    assert_eq!(run_of(&v).workflow, "folder/job");
}

#[test]
fn metadata_is_the_payload_without_log_or_credentials() {
    let run = run_of(&delivery("FINALIZED", Some("SUCCESS"), START_MS + 1_000, 1_000));
    let m = &run.metadata;
    assert_eq!(m["display_name"], "api");
    assert_eq!(m["build"]["queue_id"], 3391);
    assert_eq!(m["build"]["scm"]["url"], "https://github.com/acme/api.git");
    assert_eq!(m["build"]["scm"]["culprits"], json!(["ada"]));
    assert!(m["build"].get("log").is_none());
    assert!(!m.to_string().contains("s3cr3t"));
    assert_eq!(
        without_credentials("ssh://git@host/a.git").as_deref(),
        Some("ssh://host/a.git")
    );
    assert_eq!(without_credentials("https://host/a@b"), None);
}

#[test]
fn unusable_deliveries_are_ignored_or_malformed() {
    assert!(ignored(r#"{"build": {"number": 1}}"#).contains("name"));
    assert!(ignored(r#"{"name": "  ", "build": {"number": 1}}"#).contains("name"));
    assert!(ignored(r#"{"name": "api", "build": {"phase": "STARTED"}}"#).contains("build.number"));
    assert!(ignored(r#"{"name": "api", "build": {"number": "twelve"}}"#).contains("build.number"));
    assert!(ignored(r#"{"name": "api"}"#).contains("build.number"));
    assert!(ignored("[]").contains("not a JSON object"));
    assert!(parse(b"name=api&number=1", now()).is_err());
    assert!(parse(b"", now()).is_err());
}

#[test]
fn absurd_values_are_cleaned_not_rejected() {
    // A timestamp in seconds instead of milliseconds lands in 1970.
    let run = run_of(&delivery("STARTED", None, START_MS / 1000, 0));
    assert_eq!(run.started_at, None);
    assert!(run.metadata["cleaned"].is_array());

    let mut v = delivery("COMPLETED", Some("SUCCESS"), START_MS, 0);
    v["build"]["duration"] = json!(1e300);
    v["build"]["timestamp"] = json!(i64::MAX);
    let run = run_of(&v);
    assert_eq!((run.started_at, run.finished_at), (None, None));

    let mut v = delivery("COMPLETED", Some("SUCCESS"), START_MS, -5);
    v["build"]["scm"] = json!("git");
    let run = run_of(&v);
    assert_eq!(run.duration_seconds, None);
    assert_eq!(run.finished_at, t("2025-08-27T06:00:00Z"));
    assert_eq!(run.repo, "acme/api");
}

#[test]
fn long_names_are_bounded() {
    let mut v = delivery("STARTED", None, START_MS, 0);
    v["name"] = json!("n".repeat(1000));
    v["url"] = Value::Null;
    v["build"]["scm"]["branch"] = json!(format!("origin/{}", "b".repeat(1000)));
    v["build"]["scm"]["url"] = json!(format!("https://h/{}.git", "r".repeat(1000)));
    let run = run_of(&v);
    assert_eq!(run.workflow.len(), super::super::MAX_NAME);
    assert_eq!(run.repo.len(), super::super::MAX_NAME);
    assert_eq!(run.branch.map(|b| b.len()), Some(super::super::MAX_NAME));
}
