//! GitLab webhooks: pipeline hooks (`X-Gitlab-Event: Pipeline Hook`) give one run per delivery and
//! one job per entry of `builds`; job hooks (`Job Hook`, `object_kind: build`) give one job, with
//! its queue time (`build_queued_duration`) and runner tags, as it moves.
//!
//! A pipeline is identified as `gitlab:{project path}:{pipeline id}`; every hook about it (created,
//! running, finished, retried) updates the same run, and its jobs are attached to it by that id.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::{at, bounded, clean_job, clean_run, json_body, number, strings, text, time, Malformed, Parsed};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};

const PROVIDER: Provider = Provider::Gitlab;

/// Reads one delivery; `event` is the `X-Gitlab-Event` header.
///
/// Not JSON → [`Malformed`]. Other hooks (push, merge request…), bodies that are not objects, and
/// pipeline or job events without a project path or pipeline id → [`Parsed::Ignored`], saying why.
pub fn parse(event: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let v = json_body(body)?;
    if let Some(event) = event.map(str::trim).filter(|e| !e.is_empty()) {
        if !["Pipeline Hook", "Job Hook", "Deployment Hook", "Push Hook"]
            .iter()
            .any(|h| event.eq_ignore_ascii_case(h))
        {
            return Ok(ignored(format!(
                "X-Gitlab-Event is {}: only pipeline, job, deployment and push hooks are recorded",
                shown(event)
            )));
        }
    }
    if !v.is_object() {
        return Ok(ignored("the body is not a JSON object".to_owned()));
    }
    match text(&v, "object_kind") {
        Some(kind) if kind.eq_ignore_ascii_case("pipeline") => {}
        Some(kind) if kind.eq_ignore_ascii_case("build") => return Ok(job_hook(&v, now)),
        Some(kind) if kind.eq_ignore_ascii_case("deployment") => {
            return Ok(Parsed::delivery(crate::delivery::gitlab::deployment(&v, now)))
        }
        Some(kind) if kind.eq_ignore_ascii_case("push") => {
            return Ok(Parsed::delivery(crate::delivery::gitlab::push(&v, now)))
        }
        Some(kind) => {
            return Ok(ignored(format!(
                "object_kind is {}: only pipeline, build (job), deployment and push events are recorded",
                shown(&kind)
            )))
        }
        None => return Ok(ignored("no object_kind: not a pipeline or job event".to_owned())),
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
    Ok(Parsed::records(vec![run], jobs))
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

/// A job hook: the job of one pipeline, as it moves.
fn job_hook(v: &Value, now: DateTime<Utc>) -> Parsed {
    let Some(repo) = text(v, "project/path_with_namespace") else {
        return ignored("job event without project.path_with_namespace".to_owned());
    };
    let Some(pipeline_id) = text(v, "pipeline_id") else {
        return ignored("job event without pipeline_id".to_owned());
    };
    let run_id = format!("{PROVIDER}:{}:{}", bounded(repo), bounded(pipeline_id));
    let web_url = url(v, "project/web_url").map(|u| u.trim_end_matches('/').to_owned());
    // The job hook names its fields `build_*`; the pipeline hook's `builds[]` do not.
    let fields: Map<String, Value> = [
        ("id", "build_id"),
        ("name", "build_name"),
        ("stage", "build_stage"),
        ("status", "build_status"),
        ("created_at", "build_created_at"),
        ("started_at", "build_started_at"),
        ("finished_at", "build_finished_at"),
        ("queued_duration", "build_queued_duration"),
        ("failure_reason", "build_failure_reason"),
        ("runner", "runner"),
    ]
    .into_iter()
    .filter_map(|(to, from)| Some((to.to_owned(), at(v, from)?.clone())))
    .collect();
    match job(&Value::Object(fields), &run_id, web_url.as_deref(), now) {
        Some(job) => Parsed::job(job),
        None => ignored("job event without build_id".to_owned()),
    }
}

/// One entry of `builds` (or a job hook's fields under the same names); `None` without an id.
///
/// GitLab's `created_at` is when the job was created, which may be long before it could run (its
/// stage waits for the previous ones); `queued_duration`, when given, is the time it waited for a
/// runner, so the job counts as queued from `started_at − queued_duration`.
fn job(b: &Value, run_id: &str, web_url: Option<&str>, now: DateTime<Utc>) -> Option<JobEvent> {
    let id = bounded(text(b, "id")?);
    let status = status(text(b, "status").as_deref());
    let started_at = time(b, "started_at");
    let queued_for = number(b, "queued_duration")
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| TimeDelta::try_milliseconds((s * 1000.0) as i64));
    let queued_at = match (started_at, queued_for) {
        (Some(s), Some(q)) => s.checked_sub_signed(q),
        _ => time(b, "created_at"),
    };
    let mut job = JobEvent {
        run_id: run_id.to_owned(),
        name: bounded(text(b, "name").unwrap_or_else(|| id.clone())),
        provider: PROVIDER.as_str().to_owned(),
        stage: text(b, "stage").map(bounded),
        status,
        queued_at,
        started_at,
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
mod tests;
