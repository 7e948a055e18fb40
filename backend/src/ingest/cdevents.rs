//! CDEvents (<https://cdevents.dev>, spec 0.4 and 0.5) delivered over the CloudEvents HTTP binding:
//! pipeline runs become runs, task runs become jobs of their pipeline run.
//!
//! How a request is read, by its `Content-Type` (media type only, parameters such as `charset` and
//! letter case ignored) and headers, in this order:
//! - `application/cloudevents-batch+json`: a JSON array of structured CloudEvents; the records are
//!   the union of every item's. Items that are ignored (or whose `data` cannot be decoded) are
//!   skipped; when no item yields a record the delivery is `Ignored` with a summary.
//! - `application/cloudevents…` (structured mode, `+json` or no suffix): one JSON object
//!   `{specversion, id, source, type, time, data}`; `data` is the CDEvent, given as a JSON object,
//!   as a string holding JSON, or as `data_base64`.
//! - a `ce-specversion` header (binary mode): the CloudEvent attributes are in `ce-*` headers
//!   (percent-decoded) and the body is the CDEvent.
//! - otherwise (plain `application/json`, or no type): a bare CDEvent, recognised by a `context`
//!   whose `type` starts with `dev.cdevents.`; an object with `specversion` that is not a CDEvent is
//!   read as a structured CloudEvent sent with the wrong content type.
//!
//! The CDEvent's own `context` is authoritative; the CloudEvent attributes only fill in what it lacks
//! (`type`, `source`, `timestamp` from `time`, and the subject id from `subject`). A CloudEvent whose
//! type is not one we track is ignored without its data being read, so other producers' events
//! (XML, protobuf…) sent to the same sink are answered 2xx. A body that is not JSON, or the data of a
//! tracked event that cannot be decoded, is [`Malformed`]; well-formed JSON that is not a usable
//! CDEvent (wrong shape, no subject, no source, a task run outside any pipeline run) is `Ignored`
//! with the reason, since the sender cannot fix it by retrying.
//!
//! Mapping of `dev.cdevents.pipelinerun.{queued,started,finished}.*` (any version) to a run:
//! - id `cdevents:{source}:{subject.id}`, source being `subject.source`, else `context.source`;
//!   ids longer than [`MAX_NAME`] characters keep a prefix and a SHA-256 of the whole, so that
//!   they stay distinct, stable and indexable.
//! - repo: the schema has none. Taken from `customData` (an object) at the first of `repo`,
//!   `repository`, `repo.full_name`, `repository.full_name`, `repository.path_with_namespace`,
//!   `project.path_with_namespace` that is a string, a repository URL (`https://host/acme/api.git`,
//!   `git@host:acme/api.git`) reduced to its path `acme/api`. Otherwise derived from the source:
//!   a URL on a code forge (`github.com`, `gitlab.com`, `bitbucket.org`, `codeberg.org`, or a host
//!   whose first label starts with `github`, `gitlab`, `gitea`, `forgejo`, `bitbucket`) gives its
//!   first two path segments (or the segments before GitLab's `/-/`), a path of exactly two
//!   segments (`/acme/api`) gives `acme/api`, anything else is kept as the repo (`/tekton/ns/x`).
//! - workflow `content.pipelineName`, else `pipeline`. branch and commit from `customData`
//!   (`branch` or a `refs/heads/` `ref`; `commit_sha`, `commitSha`, `sha`, `commit`, `revision`).
//! - queued → queued (`queued_at`), started → running (`started_at`), finished → by
//!   `content.outcome` (`finished_at`): `success` → success, `cancel` (or `canceled`/`cancelled`) →
//!   cancelled, `failure`, `error` and anything else or nothing → failure: a finished run that does
//!   not say it succeeded must not count as a success, and it is over, so it is the conservative
//!   terminal state. The times are the event's `timestamp`; none is invented when it is missing.
//! - url: `content.uri` (0.5) or `content.url` (0.4), only an absolute `http(s)` URL (a relative
//!   URI such as Tekton's `/apis/tekton.dev/…` is no link for a browser); attempt and duration none.
//! - metadata `{"cdevent": <the CDEvent>}`.
//!
//! `dev.cdevents.taskrun.{started,finished}.*` becomes a job of the run
//! `cdevents:{pipelineRun.source, else context.source}:{pipelineRun.id}` (the id that run's own
//! events produce when the task run names it as the spec says), with the subject id as job id,
//! `taskName` (else the subject id) as name, the status as above and `errors` as the failure reason
//! of a failed or cancelled job. A task run without a `pipelineRun` reference is ignored: jobs only
//! exist under a run.

