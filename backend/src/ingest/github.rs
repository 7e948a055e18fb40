//! GitHub Actions webhooks (`workflow_run`, `workflow_job`, `ping`) and the REST API's workflow
//! run objects (the poller reads the same shape).
//!
//! A run attempt is `github:{owner/repo}:{run id}:{attempt}`: a re-run keeps GitHub's run id and
//! increases `run_attempt`, so each attempt is its own run, linked to the others by
//! `run_key` = `github:{owner/repo}:{run id}`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{at, bounded, clean_job, clean_run, int, strings, text, time, Malformed, Parsed};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus, Step};

/// Whether `header` (`X-Hub-Signature-256`) is `sha256=` + the hex HMAC-SHA256 of `body` under
/// `secret`. The comparison is constant-time (the `hmac` crate's `verify_slice`).
pub fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The JSON of a delivery: the body itself, or the `payload` field of a form-encoded body
/// (GitHub's default content type for a new hook).
pub fn payload(content_type: Option<&str>, body: &[u8]) -> Result<Value, Malformed> {
    let form = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !form {
        return super::json_body(body);
    }
    let json = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| Malformed("a form-encoded delivery must have a payload field".into()))?;
    super::json_body(json.as_bytes())
}

/// Parses one delivery. `event` is the `X-GitHub-Event` header.
pub fn parse(
    event: &str,
    content_type: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Parsed, Malformed> {
    let v = payload(content_type, body)?;
    if !v.is_object() {
        return Ok(Parsed::Ignored("the payload is not a JSON object".into()));
    }
    Ok(match event {
        "ping" => Parsed::Ignored("pong: the webhook is set up".into()),
        "workflow_run" => match at(&v, "workflow_run") {
            Some(run) => match run_event(run, repo_of(&v, run), &v, now) {
                Some(ev) => Parsed::run(ev),
                None => Parsed::Ignored("workflow_run without a repository or run id".into()),
            },
            None => Parsed::Ignored("workflow_run event without a workflow_run object".into()),
        },
        "workflow_job" => match at(&v, "workflow_job") {
            Some(job) => match job_event(job, repo_of(&v, job), now) {
                Some(job) => Parsed::job(job),
                None => Parsed::Ignored("workflow_job without a repository, run id or job id".into()),
            },
            None => Parsed::Ignored("workflow_job event without a workflow_job object".into()),
        },
        "deployment" => Parsed::delivery(crate::delivery::github::deployment(&v, false, now)),
        "deployment_status" => Parsed::delivery(crate::delivery::github::deployment(&v, true, now)),
        "push" => Parsed::delivery(crate::delivery::github::push(&v, now)),
        "" => Parsed::Ignored("no X-GitHub-Event header".into()),
        other => Parsed::Ignored(format!(
            "{other} events are not recorded; subscribe the hook to workflow runs, workflow jobs, \
             deployments, deployment statuses and pushes"
        )),
    })
}

/// A workflow run object from the REST API (`GET /repos/{owner}/{repo}/actions/runs`).
pub fn run_from_api(run: &Value, now: DateTime<Utc>) -> Option<RunEvent> {
    let repo = text(run, "repository/full_name");
    run_event(run, repo, &Value::Null, now)
}

fn repo_of(payload: &Value, object: &Value) -> Option<String> {
    text(payload, "repository/full_name").or_else(|| text(object, "repository/full_name"))
}

/// The stored id of a run attempt, and the key shared by all attempts of the run.
pub fn run_ids(repo: &str, run_id: &str, attempt: i64) -> (String, String) {
    let key = format!("github:{repo}:{run_id}");
    (format!("{key}:{attempt}"), key)
}

/// Status of a run or job. A `conclusion` decides once there is one (the `status` and the
/// `action` can disagree in real deliveries); see [`conclusion`] and [`progress`].
fn status_of(v: &Value) -> RunStatus {
    match text(v, "conclusion") {
        Some(c) => conclusion(&c),
        None => progress(text(v, "status").as_deref()),
    }
}

/// `success` and `neutral` count as success; `failure`, `timed_out`, `startup_failure` as
/// failure; `cancelled` and `stale` (superseded) as cancelled; `skipped` and `action_required`
/// (the run never ran: it waits for an approval that starts a new attempt) as skipped. A conclusion
/// GitHub adds later counts as a failure: a new kind of unsuccessful end is likelier than a new
/// kind of success, and an alert on it is better than a silently green dashboard.
fn conclusion(c: &str) -> RunStatus {
    match c {
        "success" | "neutral" => RunStatus::Success,
        "cancelled" | "stale" => RunStatus::Cancelled,
        "skipped" | "action_required" => RunStatus::Skipped,
        _ => RunStatus::Failure,
    }
}

/// `in_progress` is running; `requested`, `queued`, `waiting`, `pending` and anything unknown are
/// queued (the lowest stage: it never moves a stored run backwards). `completed` without a
/// conclusion is left as running until a delivery with the conclusion arrives.
fn progress(s: Option<&str>) -> RunStatus {
    match s {
        Some("in_progress" | "completed") => RunStatus::Running,
        _ => RunStatus::Queued,
    }
}

fn run_event(run: &Value, repo: Option<String>, payload: &Value, now: DateTime<Utc>) -> Option<RunEvent> {
    let repo = bounded(repo?);
    let run_id = text(run, "id")?;
    let attempt = int(run, "run_attempt")
        .filter(|a| (1..=i64::from(i32::MAX)).contains(a))
        .unwrap_or(1);
    let (id, key) = run_ids(&repo, &run_id, attempt);
    let status = status_of(run);
    let workflow = text(run, "name")
        .or_else(|| text(payload, "workflow/name"))
        // `.github/workflows/ci.yml` → `ci.yml`; a path of slashes only names nothing.
        .or_else(|| {
            text(run, "path").and_then(|p| {
                p.rsplit('/')
                    .map(str::trim)
                    .find(|s| !s.is_empty())
                    .map(str::to_owned)
            })
        })
        .unwrap_or_else(|| "workflow".to_owned());
    let started = time(run, "run_started_at");
    // created_at is the run's creation: the queue time of the first attempt only.
    let queued_at = if attempt == 1 {
        time(run, "created_at")
    } else {
        started
    };
    let mut metadata = json!({ "workflow_run": run });
    for key in ["action", "sender"] {
        if let Some(v) = at(payload, key) {
            metadata[key] = v.clone();
        }
    }
    let mut ev = RunEvent {
        id,
        provider: Provider::Github.as_str().into(),
        repo,
        workflow: bounded(workflow),
        branch: text(run, "head_branch").map(bounded),
        commit_sha: text(run, "head_sha"),
        status,
        attempt: Some(attempt as i32),
        run_key: Some(key),
        duration_seconds: None,
        queued_at,
        started_at: started.filter(|_| status.stage() >= 1),
        // There is no completed_at: a completed run's last update is its end.
        finished_at: time(run, "updated_at").filter(|_| status.is_terminal()),
        triggered_by: text(run, "event"),
        url: text(run, "html_url"),
        metadata,
    };
    clean_run(&mut ev, now);
    Some(ev)
}

fn job_event(job: &Value, repo: Option<String>, now: DateTime<Utc>) -> Option<JobEvent> {
    let repo = bounded(repo?);
    let run_id = text(job, "run_id")?;
    let attempt = int(job, "run_attempt").filter(|a| *a >= 1).unwrap_or(1);
    let status = status_of(job);
    let steps = at(job, "steps")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter(|s| s.is_object())
                .map(|s| Step {
                    number: int(s, "number"),
                    name: text(s, "name").map(bounded).unwrap_or_default(),
                    status: status_of(s),
                    started_at: time(s, "started_at"),
                    finished_at: time(s, "completed_at"),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ev = JobEvent {
        run_id: run_ids(&repo, &run_id, attempt).0,
        id: text(job, "id")?,
        provider: Provider::Github.as_str().into(),
        name: text(job, "name").map(bounded).unwrap_or_else(|| "job".into()),
        stage: None,
        status,
        queued_at: time(job, "created_at"),
        // A queued job already carries a started_at (its creation): it means something only
        // once the job runs.
        started_at: time(job, "started_at").filter(|_| status.stage() >= 1),
        finished_at: time(job, "completed_at").filter(|_| status.is_terminal()),
        runner_name: text(job, "runner_name"),
        runner_group: text(job, "runner_group_name"),
        labels: strings(job, "labels"),
        steps,
        url: text(job, "html_url"),
        failure_reason: None,
    };
    clean_job(&mut ev, now);
    Some(ev)
}

#[cfg(test)]
mod tests;
