//! Parsing and normalizing inbound formats: pure functions from a request's bytes (and the headers
//! that matter) to [`RunEvent`]s and [`JobEvent`]s. Nothing here touches the network or the database,
//! so every provider format is unit-tested and property-tested without a server.
//!
//! Providers' payloads are read as loose JSON, not strict structs: unknown fields are ignored, a
//! field of an unexpected type counts as absent, unknown enum values map to a documented fallback,
//! and no input makes a parser panic (see the property tests in `props`).

pub mod cdevents;
pub mod generic;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod junit;

#[cfg(test)]
mod props;

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;

use crate::domain::job_rollup::normalize_labels;
use crate::domain::limits::{
    self, capped_id, cut, MAX_ID, MAX_JSON_DEPTH, MAX_LABELS, MAX_STEPS, MAX_STORED_METADATA, MAX_TEXT,
    MAX_URL,
};
use crate::domain::test_case::TestEvent;
use crate::domain::{JobEvent, RunEvent};

pub use crate::domain::limits::MAX_NAME;

/// What a webhook delivery amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Runs, jobs, test results, and deployments, pushes or incidents to record.
    Records {
        runs: Vec<RunEvent>,
        jobs: Vec<JobEvent>,
        tests: Vec<TestEvent>,
        delivery: crate::delivery::Batch,
    },
    /// A well-formed delivery with nothing to record (a ping, another event type, a kind we do not
    /// track); answered with a 2xx that says why, so the sender does not retry or disable the hook.
    Ignored(String),
}

impl Parsed {
    /// A delivery's deployments, pushes or incidents, or why there is nothing in it to record.
    pub fn delivery(batch: Result<crate::delivery::Batch, String>) -> Self {
        match batch {
            Ok(delivery) => Parsed::Records {
                runs: Vec::new(),
                jobs: Vec::new(),
                tests: Vec::new(),
                delivery,
            },
            Err(reason) => Parsed::Ignored(reason),
        }
    }

    pub fn records(runs: Vec<RunEvent>, jobs: Vec<JobEvent>) -> Self {
        Parsed::Records {
            runs,
            jobs,
            tests: Vec::new(),
            delivery: Default::default(),
        }
    }

    pub fn run(run: RunEvent) -> Self {
        Self::records(vec![run], Vec::new())
    }

    pub fn job(job: JobEvent) -> Self {
        Self::records(Vec::new(), vec![job])
    }

    pub fn test(test: TestEvent) -> Self {
        Parsed::Records {
            runs: Vec::new(),
            jobs: Vec::new(),
            tests: vec![test],
            delivery: Default::default(),
        }
    }
}

/// The body could not be read at all (not JSON, not the expected encoding): a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Reads a JSON body nested at most [`MAX_JSON_DEPTH`] deep; anything else is [`Malformed`]. A NUL
/// character, which PostgreSQL cannot store, becomes U+FFFD wherever it is.
pub fn json_body(body: &[u8]) -> Result<Value, Malformed> {
    check_depth(body, MAX_JSON_DEPTH)?;
    let mut value = serde_json::from_slice(body).map_err(|e| Malformed(format!("malformed JSON: {e}")))?;
    if limits::may_hold_nul(body) {
        limits::replace_nul(&mut value);
    }
    Ok(value)
}