use std::borrow::Cow;

use axum::http::{header, HeaderMap};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    at, bounded, clean_job, clean_run, json_body, parse_time, text, time, Malformed, Parsed, MAX_NAME,
};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};

const PROVIDER: Provider = Provider::Cdevents;

/// Reads one CloudEvents HTTP request carrying CDEvents (see the module documentation).
pub fn parse(headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    match media_type(headers).as_deref() {
        Some("application/cloudevents-batch+json") => batch(body, now),
        Some(m) if m.starts_with("application/cloudevents") => match json_body(body)? {
            ev @ Value::Object(_) => structured(&ev, now),
            Value::Array(_) => Ok(Parsed::Ignored(NOT_A_BATCH.to_owned())),
            _ => Ok(ignored("a structured CloudEvent must be a JSON object")),
        },
        _ if headers.contains_key("ce-specversion") => binary(headers, body, now),
        _ => bare(body, now),
    }
}

const NOT_A_BATCH: &str =
    "a JSON array is read only as a batch of CloudEvents (Content-Type: application/cloudevents-batch+json)";

fn ignored(reason: &str) -> Parsed {
    Parsed::Ignored(reason.to_owned())
}

// ---- CloudEvents HTTP modes ---------------------------------------------------------------------

/// The CloudEvent attributes that stand in for what a CDEvent's context lacks.
#[derive(Debug, Default)]
struct Envelope {
    ty: Option<String>,
    source: Option<String>,
    time: Option<DateTime<Utc>>,
    subject: Option<String>,
}

fn binary(headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let env = Envelope {
        ty: ce_header(headers, "ce-type"),
        source: ce_header(headers, "ce-source"),
        time: ce_header(headers, "ce-time").and_then(|t| parse_time(&t)),
        subject: ce_header(headers, "ce-subject"),
    };
    if let Some(reason) = untracked(env.ty.as_deref()) {
        return Ok(Parsed::Ignored(reason));
    }
    Ok(cdevent(&json_body(body)?, &env, now))
}

/// One structured-mode CloudEvent (a JSON object), alone or as a batch item.
fn structured(ev: &Value, now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let env = Envelope {
        ty: text(ev, "type"),
        source: text(ev, "source"),
        time: time(ev, "time"),
        subject: text(ev, "subject"),
    };
    if let Some(reason) = untracked(env.ty.as_deref()) {
        return Ok(Parsed::Ignored(reason));
    }
    let data: Cow<Value> = match (at(ev, "data"), at(ev, "data_base64")) {
        (Some(Value::String(s)), _) => Cow::Owned(
            json_body(s.as_bytes())
                .map_err(|e| Malformed(format!("the CloudEvent's data is a string but not JSON: {e}")))?,
        ),
        (Some(data), _) => Cow::Borrowed(data),
        (None, Some(Value::String(b64))) => {
            let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| Malformed(format!("the CloudEvent's data_base64 is not base64: {e}")))?;
            Cow::Owned(
                json_body(&bytes)
                    .map_err(|e| Malformed(format!("the CloudEvent's data_base64 is not JSON: {e}")))?,
            )
        }
        (None, Some(_)) => return Err(Malformed("the CloudEvent's data_base64 must be a string".into())),
        (None, None) => return Ok(ignored("the CloudEvent has no data")),
    };
    Ok(cdevent(&data, &env, now))
}

