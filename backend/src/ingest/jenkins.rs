//! Jenkins builds, as the Notification plugin (`com.tikal.hudson.plugins:notification`) posts them:
//! `{name, display_name, url, build: {full_url, number, queue_id, phase, status, timestamp, duration,
//! scm: {url, branch, commit}}}`, one delivery per phase of a build.
//!
//! A build is identified as `jenkins:{job}:{number}`, where the job is its full name (`folder/job`).
//! It is also recorded as the one job of that run (it holds one executor), with the node's labels
//! when the build passes them as the `NODE_LABELS` (or `LABEL`) parameter, and `NODE_NAME`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{
    at, bounded, clean_job, clean_run, epoch_millis, int, json_body, number, parse_time, text, Malformed,
    Parsed,
};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};

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
    // The build is also the one job of its run: it holds one executor on one node. Jenkins does
    // not send the node; a build that passes `NODE_LABELS` (space-separated, as Jenkins sets it)
    // or `LABEL` and `NODE_NAME` as parameters gets its pool.
    let node_labels = text(&v, "build/parameters/NODE_LABELS")
        .or_else(|| text(&v, "build/parameters/LABEL"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut build = JobEvent {
        run_id: String::new(),
        id: build_number.to_string(),
        provider: PROVIDER.as_str().to_owned(),
        name: job.rsplit('/').next().unwrap_or(&job).to_owned(),
        stage: None,
        status,
        queued_at,
        started_at,
        finished_at,
        runner_name: text(&v, "build/parameters/NODE_NAME"),
        runner_group: None,
        labels: node_labels,
        steps: Vec::new(),
        url: None,
        failure_reason: None,
    };
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
    build.run_id = ev.id.clone();
    build.url = ev.url.clone();
    clean_job(&mut build, now);
    Ok(Parsed::records(vec![ev], vec![build]))
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
mod tests;
