//! Jenkins builds, as the Notification plugin (`com.tikal.hudson.plugins:notification`) posts them:
//! `{name, display_name, url, build: {full_url, number, queue_id, phase, status, timestamp, duration,
//! scm: {url, branch, commit}}}`, one delivery per phase of a build.
//!
//! A build is identified as `jenkins:{job}:{number}`, where the job is its full name (`folder/job`).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{
    at, bounded, clean_run, epoch_millis, int, json_body, number, parse_time, text, Malformed, Parsed,
};
use crate::domain::Provider;
use crate::domain::{RunEvent, RunStatus};

const PROVIDER: Provider = Provider::Jenkins;

/// Reads one notification. Not JSON → [`Malformed`]; a body that is not an object, or has no job
/// `name` or no `build.number` → [`Parsed::Ignored`], saying why.
pub fn parse(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let v = json_body(body)?;
    if !v.is_object() {
        return Ok(Parsed::Ignored("the body is not a JSON object".to_owned()));
    }
    let Some(name) = text(&v, "name") else {
        return Ok(Parsed::Ignored(
            "Jenkins notification without a job name".to_owned(),
        ));
    };
    let Some(build_number) = int(&v, "build/number") else {
        return Ok(Parsed::Ignored(
            "Jenkins notification without build.number".to_owned(),
        ));
    };
    let job = bounded(full_name(&v, &name).unwrap_or(name));

    let phase = Phase::of(text(&v, "build/phase").as_deref());
    let status = status(phase, text(&v, "build/status").as_deref());
    let timestamp = timestamp(&v);
    let duration = number(&v, "build/duration")
        .filter(|ms| *ms > 0.0)
        .and_then(|ms| Some((ms, TimeDelta::try_milliseconds(ms as i64)?)));
    let (mut queued_at, mut started_at, mut finished_at, mut duration_seconds) = (None, None, None, None);
    match phase {
        Phase::Queued => queued_at = timestamp,
        Phase::Started => started_at = timestamp,
        Phase::Completed | Phase::Finalized => {
            // The timestamp of these phases is when they happened, not when the build started
            // (see `timestamp`). COMPLETED's minus the duration is the exact start; FINALIZED's is
            // later than it by the time steps after completion took, but lets a build reported only
            // at FINALIZED (an endpoint set to "finalized" or "failed") have a start at all.
            if let Some((ms, span)) = duration {
                started_at = timestamp.and_then(|t| t.checked_sub_signed(span));
                if status.is_terminal() {
                    duration_seconds = Some(ms / 1000.0);
                }
            }
            if status.is_terminal() {
                finished_at = timestamp;
            }
        }
        Phase::Unknown => {}
    }

    let scm_url = text(&v, "build/scm/url");
    let mut ev = RunEvent {
        id: format!("{PROVIDER}:{job}:{build_number}"),
        provider: PROVIDER.as_str().to_owned(),
        repo: bounded(
            scm_url
                .as_deref()
                .and_then(repo_of)
                .unwrap_or_else(|| job.clone()),
        ),
        workflow: job,
        branch: text(&v, "build/scm/branch").and_then(|b| branch(&b)).map(bounded),
        commit_sha: text(&v, "build/scm/commit"),
        status,
        attempt: None,
        run_key: None,
        duration_seconds,
        queued_at,
        started_at,
        finished_at,
        triggered_by: None,
        url: at(&v, "build/full_url")
            .and_then(Value::as_str)
            .and_then(|_| text(&v, "build/full_url")),
        metadata: metadata(v),
    };
    clean_run(&mut ev, now);
    Ok(Parsed::run(ev))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Started,
    Completed,
    Finalized,
    /// Absent, `NONE` (sent by the `notifyEndpoints` pipeline step) or anything newer.
    Unknown,
}

impl Phase {
    fn of(s: Option<&str>) -> Self {
        match s.map(str::to_ascii_uppercase).as_deref() {
            Some("QUEUED") => Phase::Queued,
            Some("STARTED") => Phase::Started,
            Some("COMPLETED") => Phase::Completed,
            Some("FINALIZED") => Phase::Finalized,
            _ => Phase::Unknown,
        }
    }
}

