//! Delivery of a [`Notice`]: the Slack Block Kit message, the generic webhook body and its signature,
//! and one POST whose outcome is classified into a [`Delivery`] (sent, retry later, or permanent).
//!
//! Nothing here retries or sleeps: the outbox worker decides when to try again. The HTTP client, and
//! so its timeout and redirect policy, is the caller's; a client that does not follow redirects is
//! recommended (a followed 301/302 turns the POST into a GET without the body).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use cicd_monitor_crds::Severity;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Delivery, Notice, NoticeKind, Target};

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` on generic webhooks with a secret.
pub const SIGNATURE_HEADER: &str = "X-CICD-Signature-256";

const AGENT: &str = concat!("ci-cd-monitor/", env!("CARGO_PKG_VERSION"));

// Slack's Block Kit limits. Lengths are counted in UTF-16 code units, which is never less than the
// number of characters, so the limits hold whichever way Slack counts.
const MAX_BLOCKS: usize = 50;
const HEADER_MAX: usize = 150;
const SECTION_TEXT_MAX: usize = 3000;
const MAX_FIELDS: usize = 10;
const FIELD_MAX: usize = 2000;
const BUTTON_URL_MAX: usize = 3000;
/// Our own caps, well inside Slack's (40,000 for `text`, 3,000 for a context element).
const TEXT_MAX: usize = 3000;
const CONTEXT_PART_MAX: usize = 200;

/// How much of an error response is read, and how much of it ends up in a reason.
const BODY_READ_MAX: usize = 4096;
const REASON_BODY_MAX: usize = 200;

/// The Slack incoming-webhook body for `n`: `text` (the notification and the fallback) and `blocks`
/// (a `header`, a `section` with the condition, summary and up to 10 fields, a `context` line and an
/// `actions` block with link buttons for the http(s) URLs present).
///
/// Every text that comes from a rule, a payload or a user is escaped for mrkdwn (`&`, `<`, `>`), so
/// it can neither mention (`<!channel>`) nor link; plain-text objects (the header, button labels) are
/// not parsed by Slack and are left as they are. Long values are cut at a character boundary with `…`
/// so that every limit holds.
pub fn slack_message(n: &Notice) -> Value {
    let rule = esc(&n.rule_name, 300);
    let group = esc(&group_line(n), 600);
    let condition = esc(&n.condition, 1000);
    let severity = n.severity.as_str();
    let sev_emoji = severity_emoji(n.severity);
    let started = utc_minute(n.started_at);
    let duration = n
        .resolved_at
        .map(|r| human_duration((r - n.started_at).num_seconds()));
    let on = if group.is_empty() {
        String::new()
    } else {
        format!(" — {group}")
    };

    let text = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} [{severity}] {rule}{on}: {condition}"),
        NoticeKind::Repeat => {
            format!("🔁 [{severity}] {rule}{on}: still firing since {started} ({condition})")
        }
        NoticeKind::Resolved => match &duration {
            Some(d) => format!("✅ resolved: [{severity}] {rule}{on} (after {d})"),
            None => format!("✅ resolved: [{severity}] {rule}{on}"),
        },
        NoticeKind::Test => {
            format!("🧪 test message from ci-cd-monitor — [{severity}] {rule}{on}: {condition}")
        }
    };

    let header = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} {}", n.rule_name),
        NoticeKind::Repeat => format!("🔁 Still firing: {}", n.rule_name),
        NoticeKind::Resolved => format!("✅ Resolved: {}", n.rule_name),
        NoticeKind::Test => format!("🧪 Test: {}", n.rule_name),
    };

    let headline = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} *Firing:* {condition}"),
        NoticeKind::Repeat => {
            format!(
                "🔁 *Still firing* since {}: {condition}",
                slack_date(n.started_at)
            )
        }
        NoticeKind::Resolved => match &duration {
            Some(d) => format!("✅ *Resolved* after {d} (was: {condition})"),
            None => format!("✅ *Resolved* (was: {condition})"),
        },
        NoticeKind::Test => format!(
            "🧪 *Test message from ci-cd-monitor*: if you can read this, the integration works. \
             A sample alert follows: {condition}"
        ),
    };
    let section_text = match n.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(summary) => format!("{headline}\n{}", esc(summary, 1800)),
        None => headline,
    };

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&header, HEADER_MAX), "emoji": true}
        }),
        json!({
            "type": "section",
            "text": mrkdwn(truncate(&section_text, SECTION_TEXT_MAX)),
            "fields": fields(n, duration.as_deref()),
        }),
        json!({"type": "context", "elements": context(n)}),
    ];
    let buttons = buttons(n);
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.truncate(MAX_BLOCKS);

    json!({"text": truncate(&text, TEXT_MAX), "blocks": blocks})
}

/// The body POSTed to a generic webhook: a stable JSON document, version `"1"`. Every key is always
/// present (`null` when unknown); new keys may be added within a version, none removed or changed.
///
/// ```json
/// {
///   "version": "1",
///   "kind": "firing",
///   "rule": {
///     "id": 7,
///     "name": "main is red",
///     "severity": "critical",
///     "condition": "3 consecutive failures",
///     "summary": "The main branch of acme/api is failing",
///     "runbook_url": "https://runbooks.example.com/ci#main-red"
///   },
///   "group": {"branch": "main", "repo": "acme/api", "workflow": "ci"},
///   "value": "3",
///   "threshold": "3",
///   "incident_id": 42,
///   "started_at": "2025-08-27T12:00:00Z",
///   "resolved_at": null,
///   "run": {"id": "30433642", "url": "https://github.com/acme/api/actions/runs/30433642"},
///   "dashboard_url": "https://cicd.example.com/?repo=acme%2Fapi&branch=main",
///   "environment": "production"
/// }
/// ```
///
/// - `kind`: `firing` (a group started failing, or another run failed), `repeat` (still firing after
///   the rule's repeat interval), `resolved` (back to green), `test` (sent from the UI or
///   `POST /api/alerts/test`).
/// - `rule.severity`: `info`, `warning` or `critical`.
/// - `group`: the labels the rule groups by (`repo`, `workflow`, `branch`); `{}` when it does not.
/// - `value`, `threshold`: already formatted with their unit (`42%`, `12m 30s`).
/// - `started_at`, `resolved_at`: RFC 3339, UTC, whole seconds.
///
/// The request is `POST` with `Content-Type: application/json` and `User-Agent: ci-cd-monitor/<version>`.
/// When the integration has a secret, [`SIGNATURE_HEADER`] (`X-CICD-Signature-256`) carries
/// `sha256=` + the lowercase hex HMAC-SHA256 of the exact body bytes under the secret; verify it over
/// the raw body before parsing, with a constant-time comparison. Answer with any `2xx` to acknowledge;
/// `429` (with `Retry-After` in seconds), `408` and `5xx` are retried later; any other status is a
/// permanent failure shown on the integration.
pub fn webhook_body(n: &Notice) -> Value {
    json!({
        "version": "1",
        "kind": kind_str(n.kind),
        "rule": {
            "id": n.rule_id,
            "name": n.rule_name,
            "severity": n.severity.as_str(),
            "condition": n.condition,
            "summary": n.summary,
            "runbook_url": n.runbook_url,
        },
        "group": n.labels,
        "value": n.value,
        "threshold": n.threshold,
        "incident_id": n.incident_id,
        "started_at": rfc3339(n.started_at),
        "resolved_at": n.resolved_at.map(rfc3339),
        "run": {"id": n.run_id, "url": n.run_url},
        "dashboard_url": n.dashboard_url,
        "environment": n.environment,
    })
}