/// A body nested deeper than `max` levels is [`Malformed`] (a 400), found before it is parsed.
pub fn check_depth(body: &[u8], max: usize) -> Result<(), Malformed> {
    if limits::json_depth(body, max) > max {
        return Err(Malformed(format!(
            "the JSON is nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    Ok(())
}

// ---- loose JSON access -------------------------------------------------------------------------

/// The value at a `/`-separated path (`"repository/full_name"`), if present and not null.
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/')
        .try_fold(v, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// A non-empty, trimmed string at `path`. Numbers count too (ids are numbers in some payloads).
pub fn text(v: &Value, path: &str) -> Option<String> {
    match at(v, path)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer at `path`, given as a JSON number or a numeric string.
pub fn int(v: &Value, path: &str) -> Option<i64> {
    match at(v, path)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number at `path`, given as a JSON number or a numeric string.
pub fn number(v: &Value, path: &str) -> Option<f64> {
    match at(v, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// An RFC 3339 time, or GitLab's `2016-08-12 15:23:28 UTC` / `2016-08-12 15:23:28 +0200`.
pub fn time(v: &Value, path: &str) -> Option<DateTime<Utc>> {
    parse_time(at(v, path)?.as_str()?)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(naive) = s.strip_suffix(" UTC") {
        return NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc());
    }
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f %z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Epoch milliseconds (a number, or a numeric string as older Jenkins plugins send).
pub fn epoch_millis(v: &Value, path: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(int(v, path)?).single()
}

/// Strings of an array at `path` (other elements skipped).
pub fn strings(v: &Value, path: &str) -> Vec<String> {
    at(v, path)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.as_str()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- cleaning absurd values ---------------------------------------------------------------------

/// Times more than this far ahead of the receiving clock are dropped (clock skew is tolerated).
const MAX_FUTURE: TimeDelta = TimeDelta::hours(24);

/// Provider payloads cannot be fixed by the sender, so instead of rejecting them, absurd values are
/// dropped and the cleaning is recorded in the run's metadata under `cleaned`:
/// - a time before 2000 or more than a day in the future is dropped;
/// - a negative or non-finite duration is dropped (the duration is then derived from the times);
/// - `started_at` before `queued_at` drops `queued_at`; `finished_at` before `started_at` drops
///   `finished_at`.
///
/// - every stored string is cut to its limit ([`crate::domain::limits`]); an id keeps a prefix and
///   a digest; a URL too long to be a link is dropped; a raw payload over
///   [`MAX_STORED_METADATA`] bytes is replaced by a note.
///
/// (The generic API, whose clients can fix their requests, answers 422 for the same values.)
pub fn clean_run(ev: &mut RunEvent, now: DateTime<Utc>) {
    let mut notes = Vec::new();
    fit_run(ev, &mut notes);
    clean_times(
        &mut ev.queued_at,
        &mut ev.started_at,
        &mut ev.finished_at,
        now,
        &mut notes,
    );
    if ev.duration_seconds.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
        ev.duration_seconds = None;
        notes.push("duration_seconds was negative or not a number".to_owned());
    }
    if !notes.is_empty() {
        if let Value::Object(m) = &mut ev.metadata {
            m.insert("cleaned".into(), Value::from(notes));
        }
    }
}

/// As [`clean_run`], for a job's times and sizes (jobs keep no notes).
pub fn clean_job(job: &mut JobEvent, now: DateTime<Utc>) {
    fit_job(job);
    clean_times(
        &mut job.queued_at,
        &mut job.started_at,
        &mut job.finished_at,
        now,
        &mut Vec::new(),
    );
}

fn clean_times(
    queued: &mut Option<DateTime<Utc>>,
    started: &mut Option<DateTime<Utc>>,
    finished: &mut Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) {
    let earliest = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    for (name, t) in [
        ("queued_at", &mut *queued),
        ("started_at", &mut *started),
        ("finished_at", &mut *finished),
    ] {
        if t.is_some_and(|t| Some(t) < earliest || t > now + MAX_FUTURE) {
            *t = None;
            notes.push(format!("{name} was before 2000 or more than a day in the future"));
        }
    }
    if let (Some(q), Some(s)) = (*queued, *started) {
        if s < q {
            *queued = None;
            notes.push("queued_at was after started_at".to_owned());
        }
    }
    if let (Some(s), Some(f)) = (*started, *finished) {
        if f < s {
            *finished = None;
            notes.push("finished_at was before started_at".to_owned());
        }
    }
}

/// Cuts a name to [`MAX_NAME`] characters.
pub fn bounded(s: String) -> String {
    cut(s, MAX_NAME)
}

fn fit_name(field: &str, v: &mut String, notes: &mut Vec<String>) {
    if v.chars().count() > MAX_NAME {
        *v = cut(std::mem::take(v), MAX_NAME);
        notes.push(format!("{field} was cut to {MAX_NAME} characters"));
    }
}

fn fit_opt_name(field: &str, v: &mut Option<String>, notes: &mut Vec<String>) {
    if let Some(s) = v {
        fit_name(field, s, notes);
    }
}

fn fit_url(v: &mut Option<String>, notes: &mut Vec<String>) {
    if v.as_ref().is_some_and(|u| u.chars().count() > MAX_URL) {
        *v = None;
        notes.push(format!("url was longer than {MAX_URL} characters"));
    }
}

/// Cuts every stored field of a run to its limit.
fn fit_run(ev: &mut RunEvent, notes: &mut Vec<String>) {
    ev.id = capped_id(std::mem::take(&mut ev.id), MAX_ID);
    ev.run_key = ev.run_key.take().map(|k| capped_id(k, MAX_ID));
    fit_name("provider", &mut ev.provider, notes);
    fit_name("repo", &mut ev.repo, notes);
    fit_name("workflow", &mut ev.workflow, notes);
    fit_opt_name("branch", &mut ev.branch, notes);
    fit_opt_name("commit_sha", &mut ev.commit_sha, notes);
    fit_opt_name("triggered_by", &mut ev.triggered_by, notes);
    fit_url(&mut ev.url, notes);
    let size = limits::json_size(&ev.metadata);
    if size > MAX_STORED_METADATA {
        ev.metadata = serde_json::json!({
            "omitted": format!("the payload ({size} bytes) is larger than {MAX_STORED_METADATA} bytes"),
        });
    }
}

/// Cuts every stored field of a job to its limit.
fn fit_job(job: &mut JobEvent) {
    let notes = &mut Vec::new();
    job.run_id = capped_id(std::mem::take(&mut job.run_id), MAX_ID);
    job.id = capped_id(std::mem::take(&mut job.id), MAX_ID);
    fit_name("provider", &mut job.provider, notes);
    fit_name("name", &mut job.name, notes);
    fit_opt_name("stage", &mut job.stage, notes);
    fit_opt_name("runner_name", &mut job.runner_name, notes);
    fit_opt_name("runner_group", &mut job.runner_group, notes);
    job.labels = normalize_labels(std::mem::take(&mut job.labels));
    job.labels.truncate(MAX_LABELS);
    for label in &mut job.labels {
        fit_name("label", label, notes);
    }
    job.steps.truncate(MAX_STEPS);
    for step in &mut job.steps {
        fit_name("step", &mut step.name, notes);
    }
    fit_url(&mut job.url, notes);
    job.failure_reason = job.failure_reason.take().map(|r| cut(r, MAX_TEXT));
}

#[cfg(test)]
mod tests;