fn batch(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let Value::Array(items) = json_body(body)? else {
        return Ok(ignored("a CloudEvents batch must be a JSON array"));
    };
    if items.is_empty() {
        return Ok(ignored("the CloudEvents batch is empty"));
    }
    let (mut runs, mut jobs, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        let outcome = match item {
            Value::Object(_) => structured(item, now),
            _ => Ok(ignored("not a JSON object")),
        };
        match outcome {
            Ok(Parsed::Records { runs: r, jobs: j }) => {
                runs.extend(r);
                jobs.extend(j);
            }
            Ok(Parsed::Ignored(why)) | Err(Malformed(why)) => skipped.push(format!("[{i}] {why}")),
        }
    }
    if runs.is_empty() && jobs.is_empty() {
        const SHOWN: usize = 5;
        let more = skipped.len().saturating_sub(SHOWN);
        let mut summary = format!(
            "none of the batch's {} events was recorded: {}",
            items.len(),
            skipped[..skipped.len().min(SHOWN)].join("; ")
        );
        if more > 0 {
            summary.push_str(&format!("; and {more} more"));
        }
        return Ok(Parsed::Ignored(summary));
    }
    Ok(Parsed::Records { runs, jobs })
}

fn bare(body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let v = json_body(body)?;
    if v.is_array() {
        return Ok(ignored(NOT_A_BATCH));
    }
    if text(&v, "context/type").is_some_and(|t| t.to_ascii_lowercase().starts_with("dev.cdevents.")) {
        return Ok(cdevent(&v, &Envelope::default(), now));
    }
    if text(&v, "specversion").is_some() {
        return structured(&v, now);
    }
    Ok(ignored(
        "not a CDEvent: expected a `context` with a `dev.cdevents.*` type, or a CloudEvent \
         (`ce-*` headers or Content-Type: application/cloudevents+json)",
    ))
}

/// The media type of the request, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = ct.split(';').next()?.trim().to_ascii_lowercase();
    Some(media).filter(|m| !m.is_empty())
}

/// A `ce-*` header, percent-decoded as the CloudEvents HTTP binding requires; blank counts as absent.
fn ce_header(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = String::from_utf8_lossy(headers.get(name)?.as_bytes()).into_owned();
    let decoded = percent_decode(&raw);
    Some(decoded.trim().to_owned()).filter(|s| !s.is_empty())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- event types --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PipelineRun,
    TaskRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Started,
    Finished,
}

/// `dev.cdevents.pipelinerun.{queued,started,finished}.<any version>` and
/// `dev.cdevents.taskrun.{started,finished}.<any version>`.
fn classify(ty: &str) -> Option<(Kind, Phase)> {
    let ty = ty.trim().to_ascii_lowercase();
    let mut parts = ty.strip_prefix("dev.cdevents.")?.splitn(3, '.');
    let kind = match parts.next()? {
        "pipelinerun" => Kind::PipelineRun,
        "taskrun" => Kind::TaskRun,
        _ => return None,
    };
    let phase = match (kind, parts.next()?) {
        (Kind::PipelineRun, "queued") => Phase::Queued,
        (_, "started") => Phase::Started,
        (_, "finished") => Phase::Finished,
        _ => return None,
    };
    Some((kind, phase))
}

/// Why an event of type `ty` is not read, if it is not one we track.
fn untracked(ty: Option<&str>) -> Option<String> {
    let ty = ty?;
    classify(ty).is_none().then(|| {
        let shown: String = ty.chars().take(120).collect();
        format!(
            "event type {shown:?} is not tracked (only dev.cdevents.pipelinerun.{{queued,started,finished}} \
             and dev.cdevents.taskrun.{{started,finished}})"
        )
    })
}

// ---- the CDEvent --------------------------------------------------------------------------------