/// `sha256=` + the lowercase hex HMAC-SHA256 of `body` under `secret`: the value of
/// [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One POST of `notice` to `target`, classified:
///
/// - any `2xx` → [`Delivery::Sent`] (Slack answers `200 ok`);
/// - `429` → [`Delivery::Retry`] with `after` from `Retry-After` (seconds) when given;
/// - `5xx` and `408` → [`Delivery::Retry`] (with `Retry-After` if the receiver sent one, else `None`);
/// - timeouts, connection and other transport errors → [`Delivery::Retry`] with `after: None`;
/// - any other status (`4xx`, an unfollowed `3xx`) and an unusable URL → [`Delivery::Permanent`].
///
/// Reasons are for people: Slack's plain-text error code (`no_service`, `channel_is_archived`, …) or
/// `HTTP <status>: <up to 200 characters of the body>`. They never contain the target URL, which for
/// Slack is the secret itself.
pub async fn send(client: &reqwest::Client, target: &Target, notice: &Notice) -> Delivery {
    let (url, body, signature, slack) = match target {
        Target::Slack { url } => (url.expose_secret(), slack_message(notice).to_string(), None, true),
        Target::Webhook { url, hmac_secret } => {
            let body = webhook_body(notice).to_string();
            let signature = hmac_secret
                .as_ref()
                .map(|secret| sign(secret.expose_secret().as_bytes(), body.as_bytes()));
            (url.expose_secret(), body, signature, false)
        }
    };
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, AGENT);
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let outcome = match request.body(body).send().await {
        Ok(response) => classify(response, slack).await,
        Err(e) => from_error(e),
    };
    redact(outcome, url)
}

async fn classify(mut response: reqwest::Response, slack: bool) -> Delivery {
    let status = response.status();
    if status.is_success() {
        return Delivery::Sent;
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = one_line(&read_prefix(&mut response).await, REASON_BODY_MAX);
    let detail = if body.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {body}", status.as_u16())
    };
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Delivery::Retry {
            after: retry_after,
            reason: detail,
        }
    } else if status.is_client_error() {
        let reason = if slack && is_error_code(&body) {
            body
        } else {
            detail
        };
        Delivery::Permanent { reason }
    } else {
        Delivery::Permanent {
            reason: format!("{detail} (unexpected status; redirects are not followed)"),
        }
    }
}

fn from_error(e: reqwest::Error) -> Delivery {
    let e = e.without_url();
    let chain = error_chain(&e);
    if e.is_builder() {
        Delivery::Permanent {
            reason: format!("unusable target URL: {chain}"),
        }
    } else if e.is_timeout() {
        Delivery::Retry {
            after: None,
            reason: format!("timed out: {chain}"),
        }
    } else if e.is_connect() {
        Delivery::Retry {
            after: None,
            reason: format!("connection failed: {chain}"),
        }
    } else {
        Delivery::Retry {
            after: None,
            reason: chain,
        }
    }
}

/// `e` and its sources, `: `-separated.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.ends_with(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    one_line(&out, 500)
}

