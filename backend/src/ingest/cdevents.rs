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
//! of a failed or cancelled job, and `customData.labels` (an array, or labels separated by commas)
//! and `customData.runner` as its runner labels and name. A task run without a `pipelineRun`
//! reference is ignored: jobs only exist under a run.
//!
//! `dev.cdevents.testcaserun.{finished,skipped}.*` becomes one test result of the pipeline run it
//! names: `content.pipelineRun` or `customData.pipelineRun` (`{id, source}`, the source defaulting
//! to `context.source`), the run `cdevents:{source}:{id}` as above. The spec gives a test case run
//! no link to its pipeline run; one that names none is ignored with that reason. The test is
//! `testCase.name` (else `testCase.id`), its file `testCase.uri`; `outcome` `pass` is passed,
//! `error` an error, `cancel` and the skipped event skipped, anything else failed, with `reason`
//! as the message. The event's id (`context.id`, else the CloudEvent's `id`) makes it count once.
//! `testcaserun.{queued,started}` and `testsuiterun.*` carry no result and are ignored with that
//! reason.

use std::borrow::Cow;

use axum::http::{header, HeaderMap};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    at, bounded, clean_job, clean_run, json_body, parse_time, strings, text, time, Malformed, Parsed,
    MAX_NAME,
};
use crate::domain::limits::cut;
use crate::domain::test_case::{TestCase, TestEvent, TestKey, TestStatus};
use crate::domain::Provider;
use crate::domain::{JobEvent, RunEvent, RunStatus};
use crate::ingest::junit::{MAX_MESSAGE, MAX_TEST_NAME};

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
    id: Option<String>,
    ty: Option<String>,
    source: Option<String>,
    time: Option<DateTime<Utc>>,
    subject: Option<String>,
}