fn cdevent(ev: &Value, env: &Envelope, now: DateTime<Utc>) -> Parsed {
    if !ev.is_object() {
        return ignored("the CDEvent is not a JSON object");
    }
    let Some(ty) = text(ev, "context/type").or_else(|| env.ty.clone()) else {
        return ignored("the CDEvent has no context.type");
    };
    let Some((kind, phase)) = classify(&ty) else {
        return Parsed::Ignored(untracked(Some(&ty)).unwrap_or_default());
    };
    let Some(subject) = at(ev, "subject").filter(|s| s.is_object()) else {
        return ignored("the CDEvent has no subject");
    };
    let Some(subject_id) = text(subject, "id").or_else(|| env.subject.clone()) else {
        return ignored("the CDEvent's subject has no id");
    };
    let context_source = text(ev, "context/source").or_else(|| env.source.clone());
    let timestamp = time(ev, "context/timestamp").or(env.time);
    let null = Value::Null;
    let content = at(subject, "content").unwrap_or(&null);
    let status = match phase {
        Phase::Queued => RunStatus::Queued,
        Phase::Started => RunStatus::Running,
        Phase::Finished => outcome(text(content, "outcome").as_deref()),
    };
    let when = |p: Phase| timestamp.filter(|_| phase == p);

    match kind {
        Kind::PipelineRun => {
            let Some(source) = text(subject, "source").or(context_source) else {
                return ignored("the CDEvent has no source (subject.source or context.source)");
            };
            let custom = at(ev, "customData").filter(|c| c.is_object());
            let mut run = RunEvent {
                id: run_id(&source, &subject_id),
                provider: PROVIDER.as_str().to_owned(),
                repo: bounded(
                    custom
                        .and_then(custom_repo)
                        .unwrap_or_else(|| repo_from_source(&source)),
                ),
                workflow: bounded(text(content, "pipelineName").unwrap_or_else(|| "pipeline".to_owned())),
                branch: custom.and_then(custom_branch).map(bounded),
                commit_sha: custom.and_then(custom_commit).map(bounded),
                status,
                attempt: None,
                run_key: None,
                duration_seconds: None,
                queued_at: when(Phase::Queued),
                started_at: when(Phase::Started),
                finished_at: when(Phase::Finished),
                triggered_by: None,
                url: link(content),
                metadata: json!({ "cdevent": ev }),
            };
            clean_run(&mut run, now);
            Parsed::run(run)
        }
        Kind::TaskRun => {
            let Some(pipeline_run) = text(content, "pipelineRun/id") else {
                return ignored("the task run names no pipelineRun, and jobs are only recorded under a run");
            };
            let Some(source) = text(content, "pipelineRun/source").or(context_source) else {
                return ignored("the CDEvent has no source (pipelineRun.source or context.source)");
            };
            let mut job = JobEvent {
                run_id: run_id(&source, &pipeline_run),
                id: capped(subject_id.clone()),
                provider: PROVIDER.as_str().to_owned(),
                name: bounded(text(content, "taskName").unwrap_or(subject_id)),
                stage: None,
                status,
                queued_at: None,
                started_at: when(Phase::Started),
                finished_at: when(Phase::Finished),
                runner_name: None,
                runner_group: None,
                labels: Vec::new(),
                steps: Vec::new(),
                url: link(content),
                failure_reason: text(content, "errors")
                    .filter(|_| matches!(status, RunStatus::Failure | RunStatus::Cancelled)),
            };
            clean_job(&mut job, now);
            Parsed::job(job)
        }
    }
}

/// A finished run's status from its `outcome`; anything but success or cancel is a failure.
fn outcome(outcome: Option<&str>) -> RunStatus {
    match outcome.map(str::to_ascii_lowercase).as_deref() {
        Some("success") => RunStatus::Success,
        Some("cancel" | "canceled" | "cancelled") => RunStatus::Cancelled,
        _ => RunStatus::Failure,
    }
}

/// `uri` (0.5) or `url` (0.4), if it is an absolute http(s) URL.
fn link(content: &Value) -> Option<String> {
    ["uri", "url"].into_iter().find_map(|key| {
        text(content, key).filter(|u| {
            let lower = u.to_ascii_lowercase();
            (lower.starts_with("https://") || lower.starts_with("http://"))
                && !u.contains(char::is_whitespace)
        })
    })
}

/// The id that a pipeline run's events give it, and that its task runs refer to.
fn run_id(source: &str, id: &str) -> String {
    capped(format!("cdevents:{source}:{id}"))
}

/// Keeps an id at most [`MAX_NAME`] characters: a longer one becomes a prefix, `~` and the SHA-256
/// of the whole, so that it stays unique and is the same for every event that names it.
fn capped(id: String) -> String {
    if id.chars().count() <= MAX_NAME {
        return id;
    }
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    let prefix: String = id.chars().take(MAX_NAME - 1 - digest.len()).collect();
    format!("{prefix}~{digest}")
}

// ---- repository, branch and commit --------------------------------------------------------------