/// The beginning of the body, at most [`BODY_READ_MAX`] bytes; a body that fails midway is cut there.
async fn read_prefix(response: &mut reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(BODY_READ_MAX);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Whether `s` looks like one of Slack's plain-text error codes (`no_service`).
fn is_error_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Defence in depth: the URL (and, for Slack, its secret path) out of the reason, should a receiver or
/// an error message ever echo it.
fn redact(outcome: Delivery, url: &str) -> Delivery {
    let scrub = |reason: String| -> String {
        let mut reason = reason;
        let mut secrets = vec![url.to_owned()];
        if let Ok(parsed) = Url::parse(url) {
            secrets.push(parsed.as_str().to_owned());
            if parsed.path().len() > 1 {
                secrets.push(parsed.path().to_owned());
            }
            if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
                secrets.push(query.to_owned());
            }
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            reason = reason.replace(secret.as_str(), "[redacted]");
        }
        reason
    };
    match outcome {
        Delivery::Sent => Delivery::Sent,
        Delivery::Retry { after, reason } => Delivery::Retry {
            after,
            reason: scrub(reason),
        },
        Delivery::Permanent { reason } => Delivery::Permanent {
            reason: scrub(reason),
        },
    }
}

fn kind_str(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Firing => "firing",
        NoticeKind::Repeat => "repeat",
        NoticeKind::Resolved => "resolved",
        NoticeKind::Test => "test",
    }
}

fn severity_emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Warning => "🟠",
        Severity::Info => "🔵",
    }
}

/// The group's values in the order repo, workflow, branch, then any other label by name.
fn group_line(n: &Notice) -> String {
    ordered_labels(n)
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join(" · ")
}

fn ordered_labels(n: &Notice) -> Vec<(&str, &str)> {
    const KNOWN: [&str; 3] = ["repo", "workflow", "branch"];
    let known = KNOWN
        .iter()
        .filter_map(|k| n.labels.get(*k).map(|v| (*k, v.as_str())));
    let others = n
        .labels
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    known.chain(others).collect()
}

/// At most [`MAX_FIELDS`] fields: severity, the group, value vs threshold, started, resolved. Labels
/// beyond the room left are dropped (they are still in the text and the context line).
fn fields(n: &Notice, duration: Option<&str>) -> Vec<Value> {
    let mut tail = Vec::new();
    match (&n.value, &n.threshold) {
        (Some(v), Some(t)) => tail.push(field(
            "Value",
            &format!("{} (threshold {})", esc(v, 900), esc(t, 900)),
        )),
        (Some(v), None) => tail.push(field("Value", &esc(v, 1800))),
        (None, Some(t)) => tail.push(field("Threshold", &esc(t, 1800))),
        (None, None) => {}
    }
    tail.push(field("Started", &slack_date(n.started_at)));
    if let Some(resolved) = n.resolved_at {
        let after = duration.map(|d| format!(" (after {d})")).unwrap_or_default();
        tail.push(field("Resolved", &format!("{}{after}", slack_date(resolved))));
    }

    let mut out = vec![field("Severity", n.severity.as_str())];
    let room = MAX_FIELDS.saturating_sub(out.len() + tail.len());
    for (key, value) in ordered_labels(n).into_iter().take(room) {
        let title = match key {
            "repo" => "Repo".to_owned(),
            "workflow" => "Workflow".to_owned(),
            "branch" => "Branch".to_owned(),
            other => esc(other, 60),
        };
        out.push(field(&title, &esc(value, 1800)));
    }
    out.extend(tail);
    out.truncate(MAX_FIELDS);
    out
}

/// A `*title*\nvalue` mrkdwn field; both parts are already escaped and within budget.
fn field(title: &str, value: &str) -> Value {
    mrkdwn(truncate(&format!("*{title}*\n{value}"), FIELD_MAX))
}

fn context(n: &Notice) -> Vec<Value> {
    let mut parts = vec![format!(
        "Environment: *{}*",
        esc(&n.environment, CONTEXT_PART_MAX)
    )];
    parts.push(match n.rule_id {
        Some(id) => format!("Rule: {} (#{id})", esc(&n.rule_name, CONTEXT_PART_MAX)),
        None => format!("Rule: {}", esc(&n.rule_name, CONTEXT_PART_MAX)),
    });
    if let Some(id) = n.incident_id {
        parts.push(format!("Incident #{id}"));
    }
    if let Some(run) = &n.run_id {
        parts.push(format!("Run {}", esc(run, CONTEXT_PART_MAX)));
    }
    parts.into_iter().map(mrkdwn).collect()
}

fn buttons(n: &Notice) -> Vec<Value> {
    [
        ("View run", "view_run", &n.run_url),
        ("Dashboard", "dashboard", &n.dashboard_url),
        ("Runbook", "runbook", &n.runbook_url),
    ]
    .into_iter()
    .filter_map(|(label, action_id, url)| {
        let url = link(url.as_deref()?)?;
        Some(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": action_id,
            "url": url,
        }))
    })
    .collect()
}

/// `url` if a button can carry it: absolute http(s) with a host, no whitespace, within Slack's limit.
fn link(url: &str) -> Option<&str> {
    if url.is_empty()
        || url.len() > BUTTON_URL_MAX
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// Slack's date token: shown in each reader's time zone, with the UTC time as the fallback.
fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        utc_minute(at)
    )
}

fn utc_minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `45s`, `12m 30s`, `3h 5m`, `2d 4h`.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