/// A build's status from its phase and result.
///
/// - `QUEUED` → queued; `STARTED` → running.
/// - `COMPLETED` and `FINALIZED` → the result: `SUCCESS` → success, `UNSTABLE` and `FAILURE` →
///   failure, `ABORTED` → cancelled, `NOT_BUILT` → skipped.
/// - `COMPLETED` without a result → running: some versions send none yet, and `FINALIZED`, the final
///   word, follows with it.
/// - `FINALIZED` without a result, or either phase with a result this code does not know → failure:
///   the build is over, and nothing says it succeeded.
/// - An unknown or absent phase → queued: the lowest stage, which never moves a stored run
///   backwards (the merge ignores events of a lower stage).
fn status(phase: Phase, result: Option<&str>) -> RunStatus {
    let result = result.map(str::to_ascii_uppercase);
    let finished = || match result.as_deref() {
        Some("SUCCESS") => RunStatus::Success,
        Some("ABORTED") => RunStatus::Cancelled,
        Some("NOT_BUILT") => RunStatus::Skipped,
        // UNSTABLE, FAILURE, absent at FINALIZED, or unknown.
        _ => RunStatus::Failure,
    };
    match phase {
        Phase::Queued | Phase::Unknown => RunStatus::Queued,
        Phase::Started => RunStatus::Running,
        Phase::Completed if result.is_none() => RunStatus::Running,
        Phase::Completed | Phase::Finalized => finished(),
    }
}

/// `build.timestamp`: epoch milliseconds as a number or, from older plugins, a numeric string (or a
/// date). Zero (sent for `QUEUED` when Jenkins could not tell the queue time) counts as absent.
///
/// The plugin sends the time of the phase: `QUEUED` when the build entered the queue, `STARTED` when
/// it started, `COMPLETED` start + duration (its end), `FINALIZED` when it was finalized.
fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match at(v, "build/timestamp")? {
        Value::String(s) if s.trim().parse::<f64>().is_err() => parse_time(s),
        _ if int(v, "build/timestamp").is_some_and(|ms| ms <= 0) => None,
        _ => epoch_millis(v, "build/timestamp"),
    }
}

/// The job's full name (`folder/sub/job`) from its `url` (`job/folder/job/sub/job/job/`): `name` is
/// only the last part, so jobs of the same name in different folders (and every multibranch project's
/// `main`) would otherwise share their ids. `None` unless the url ends with `name`.
fn full_name(v: &Value, name: &str) -> Option<String> {
    let url = text(v, "url")?;
    let mut parts = Vec::new();
    let mut segments = url.split('/');
    while let Some(segment) = segments.next() {
        if segment == "job" {
            if let Some(part) = segments.next().filter(|p| !p.is_empty()) {
                parts.push(percent_decoded(part));
            }
        }
    }
    (parts.last().map(String::as_str) == Some(name)).then(|| parts.join("/"))
}

/// `%XX` escapes decoded once (Jenkins escapes job names in urls); invalid UTF-8 is replaced.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `owner/name` (or `group/sub/name`) from a git remote: `https://host/acme/api.git`,
/// `ssh://git@host:2222/acme/api.git`, `git@host:acme/api.git`. `None` for local paths.
fn repo_of(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => {
            // scp-like `[user@]host:path`: a colon before any slash.
            let (host, path) = url.split_once(':')?;
            if host.is_empty() || host.contains('/') {
                return None;
            }
            path
        }
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).trim_matches('/');
    (!path.is_empty()).then(|| path.to_owned())
}

/// `scm.branch` without the remote's prefix (`origin/main`, `refs/heads/main` → `main`).
fn branch(b: &str) -> Option<String> {
    let b = ["refs/remotes/origin/", "origin/", "refs/heads/"]
        .iter()
        .find_map(|prefix| b.strip_prefix(prefix))
        .unwrap_or(b);
    (!b.is_empty()).then(|| b.to_owned())
}

/// The payload is small and kept whole, except the console log lines an endpoint may be configured
/// to send (`build.log`), and credentials in the remote's url (`https://user:token@host/…`).
fn metadata(mut v: Value) -> Value {
    if let Some(Value::Object(build)) = v.get_mut("build") {
        build.remove("log");
        if let Some(Value::Object(scm)) = build.get_mut("scm") {
            if let Some(Value::String(url)) = scm.get_mut("url") {
                if let Some(redacted) = without_credentials(url) {
                    *url = redacted;
                }
            }
        }
    }
    v
}

/// `scheme://user:secret@host/…` → `scheme://host/…`; `None` when there is nothing to remove.
fn without_credentials(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(format!("{scheme}://{}", &rest[at + 1..]))
}

#[cfg(test)]
mod tests {
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

    fn run_of(v: &Value) -> RunEvent {
        match parse(v.to_string().as_bytes(), now()).unwrap() {
            Parsed::Records { mut runs, jobs } => {
                assert!(jobs.is_empty());
                assert_eq!(runs.len(), 1);
                runs.remove(0)
            }
            Parsed::Ignored(why) => panic!("ignored: {why}"),
        }
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
}