fn custom_repo(custom: &Value) -> Option<String> {
    const KEYS: [&str; 6] = [
        "repo",
        "repository",
        "repo/full_name",
        "repository/full_name",
        "repository/path_with_namespace",
        "project/path_with_namespace",
    ];
    let repo = KEYS.iter().find_map(|k| text(custom, k))?;
    Some(match url_parts(&repo) {
        Some((_, segments)) => repo_path(&segments, true).unwrap_or(repo),
        None => repo,
    })
}

fn custom_branch(custom: &Value) -> Option<String> {
    text(custom, "branch").or_else(|| {
        let r = text(custom, "ref")?;
        match r.strip_prefix("refs/heads/") {
            Some(branch) => Some(branch.to_owned()).filter(|b| !b.is_empty()),
            None => Some(r).filter(|r| !r.starts_with("refs/")),
        }
    })
}

fn custom_commit(custom: &Value) -> Option<String> {
    ["commit_sha", "commitSha", "sha", "commit", "revision"]
        .into_iter()
        .find_map(|k| text(custom, k))
}

/// The repo a CDEvents `source` stands for (see the module documentation).
fn repo_from_source(source: &str) -> String {
    let source = source.trim();
    if let Some((host, segments)) = url_parts(source) {
        if is_forge(&host) {
            if let Some(repo) = repo_path(&segments, false) {
                return repo;
            }
        }
        return source.to_owned();
    }
    let segments: Vec<&str> = source.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [host, rest @ ..] if is_forge(host) => repo_path(rest, false).unwrap_or_else(|| source.to_owned()),
        [owner, name] if !source.contains([':', '?', '#']) => format!("{owner}/{}", trim_git(name)),
        _ => source.to_owned(),
    }
}

/// The host and path segments of `scheme://[user@]host[:port]/path` or `user@host:path` (scp-like
/// git remotes); `None` for anything else.
fn url_parts(s: &str) -> Option<(String, Vec<&str>)> {
    let (authority, path) = match s.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => {
            rest.split_once('/').unwrap_or((rest, ""))
        }
        Some(_) => return None,
        None => {
            let (user_host, path) = s.split_once(':')?;
            if !user_host.contains('@') || user_host.contains('/') {
                return None;
            }
            (user_host, path)
        }
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Some((host, path.split('/').filter(|s| !s.is_empty()).collect()))
}

fn is_forge(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let first = host.split('.').next().unwrap_or(host);
    host.contains('.')
        && (["github.com", "gitlab.com", "bitbucket.org", "codeberg.org"].contains(&host)
            || ["github", "gitlab", "gitea", "forgejo", "bitbucket"]
                .iter()
                .any(|f| first.starts_with(f)))
}

/// `owner/name` from a repository URL's path segments: those before GitLab's `-` separator, else
/// all of them (`whole`, a URL known to name a repository) or the first two (a forge URL that may
/// point deeper, as `/acme/api/actions/runs/1`). At least two segments are needed.
fn repo_path(segments: &[&str], whole: bool) -> Option<String> {
    let end = segments.iter().position(|s| *s == "-").unwrap_or(if whole {
        segments.len()
    } else {
        segments.len().min(2)
    });
    let (last, owner) = segments[..end].split_last()?;
    if owner.is_empty() {
        return None;
    }
    Some(format!("{}/{}", owner.join("/"), trim_git(last)))
}

fn trim_git(name: &str) -> &str {
    name.strip_suffix(".git")
        .filter(|n| !n.is_empty())
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
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
            Parsed::Records { mut runs, jobs } if runs.len() == 1 && jobs.is_empty() => runs.remove(0),
            other => panic!("expected one run, got {other:?}"),
        }
    }

    fn one_job(p: Parsed) -> JobEvent {
        match p {
            Parsed::Records { runs, mut jobs } if runs.is_empty() && jobs.len() == 1 => jobs.remove(0),
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
        let content =
            json!({"pipelineName": "build", "url": "https://github.com/acme/api/actions/runs/4711"});
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
        let job = one_job(parse_bare(&finished).unwrap());
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
        other["type"] = json!("dev.cdevents.artifact.published.0.2.0");
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
        artifact["type"] = json!("dev.cdevents.artifact.published.0.2.0");
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
            Parsed::Records { runs, jobs } => {
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
            "dev.cdevents.artifact.published.0.2.0",
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
}