fn escape_of(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `s` escaped for Slack mrkdwn and cut to at most `max` UTF-16 units (including the `…` added when
/// cut) without splitting a character or an entity.
fn esc(s: &str, max: usize) -> String {
    let width = |c: char| escape_of(c).map_or(c.len_utf16(), str::len);
    let total: usize = s.chars().map(width).sum();
    let budget = if total <= max { max } else { max.saturating_sub(1) };
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut used = 0;
    for c in s.chars() {
        let w = width(c);
        if used + w > budget {
            out.push('…');
            break;
        }
        match escape_of(c) {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
        used += w;
    }
    out
}

/// `s` cut to at most `max` UTF-16 units (including the `…` added when cut) at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.encode_utf16().count() <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        out.push(c);
        used += c.len_utf16();
    }
    out.push('…');
    out
}

/// Whitespace and control characters collapsed to single spaces, trimmed, cut to `max`.
fn one_line(s: &str, max: usize) -> String {
    let collapsed = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    truncate(&collapsed, max)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Uri};
    use axum::response::{IntoResponse, Response};
    use axum::Router;
    use secrecy::SecretString;

    use super::*;
    use crate::ingest::github::signature_matches;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn notice(kind: NoticeKind) -> Notice {
        Notice {
            kind,
            rule_id: Some(7),
            rule_name: "main is red".into(),
            severity: Severity::Critical,
            summary: Some("The main branch of acme/api is failing".into()),
            runbook_url: Some("https://runbooks.example.com/ci#main-red".into()),
            condition: "3 consecutive failures".into(),
            labels: labels(&[("repo", "acme/api"), ("workflow", "ci"), ("branch", "main")]),
            value: Some("3".into()),
            threshold: Some("3".into()),
            incident_id: Some(42),
            started_at: at("2025-08-27T12:00:00Z"),
            resolved_at: (kind == NoticeKind::Resolved).then(|| at("2025-08-27T13:05:00Z")),
            run_id: Some("30433642".into()),
            run_url: Some("https://github.com/acme/api/actions/runs/30433642".into()),
            dashboard_url: Some("https://cicd.example.com/?repo=acme%2Fapi&branch=main".into()),
            environment: "production".into(),
        }
    }

    fn block<'a>(msg: &'a Value, kind: &str) -> Option<&'a Value> {
        msg["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == kind)
    }

    fn units(s: &str) -> usize {
        s.encode_utf16().count()
    }

    /// Every mrkdwn string of the message: `text` and each mrkdwn text object.
    fn mrkdwn_texts(msg: &Value) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        out.push(o["text"].as_str().unwrap().to_owned());
                    }
                    o.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = vec![msg["text"].as_str().unwrap().to_owned()];
        walk(&msg["blocks"], &mut out);
        out
    }

    /// The limits Slack enforces, checked on any message.
    fn assert_within_slack_limits(msg: &Value) {
        assert!(!msg["text"].as_str().unwrap().is_empty());
        let blocks = msg["blocks"].as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= 50);
        let header = block(msg, "header").unwrap();
        assert_eq!(header["text"]["type"], "plain_text");
        assert!(units(header["text"]["text"].as_str().unwrap()) <= 150);
        let section = block(msg, "section").unwrap();
        assert!(units(section["text"]["text"].as_str().unwrap()) <= 3000);
        let fields = section["fields"].as_array().unwrap();
        assert!(!fields.is_empty() && fields.len() <= 10);
        for f in fields {
            assert_eq!(f["type"], "mrkdwn");
            assert!(units(f["text"].as_str().unwrap()) <= 2000);
        }
        let context = block(msg, "context").unwrap()["elements"].as_array().unwrap();
        assert!(!context.is_empty() && context.len() <= 10);
        assert!(context.iter().all(|e| units(e["text"].as_str().unwrap()) <= 3000));
        if let Some(actions) = block(msg, "actions") {
            let buttons = actions["elements"].as_array().unwrap();
            assert!(!buttons.is_empty() && buttons.len() <= 25);
            for b in buttons {
                assert!(units(b["text"]["text"].as_str().unwrap()) <= 75);
                let url = b["url"].as_str().unwrap();
                assert!(url.starts_with("https://") || url.starts_with("http://"));
            }
        }
        // No entity cut in half: every `&` in mrkdwn starts one of the three escapes.
        for text in mrkdwn_texts(msg) {
            for (i, _) in text.match_indices('&') {
                let rest = &text[i..];
                assert!(
                    rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                    "broken entity in {text:?}"
                );
            }
        }
    }

    fn field_texts(msg: &Value) -> Vec<String> {
        block(msg, "section").unwrap()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap().to_owned())
            .collect()
    }

    fn button_urls(msg: &Value) -> Vec<(String, String)> {
        block(msg, "actions")
            .map(|a| {
                a["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        (
                            b["text"]["text"].as_str().unwrap().to_owned(),
                            b["url"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn firing_reads_as_the_notification() {
        let msg = slack_message(&notice(NoticeKind::Firing));
        assert_within_slack_limits(&msg);
        assert_eq!(
            msg["text"],
            "🔴 [critical] main is red — acme/api · ci · main: 3 consecutive failures"
        );
        assert_eq!(block(&msg, "header").unwrap()["text"]["text"], "🔴 main is red");
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.starts_with("🔴 *Firing:* 3 consecutive failures"));
        assert!(section.contains("The main branch of acme/api is failing"));
        assert_eq!(
            field_texts(&msg),
            [
                "*Severity*\ncritical",
                "*Repo*\nacme/api",
                "*Workflow*\nci",
                "*Branch*\nmain",
                "*Value*\n3 (threshold 3)",
                "*Started*\n<!date^1756296000^{date_short_pretty} {time}|2025-08-27 12:00 UTC>",
            ]
        );
        let context: Vec<_> = block(&msg, "context").unwrap()["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            context,
            [
                "Environment: *production*",
                "Rule: main is red (#7)",
                "Incident #42",
                "Run 30433642"
            ]
        );
        assert_eq!(
            button_urls(&msg),
            [
                (
                    "View run".into(),
                    "https://github.com/acme/api/actions/runs/30433642".into()
                ),
                (
                    "Dashboard".into(),
                    "https://cicd.example.com/?repo=acme%2Fapi&branch=main".into()
                ),
                (
                    "Runbook".into(),
                    "https://runbooks.example.com/ci#main-red".into()
                ),
            ]
        );
    }

    #[test]
    fn severity_sets_the_firing_emoji() {
        for (severity, emoji) in [
            (Severity::Critical, "🔴"),
            (Severity::Warning, "🟠"),
            (Severity::Info, "🔵"),
        ] {
            let mut n = notice(NoticeKind::Firing);
            n.severity = severity;
            let msg = slack_message(&n);
            let text = msg["text"].as_str().unwrap();
            assert!(
                text.starts_with(&format!("{emoji} [{}]", severity.as_str())),
                "{text}"
            );
            assert!(field_texts(&msg).contains(&format!("*Severity*\n{}", severity.as_str())));
        }
    }

    #[test]
    fn repeat_says_still_firing_since() {
        let msg = slack_message(&notice(NoticeKind::Repeat));
        assert_within_slack_limits(&msg);
        assert_eq!(
            msg["text"],
            "🔁 [critical] main is red — acme/api · ci · main: still firing since 2025-08-27 12:00 UTC \
             (3 consecutive failures)"
        );
        assert_eq!(
            block(&msg, "header").unwrap()["text"]["text"],
            "🔁 Still firing: main is red"
        );
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.starts_with("🔁 *Still firing* since <!date^1756296000^"));
    }

    #[test]
    fn resolved_says_resolved_with_duration() {
        let msg = slack_message(&notice(NoticeKind::Resolved));
        assert_within_slack_limits(&msg);
        assert_eq!(
            msg["text"],
            "✅ resolved: [critical] main is red — acme/api · ci · main (after 1h 5m)"
        );
        assert_eq!(
            block(&msg, "header").unwrap()["text"]["text"],
            "✅ Resolved: main is red"
        );
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.starts_with("✅ *Resolved* after 1h 5m (was: 3 consecutive failures)"));
        let fields = field_texts(&msg);
        assert_eq!(fields.len(), 7);
        assert!(fields[6].starts_with("*Resolved*\n<!date^1756299900^"));
        assert!(fields[6].ends_with("|2025-08-27 13:05 UTC> (after 1h 5m)"));

        let mut unknown_end = notice(NoticeKind::Resolved);
        unknown_end.resolved_at = None;
        let msg = slack_message(&unknown_end);
        assert_within_slack_limits(&msg);
        assert_eq!(
            msg["text"],
            "✅ resolved: [critical] main is red — acme/api · ci · main"
        );
    }

    #[test]
    fn test_message_says_so() {
        let msg = slack_message(&notice(NoticeKind::Test));
        assert_within_slack_limits(&msg);
        let text = msg["text"].as_str().unwrap();
        assert!(text.starts_with("🧪 test message from ci-cd-monitor"), "{text}");
        assert_eq!(
            block(&msg, "header").unwrap()["text"]["text"],
            "🧪 Test: main is red"
        );
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.starts_with("🧪 *Test message from ci-cd-monitor*"));
    }

    #[test]
    fn each_kind_looks_different() {
        let kinds = [
            NoticeKind::Firing,
            NoticeKind::Repeat,
            NoticeKind::Resolved,
            NoticeKind::Test,
        ];
        let headers: std::collections::HashSet<String> = kinds
            .iter()
            .map(|k| block(&slack_message(&notice(*k)), "header").unwrap()["text"]["text"].to_string())
            .collect();
        assert_eq!(headers.len(), kinds.len());
    }

    #[test]
    fn a_bare_notice_still_renders() {
        let n = Notice {
            kind: NoticeKind::Firing,
            rule_id: None,
            rule_name: "slow builds".into(),
            severity: Severity::Warning,
            summary: None,
            runbook_url: None,
            condition: "p95 duration above 10m".into(),
            labels: BTreeMap::new(),
            value: None,
            threshold: None,
            incident_id: None,
            started_at: at("2025-08-27T12:00:00Z"),
            resolved_at: None,
            run_id: None,
            run_url: None,
            dashboard_url: None,
            environment: "staging".into(),
        };
        let msg = slack_message(&n);
        assert_within_slack_limits(&msg);
        assert_eq!(msg["text"], "🟠 [warning] slow builds: p95 duration above 10m");
        assert!(block(&msg, "actions").is_none(), "no URL, no actions block");
        assert_eq!(field_texts(&msg).len(), 2);
    }

    #[test]
    fn buttons_only_for_present_http_urls() {
        let mut n = notice(NoticeKind::Firing);
        n.run_url = Some("javascript:alert(1)".into());
        n.dashboard_url = None;
        n.runbook_url = Some("http://wiki.internal/runbooks/ci".into());
        let msg = slack_message(&n);
        assert_within_slack_limits(&msg);
        assert_eq!(
            button_urls(&msg),
            [("Runbook".into(), "http://wiki.internal/runbooks/ci".into())]
        );

        for bad in [
            "",
            "/relative/path",
            "ftp://files.example.com/x",
            "https://exa mple.com/",
            "mailto:ops@example.com",
            "https://",
        ] {
            let mut n = notice(NoticeKind::Firing);
            n.run_url = Some(bad.into());
            n.dashboard_url = Some(bad.into());
            n.runbook_url = Some(bad.into());
            let msg = slack_message(&n);
            assert!(block(&msg, "actions").is_none(), "{bad:?} made a button");
        }

        let mut long = notice(NoticeKind::Firing);
        long.runbook_url = Some(format!("https://example.com/{}", "a".repeat(3000)));
        assert_eq!(button_urls(&slack_message(&long)).len(), 2);
    }

    #[test]
    fn user_text_is_escaped_in_mrkdwn() {
        let mut n = notice(NoticeKind::Firing);
        n.rule_name = "<script>&".into();
        n.summary = Some("<script>alert(1)</script> & <!channel> <https://evil.example|click>".into());
        n.condition = "a > b & c < d".into();
        n.environment = "<!here>".into();
        n.labels = labels(&[("repo", "<@U024BE7LH>"), ("branch", "feat/<x>&y")]);
        n.value = Some("<v>".into());
        n.run_id = Some("<!everyone>".into());
        let msg = slack_message(&n);
        assert_within_slack_limits(&msg);

        assert_eq!(
            msg["text"],
            "🔴 [critical] &lt;script&gt;&amp; — &lt;@U024BE7LH&gt; · feat/&lt;x&gt;&amp;y: \
             a &gt; b &amp; c &lt; d"
        );
        for text in mrkdwn_texts(&msg) {
            // Our only control sequence is the date token.
            let without_dates = text.replace("<!date^", "");
            assert!(!without_dates.contains('<'), "unescaped < in {text:?}");
            assert!(!text.contains("<script"), "{text:?}");
            assert!(
                !text.contains("<!channel>") && !text.contains("<!here>"),
                "{text:?}"
            );
        }
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;"));
        assert!(field_texts(&msg).contains(&"*Repo*\n&lt;@U024BE7LH&gt;".to_owned()));
        // Plain text is not parsed by Slack: the header shows the name as written.
        assert_eq!(block(&msg, "header").unwrap()["text"]["text"], "🔴 <script>&");
    }

    #[test]
    fn long_values_are_cut_within_limits() {
        let mut n = notice(NoticeKind::Resolved);
        // Escapes, multi-byte and astral characters, so cuts land at every kind of boundary.
        n.summary = Some("é&<😀".repeat(2500));
        assert_eq!(n.summary.as_ref().unwrap().chars().count(), 10_000);
        n.rule_name = "r&".repeat(1000);
        n.condition = "c>".repeat(3000);
        n.environment = "e".repeat(5000);
        n.run_id = Some("9".repeat(5000));
        n.value = Some("&".repeat(5000));
        n.threshold = Some("<".repeat(5000));
        n.labels = labels(&[
            ("repo", &"😀".repeat(5000)),
            ("workflow", &"w&".repeat(5000)),
            ("branch", &"b".repeat(5000)),
        ]);
        let msg = slack_message(&n);
        // Valid JSON once serialized (no split UTF-8, nothing unrepresentable).
        let wire = msg.to_string();
        let back: Value = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, msg);
        assert_within_slack_limits(&msg);
        for f in field_texts(&msg) {
            assert!(f.chars().count() <= 2000);
        }
        let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.ends_with('…'));
        assert!(units(msg["text"].as_str().unwrap()) <= 3000);
        assert!(wire.len() < 40_000, "{}", wire.len());

        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo!", 5), "héll…");
        assert_eq!(truncate("😀😀😀", 5), "😀😀…");
        assert_eq!(esc("a&b", 5), "a…");
        assert_eq!(esc("a&b", 7), "a&amp;b");
        assert_eq!(esc("a&bc", 7), "a&amp;…");
    }

    #[test]
    fn fields_never_exceed_ten() {
        let mut n = notice(NoticeKind::Resolved);
        n.labels = (0..20)
            .map(|i| (format!("label{i:02}"), format!("v{i}")))
            .collect();
        n.labels.insert("repo".into(), "acme/api".into());
        let msg = slack_message(&n);
        assert_within_slack_limits(&msg);
        let fields = field_texts(&msg);
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[0], "*Severity*\ncritical");
        assert_eq!(fields[1], "*Repo*\nacme/api");
        assert!(fields[7].starts_with("*Value*"));
        assert!(fields[8].starts_with("*Started*"));
        assert!(fields[9].starts_with("*Resolved*"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(-5), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(750), "12m 30s");
        assert_eq!(human_duration(3900), "1h 5m");
        assert_eq!(human_duration(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
    }

    #[test]
    fn webhook_body_is_the_documented_shape() {
        assert_eq!(
            webhook_body(&notice(NoticeKind::Firing)),
            json!({
                "version": "1",
                "kind": "firing",
                "rule": {
                    "id": 7,
                    "name": "main is red",
                    "severity": "critical",
                    "condition": "3 consecutive failures",
                    "summary": "The main branch of acme/api is failing",
                    "runbook_url": "https://runbooks.example.com/ci#main-red"
                },
                "group": {"branch": "main", "repo": "acme/api", "workflow": "ci"},
                "value": "3",
                "threshold": "3",
                "incident_id": 42,
                "started_at": "2025-08-27T12:00:00Z",
                "resolved_at": null,
                "run": {"id": "30433642", "url": "https://github.com/acme/api/actions/runs/30433642"},
                "dashboard_url": "https://cicd.example.com/?repo=acme%2Fapi&branch=main",
                "environment": "production"
            })
        );
        let resolved = webhook_body(&notice(NoticeKind::Resolved));
        assert_eq!(resolved["kind"], "resolved");
        assert_eq!(resolved["resolved_at"], "2025-08-27T13:05:00Z");
        assert_eq!(webhook_body(&notice(NoticeKind::Repeat))["kind"], "repeat");
        assert_eq!(webhook_body(&notice(NoticeKind::Test))["kind"], "test");
    }

    #[test]
    fn webhook_body_keeps_every_key_as_null() {
        let mut n = notice(NoticeKind::Firing);
        n.rule_id = None;
        n.summary = None;
        n.runbook_url = None;
        n.labels.clear();
        n.value = None;
        n.threshold = None;
        n.incident_id = None;
        n.run_id = None;
        n.run_url = None;
        n.dashboard_url = None;
        n.started_at = at("2025-08-27T12:00:00.123456Z");
        let body = webhook_body(&n);
        for key in [
            "value",
            "threshold",
            "incident_id",
            "resolved_at",
            "dashboard_url",
        ] {
            assert!(body.as_object().unwrap().contains_key(key), "{key}");
            assert_eq!(body[key], Value::Null, "{key}");
        }
        for key in ["id", "summary", "runbook_url"] {
            assert_eq!(body["rule"][key], Value::Null, "{key}");
        }
        assert_eq!(body["run"], json!({"id": null, "url": null}));
        assert_eq!(body["group"], json!({}));
        assert_eq!(body["started_at"], "2025-08-27T12:00:00Z");
    }

    #[test]
    fn signature_matches_known_vectors() {
        // `printf '%s' '{"kind":"test","version":"1"}' | openssl dgst -sha256 -hmac whsec_ci-cd-monitor`
        assert_eq!(
            sign(b"whsec_ci-cd-monitor", br#"{"kind":"test","version":"1"}"#),
            "sha256=76c361441c75e6e561744b38b4551442777c68fc09c4794573c8ce1d5a48cc02"
        );
        // GitHub's documented vector (same construction as `X-Hub-Signature-256`).
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        // `printf '' | openssl dgst -sha256 -hmac key`
        assert_eq!(
            sign(b"key", b""),
            "sha256=5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"
        );
    }

    // --- `send` against a local fake Slack / webhook receiver ---

    #[derive(Debug, Clone)]
    struct Received {
        path: String,
        headers: HeaderMap,
        body: Bytes,
    }

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<Received>>>);

    impl Log {
        fn take(&self) -> Vec<Received> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    async fn receiver(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_owned();
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        log.0.lock().unwrap().push(Received {
            path: path.clone(),
            headers,
            body,
        });
        let status = |code: u16| axum::http::StatusCode::from_u16(code).unwrap();
        match path.as_str() {
            "/services/ok" | "/hook" => (status(200), "ok").into_response(),
            "/hook/accepted" => status(202).into_response(),
            "/services/rate-limited" => (status(429), [("retry-after", "3")], "rate_limited").into_response(),
            "/services/rollup" => (status(500), "rollup_error").into_response(),
            "/services/unavailable" => (status(503), [("retry-after", "120")], "").into_response(),
            "/services/no-service" => (status(404), "no_service").into_response(),
            "/services/archived" => (status(410), "channel_is_archived").into_response(),
            "/services/invalid" => (status(400), "invalid_payload").into_response(),
            "/services/html" => (status(403), "<html>\n  <body>Forbidden</body>\n</html>").into_response(),
            "/services/echo" => {
                (status(403), format!("action_prohibited for http://{host}{path}")).into_response()
            }
            "/services/long" => (status(400), "x".repeat(10_000)).into_response(),
            "/services/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (status(200), "ok").into_response()
            }
            "/services/moved" => (status(301), [("location", "/services/ok")]).into_response(),
            _ => (status(404), "no such hook").into_response(),
        }
    }

    async fn fake_server() -> (SocketAddr, Log) {
        let log = Log::default();
        let app = Router::new().fallback(receiver).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, log)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn slack(addr: SocketAddr, path: &str) -> (Target, String) {
        let url = format!("http://{addr}{path}");
        (
            Target::Slack {
                url: SecretString::from(url.clone()),
            },
            url,
        )
    }

    fn reason(d: &Delivery) -> &str {
        match d {
            Delivery::Sent => "",
            Delivery::Retry { reason, .. } | Delivery::Permanent { reason } => reason,
        }
    }

    #[tokio::test]
    async fn slack_responses_are_classified() {
        let (addr, log) = fake_server().await;
        let client = client();
        let n = notice(NoticeKind::Firing);
        let cases: Vec<(&str, Delivery)> = vec![
            ("/services/ok", Delivery::Sent),
            (
                "/services/rate-limited",
                Delivery::Retry {
                    after: Some(Duration::from_secs(3)),
                    reason: "HTTP 429: rate_limited".into(),
                },
            ),
            (
                "/services/rollup",
                Delivery::Retry {
                    after: None,
                    reason: "HTTP 500: rollup_error".into(),
                },
            ),
            (
                "/services/unavailable",
                Delivery::Retry {
                    after: Some(Duration::from_secs(120)),
                    reason: "HTTP 503".into(),
                },
            ),
            (
                "/services/no-service",
                Delivery::Permanent {
                    reason: "no_service".into(),
                },
            ),
            (
                "/services/archived",
                Delivery::Permanent {
                    reason: "channel_is_archived".into(),
                },
            ),
            (
                "/services/invalid",
                Delivery::Permanent {
                    reason: "invalid_payload".into(),
                },
            ),
            (
                "/services/html",
                Delivery::Permanent {
                    reason: "HTTP 403: <html> <body>Forbidden</body> </html>".into(),
                },
            ),
            (
                "/services/moved",
                Delivery::Permanent {
                    reason: "HTTP 301 (unexpected status; redirects are not followed)".into(),
                },
            ),
        ];
        for (path, expected) in cases {
            let (target, _) = slack(addr, path);
            assert_eq!(send(&client, &target, &n).await, expected, "{path}");
            let received = log.take();
            assert_eq!(received.len(), 1, "{path}");
            let r = &received[0];
            assert_eq!(r.path, path);
            assert_eq!(r.headers["content-type"], "application/json");
            assert_eq!(
                r.headers["user-agent"],
                concat!("ci-cd-monitor/", env!("CARGO_PKG_VERSION"))
            );
            assert!(r.headers.get(SIGNATURE_HEADER).is_none());
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert!(body["text"].as_str().is_some_and(|t| !t.is_empty()), "{path}");
            assert!(body["blocks"].as_array().is_some_and(|b| !b.is_empty()), "{path}");
            assert_eq!(body, slack_message(&n));
        }
    }

    #[tokio::test]
    async fn reasons_are_short_and_never_show_the_url() {
        let (addr, log) = fake_server().await;
        let client = client();
        let n = notice(NoticeKind::Firing);

        let (target, url) = slack(addr, "/services/echo");
        let outcome = send(&client, &target, &n).await;
        assert!(matches!(outcome, Delivery::Permanent { .. }), "{outcome:?}");
        assert!(!reason(&outcome).contains(&url), "{outcome:?}");
        assert!(!reason(&outcome).contains("/services/echo"), "{outcome:?}");

        let (target, _) = slack(addr, "/services/long");
        let outcome = send(&client, &target, &n).await;
        let Delivery::Permanent { reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.starts_with("HTTP 400: xxx"), "{reason}");
        assert!(reason.chars().count() <= "HTTP 400: ".len() + 200, "{reason}");
        log.take();
    }

    #[tokio::test]
    async fn a_slow_receiver_is_retried() {
        let (addr, log) = fake_server().await;
        let (target, url) = slack(addr, "/services/slow");
        let started = std::time::Instant::now();
        let outcome = send(&client(), &target, &notice(NoticeKind::Firing)).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        let Delivery::Retry { after, reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(*after, None);
        assert!(reason.starts_with("timed out"), "{reason}");
        assert!(
            !reason.contains(&url) && !reason.contains("/services/"),
            "{reason}"
        );
        assert_eq!(log.take().len(), 1);
    }

    #[tokio::test]
    async fn a_closed_port_is_retried() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let (target, url) = slack(addr, "/services/T000/B000/XXXXXXXX");
        let outcome = send(&client(), &target, &notice(NoticeKind::Firing)).await;
        let Delivery::Retry { after, reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(*after, None);
        assert!(reason.starts_with("connection failed"), "{reason}");
        assert!(!reason.contains(&url) && !reason.contains("XXXXXXXX"), "{reason}");
    }

    #[tokio::test]
    async fn an_unusable_url_is_permanent() {
        for url in ["not a url", "ftp://example.com/hook"] {
            let target = Target::Webhook {
                url: SecretString::from(url.to_owned()),
                hmac_secret: None,
            };
            let outcome = send(&client(), &target, &notice(NoticeKind::Test)).await;
            assert!(
                matches!(outcome, Delivery::Permanent { .. }),
                "{url}: {outcome:?}"
            );
            assert!(!reason(&outcome).contains(url), "{outcome:?}");
        }
    }

    #[tokio::test]
    async fn webhooks_are_signed_over_the_exact_body() {
        let (addr, log) = fake_server().await;
        let client = client();
        let n = notice(NoticeKind::Resolved);
        let signed = Target::Webhook {
            url: SecretString::from(format!("http://{addr}/hook")),
            hmac_secret: Some(SecretString::from("s3cr3t-shared".to_owned())),
        };
        assert_eq!(send(&client, &signed, &n).await, Delivery::Sent);
        let received = log.take();
        let r = &received[0];
        let signature = r.headers[SIGNATURE_HEADER].to_str().unwrap();
        assert!(
            signature_matches(b"s3cr3t-shared", &r.body, signature),
            "{signature}"
        );
        assert!(!signature_matches(b"another secret", &r.body, signature));
        assert_eq!(signature, sign(b"s3cr3t-shared", &r.body));
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("ci-cd-monitor/"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, webhook_body(&n));

        let unsigned = Target::Webhook {
            url: SecretString::from(format!("http://{addr}/hook/accepted")),
            hmac_secret: None,
        };
        assert_eq!(send(&client, &unsigned, &n).await, Delivery::Sent);
        assert!(log.take()[0].headers.get(SIGNATURE_HEADER).is_none());

        let missing = Target::Webhook {
            url: SecretString::from(format!("http://{addr}/nowhere")),
            hmac_secret: None,
        };
        assert_eq!(
            send(&client, &missing, &n).await,
            Delivery::Permanent {
                reason: "HTTP 404: no such hook".into()
            }
        );
        log.take();
    }
}