fn binary(headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<Parsed, Malformed> {
    let env = Envelope {
        id: ce_header(headers, "ce-id"),
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
        id: text(ev, "id"),
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
    let (mut runs, mut jobs, mut tests, mut skipped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut delivery = crate::delivery::Batch::default();
    for (i, item) in items.iter().enumerate() {
        let outcome = match item {
            Value::Object(_) => structured(item, now),
            _ => Ok(ignored("not a JSON object")),
        };
        match outcome {
            Ok(Parsed::Records {
                runs: r,
                jobs: j,
                tests: t,
                delivery: d,
            }) => {
                runs.extend(r);
                jobs.extend(j);
                tests.extend(t);
                delivery.extend(d);
            }
            Ok(Parsed::Ignored(why)) | Err(Malformed(why)) => skipped.push(format!("[{i}] {why}")),
        }
    }
    if runs.is_empty() && jobs.is_empty() && tests.is_empty() && delivery.is_empty() {
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
    Ok(Parsed::Records {
        runs,
        jobs,
        tests,
        delivery,
    })
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

/// What ran: the subject of a `…run` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pipeline,
    Task,
    TestSuite,
    TestCase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Started,
    Finished,
    Skipped,
}

/// `dev.cdevents.pipelinerun.{queued,started,finished}`, `dev.cdevents.taskrun.{started,finished}`,
/// `dev.cdevents.testsuiterun.{queued,started,finished}` and
/// `dev.cdevents.testcaserun.{queued,started,finished,skipped}`, each at any version.
fn classify(ty: &str) -> Option<(Kind, Phase)> {
    let ty = ty.trim().to_ascii_lowercase();
    let mut parts = ty.strip_prefix("dev.cdevents.")?.splitn(3, '.');
    let kind = match parts.next()? {
        "pipelinerun" => Kind::Pipeline,
        "taskrun" => Kind::Task,
        "testsuiterun" => Kind::TestSuite,
        "testcaserun" => Kind::TestCase,
        _ => return None,
    };
    let phase = match (kind, parts.next()?) {
        (Kind::Pipeline | Kind::TestSuite | Kind::TestCase, "queued") => Phase::Queued,
        (_, "started") => Phase::Started,
        (_, "finished") => Phase::Finished,
        (Kind::TestCase, "skipped") => Phase::Skipped,
        _ => return None,
    };
    Some((kind, phase))
}

/// Why an event of type `ty` is not read, if it is not one we track.
fn untracked(ty: Option<&str>) -> Option<String> {
    let ty = ty?;
    (classify(ty).is_none() && !crate::delivery::cdevents::tracks(ty)).then(|| {
        let shown: String = ty.chars().take(120).collect();
        format!(
            "event type {shown:?} is not tracked (only dev.cdevents.pipelinerun.{{queued,started,finished}}, \
             dev.cdevents.taskrun.{{started,finished}}, dev.cdevents.testsuiterun.{{queued,started,finished}}, \
             dev.cdevents.testcaserun.{{queued,started,finished,skipped}}, {})",
            crate::delivery::cdevents::TYPES
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
    let timestamp = time(ev, "context/timestamp").or(env.time);
    if let Some(batch) = crate::delivery::cdevents::parse(&ty, ev, timestamp, now) {
        return Parsed::delivery(batch);
    }
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
    let null = Value::Null;
    let content = at(subject, "content").unwrap_or(&null);
    let status = match phase {
        Phase::Queued => RunStatus::Queued,
        Phase::Started => RunStatus::Running,
        Phase::Finished => outcome(text(content, "outcome").as_deref()),
        Phase::Skipped => RunStatus::Skipped,
    };
    let when = |p: Phase| timestamp.filter(|_| phase == p);

    match kind {
        Kind::Pipeline => {
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
        Kind::Task => {
            let custom = at(ev, "customData").filter(|c| c.is_object());
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
                runner_name: custom.and_then(|c| text(c, "runner")).map(bounded),
                runner_group: None,
                labels: custom.map(custom_labels).unwrap_or_default(),
                steps: Vec::new(),
                url: link(content),
                failure_reason: text(content, "errors")
                    .filter(|_| matches!(status, RunStatus::Failure | RunStatus::Cancelled)),
            };
            clean_job(&mut job, now);
            Parsed::job(job)
        }
        Kind::TestSuite => ignored(
            "a test suite run's own events carry no test results: they come with \
             dev.cdevents.testcaserun.finished and .skipped",
        ),
        Kind::TestCase if matches!(phase, Phase::Queued | Phase::Started) => {
            ignored("a test case run that has not finished has no result yet")
        }
        Kind::TestCase => {
            let custom = at(ev, "customData").filter(|c| c.is_object());
            let Some((pipeline_run, source)) = [Some(content), custom]
                .into_iter()
                .flatten()
                .find_map(|v| text(v, "pipelineRun/id").map(|id| (id, text(v, "pipelineRun/source"))))
            else {
                return ignored(
                    "the test case run names no pipelineRun (in its content or customData), and test \
                     results are only recorded under a run",
                );
            };
            let Some(source) = source.or(context_source) else {
                return ignored("the CDEvent has no source (pipelineRun.source or context.source)");
            };
            let name = text(content, "testCase/name")
                .or_else(|| text(content, "testCase/id"))
                .unwrap_or_else(|| subject_id.clone());
            let status = match (
                phase,
                text(content, "outcome")
                    .map(|o| o.to_ascii_lowercase())
                    .as_deref(),
            ) {
                (Phase::Skipped, _) | (_, Some("cancel" | "canceled" | "cancelled")) => TestStatus::Skipped,
                (_, Some("pass" | "success")) => TestStatus::Passed,
                (_, Some("error")) => TestStatus::Error,
                _ => TestStatus::Failed,
            };
            let case = TestCase {
                key: TestKey {
                    suite: String::new(),
                    classname: String::new(),
                    name: capped_test_name(name),
                    file: text(content, "testCase/uri")
                        .map(capped_test_name)
                        .unwrap_or_default(),
                },
                status,
                attempts: 1,
                duration_seconds: None,
                started_at: None,
                message: text(content, "reason")
                    .filter(|_| status != TestStatus::Passed)
                    .map(|r| cut(r, MAX_MESSAGE)),
                output: None,
            };
            // The event's own id identifies it; without one, its whole content does.
            let event_key = text(ev, "context/id")
                .or_else(|| env.id.clone())
                .unwrap_or_else(|| hex::encode(Sha256::digest(ev.to_string().as_bytes())));
            Parsed::test(TestEvent {
                run_id: run_id(&source, &pipeline_run),
                event_key: format!("cdevents:{event_key}"),
                case,
            })
        }
    }
}

/// A test's name or file as JUnit reports' are kept: at most [`MAX_TEST_NAME`] characters.
fn capped_test_name(s: String) -> String {
    crate::domain::limits::capped_id(s.trim().to_owned(), MAX_TEST_NAME)
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
pub(crate) fn run_id(source: &str, id: &str) -> String {
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

/// A task run's runner labels: `customData.labels`, an array or a comma-separated string.
fn custom_labels(custom: &Value) -> Vec<String> {
    match at(custom, "labels") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(_)) => strings(custom, "labels"),
        _ => Vec::new(),
    }
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
mod tests;
